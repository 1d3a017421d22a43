"""Filter AST: plain dataclasses with source positions, built by parse.py, compiled by compile.py.

The shape follows sysdig 0.29's own filter model rather than a precedence tree: an expression
(`Seq`) is a list of operands, each carrying the connector bits sysdig's compiler gives it
(`Item.conn`, `Item.negate`). Keeping that shape is what lets compile.py reproduce sysdig exactly,
including the "mixes 'and' and 'or'" error and the `a not b` quirk (see `Item.ignored`).

Positions are 0-based indexes into the filter text. Where a node has an `err_pos`, it is the
position sysdig 0.29 prints in "filter error at position N" for an error about that node, which is
where its character scanner stood at that moment (not always the start of the token).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from dataclasses import field as dc_field


class Conn(enum.Enum):
    """The connector before an operand (sysdig's boolop without its NOT bit)."""

    NONE = "none"
    AND = "and"
    OR = "or"


@dataclass(frozen=True)
class Value:
    """A literal right-hand value: `text` after escape processing, `raw` as written."""

    text: str
    raw: str
    pos: int          # start of the token (or where an empty value would be)
    err_pos: int      # where sysdig reports a bad value (e.g. "abc is not a valid number")
    quoted: bool = False
    # A bad escape sequence: kept, not raised, so the compiler reports errors in text order.
    error: Exception | None = dc_field(default=None, compare=False)


@dataclass(frozen=True)
class Check:
    """One field comparison: `field op value`, `field exists`, or `field in/pmatch (v, ...)`.

    `field` is the name as written (e.g. ``evt.arg[0]``); `name`/`arg` split off the argument
    (``evt.arg``, ``0``). `op` is the operator as sysdig spells it (``=``, ``contains``, ``in`` ...).
    For list operators `values` holds every element and `list_pos` is the position just after "(".
    """

    field: str
    name: str
    arg: str | None
    pos: int
    field_end: int
    op: str
    op_pos: int
    values: tuple[Value, ...] = ()
    list_pos: int | None = None


@dataclass(frozen=True)
class Item:
    """One operand of a `Seq` with its connector.

    `ignored` marks sysdig's `a not b` form: the operand's connector is NONE although it is not
    first, and sysdig 0.29's evaluator then skips it (its fields are still checked at compile time).
    """

    conn: Conn
    negate: bool
    node: Node
    ignored: bool = False


@dataclass(frozen=True)
class Seq:
    """An expression: the whole filter, or the inside of a parenthesised group.

    `close_pos` is the position of the closing ")" for a group (None for the whole filter); it is
    where sysdig reports that the group mixes `and` and `or`.
    """

    items: tuple[Item, ...]
    pos: int
    close_pos: int | None = None

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


@dataclass(frozen=True)
class Filter:
    """A parsed filter: its text, root expression, and where sysdig stands at end of input."""

    text: str
    root: Seq
    end_pos: int

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
