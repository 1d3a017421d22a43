"""A filter's and/or/not structure between compiling its checks and running it, with no recursion.

sysdig takes filters nested thousands of groups deep (its compiler and evaluator recurse in C++), so
nothing here recurses over the nesting: `build` walks the AST with an explicit stack, and a structure
deeper than `CLOSURE_DEPTH` is run by `evaluate`, a loop over an explicit stack, rather than nested
closures (which would recurse per event). Shallow structures, nearly all filters, become the nested
closures they always were, the fastest way Python has to run them.

A single operand in a group is its operand, so ``((((x))))`` is ``x`` at any depth.
"""
from __future__ import annotations

from _collections_abc import Callable, Iterator  # (collections.abc without collections)

from sysdig_user.filter import errors
from sysdig_user.filter.ast import Check, Conn, Item, Seq
from sysdig_user.rows import FrozenRow, Record, set_slot

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    from typing import Any

Predicate = Callable[["Any"], bool]

#: Deeper structures run through `evaluate`: each level of closures is one or two Python frames per event.
CLOSURE_DEPTH = 64

ALL, ANY, NOT = "all", "any", "not"


class Op(FrozenRow):
    """`ALL`/`ANY` of its parts (left to right, short-circuit), or `NOT` of its one part."""

    _fields = ("kind", "parts", "depth")
    __slots__ = _fields
    kind: str
    parts: tuple[Expr, ...]
    depth: int

    def __init__(self, kind: str, parts: tuple[Expr, ...], depth: int) -> None:
        set_slot(self, "kind", kind)
        set_slot(self, "parts", parts)
        set_slot(self, "depth", depth)


Expr = Predicate | Op


def _depth(expr: Expr) -> int:
    return expr.depth if isinstance(expr, Op) else 0


def negate(expr: Expr) -> Expr:
    if isinstance(expr, Op) and expr.kind == NOT:
        return expr.parts[0]
    return Op(NOT, (expr,), _depth(expr) + 1)


def combine(seq: Seq, parts: list[Expr]) -> Expr:
    """A group's expression from its operands' (the ones not ignored, negations applied)."""
    if len(parts) == 1:
        return parts[0]
    return Op(ALL if seq.conn is Conn.AND else ANY, tuple(parts), 1 + max(_depth(p) for p in parts))


class _Frame(Record):
    _fields = ("seq", "items", "parts", "item")
    __slots__ = _fields
    seq: Seq
    items: Iterator[Item]
    parts: list[Expr]
    item: Item | None  # the item of the enclosing group this group is; None for the root

    def __init__(self, seq: Seq, items: Iterator[Item], parts: list[Expr], item: Item | None) -> None:
        self.seq = seq
        self.items = items
        self.parts = parts
        self.item = item


def build(root: Seq, check: Callable[[Check], Predicate]) -> Expr:
    """The expression of ``root``: checks compiled by ``check`` in text order, a group's mix of `and`
    and `or` reported once its operands are compiled (sysdig's order of errors)."""
    out: list[Expr] = []
    stack = [_Frame(root, iter(root.items), [], None)]
    while stack:
        frame = stack[-1]
        for item in frame.items:
            node = item.node
            if isinstance(node, Seq):
                stack.append(_Frame(node, iter(node.items), [], item))
                break
            _add(frame.parts, item, check(node))
        else:
            stack.pop()
            seq = frame.seq
            if seq.close_pos is not None and seq.mixed:
                raise errors.FilterError(errors.MIXED, seq.close_pos)
            expr = combine(seq, frame.parts)
            if frame.item is None:
                out.append(expr)
            else:
                _add(stack[-1].parts, frame.item, expr)
    return out[0]


def _add(parts: list[Expr], item: Item, expr: Expr) -> None:
    if not item.ignored:  # sysdig's `a not b`: b is compiled, never evaluated
        parts.append(negate(expr) if item.negate else expr)


def to_predicate(expr: Expr) -> Predicate:
    """The expression as one ``predicate(evt) -> bool``."""
    if not isinstance(expr, Op):
        return expr
    if expr.depth > CLOSURE_DEPTH:
        return lambda evt: evaluate(expr, evt)
    return _closure(expr)


def _closure(op: Op) -> Predicate:
    """Nested closures (recursing at most CLOSURE_DEPTH levels)."""
    preds = tuple(_closure(p) if isinstance(p, Op) else p for p in op.parts)
    if op.kind == NOT:
        (pred,) = preds
        return lambda evt: not pred(evt)
    if len(preds) == 2:
        a, b = preds
        if op.kind == ALL:
            return lambda evt: a(evt) and b(evt)
        return lambda evt: a(evt) or b(evt)
    if op.kind == ALL:
        def all_of(evt: Any) -> bool:
            for p in preds:
                if not p(evt):
                    return False
            return True
        return all_of

    def any_of(evt: Any) -> bool:
        for p in preds:
            if p(evt):
                return True
        return False
    return any_of


def evaluate(root: Op, evt: Any) -> bool:
    """The value of ``root`` for ``evt``, as its closures would compute it, with an explicit stack:
    each entry is an Op and how many of its parts were evaluated; ``value`` is the last part's value."""
    stack: list[list[Any]] = [[root, 0]]
    value = False
    while stack:
        top = stack[-1]
        op: Op = top[0]
        done: int = top[1]
        if done:
            if op.kind == NOT:
                value = not value
                stack.pop()
                continue
            if (op.kind == ALL) is not value or done == len(op.parts):
                stack.pop()  # short-circuit (ALL hit False, ANY hit True), or the last part decided
                continue
        part = op.parts[done]
        top[1] = done + 1
        if isinstance(part, Op):
            stack.append([part, 0])
        else:
            value = bool(part(evt))
    return value
