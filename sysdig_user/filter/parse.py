"""Filter text -> `ast.Filter`, with sysdig 0.29's token rules (see filter.lark) and errors.

`parse(text)` runs the LALR parser token by token, so that on a syntax error it still knows what
was read before it: sysdig checks each field and value as soon as it has read it, and an unknown
field before a syntax error is what sysdig reports. Those partial checks travel to the compiler in
`FilterSyntaxError.prefix`.
"""
from __future__ import annotations

from _collections_abc import Callable, Iterator  # (collections.abc without collections)

from sysdig_user.filter import ast_cache, errors
from sysdig_user.filter.ast import Check, Conn, Filter, Item, Node, Seq, Value
from sysdig_user.filter.grammar import runtime

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)

if TYPE_CHECKING:  # the classes at run time are the standalone parser's own (filter/grammar.py)
    from typing import Any, TypeVar

    from lark import Token, Tree
    from lark.exceptions import UnexpectedInput

# Fields whose argument follows a dot (evt.arg.name) rather than brackets (evt.arg[0]); every other
# field takes its argument in brackets. From `sysdig -l` 0.29.3.
DOTTED_ARG_FIELDS = ("evt.arg", "evt.rawarg", "evt.type.is", "thread.cgroup", "container.label",
                     "k8s.pod.label", "k8s.rc.label", "k8s.rs.label", "k8s.svc.label", "k8s.ns.label",
                     "k8s.deployment.label", "mesos.framework.label", "mesos.task.label",
                     "marathon.app.label", "span.tag", "evtin.span.tag")
_ESCAPE_END_CHARS = "()"
_LIST_END_CHARS = "(),"


if TYPE_CHECKING:
    _F = TypeVar("_F", bound=Callable[..., Any])


def _inline(method: _F) -> _F:
    """The rule's method takes its children as arguments (Lark's ``v_args(inline=True)``)."""
    method.inline = True  # type: ignore[attr-defined]
    return method


def split_field(field: str) -> tuple[str, str | None]:
    """``proc.aname[2]`` -> (``proc.aname``, ``2``); ``evt.arg.fd`` -> (``evt.arg``, ``fd``)."""
    if field.endswith("]") and "[" in field:
        name, _, arg = field[:-1].partition("[")
        return name, arg
    for prefix in DOTTED_ARG_FIELDS:
        if field.startswith(prefix + ".") and len(field) > len(prefix) + 1:
            return prefix, field[len(prefix) + 1:]
    return field, None


def unescape(text: str, start: int, end: int, quoted: bool) -> tuple[str, errors.FilterError | None]:
    r"""Apply sysdig's value escapes to text[start:end] (quotes excluded).

    ``\\`` and ``\"`` give the character, ``\xHH`` a byte, any other ``\c`` stays as written.
    A sequence cut short by the end of the word is an error; one cut short by the end of the
    filter is silently dropped (sysdig's reader simply stops there).
    """
    out = bytearray()
    state, digits = "normal", ""
    for i in range(start, end):
        c = text[i]
        if state == "normal":
            if c == "\\":
                state = "slash"
            else:
                out += c.encode("utf-8", "surrogateescape")
        elif state == "slash":
            if c in '\\"':
                out += c.encode()
                state = "normal"
            elif c == "x":
                state, digits = "number", ""
            else:
                out += ("\\" + c).encode("utf-8", "surrogateescape")
                state = "normal"
        else:
            if c not in "0123456789abcdefABCDEF":
                return "", errors.escape_error(text[start:start + i + 1], i + 1)
            digits += c
            if len(digits) == 2:
                out.append(int(digits, 16))
                state = "normal"
    if state != "normal" and (quoted or end < len(text)):
        return "", errors.escape_error(text[start:start + end], end)
    return out.decode("utf-8", "surrogateescape"), None


