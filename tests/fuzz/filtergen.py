"""Filter texts for the fuzz tests: structure-aware ones (a seeded generator and a Hypothesis strategy over
the same vocabulary) and character-level mutations of them.

The vocabulary is sdu's own: every field of the registry (with and without arguments), every operator of
the grammar, values of every kind the compiler converts (numbers, addresses, networks, event types,
escapes, quotes), and the tokens that make sysdig's scanner quirky (``n`` fields, blanks inside ``a n d``,
brackets and commas inside values).
"""
from __future__ import annotations

import random

from hypothesis import strategies as st

from sysdig_user.fields.base import ArgSyntax
from sysdig_user.fields.registry import FIELDS
from sysdig_user.filter import ValueKind, value_kind

FIELD_NAMES = sorted(FIELDS)
ARGS = ("[0]", "[1]", "[-1]", "[99]", "[res]", "[fd]", "[]", "[x", ".fd", ".res", ".name", ".data", ".open",
        ".nosuch", "[/tmp]", "[2]")
BOGUS_FIELDS = ("evt.bogus", "proc", "fd.", "x", "nope", "evt.arg.", "evt.num.x", "n", "proc.name[",
                "evt.type.is.open")
OPS = ("=", "!=", "<", "<=", ">", ">=", "contains", "icontains", "startswith", "endswith", "glob", "in",
       "pmatch", "exists", "==", "=!", "~=", "intersects")
VALUES = ("0", "1", "-1", "3", "100", "65535", "65536", "4294967295", "18446744073709551616", "-9223372036854775809",
          "1.5", "1e3", "0x10", "abc", "cat", "bash", "/etc", "/etc/passwd", "/", "*", "*.txt", "?", "[a-z]*", "",
          "open", "read", "execve", "openat", "nosuchevent", "true", "false", "10.0.0.2", "10.0.0.0/8",
          "10.0.0.0/33", "::1", "2001:db8::/32", "8.8.8.8:53", "256.1.1.1", "http", "domain", "tcp",
          "<NA>", "\\x41", "\\x4", "\\x", "\\\\", "\\", "\\\"", "a,b", "(", ")", "a)b", "and", "or", "not",
          "\u00e9t\u00e9", "\udcff")
QUOTES = ('"', "'")
BLANKS = (" ", " ", " ", "  ", "\t", "\n")
MUTATION_CHARS = "()\"'\\,!=<> anotrdx.[]\t\n0123456789-"
CONNECTORS = ("and", "or", "a n d", "o r", "andx", "or(")


def _blank(rng: random.Random) -> str:
    return rng.choice(BLANKS)


def _value(rng: random.Random) -> str:
    v = rng.choice(VALUES)
    r = rng.random()
    if r < 0.15:
        q = rng.choice(QUOTES)
        return q + v + (q if rng.random() < 0.9 else "")
    if r < 0.2:
        return v + rng.choice(VALUES)
    return v


