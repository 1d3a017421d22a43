"""AST -> predicate: the filter is compiled once into nested closures, nothing walks a tree per event
(but a filter nested deeper than boolean.CLOSURE_DEPTH groups, run by a loop: see boolean.py).

Fields come from a resolver (`resolve(name, arg, pos) -> FieldRef`, the field registry in
sysdig_user/fields/ provides one). Literals are converted once, at compile time, into the field's
value type; `in` lists become frozensets, globs become compiled regexes.

Semantics, as sysdig 0.29 (libs e5c53d6, filter.cpp flt_compare*):
- a field that is not available for an event (extract -> None) makes its check false, whatever the
  operator (`!=` and `exists` included); `not` then turns that into true;
- a group of operands is all-`and` or all-`or` (mixing is a compile error), evaluated left to right
  with short-circuit; `a not b` keeps `a` and never evaluates `b`;
- strings compare bytewise (`contains` is strstr, `icontains` ASCII case-insensitive, `glob` is
  fnmatch(3) without flags: case-sensitive, `*` crosses "/"), `pmatch` is a path-prefix match;
- numbers compare as numbers, IP addresses as addresses, `fd.net`-like fields by CIDR membership;
- an operator the field type cannot do ("'contains' not supported for numeric filters") is an error
  without position; sysdig raises it on the first event that reaches the check, we at compile time;
- a field with several values (`extract_many`: fd.ip, fd.port, fd.proto, fd.net, proc.apid and
  proc.aname without index) is compared value by value, see `_multi_predicate`.
"""
from __future__ import annotations

import _socket as socket  # the C module: socket.py itself costs ~2 ms of start-up
from _collections_abc import Callable  # (collections.abc without collections)

from sysdig_user.consts import Const
from sysdig_user.errors import FieldError, SduError
from sysdig_user.filter import boolean, errors
from sysdig_user.filter.ast import Check, Conn, Filter, Seq, Value
from sysdig_user.filter.parse import parse
from sysdig_user.lazy_re import Regex

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)

if TYPE_CHECKING:
    import ipaddress
    import re
    from typing import Any, Protocol, TypeVar

    Event = Any
else:
    Protocol = object  # (the protocols are mypy's: plain classes at run time)
    class _FirstUse:
        """``ipaddress``, imported when a filter first needs it (one on an address or a network); the module
        then takes this stand-in's place among the globals, so later uses cost nothing more."""

        def __getattr__(self, name: str) -> Any:
            import ipaddress as module

            globals()["ipaddress"] = module
            return getattr(module, name)

    ipaddress = _FirstUse()

Predicate = Callable[["Event"], bool]


class ValueKind(Const):
    """How values of a field type compare; many sysdig param types share one kind."""

    STRING = "string"
    INT = "int"
    UINT = "uint"
    DOUBLE = "double"
    BOOL = "bool"
    RELTIME = "reltime"
    ABSTIME = "abstime"
    PORT = "port"
    IPADDR = "ipaddr"
    IPNET = "ipnet"
    BYTES = "bytes"
    OTHER = "other"


# sysdig param type name (PT member name, with or without "PT_") -> kind.
_KIND_BY_TYPE = {
    **dict.fromkeys(("CHARBUF", "FSPATH", "FSRELPATH"), ValueKind.STRING),
    **dict.fromkeys(("INT8", "INT16", "INT32", "INT64", "FD", "PID", "ERRNO"), ValueKind.INT),
    **dict.fromkeys(("UINT8", "UINT16", "UINT32", "UINT64", "FLAGS8", "FLAGS16", "FLAGS32",
                     "ENUMFLAGS8", "ENUMFLAGS16", "ENUMFLAGS32", "MODE", "SIGTYPE", "SYSCALLID",
                     "UID", "GID", "L4PROTO", "SOCKFAMILY"), ValueKind.UINT),
    "DOUBLE": ValueKind.DOUBLE,
    "BOOL": ValueKind.BOOL,
    "RELTIME": ValueKind.RELTIME,
    "ABSTIME": ValueKind.ABSTIME,
    "PORT": ValueKind.PORT,
    **dict.fromkeys(("IPV4ADDR", "IPV6ADDR", "IPADDR"), ValueKind.IPADDR),
    **dict.fromkeys(("IPV4NET", "IPV6NET", "IPNET"), ValueKind.IPNET),
    "BYTEBUF": ValueKind.BYTES,
}
_NUMERIC = frozenset({ValueKind.INT, ValueKind.UINT, ValueKind.DOUBLE, ValueKind.BOOL, ValueKind.RELTIME,
                      ValueKind.ABSTIME, ValueKind.PORT})