class _Builder:
    """Parse tree -> AST. One method per rule (as a Lark Transformer has); positions come from the tokens."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _call_userfunc(self, tree: Tree[Token], children: list[Any]) -> Any:
        """The rule's method on its transformed children (every rule of filter.lark has one)."""
        method = getattr(self, tree.data)
        return method(*children) if getattr(method, "inline", False) else method(children)

    # values -------------------------------------------------------------------------------
    def _value(self, tok: Token, end_chars: str) -> Value:
        start, end = tok.start_pos or 0, tok.end_pos or 0
        if tok.type == "QUOTED":
            decoded, err = unescape(self.text, start + 1, end - 1, quoted=True)
            return Value(decoded, str(tok), start, end - 1, True, err)
        decoded, err = unescape(self.text, start, end, quoted=False)
        follows = self.text[end] if end < len(self.text) else ""
        err_pos = end - 1 if follows and follows in end_chars else end
        return Value(decoded, str(tok), start, err_pos, False, err)

    def _empty(self, after: int) -> Value:
        """An empty value read after position `after` (sysdig's cursor stops just before the
        bracket or comma that ends it, or at the end of the filter)."""
        nxt = errors.next_nonblank(self.text, after)
        return Value("", "", nxt, nxt - 1 if nxt < len(self.text) else len(self.text))

    @_inline
    def value(self, tok: Token) -> Token:
        return tok

    def list_item(self, children: list[Token | None]) -> Token | None:
        return children[0] if children else None

    @_inline
    def cmp_op(self, tok: Token) -> Token:
        return tok

    @_inline
    def list_op(self, tok: Token) -> Token:
        return tok

    # checks -------------------------------------------------------------------------------
    def _check(self, field: Token, op: Token, values: tuple[Value, ...] = (),
               list_pos: int | None = None) -> Check:
        name, arg = split_field(str(field))
        return Check(str(field), name, arg, field.start_pos or 0, field.end_pos or 0, str(op),
                     op.start_pos or 0, values, list_pos)

    @_inline
    def compare(self, field: Token, op: Token, value: Token | None) -> Check:
        val = self._value(value, _ESCAPE_END_CHARS) if value is not None else self._empty(op.end_pos or 0)
        return self._check(field, op, (val,))

    @_inline
    def exists(self, field: Token, op: Token) -> Check:
        return self._check(field, op)

    def membership(self, children: list[Any]) -> Check:
        field, op, lpar = children[0], children[1], children[2]
        values: list[Value] = []
        token_class = runtime().Token
        prev: Token = lpar
        pending = True  # an element is due after "(" or ","
        for child in children[3:]:
            if isinstance(child, token_class) and child.type in ("COMMA", "RPAR"):
                if pending:
                    values.append(self._empty(prev.end_pos or 0))
                prev, pending = child, True
            elif child is not None:
                values.append(self._value(child, _LIST_END_CHARS))
                pending = False
        return self._check(field, op, tuple(values), lpar.end_pos)

    # boolean structure -------------------------------------------------------------------------
    @_inline
    def group(self, lpar: Token, seq: Seq, rpar: Token) -> Seq:
        return Seq(seq.items, lpar.start_pos or 0, rpar.start_pos)

    def first(self, children: list[Any]) -> tuple[str, bool, Node]:
        return ("first", len(children) > 1, children[-1])

    def and_link(self, children: list[Any]) -> tuple[str, bool, Node]:
        return ("and", len(children) > 2, children[-1])

    def or_link(self, children: list[Any]) -> tuple[str, bool, Node]:
        return ("or", len(children) > 2, children[-1])

    def bare_link(self, children: list[Any]) -> tuple[str, bool, Node]:
        return ("bare", True, children[-1])

    def seq(self, parts: list[tuple[str, bool, Node]]) -> Seq:
        """Give each operand sysdig's connector bits.

        sysdig keeps one "last boolop" while scanning: `and`/`or` set it, `not` ORs in the NOT bit,
        "(" resets it for the group, and it is *not* reset after an operand. So `a not b` gives b
        the previous connector plus NOT; after a group the previous connector is the group's last.
        """
        items: list[Item] = []
        for kind, negate, node in parts:
            if kind == "first":
                conn = Conn.NONE
            elif kind == "bare":
                conn = _trailing_conn(items[-1])
            else:
                conn = Conn.AND if kind == "and" else Conn.OR
            items.append(Item(conn, negate, node, ignored=bool(items) and conn is Conn.NONE))
        start = items[0].node.pos
        return Seq(tuple(items), start)

    def start(self, children: list[Seq]) -> Seq:
        return children[0]


def _trailing_conn(item: Item) -> Conn:
    """sysdig's last connector after an operand: its own, or for a group its last operand's."""
    while isinstance(item.node, Seq):
        item = item.node.items[-1]
    return item.conn


def parse(text: str) -> Filter:
    """Parse a filter; raises `errors.FilterSyntaxError` with sysdig's message and position.

    A filter parsed by an earlier run comes from sdu's cache (ast_cache.py), without loading the parser."""
    flt = ast_cache.lookup(text)
    if flt is None:
        flt = parse_text(text)
        ast_cache.remember(flt)
    return flt


def parse_text(text: str) -> Filter:
    """`parse` by the parser itself, never from the cache."""
    rt = runtime()
    interactive = rt.parser.parse_interactive(text)
    tokens: list[Token] = []
    try:
        for tok in interactive.iter_parse():
            tokens.append(tok)  # noqa: PERF402 -- kept one by one: the parse may fail mid-way
        tree = interactive.feed_eof(tokens[-1] if tokens else None)
    except rt.UnexpectedInput as exc:
        err_at = getattr(exc, "token", None)
        if err_at is not None and tokens and tokens[-1] is err_at:
            tokens.pop()
        raise _syntax_failure(text, exc, tokens) from None
    root = _transform(_Builder(text), tree)
    return Filter(text, root, errors.end_position(text, tokens))