def _field(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.03:
        return rng.choice(BOGUS_FIELDS)
    name = rng.choice(FIELD_NAMES)
    if r < 0.06 or FIELDS[name].arg and r < 0.8:
        name += rng.choice(ARGS)
    return name


def _check(rng: random.Random) -> str:
    field, op = _field(rng), rng.choice(OPS)
    if op == "exists":
        return f"{field} exists"
    if op in ("in", "pmatch") or rng.random() < 0.03:
        items = [_value(rng) for _ in range(rng.randint(0, 4))]
        return f"{field} {op} ({','.join(items)})"
    sep = _blank(rng) if rng.random() < 0.7 else ""
    return f"{field}{sep}{op}{sep}{_value(rng)}"


_KIND_VALUES = {
    ValueKind.STRING: ("cat", "bash", "/etc", "/etc/passwd", "/home/u", "*", "*.txt", "foo.txt", "", "<NA>",
                       "\\x41", "a b", "file", "ipv4", "/dev/pts/0"),
    ValueKind.BOOL: ("true", "false"),  # sysdig refuses 0 and 1 ("unrecognized boolean value")
    ValueKind.IPADDR: ("10.0.0.2", "93.184.216.34", "8.8.8.8", "::1", "0.0.0.0"),
    ValueKind.IPNET: ("10.0.0.0/8", "93.184.216.0/24", "::/0"),
    ValueKind.BYTES: ("abc", "z", "0123"),
}
_NUMBERS = ("0", "1", "-1", "3", "5", "9", "53", "80", "100", "101", "1000", "8080", "4294967295")
_KIND_OPS = {
    ValueKind.STRING: ("=", "!=", "contains", "icontains", "startswith", "endswith", "glob", "in", "pmatch",
                       "exists"),
    ValueKind.IPADDR: ("=", "!=", "in", "exists"),
    ValueKind.IPNET: ("=", "!=", "in", "exists"),
    ValueKind.BOOL: ("=", "!=", "exists"),
    ValueKind.BYTES: ("=", "!=", "contains", "exists"),
}
_NUMERIC_OPS = ("=", "!=", "<", "<=", ">", ">=", "in", "exists")
_EVENT_TYPES = ("open", "openat", "read", "write", "close", "execve", "clone", "socket", "connect", "sendto",
                "recvfrom", "procexit", "dup", "pipe", "accept", "chdir")


_ARG_FORMS = {
    ArgSyntax.INDEX: ("[0]", "[1]", "[2]"),
    ArgSyntax.PARAM: ("[0]", "[1]", ".fd", ".res", ".name", ".size"),
    ArgSyntax.PARAM_NAME: (".fd", ".res", ".name", ".size"),
    ArgSyntax.WORD: (".cpu", ".memory"),
    ArgSyntax.EVTTYPE: (".open", ".read", ".execve"),
    ArgSyntax.SUFFIX: ("", ".src", ".dst"),
    ArgSyntax.BRACKET: ("[/]", "[0]"),
    ArgSyntax.LABEL: (".app", ".a/b-c.d"),
    ArgSyntax.TRACER: ("[0]", "[-1]", ".name"),
    ArgSyntax.TRACER_INDEX: ("[0]", "[-1]"),
    ArgSyntax.EVTIN: ("[0]", ".fd", ".name"),
    ArgSyntax.AROUND: ("[0]", "[1000000000]"),
}


def _typed_check(rng: random.Random) -> str:
    """A check the compiler accepts: an operator and values of the field's kind."""
    name = rng.choice(FIELD_NAMES)
    field = FIELDS[name]
    if field.arg:
        name += rng.choice(_ARG_FORMS[field.arg])
    kind = value_kind(field.ftype)
    if name.startswith("evt.type"):
        values: tuple[str, ...] = _EVENT_TYPES
        ops: tuple[str, ...] = ("=", "!=", "in")
    else:
        values = _KIND_VALUES.get(kind, _NUMBERS)
        ops = _KIND_OPS.get(kind, _NUMERIC_OPS)
    op = rng.choice(ops)
    if op == "exists":
        return f"{name} exists"
    if op in ("in", "pmatch"):
        return f"{name} {op} ({', '.join(rng.choice(values) for _ in range(rng.randint(1, 3)))})"
    value = rng.choice(values)
    return f"{name} {op} {value!r}" if " " in value or not value else f"{name} {op} {value}"


def random_filter(rng: random.Random, depth: int = 3, typed: bool | None = None) -> str:
    """One filter: a sequence of operands joined by a connector, each maybe negated, each a check or a
    parenthesised sequence. Half the filters are ``typed``: fields with values of their kind, one
    connector per group (most compile); the others mix anything (most do not)."""
    if typed is None:
        typed = rng.random() < 0.5
    conn = rng.choice(("and", "or"))
    parts = []
    for i in range(rng.randint(1, 4 if typed else 3)):
        if depth > 0 and rng.random() < 0.3:
            operand = "(" + random_filter(rng, depth - 1, typed) + ")"
        else:
            operand = _typed_check(rng) if typed else _check(rng)
        if typed:
            prefix = "not " if rng.random() < 0.2 else ""
        else:
            prefix = "not " * rng.choice((0, 0, 0, 1, 2)) if rng.random() < 0.9 else "not"
        if i:
            c = conn if typed or rng.random() < 0.9 else rng.choice(CONNECTORS)
            parts.append(f" {c} " if typed else f"{_blank(rng)}{c}{_blank(rng)}")
        parts.append(prefix + operand)
    return "".join(parts)


def mutate(rng: random.Random, text: str) -> str:
    """A few character-level edits: deletes, inserts of scanner-significant characters, duplications,
    swaps, truncation."""
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(6)
        pos = rng.randint(0, len(chars))
        if kind == 0 and chars:
            del chars[pos:pos + rng.randint(1, 3)]
        elif kind == 1:
            chars[pos:pos] = rng.choice(MUTATION_CHARS)
        elif kind == 2 and chars:
            end = min(len(chars), pos + rng.randint(1, 12))
            chars[pos:pos] = chars[pos:end]
        elif kind == 3 and len(chars) > 1:
            i, j = rng.randrange(len(chars)), rng.randrange(len(chars))
            chars[i], chars[j] = chars[j], chars[i]
        elif kind == 4:
            chars = chars[:pos]
        else:
            chars[pos:pos] = rng.choice(("(", ")", " not ", " and ", " or ", '"', "'", "\\", ","))
    return "".join(chars)


def seeded_filters(seed: int, count: int) -> list[str]:
    """``count`` filters, two thirds generated and a third mutated, the same for the same seed."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        text = random_filter(rng)
        out.append(text if i % 3 else mutate(rng, text))
    return out


# Hypothesis: the same vocabulary as a strategy, so a failure shrinks to a minimal filter. Kept to flat
# draws (sampled_from, tuples, lists): recursive compositions of text strategies cost ~20 ms an example.
def _render_check(parts: tuple[str, str, str, list[str], bool]) -> str:
    field, arg, op, values, quoted = parts
    field += arg
    if op == "exists":
        return f"{field} exists"
    if op in ("in", "pmatch"):
        return f"{field} {op} ({','.join(values)})"
    value = values[0] if values else ""
    return f'{field} {op} "{value}"' if quoted else f"{field} {op} {value}"


_checks = st.tuples(st.sampled_from(FIELD_NAMES + list(BOGUS_FIELDS)), st.sampled_from(("",) * 6 + ARGS),
                    st.sampled_from(OPS), st.lists(st.sampled_from(VALUES + _NUMBERS), max_size=3),
                    st.booleans()).map(_render_check)


def _sequence(operands: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    item = st.tuples(st.sampled_from(("", "", "not ", "not not ", "not")), operands).map("".join)
    return st.tuples(st.lists(item, min_size=1, max_size=3), st.sampled_from(("and",) * 4 + ("or",) * 4 + CONNECTORS)
                     ).map(lambda t: f" {t[1]} ".join(t[0]))


filters = st.recursive(_sequence(_checks), lambda inner: _sequence(inner.map(lambda s: f"({s})")), max_leaves=6)