class FieldRef(Protocol):
    """What the compiler needs from a resolved field.

    `ftype` is a `sysdig_user.event_table.PT` member, a type name ("CHARBUF", "PT_UINT64"), or a
    `ValueKind`. `extract(evt)` returns the value or None when the field does not apply to the
    event: str for strings, int for numbers (bool for BOOL), bytes for BYTEBUF, an
    `ipaddress` address (or text it accepts, or its 4/16 packed bytes) for addresses. A FieldRef may
    also define `parse_value(text) -> value`, raising ValueError whose text is sysdig's message (e.g.
    "unknown event type foo"); without it the literal is converted by `ftype`. Address and network
    literals are always converted here (sysdig's syntax and messages, `ipaddress` values).

    A FieldRef may also have `extract_many(evt) -> sequence` (None or absent for single-valued
    fields): all the values of a field that stands for several at once; `extract` is then unused.
    """

    name: str
    ftype: Any

    def extract(self, evt: Event) -> Any: ...


Resolver = Callable[[str, "str | None", int], FieldRef]


def value_kind(ftype: Any) -> ValueKind:
    """The comparison kind of a field type given as ValueKind, PT member or type name."""
    if isinstance(ftype, ValueKind):
        return ftype
    name = getattr(ftype, "name", ftype)
    name = str(name).upper().removeprefix("PT_")
    return _KIND_BY_TYPE.get(name, ValueKind.OTHER)


# literal conversion -------------------------------------------------------------------------------
_INT_RE = Regex(r"-?[0-9]+\Z")


def _parse_int(text: str) -> int:
    if not _INT_RE.match(text):
        raise ValueError(f"{text} is not a valid number")
    return int(text)


