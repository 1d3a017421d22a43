"""Parsed filters kept in sdu's cache (sysdig_user/cache.py), so that a filter used again is not parsed again.

Loading the filter parser (grammar.runtime: lark's standalone module, from the cache) and running it costs
a filtered run ~10 ms; most filters are typed again and again. One cache entry, ``filter-asts.marshal``,
maps filter text to its AST in a flat form (``encode``), for at most ``CAPACITY`` filters (the oldest
added goes first). Its key is made from the grammar (filter.lark) and the code that turns a parse into an
AST and defines it (parse.py with its field table DOTTED_ARG_FIELDS, ast.py), with ``FORMAT``: an edit to
any of them makes every kept AST stale, and the entry is then rebuilt from fresh parses.

Only filters that parse are kept (an error is reported by the parser, with what it read before), and
not those with a bad escape sequence in a value (their AST carries the error) nor very long ones (see
``MAX_TEXT``). A damaged entry is ignored, as if there were none.

The flat form is a tuple of operations read with a stack, so that groups nested thousands deep (sysdig
takes them) need no recursion to store or load:

* ``(0, text, raw, pos, err_pos, quoted)`` pushes a Value;
* ``(1, field, name, arg, pos, field_end, op, op_pos, n, list_pos)`` pops n Values, pushes a Check;
* ``(2, conn, negate, ignored)`` pops a node, pushes an Item;
* ``(3, n, pos, close_pos)`` pops n Items, pushes a Seq (the last one is the root).
"""
from __future__ import annotations

import marshal
import os

from sysdig_user import cache
from sysdig_user.filter import grammar
from sysdig_user.filter.ast import Check, Conn, Filter, Item, Node, Seq, Value

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    from typing import Any

CAPACITY = 256
MAX_TEXT = 4096  # longer filters (machine-made ones) are parsed each time, and keep the entry small
FORMAT = b"filter-asts 1"
_ENTRY = "filter-asts.marshal"
_HERE = os.path.dirname(os.path.abspath(__file__))
_SOURCES = (grammar.GRAMMAR, os.path.join(_HERE, "parse.py"), os.path.join(_HERE, "ast.py"))

_VALUE, _CHECK, _ITEM, _SEQ = range(4)
_CONNS = {conn.value: conn for conn in Conn}

_key: bytes | None = None
_table: dict[str, tuple[int, tuple[tuple[Any, ...], ...]]] | None = None  # text -> (end_pos, ops)


def version() -> bytes:
    """The entry's key: this format and the bytes of the sources an AST depends on (read once)."""
    global _key
    if _key is None:
        parts = [FORMAT]
        for path in _SOURCES:
            try:
                with open(path, "rb") as f:
                    parts.append(f.read())
            except OSError:
                parts.append(b"missing " + path.encode())
        _key = cache.key(*parts)
    return _key


def encode(flt: Filter) -> tuple[tuple[Any, ...], ...] | None:
    """``flt``'s root as operations (see the module docstring), or None if it is not to be kept."""
    ops: list[tuple[Any, ...]] = []
    # children before their parent: walk the tree parent first, right to left, and reverse
    pending: list[Node | Item] = [flt.root]
    while pending:
        node = pending.pop()
        if isinstance(node, Seq):
            ops.append((_SEQ, len(node.items), node.pos, node.close_pos))
            pending.extend(node.items)
        elif isinstance(node, Item):
            ops.append((_ITEM, node.conn.value, node.negate, node.ignored))
            pending.append(node.node)
        else:
            ops.append((_CHECK, node.field, node.name, node.arg, node.pos, node.field_end, node.op,
                        node.op_pos, len(node.values), node.list_pos))
            for value in reversed(node.values):
                if value.error is not None:
                    return None
                ops.append((_VALUE, value.text, value.raw, value.pos, value.err_pos, value.quoted))
    ops.reverse()
    return tuple(ops)


def decode(text: str, end_pos: int, ops: tuple[tuple[Any, ...], ...]) -> Filter:
    """The Filter that ``encode`` turned into ``ops``; ValueError etc. if ``ops`` is not such a list."""
    stack: list[Any] = []
    for op in ops:
        kind = op[0]
        if kind == _VALUE:
            stack.append(Value(op[1], op[2], op[3], op[4], op[5]))
        elif kind == _CHECK:
            n = op[8]
            values = tuple(stack[len(stack) - n:]) if n else ()
            del stack[len(stack) - n:]
            stack.append(Check(op[1], op[2], op[3], op[4], op[5], op[6], op[7], values, op[9]))
        elif kind == _ITEM:
            stack.append(Item(_CONNS[op[1]], op[2], stack.pop(), op[3]))
        elif kind == _SEQ:
            n = op[1]
            items = tuple(stack[len(stack) - n:])
            del stack[len(stack) - n:]
            stack.append(Seq(items, op[2], op[3]))
        else:
            raise ValueError(f"bad operation {kind!r}")
    if len(stack) != 1 or not isinstance(stack[0], Seq):
        raise ValueError("not one expression")
    return Filter(text, stack[0], end_pos)


def _load() -> dict[str, tuple[int, tuple[tuple[Any, ...], ...]]]:
    global _table
    if _table is None:
        _table = cache.load_value(_ENTRY, version(), dict) or {}  # (damaged: as if there were none)
    return _table


def lookup(text: str) -> Filter | None:
    """The kept AST of ``text``, or None (never kept, or the entry is stale or damaged)."""
    if len(text) > MAX_TEXT:
        return None
    found = _load().get(text)
    if found is None:
        return None
    try:
        end_pos, ops = found
        return decode(text, end_pos, ops)
    except (ValueError, TypeError, IndexError, KeyError):
        return None  # a damaged entry's: parsed again (and kept again) by the caller


def remember(flt: Filter) -> None:
    """Keep ``flt`` (a fresh parse) for the next runs, dropping the oldest past ``CAPACITY``."""
    if len(flt.text) > MAX_TEXT:
        return
    ops = encode(flt)
    if ops is None:
        return
    table = _load()
    table.pop(flt.text, None)
    table[flt.text] = (flt.end_pos, ops)
    while len(table) > CAPACITY:
        del table[next(iter(table))]
    try:
        payload = marshal.dumps(table)
    except ValueError:  # nested too deep for marshal: not kept
        del table[flt.text]
        return
    cache.store(_ENTRY, version(), payload)


__all__ = ["CAPACITY", "FORMAT", "MAX_TEXT", "decode", "encode", "lookup", "remember", "version"]