def _transform(builder: _Builder, tree: Tree[Token]) -> Seq:
    """``builder.transform(tree)`` without recursion: each group nests the tree three levels deeper, and
    sysdig takes thousands of nested groups. Children are transformed first, in order, then their rule's
    method runs on the results, as Lark's Transformer does."""
    tree_class = runtime().Tree
    done: list[Any] = []
    stack: list[tuple[Tree[Token], Iterator[Any], list[Any]]] = [(tree, iter(tree.children), [])]
    while stack:
        node, children, results = stack[-1]
        for child in children:
            if isinstance(child, tree_class):
                stack.append((child, iter(child.children), []))
                break
            results.append(child)
        else:
            stack.pop()
            value = builder._call_userfunc(node, results)
            (stack[-1][2] if stack else done).append(value)
    root: Seq = done[0]
    return root


def _syntax_failure(text: str, exc: UnexpectedInput, tokens: list[Token]) -> errors.FilterSyntaxError:
    """The sysdig error for a Lark failure, with the checks read before it attached."""
    failure = errors.syntax_error(text, exc, tokens)
    if failure.message == errors.SYNTAX or failure.message == errors.UNEXPECTED_END:
        mixed = _root_mix_before_stray_rpar(text, exc, tokens)
        if mixed is not None:
            failure = mixed
    failure.prefix = _fold_prefix(text, tokens)
    return failure


def _root_mix_before_stray_rpar(text: str, exc: UnexpectedInput,
                                tokens: list[Token]) -> errors.FilterSyntaxError | None:
    """A ")" with no group open makes sysdig close the whole filter there, which reports a mix of
    `and` and `or` at that ")" (and otherwise fails at the end)."""
    tok = getattr(exc, "token", None)
    if tok is None or tok.type != "RPAR":
        return None
    depth, conns = 0, set()
    for t in tokens:
        if t.type == "LPAR":
            depth += 1
        elif t.type == "RPAR":
            depth -= 1
        elif depth == 0 and t.type in ("AND", "OR"):
            conns.add(t.type)
    if len(conns) > 1:
        return errors.FilterSyntaxError(errors.MIXED, tok.start_pos)
    return errors.FilterSyntaxError(errors.UNEXPECTED_END, len(text))


def _fold_prefix(text: str, tokens: list[Token]) -> list[object]:
    """Partial checks (and group-mix errors) read before a syntax error, in text order.

    Only what sysdig would have checked already: each field, each value read, and every group
    already closed. Elements left empty inside lists are not reported.
    """
    builder = _Builder(text)
    out: list[object] = []
    groups: list[set[str]] = [set()]
    field: Token | None = None
    op: Token | None = None
    values: list[Value] = []
    in_list = False
    list_pos: int | None = None

    def flush() -> None:
        if field is not None:
            if op is None:
                name, arg = split_field(str(field))
                out.append(Check(str(field), name, arg, field.start_pos or 0, field.end_pos or 0, "", 0))
            else:
                out.append(builder._check(field, op, tuple(values), list_pos))

    pending: Token | None = None  # an operator, "(" or "," after which sysdig reads a value
    for i, tok in enumerate(tokens):
        kind = tok.type
        if pending is not None and kind not in ("VALUE", "QUOTED", "LVALUE"):
            values.append(builder._empty(pending.end_pos or 0))
        pending = None
        if kind == "FIELD":
            flush()
            field, op, values, in_list, list_pos = tok, None, [], False, None
        elif kind in errors.CMP_OPS:
            op = tok
            pending = tok if kind not in ("IN", "PMATCH", "EXISTS") else None
        elif kind in ("VALUE", "QUOTED", "LVALUE"):
            values.append(builder._value(tok, _LIST_END_CHARS if in_list else _ESCAPE_END_CHARS))
        elif kind == "LPAR" and i > 0 and tokens[i - 1].type in ("IN", "PMATCH"):
            in_list, list_pos, pending = True, tok.end_pos, tok
        elif kind == "COMMA":
            pending = tok
        elif kind == "LPAR":
            groups.append(set())
        elif kind == "RPAR" and in_list:
            in_list = False
        elif kind == "RPAR":
            flush()
            field = None
            closed = groups.pop() if len(groups) > 1 else set()
            if len(closed) > 1:
                out.append(errors.FilterError(errors.MIXED, tok.start_pos))
        elif kind in ("AND", "OR"):
            groups[-1].add(kind)
    if pending is not None:
        values.append(builder._empty(pending.end_pos or 0))
    flush()
    return out