def _parse_double(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{text} is not a valid number") from None


def _parse_bool(text: str) -> bool:
    if text in ("true", "false"):
        return text == "true"
    raise ValueError(f"filter error: unrecognized boolean value {text}")


def _parse_port(text: str) -> int:
    """Digits (taken modulo 2**16) or a service name; no sign, no blanks."""
    if text.isascii() and text.isdigit():
        return int(text) & 0xFFFF
    try:
        return socket.getservbyname(text)
    except OSError:
        raise ValueError(f"unrecognized protocol {text}") from None


def _parse_ipaddr(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """sysdig reads a dotted literal as IPv4 and anything else as IPv6, naming which one failed."""
    try:
        if "." in text and ":" not in text:
            return ipaddress.IPv4Address(text)
        return ipaddress.IPv6Address(text)
    except ValueError:
        family = "IPv4" if "." in text and ":" not in text else "IPv6"
        raise ValueError(f"unrecognized {family} address {text}") from None


def _parse_ipnet(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """IPv4 networks need a prefix length; an IPv6 "network" is written as a bare address and stands
    for its /64 (sinsp ipv6addr::in_subnet compares the first 64 bits)."""
    if "." in text and ":" not in text:
        if "/" not in text:
            raise ValueError(f"unrecognized IP network {text}")
        try:
            return ipaddress.IPv4Network(text, strict=False)
        except ValueError:
            raise ValueError(f"unrecognized IP network {text}") from None
    try:
        return ipaddress.IPv6Network((ipaddress.IPv6Address(text), 64), strict=False)
    except ValueError:
        raise ValueError(f"unrecognized IPv6 address {text}") from None


_PARSERS: dict[ValueKind, Callable[[str], Any]] = {
    ValueKind.STRING: str,
    ValueKind.INT: _parse_int,
    ValueKind.UINT: _parse_int,
    ValueKind.RELTIME: _parse_int,
    ValueKind.ABSTIME: _parse_int,
    ValueKind.DOUBLE: _parse_double,
    ValueKind.BOOL: _parse_bool,
    ValueKind.PORT: _parse_port,
    ValueKind.IPADDR: _parse_ipaddr,
    ValueKind.IPNET: _parse_ipnet,
    ValueKind.BYTES: lambda text: text.encode("utf-8", "surrogateescape"),
    ValueKind.OTHER: str,
}


# Literal syntaxes the compiler always parses itself, whatever the field's parse_value: sysdig's
# strict syntax and messages, and the values the comparisons below expect (`ipaddress` objects).
_OWN_PARSERS = frozenset({ValueKind.PORT, ValueKind.IPADDR, ValueKind.IPNET})


def _convert(ref: FieldRef, kind: ValueKind, value: Value) -> Any:
    """A literal in the field's value type, or sysdig's error at the value's position."""
    if value.error is not None:
        raise value.error
    if kind in _OWN_PARSERS:
        parser = _PARSERS[kind]
    else:
        parser = getattr(ref, "parse_value", None) or _PARSERS[kind]
    try:
        return parser(value.text)
    except (ValueError, SduError) as exc:  # a field's parse_value may raise its own SduError
        raise errors.FilterError(str(exc), value.err_pos) from None


# string matching helpers ---------------------------------------------------------------------------
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def glob_regex(pattern: str) -> re.Pattern[str]:
    """fnmatch(3) with no flags: * and ? match any character ("/" too), [..] with ! or ^ negation,
    backslash quotes the next character."""
    import re  # (only a glob needs it: sysdig_user/lazy_re.py)

    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "\\" and i < n:
            out.append(re.escape(pattern[i]))
            i += 1
        elif c == "[":
            j = i
            if j < n and pattern[j] in "!^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                out.append(re.escape(c))
                continue
            body = pattern[i:j]
            i = j + 1
            neg = body[:1] in ("!", "^")
            body = body[1:] if neg else body
            body = body.replace("\\", "\\\\").replace("^", "\\^")
            out.append(f"[{'^' if neg else ''}{body}]")
        else:
            out.append(re.escape(c))
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def _path_parts(path: str) -> tuple[str, ...]:
    return tuple(p for p in path.split("/") if p)


def pmatch_test(prefixes: list[str]) -> Callable[[str], bool]:
    """sysdig's path_prefix_search: true when a prefix's components start the value's components."""
    wanted = [_path_parts(p) for p in prefixes]

    def test(value: str) -> bool:
        parts = _path_parts(value)
        return any(parts[:len(w)] == w for w in wanted)
    return test


# operator tables: op -> builder(literals) -> test(value) -> bool ---------------------------------
_Test = Callable[["Any"], bool]
_SCALAR_TESTS: dict[str, Callable[[Any], _Test]] = {
    "=": lambda lit: lambda v: v == lit,
    "!=": lambda lit: lambda v: v != lit,
    "<": lambda lit: lambda v: v < lit,
    "<=": lambda lit: lambda v: v <= lit,
    ">": lambda lit: lambda v: v > lit,
    ">=": lambda lit: lambda v: v >= lit,
    "contains": lambda lit: lambda v: lit in v,
    "startswith": lambda lit: lambda v: v.startswith(lit),
    "endswith": lambda lit: lambda v: v.endswith(lit),
}


def _unsupported(kind: ValueKind, op: str) -> str | None:
    """sysdig's message for an operator the kind cannot do, or None."""
    if kind in _NUMERIC or kind is ValueKind.IPADDR:
        if op in ("contains", "icontains", "startswith", "endswith", "glob"):
            return f"'{op}' not supported for numeric filters"
    elif kind is ValueKind.BYTES:
        if op in ("icontains", "glob", "<", "<=", ">", ">="):
            return f"'{op}' not supported for buffer filters"
    elif kind is ValueKind.IPNET:
        if op in ("contains", "icontains", "startswith", "endswith", "glob"):
            return f"'{op}' not supported for numeric filters"
        if op in ("<", "<=", ">", ">="):
            return "comparison operator not supported for ipv4 networks"
    return None


def _as_ip(v: Any) -> Any:
    if isinstance(v, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return v
    if isinstance(v, (bytearray, memoryview)):
        v = bytes(v)
    try:
        return ipaddress.ip_address(v)
    except ValueError:
        return None


def _ip_bytes(v: Any) -> bytes | None:
    """A field's address as its 4 or 16 raw bytes, None when it is not one."""
    if isinstance(v, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return v.packed
    if isinstance(v, (bytes, bytearray, memoryview)) and len(v) in (4, 16):
        return bytes(v)
    ip = _as_ip(v) if isinstance(v, str) else None
    return None if ip is None else ip.packed


def _ip_literals(lits: list[Any]) -> tuple[frozenset[bytes], frozenset[bytes]]:
    """The literals as sinsp's flt_compare sees them against a 4-byte and a 16-byte address: it compares
    as many bytes of the literal's storage as the address has, so an IPv6 literal meets an IPv4 address
    with its first 4 bytes (fd.ip=::1 matches an IPv4 socket without an address yet) and an IPv4
    literal meets an IPv6 address followed by zeros (fd.ip=0.0.0.1 matches 0:1::)."""
    packed = [lit.packed for lit in lits]
    return frozenset(b[:4] for b in packed), frozenset(b.ljust(16, b"\0") for b in packed)


def _ip_test(lits: list[Any]) -> Callable[[Any], bool]:
    as4, as16 = _ip_literals(lits)

    def test(v: Any) -> bool:
        b = _ip_bytes(v)
        return b is not None and b in (as4 if len(b) == 4 else as16)
    return test


def _as_bytes(v: Any) -> bytes:
    return v.encode("utf-8", "surrogateescape") if isinstance(v, str) else bytes(v)


def _build_test(kind: ValueKind, op: str, lits: list[Any]) -> _Test:
    """The value test for one check, literals already converted."""
    if kind is ValueKind.OTHER:
        return lambda v: False  # sockaddr, fd lists ...: sysdig's flt_compare returns false
    if kind is ValueKind.IPNET:
        nets = tuple(lits)
        if op == "!=":
            return lambda v: (ip := _as_ip(v)) is not None and ip not in nets[0]
        return lambda v: (ip := _as_ip(v)) is not None and any(ip in n for n in nets)
    if op in ("in", "pmatch") and kind is not ValueKind.STRING:
        if kind is ValueKind.IPADDR:
            return _ip_test(lits)
        members = frozenset(lits)
        if kind is ValueKind.BYTES:
            return lambda v: _as_bytes(v) in members
        return members.__contains__
    if kind is ValueKind.STRING:
        if op == "in":
            return frozenset(lits).__contains__
        if op == "pmatch":
            return pmatch_test(lits)
        if op == "glob":
            glob = glob_regex(lits[0]).match
            return lambda v: glob(v) is not None
        if op == "icontains":
            low = lits[0].translate(_ASCII_LOWER)
            return lambda v: low in v.translate(_ASCII_LOWER)
    if kind is ValueKind.IPADDR and op in ("=", "!="):
        same = _ip_test(lits[:1])
        if op == "=":
            return same
        return lambda v: _ip_bytes(v) is not None and not same(v)
    test = _SCALAR_TESTS[op](lits[0])
    if kind is ValueKind.IPADDR:
        return lambda v: (ip := _as_ip(v)) is not None and ip.version == lits[0].version and test(ip)
    if kind is ValueKind.BYTES:
        return lambda v: test(_as_bytes(v))
    return test


def _check_predicate(check: Check, ref: FieldRef, kind: ValueKind, lits: list[Any]) -> Predicate:
    """Bind extractor and literals into one closure, with fast paths for the common operators."""
    extract = ref.extract
    if check.op == "exists":
        return lambda evt: extract(evt) is not None
    if check.op == "=" and kind in (ValueKind.STRING, ValueKind.INT, ValueKind.UINT):
        lit = lits[0]
        return lambda evt: extract(evt) == lit
    if check.op == "in" and kind in (ValueKind.STRING, ValueKind.INT, ValueKind.UINT):
        members = frozenset(lits)
        return lambda evt: extract(evt) in members
    test = _build_test(kind, check.op, lits)

    def predicate(evt: Event) -> bool:
        v = extract(evt)
        return v is not None and test(v)
    return predicate


# multi-valued fields ------------------------------------------------------------------------------
_MANY_FD_ERRORS = {
    ValueKind.PORT: "filter error: unsupported port comparison operator",
    ValueKind.IPADDR: "filter error: IP filter only supports '=' and '!=' operators",
    ValueKind.IPNET: "filter error: IP filter only supports '=' and '!=' operators",
}
_MANY_FD_OPS = {
    ValueKind.PORT: frozenset({"=", "!=", "<", "<=", ">", ">=", "in"}),
    ValueKind.IPADDR: frozenset({"=", "!=", "in"}),
    ValueKind.IPNET: frozenset({"=", "!=", "in"}),
}


def _multi_predicate(check: Check, kind: ValueKind, lits: list[Any],
                     many: Callable[[Event], Any]) -> Predicate:
    """A check on a field with several values, as sysdig 0.29 compares them.

    fd.ip / fd.net / fd.port / fd.proto (sinsp_filter_check_fd compare_ip, compare_net, compare_port)
    look at the socket's two ends (a server socket has one): `!=` holds when it holds for every end,
    any other operator when it holds for one; no values (not an IP socket) is false. An operator
    they do not support is an error raised by the first IP-socket event reaching the check.
    proc.apid / proc.aname (compare_full_apid / _aname) hold when the check holds for one ancestor,
    `!=` included; `proc.apid in (...)` never holds in sysdig 0.29 (its set lookup uses a zero
    length for the pid).
    """
    op = check.op
    if kind in _MANY_FD_ERRORS:
        if op not in _MANY_FD_OPS[kind]:
            message = _MANY_FD_ERRORS[kind]

            def unsupported(evt: Event) -> bool:
                if many(evt):
                    raise errors.FilterError(message)
                return False
            return unsupported
        test = _build_test(kind, "=" if op == "!=" else op, lits)
        if op == "!=":
            def none_equal(evt: Event) -> bool:
                vals = many(evt)
                return bool(vals) and not any(test(v) for v in vals)
            return none_equal
    elif op == "exists":
        return lambda evt: bool(many(evt))
    elif op == "in" and kind is not ValueKind.STRING:
        return lambda evt: False
    else:
        test = _build_test(kind, op, lits)

    def any_holds(evt: Event) -> bool:
        return any(test(v) for v in many(evt))
    return any_holds


# compilation ----------------------------------------------------------------------------------------
class _Compiler:
    """Validates in sysdig's order (text order, type errors last) and builds the closures."""

    def __init__(self, resolve: Resolver) -> None:
        self.resolve = resolve
        self.deferred: list[errors.FilterError] = []
        self.last_kind = ValueKind.STRING  # kind of the last check read (for the "in clause" message)
        self.multi_valued = False  # a check on an extract_many field (may raise per event)

    def field(self, check: Check) -> tuple[FieldRef, ValueKind]:
        try:
            ref = self.resolve(check.name, check.arg, check.pos)
        except errors.UnknownField:
            raise errors.unrecognized_field(check.field, check.pos, check.field_end) from None
        except FieldError as exc:  # a field argument sysdig refuses: its words, at the end of the name
            raise errors.FilterError(str(exc), check.field_end) from None
        return ref, value_kind(ref.ftype)

    def literals(self, check: Check, ref: FieldRef, kind: ValueKind) -> list[Any]:
        if check.op == "pmatch" and check.list_pos is not None and kind is not ValueKind.STRING:
            raise errors.FilterError(errors.PMATCH_TYPE, check.list_pos)
        return [_convert(ref, kind, v) for v in check.values]

    def check(self, check: Check) -> Predicate:
        ref, kind = self.field(check)
        lits = self.literals(check, ref, kind)
        _check_operator(check, lits)
        many = getattr(ref, "extract_many", None)
        if many is not None:
            self.multi_valued = True
        if many is not None and kind in _MANY_FD_ERRORS:
            return _multi_predicate(check, kind, lits, many)  # its own errors, raised per event
        problem = _unsupported(kind, check.op)
        if problem is not None:
            self.deferred.append(errors.FilterError(problem))
            return lambda evt: False
        if many is not None:
            return _multi_predicate(check, kind, lits, many)
        return _check_predicate(check, ref, kind, lits)

    def prefix(self, items: list[object]) -> None:
        """Validate what was read before a syntax error (see parse.FilterSyntaxError.prefix)."""
        for item in items:
            if isinstance(item, errors.FilterError):
                raise item
            if isinstance(item, Check):
                ref, kind = self.field(item)
                if item.op:
                    self.literals(item, ref, kind)
                    self.last_kind = kind


def _check_operator(check: Check, lits: list[Any]) -> None:
    """A literal that compares with some operators only (evt.around's) names them: ``operators``, and the
    message sysdig gives for another one, at the end of the value."""
    for lit in lits:
        allowed = getattr(lit, "operators", None)
        if allowed is not None and check.op not in allowed:
            raise errors.FilterError(lit.operator_error, check.values[-1].err_pos)


def compile_ast(flt: Filter, resolve: Resolver) -> Predicate:
    """Compile a parsed filter; raises FilterError exactly as sysdig would for it."""
    compiler = _Compiler(resolve)
    predicate = boolean.to_predicate(boolean.build(flt.root, compiler.check))
    if flt.root.mixed:
        raise errors.FilterError(errors.MIXED, flt.end_pos)
    if compiler.deferred:
        raise compiler.deferred[0]
    # The event types it can match, for callers that skip the others unseen (Inspector.skip_raw);
    # not when a check could raise on an event whatever its type.
    types = None if compiler.multi_valued else event_types(flt)
    predicate = _with_types(predicate, None if types is None else frozenset(types))
    return predicate


def _with_types(predicate: Predicate, types: frozenset[str] | None) -> Predicate:
    """A predicate carrying ``event_types``: the evt.type names it can be true for, None for any."""
    def typed(evt: Event) -> bool:
        return predicate(evt)

    if types is None:
        return predicate
    typed.event_types = types  # type: ignore[attr-defined]
    return typed


def compile_filter(text: str, resolve: Resolver) -> Predicate:
    """Filter text -> `predicate(evt) -> bool`; FilterError (one line, sysdig's text) if invalid.

    An empty string matches everything: sysdig does not compile an empty filter at all (a filter
    of blanks, though, is an error, as in sysdig).
    """
    if text == "":
        return lambda evt: True
    try:
        flt = parse(text)
    except errors.FilterSyntaxError as failure:
        compiler = _Compiler(resolve)
        compiler.prefix(failure.prefix)
        if failure.list_sep and compiler.last_kind is not ValueKind.STRING:
            raise errors.FilterError(errors.LIST_SEP_OTHER, failure.pos) from None
        raise
    return compile_ast(flt, resolve)


def referenced_fields(text: str) -> set[str]:
    """Every field a filter names, as written (``evt.arg[0]``, ``proc.name``)."""
    if text == "":
        return set()
    return {check.field for check in parse(text).checks()}


def event_types(node: Filter | Seq | Check) -> set[str] | None:
    """The evt.type values a filter can match, or None when it may match any event type.

    Only positive `evt.type=X` / `evt.type in (...)` checks restrict (restricted_set)."""
    return restricted_set(node, _check_types)


if TYPE_CHECKING:
    _T = TypeVar("_T")


def restricted_set(node: Filter | Seq | Check, leaf: Callable[[Check], set[_T] | None]) -> set[_T] | None:
    """What a filter can only be true within, or None when nothing restricts it: ``leaf`` gives each
    check's set (None: any); `and` intersects what its operands restrict, `or` needs every operand
    restricted; negations give None. (event_types: evt.type names; filter/codes.py: event codes.)"""
    if isinstance(node, Filter):
        node = node.root
    if isinstance(node, Check):
        return leaf(node)
    # groups, innermost first (no recursion: groups may nest thousands deep)
    order: list[Seq] = []
    pending = [node]
    while pending:
        seq = pending.pop()
        order.append(seq)
        pending.extend(item.node for item in seq.items if isinstance(item.node, Seq))
    known: dict[int, set[_T] | None] = {}
    for seq in reversed(order):
        sets = [None if item.negate else
                known[id(item.node)] if isinstance(item.node, Seq) else leaf(item.node)
                for item in seq.items if not item.ignored]
        known[id(seq)] = _combine(sets, len(sets) == 1 or seq.conn is Conn.AND)
    return known[id(node)]


def _check_types(check: Check) -> set[str] | None:
    if check.name != "evt.type" or check.arg is not None:
        return None
    if check.op == "=":
        return {check.values[0].text}
    if check.op == "in":
        return {v.text for v in check.values}
    return None


def _combine(sets: list[set[_T] | None], conjunction: bool) -> set[_T] | None:
    if conjunction:
        known = [s for s in sets if s is not None]
        if not known:
            return None
        result = set(known[0])
        for s in known[1:]:
            result &= s
        return result
    if any(s is None for s in sets):
        return None
    return set().union(*(s for s in sets if s is not None))
