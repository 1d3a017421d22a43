"""Filter AST: plain immutable classes with source positions, built by parse.py, compiled by compile.py.

The shape follows sysdig 0.29's own filter model rather than a precedence tree: an expression
(`Seq`) is a list of operands, each carrying the connector bits sysdig's compiler gives it
(`Item.conn`, `Item.negate`). Keeping that shape is what lets compile.py reproduce sysdig exactly,
including the "mixes 'and' and 'or'" error and the `a not b` quirk (see `Item.ignored`).

Positions are 0-based indexes into the filter text. Where a node has an `err_pos`, it is the
position sysdig 0.29 prints in "filter error at position N" for an error about that node, which is
where its character scanner stood at that moment (not always the start of the token).

The nodes are FrozenRow classes (sysdig_user/rows.py): equal and hashed by value over ``_fields``, like
the frozen dataclasses they were, without the import of dataclasses (and inspect, ast, dis, tokenize)
that a filtered run would pay at start-up.
"""
from __future__ import annotations

from sysdig_user.consts import Const
from sysdig_user.rows import FrozenRow, set_slot


class Conn(Const):
    """The connector before an operand (sysdig's boolop without its NOT bit)."""

    NONE = "none"
    AND = "and"
    OR = "or"


class Value(FrozenRow):
    """A literal right-hand value: `text` after escape processing, `raw` as written."""

    _fields = ("text", "raw", "pos", "err_pos", "quoted")  # (not `error`: equality ignores it)
    __slots__ = (*_fields, "error")
    text: str
    raw: str
    pos: int          # start of the token (or where an empty value would be)
    err_pos: int      # where sysdig reports a bad value (e.g. "abc is not a valid number")
    quoted: bool
    # A bad escape sequence: kept, not raised, so the compiler reports errors in text order.
    error: Exception | None

    def __init__(self, text: str, raw: str, pos: int, err_pos: int, quoted: bool = False,
                 error: Exception | None = None) -> None:
        set_slot(self, "text", text)
        set_slot(self, "raw", raw)
        set_slot(self, "pos", pos)
        set_slot(self, "err_pos", err_pos)
        set_slot(self, "quoted", quoted)
        set_slot(self, "error", error)


class Check(FrozenRow):
    """One field comparison: `field op value`, `field exists`, or `field in/pmatch (v, ...)`.

    `field` is the name as written (e.g. ``evt.arg[0]``); `name`/`arg` split off the argument
    (``evt.arg``, ``0``). `op` is the operator as sysdig spells it (``=``, ``contains``, ``in`` ...).
    For list operators `values` holds every element and `list_pos` is the position just after "(".
    """

    _fields = ("field", "name", "arg", "pos", "field_end", "op", "op_pos", "values", "list_pos")
    __slots__ = _fields
    field: str
    name: str
    arg: str | None
    pos: int
    field_end: int
    op: str
    op_pos: int
    values: tuple[Value, ...]
    list_pos: int | None

    def __init__(self, field: str, name: str, arg: str | None, pos: int, field_end: int, op: str, op_pos: int,
                 values: tuple[Value, ...] = (), list_pos: int | None = None) -> None:
        set_slot(self, "field", field)
        set_slot(self, "name", name)
        set_slot(self, "arg", arg)
        set_slot(self, "pos", pos)
        set_slot(self, "field_end", field_end)
        set_slot(self, "op", op)
        set_slot(self, "op_pos", op_pos)
        set_slot(self, "values", values)
        set_slot(self, "list_pos", list_pos)


class Item(FrozenRow):
    """One operand of a `Seq` with its connector.

    `ignored` marks sysdig's `a not b` form: the operand's connector is NONE although it is not
    first, and sysdig 0.29's evaluator then skips it (its fields are still checked at compile time).
    """

    _fields = ("conn", "negate", "node", "ignored")
    __slots__ = _fields
    conn: Conn
    negate: bool
    node: Node
    ignored: bool

    def __init__(self, conn: Conn, negate: bool, node: Node, ignored: bool = False) -> None:
        set_slot(self, "conn", conn)
        set_slot(self, "negate", negate)
        set_slot(self, "node", node)
        set_slot(self, "ignored", ignored)


class Seq(FrozenRow):
    """An expression: the whole filter, or the inside of a parenthesised group.

    `close_pos` is the position of the closing ")" for a group (None for the whole filter); it is
    where sysdig reports that the group mixes `and` and `or`.
    """

    _fields = ("items", "pos", "close_pos")
    __slots__ = _fields
    items: tuple[Item, ...]
    pos: int
    close_pos: int | None

    def __init__(self, items: tuple[Item, ...], pos: int, close_pos: int | None = None) -> None:
        set_slot(self, "items", items)
        set_slot(self, "pos", pos)
        set_slot(self, "close_pos", close_pos)

    @property
    def mixed(self) -> bool:
        """True when sysdig rejects this expression for mixing `and` and `or`."""
        conns = {item.conn for item in self.items[1:]}
        return len(conns) > 1

    @property
    def conn(self) -> Conn:
        """The one connector of this expression (NONE for a single operand)."""
        for item in self.items[1:]:
            return item.conn
        return Conn.NONE


Node = Check | Seq


class Filter(FrozenRow):
    """A parsed filter: its text, root expression, and where sysdig stands at end of input."""

    _fields = ("text", "root", "end_pos")
    __slots__ = _fields
    text: str
    root: Seq
    end_pos: int

    def __init__(self, text: str, root: Seq, end_pos: int) -> None:
        set_slot(self, "text", text)
        set_slot(self, "root", root)
        set_slot(self, "end_pos", end_pos)

    def checks(self) -> list[Check]:
        """Every check, in text order (without recursion: groups may nest thousands deep)."""
        found: list[Check] = []
        pending: list[Node] = [self.root]
        while pending:
            node = pending.pop()
            if isinstance(node, Seq):
                pending.extend(item.node for item in reversed(node.items))
            else:
                found.append(node)
        return found
