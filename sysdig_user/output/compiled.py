"""Filters and ``-p`` formats compiled for the C fast path (sysdig_user/_fastline.c: Fields, Filter, Format).

A filter compiles when every field it names has an accessor in ``ACCESSORS`` (keyed by the registry
field's extractor, as registry.INLINE is) or is one of ``PROBED``, with an operator the C code
compares; otherwise the whole filter stays Python (``native_filter`` returns None and the planner's
``PY_FILTER`` fact keeps the compiled line off). A ``-p`` format compiles when every token is such a
field (or evt.outputtime in -t h); otherwise ``PY_FORMAT``.

The C side reads the values from tables built here from the registry's own code: evt.type per code
(registry.BY_CODE), the codes the fd fields apply to (fields/fd.py), and, for the fd fields whose
value is a function of the fd's type and role (fd.type, fd.cport, fd.sport, fd.cip, fd.sip), what
their Python extractor gives for each (type, role) of a probe FdInfo: nothing, a constant, or one of
the FdInfo's attributes. The literals are the Python compiler's (filter/compile.py), and each check
keeps its Python predicate: over an Event, a value the C code cannot give (an exit without an fd,
whose fd.name its own params give) is the Python check's answer for that event. The C-vs-Python
tests (tests/output/test_compiled.py) compare both over the samples and generated filters.
"""
from __future__ import annotations

import os

from sysdig_user.native import FASTLINE_VERSION, extension

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    from typing import Any

_fastline = extension("sysdig_user._fastline", FASTLINE_VERSION)

class NotCompiled(Exception):
    """A field, operator or literal the C code does not do: the whole filter or format stays Python."""


_EVT, _FD = "sysdig_user.fields.evt", "sysdig_user.fields.fd"


def _accessors(module: str) -> dict[Any, int]:
    """The accessors of the extractors of one field module (by its name: a filter or format imports only
    the field modules it names, here as in the registry)."""
    k = _fastline
    assert k is not None
    if module == _EVT:
        from sysdig_user.fields import evt

        return {evt._num: k.A_NUM, evt._cpu: k.A_CPU, evt._type: k.A_TYPE, evt._dir: k.A_DIR, evt._res: k.A_RES}
    if module == "sysdig_user.fields.thread":
        from sysdig_user.fields import thread

        return {thread.tid: k.A_TID}
    if module == "sysdig_user.fields.proc":
        from sysdig_user.fields import proc

        return {proc._name: k.A_COMM, proc._pid: k.A_PID}
    if module == _FD:
        from sysdig_user.fields import fd

        return {fd._num: k.A_FDNUM, fd._name: k.A_FDNAME, fd._l4proto: k.A_FDL4}
    if module == "sysdig_user.fields.user":
        from sysdig_user.fields import user

        return {user._name: k.A_USER}
    return {}


def _l4_texts() -> tuple[list[str | None], str]:
    """fd.l4proto's text per shown_l4proto value (A_FDL4), and for any other value, as its extractor gives
    them for a server socket of each protocol number and for a file (probed, as _probe does)."""
    from sysdig_user.fields import fd
    from sysdig_user.state.fds import L4, FdInfo, FdType

    ev = _probe_event()
    ev.fdinfo = FdInfo(5, FdType.FILE_V2)
    other = fd._l4proto(ev)
    texts: list[str | None] = []
    for proto in range(max(int(p) for p in L4) + 1):
        ev.fdinfo = FdInfo(5, FdType.IPV4_SERVSOCK, l4proto=proto)
        assert ev.fdinfo.shown_l4proto == proto
        text = fd._l4proto(ev)
        texts.append(None if text == other else text)
    assert isinstance(other, str)
    return texts, other


def _io_fields() -> dict[Any, int]:
    """evt.is_io, evt.is_io_read, evt.is_io_write: the EF flags of the event's code (A_IO, with the
    flags each tests: 1 READS_FROM_FD, 2 WRITES_TO_FD)."""
    from sysdig_user.fields import evt

    return {evt._is_io: 3, evt._is_io_read: 1, evt._is_io_write: 2}


def _io_table() -> bytes:
    """Per code, A_IO's flags: 1 the event reads from an fd, 2 it writes to one (fields/evt.py _flags)."""
    from sysdig_user.event_table import EF, EVENTS, PPM_EVENT_MAX

    reads, writes = int(EF.READS_FROM_FD), int(EF.WRITES_TO_FD)
    return bytes((1 if int(EVENTS[c].flags) & reads else 0) | (2 if int(EVENTS[c].flags) & writes else 0)
                 for c in range(PPM_EVENT_MAX))


def _failed() -> Any:
    """evt.failed's extractor (A_FAILED: return_value's params, as A_RES reads them)."""
    from sysdig_user.fields import evt

    return evt._failed


def _probed() -> tuple[Any, ...]:
    from sysdig_user.fields import fd

    return (fd._type, fd._cport, fd._sport, fd._cip, fd._sip)


_ACCESSORS: dict[Any, int] = {}
_PROBED: dict[Any, int] = {}
#: what each accessor's value is (V_INT, V_STR, V_IP), per accessor and per probed field
_VALUE_KINDS: dict[Any, int] = {}


def _probe_event() -> Any:
    """An fd event (a read exit) of a thread, whose fd the probes set, as fields/fd.py's fd_of sees it."""
    import struct

    from sysdig_user.event import Event
    from sysdig_user.event_table import event_code
    from sysdig_user.state.threads import ThreadInfo

    ev = Event(struct.pack("<QqIHI", 1, 7, 26, event_code("read", False), 0))
    ev.thread = ThreadInfo(tid=7, pid=7)
    ev.fdnum = 5
    return ev


_SAMPLES = ({"sport": 1111, "dport": 2222, "sip": b"\x01\x02\x03\x04", "dip": b"\x05\x06\x07\x08", "name": "a"},
            {"sport": 3333, "dport": 4444, "sip": bytes(range(16)), "dip": bytes(range(16, 32)), "name": "b"})


def _probe(extract: Any, ev: Any, ftype: Any, role: Any) -> tuple[int, str | None, int, str | None]:
    """What ``extract`` gives for an fd of this type and role (of ``ev``, _probe_event's): (mode, attribute,
    int, text)."""
    from sysdig_user.state.fds import FdInfo

    k = _fastline
    assert k is not None
    got = []
    for attrs in _SAMPLES:
        ev.fdinfo = FdInfo(5, ftype, role=role, **attrs)  # type: ignore[arg-type]
        try:
            got.append((extract(ev), attrs))
        except Exception:  # noqa: BLE001 - a field that cannot be probed is left to Python
            return k.P_NEED, None, 0, None
    (a, _), (b, _) = got
    if a is None and b is None:
        return k.P_NA, None, 0, None
    if a == b and type(a) is int:
        return k.P_INT, None, a, None
    if a == b and type(a) is str:
        return k.P_STR, None, 0, a
    for attr in ("sport", "dport", "sip", "dip", "name"):
        if all(type(v) is type(attrs[attr]) and v == attrs[attr] for v, attrs in got):
            mode = k.P_ATTR_INT if attr.endswith("port") else k.P_ATTR_IP if attr.endswith("ip") else k.P_ATTR_STR
            return mode, attr, 0, None
    return k.P_NEED, None, 0, None


_PROBES: list[list[tuple[int, str | None, int, str | None]]] | None = None
_BASE: tuple[Any, ...] | None = None
_BUILT: dict[tuple[bool, bool, bool, bool], Any] = {}


def _probe_tables() -> list[list[tuple[int, str | None, int, str | None]]]:
    """Per probed field, per (fd type, role), what its extractor gives (built once, when first used)."""
    global _PROBES
    if _PROBES is not None:
        return _PROBES
    from sysdig_user.state.fds import FdType, Role

    k = _fastline
    assert k is not None
    types = {int(t): t for t in FdType}
    ev = _probe_event()
    need = (k.P_NEED, None, 0, None)
    probes = []
    for i, extract in enumerate(_probed()):
        rows = []
        for ftype in range(k.PROBE_TYPES):
            for role in range(k.PROBE_ROLES):
                known = ftype in types and role < len(Role)
                rows.append(_probe(extract, ev, types[ftype], Role(role)) if known else need)
        probes.append(rows)
        _PROBED[extract] = i
        modes = {row[0] for row in rows}
        kinds = {k.V_INT if m in (k.P_INT, k.P_ATTR_INT) else k.V_STR if m in (k.P_STR, k.P_ATTR_STR) else k.V_IP
                 for m in modes if m not in (k.P_NA, k.P_NEED)}
        if len(kinds) == 1:
            _VALUE_KINDS[extract] = kinds.pop()
    _PROBES = probes
    return probes


def fields(probes: bool = True, res: bool = True, l4: bool = False, fd: bool = True) -> Any:
    """The tables the compiled fields read, with the fd probes, evt.res's and fd.l4proto's tables or
    without (those cost start-up time: built when a filter or format uses them), and without the fd
    fields' code tables (fields/fd.py's, imported only then) when none of them is used, built once each."""
    global _BASE
    got = _BUILT.get((probes, res, l4, fd))
    if got is not None:
        return got
    k = _fastline
    assert k is not None
    if _BASE is None:
        from sysdig_user.event_table import PPM_EVENT_MAX, SC_NAMES
        from sysdig_user.fields import evt
        from sysdig_user.fields.registry import BY_CODE
        from sysdig_user.state.fds import FdInfo, FdType

        by_code = BY_CODE[evt._type]
        type_names = [by_code(code) for code in range(PPM_EVENT_MAX)]
        virt_role = int(FdInfo(0, FdType.FILE_V2).role)
        _BASE = (type_names, list(SC_NAMES), virt_role, _io_table())
    type_names, sc_names, virt_role, io = _BASE
    fd_events, name_py = _fd_tables() if fd else (b"", b"")
    got = _BUILT[probes, res, l4, fd] = k.Fields(type_names, sc_names, fd_events, name_py,
                                                _probe_tables() if probes else [], virt_role,
                                                _res_params() if res else [], _errno_texts() if res else [], io,
                                                *(_l4_texts() if l4 else ()))
    return got


_FD_TABLES: tuple[bytes, bytes] | None = None


def _fd_tables() -> tuple[bytes, bytes]:
    """Per code, whether the fd fields apply (fields/fd.py fd_of), and whether fd.name may come from the
    event's params though it has an fd (1: connect's exit) or has none (2: fd.creator_name's own params)."""
    global _FD_TABLES
    if _FD_TABLES is None:
        from sysdig_user.event_table import PPM_EVENT_MAX
        from sysdig_user.fields import fd

        fd_events = bytes(1 if code in fd._FD_EVENTS else 0 for code in range(PPM_EVENT_MAX))
        creators = fd._NAME_FROM_P1 | fd._OPENAT_EXITS
        name_py = bytes((code in fd._CONNECT_X) | (code in creators) << 1 for code in range(PPM_EVENT_MAX))
        _FD_TABLES = fd_events, name_py
    return _FD_TABLES


def _fields_for(used: set[int]) -> Any:
    """``fields`` with the tables the accessors ``used`` read: the fd probes, evt.res's params (evt.res and
    evt.failed), fd.l4proto's texts, the fd fields' code tables."""
    k = _fastline
    assert k is not None
    fd = bool(used & {k.A_FDNUM, k.A_FDNAME, k.A_FDPROBE, k.A_FDL4})
    return fields(k.A_FDPROBE in used, k.A_RES in used or k.A_FAILED in used, k.A_FDL4 in used, fd)


def _is_bool(acc: int) -> bool:
    """An accessor whose value is a bool (0 or 1): evt.is_io* (A_IO) and evt.failed (A_FAILED)."""
    k = _fastline
    assert k is not None
    return acc in (k.A_IO, k.A_FAILED)


_MODULES: set[str | None] = set()


def _accessor_kinds(module: str | None) -> None:
    """_ACCESSORS and _VALUE_KINDS with the accessors of ``module``'s extractors (once a module)."""
    if module in _MODULES:
        return
    _MODULES.add(module)
    k = _fastline
    assert k is not None
    accessors = _accessors(module) if module is not None else {}
    _ACCESSORS.update(accessors)
    for extract, acc in accessors.items():
        _VALUE_KINDS[extract] = k.V_INT if acc in (k.A_NUM, k.A_CPU, k.A_TID, k.A_PID, k.A_FDNUM) else k.V_STR


def _res_params() -> list[tuple[int, int, int, int, int, int]]:
    """Per code, fields/evt.py return_value's params: (index, size, signed) of "res", then of "fd" for
    an fd-creating exit; (-1, 0, 0) where absent, size 0 where the param is not a fixed-size integer."""
    import struct

    from sysdig_user.event_table import EF, EVENTS, PPM_EVENT_MAX
    from sysdig_user.fields import evt
    from sysdig_user.params import fixed_format

    def param(code: int, idx: int) -> tuple[int, int, int]:
        if idx < 0:
            return -1, 0, 0
        fmt = fixed_format(EVENTS[code].params[idx].type)
        if fmt is None or fmt[-1] not in "bBhHiIqQ":
            return idx, 0, 0
        return idx, struct.calcsize(fmt), int(fmt[-1].islower())

    res_idx, fd_idx, _data_idx, creates_fd = evt.param_indexes()
    out = []
    for code in range(PPM_EVENT_MAX):
        if int(EVENTS[code].flags) & int(EF.LARGE_PAYLOAD):
            out.append((-1, 0, 0, -1, 0, 0))
            continue
        alt = fd_idx[code] if code in creates_fd else -1
        out.append((*param(code, res_idx[code]), *param(code, alt)))
    return out


def _errno_texts() -> list[str | None]:
    """evt.res's text of -k, by k, as fields/evt.py gives it (index 0 unused), for the errnos that have a
    name (past them, Python's)."""
    from sysdig_user.fields import evt
    from sysdig_user.output.names import ERRNO_NAMES

    return [None] + [evt.errno_name(-k) or str(-k) for k in range(1, max(ERRNO_NAMES) + 1)]


def _field(extract: Any) -> tuple[int, int, int]:
    """(accessor, probe, value kind) of a registry extractor; NotCompiled when the C code has none."""
    k = _fastline
    assert k is not None
    module = getattr(extract, "__module__", None)
    _accessor_kinds(module)
    if module == _EVT:
        io = _io_fields().get(extract)
        if io is not None:
            return k.A_IO, io, k.V_INT  # (a bool: 0 or 1)
        if extract is _failed():
            return k.A_FAILED, 0, k.V_INT  # (a bool: 0 or 1, from evt.res's params)
    if module == _FD and extract not in _ACCESSORS and extract in _probed():
        _probe_tables()
    kind = _VALUE_KINDS.get(extract)
    if kind is None:
        raise NotCompiled
    if extract in _ACCESSORS:
        return _ACCESSORS[extract], 0, kind
    return k.A_FDPROBE, _PROBED[extract], kind


# ------------------------------------------------------------------------------------------- filters

def _ops() -> dict[str, int]:
    k = _fastline
    assert k is not None
    return {"=": k.O_EQ, "!=": k.O_NE, "<": k.O_LT, "<=": k.O_LE, ">": k.O_GT, ">=": k.O_GE,
            "contains": k.O_CONTAINS, "startswith": k.O_STARTSWITH, "endswith": k.O_ENDSWITH, "in": k.O_IN,
            "exists": k.O_EXISTS}


_INT64 = range(-(1 << 63), 1 << 63)


def _literals(kind: int, op: str, lits: list[Any]) -> tuple[Any, ...]:
    """The Python compiler's literals as the C code compares them."""
    k = _fastline
    assert k is not None
    if op == "exists":
        return ()
    if kind == k.V_INT:
        if not all(type(v) is int and v in _INT64 for v in lits) or op in ("contains", "startswith", "endswith"):
            raise NotCompiled
        return tuple(lits)
    if kind == k.V_IP:
        import ipaddress  # (here: only a filter on an address has its literals as ipaddress objects)

        if op not in ("=", "!=", "in") or not all(
                isinstance(v, (ipaddress.IPv4Address, ipaddress.IPv6Address)) for v in lits):
            raise NotCompiled
        return tuple(v.packed for v in lits)
    if not all(type(v) is str for v in lits):
        raise NotCompiled
    try:
        return tuple(v.encode("utf-8") for v in lits)  # (a lone surrogate stays Python)
    except UnicodeEncodeError:
        raise NotCompiled from None


def native_filter(text: str, predicate: Any = None) -> Any:
    """``text`` as a C Filter (callable like the Python ``predicate`` compiled from it, with its
    ``event_types``), or None when a field or operator is not one the C code does, or the extension is
    not built."""
    if _fastline is None or not text:
        return None
    from sysdig_user.fields.base import UnknownFieldError
    from sysdig_user.fields.registry import compile_predicate, resolve_field
    from sysdig_user.filter import UnknownField, boolean
    from sysdig_user.filter.compile import _Compiler
    from sysdig_user.filter.parse import parse

    k = _fastline
    assert k is not None
    if predicate is None:
        predicate = compile_predicate(text)  # (raises the filter's error first, as the pipeline does)

    def resolve(name: str, arg: str | None, pos: int) -> Any:
        try:
            return resolve_field(name, arg)
        except UnknownFieldError:
            raise UnknownField(name, pos) from None

    compiler = _Compiler(resolve)
    ops = _ops()
    checks: list[tuple[Any, ...]] = []

    def leaf(check: Any) -> int:
        ref, kind = compiler.field(check)
        if getattr(ref, "extract_many", None) is not None or check.op not in ops:
            raise NotCompiled
        acc, probe, vkind = _field(ref.extract)
        want = {"STRING": k.V_STR, "INT": k.V_INT, "UINT": k.V_INT, "PORT": k.V_INT, "IPADDR": k.V_IP,
                "BOOL": k.V_INT if _is_bool(acc) else None}
        if want.get(kind.name) != vkind:
            raise NotCompiled
        values = compiler.literals(check, ref, kind)
        if kind.name == "BOOL":  # (true, false: compared as the 1 and 0 the C value is)
            values = [int(v) if type(v) is bool else v for v in values]
        lits = _literals(vkind, check.op, values)
        checks.append((acc, probe, ops[check.op], vkind, lits, compiler.check(check)))
        return len(checks) - 1

    try:
        flt = parse(text)
        expr = boolean.build(flt.root, leaf)  # type: ignore[arg-type]  # (its leaves: check indexes)
        if isinstance(expr, boolean.Op) and expr.depth > boolean.CLOSURE_DEPTH:
            raise NotCompiled
        code: list[list[int]] = []
        _emit(expr, code, boolean)
    except NotCompiled:
        return None
    used = {c[0] for c in checks}
    native = k.Filter(_fields_for(used), tuple(checks), tuple(tuple(c) for c in code))
    native.event_types = getattr(predicate, "event_types", None)
    return native


def _emit(expr: Any, code: list[list[int]], boolean: Any) -> None:
    """The expression as jumps: a test leaves its value, `all` jumps to its end on false, `any` on true."""
    k = _fastline
    assert k is not None
    if not isinstance(expr, boolean.Op):
        code.append([k.I_TEST, expr])
        return
    if expr.kind == boolean.NOT:
        _emit(expr.parts[0], code, boolean)
        code.append([k.I_NOT, 0])
        return
    jump = k.I_JF if expr.kind == boolean.ALL else k.I_JT
    fixups = []
    for i, part in enumerate(expr.parts):
        _emit(part, code, boolean)
        if i < len(expr.parts) - 1:
            fixups.append(len(code))
            code.append([jump, 0])
    for at in fixups:
        code[at][1] = len(code)


# ------------------------------------------------------------------------------------------- formats

def native_format(formatter: Any) -> Any:
    """The formatter's text line as a C Format, or None when a token is not a field the C code prints
    (or -j, or the extension is not built)."""
    if _fastline is None or formatter.opts.json:
        return None
    from sysdig_user.fields.base import ip_text
    from sysdig_user.output.formatter import _OutputTimeField
    from sysdig_user.output.timefmt import clock_prefix

    k = _fastline
    texts = {k.V_INT: str, k.V_STR: str, k.V_IP: ip_text}
    tokens = []
    for tok in formatter.tokens:
        field = tok.field
        literal = tok.literal.encode("utf-8", "surrogateescape")
        if isinstance(field, _OutputTimeField):
            if tok.width or field.time.mode != "h":
                return None
            tokens.append((literal, k.A_TIME, 0, 0, field.extract, field.to_text))
            continue
        try:
            acc, probe, vkind = _field(getattr(field, "extract", None))
        except NotCompiled:
            return None
        if _is_bool(acc):  # (printed as true/false: Python's)
            return None
        if getattr(field, "to_text", None) is not texts[vkind] or getattr(field, "extract_many", None) is not None:
            return None
        tokens.append((literal, acc, probe, tok.width, field.extract, field.to_text))
    used = {t[1] for t in tokens}
    return k.Format(_fields_for(used), tuple(tokens),
                    formatter.tail.encode("utf-8", "surrogateescape"), formatter.require_all, clock_prefix)


def available(environ: Any = os.environ) -> bool:
    return _fastline is not None and environ.get("SDU_NO_NATIVE") != "1"


# ------------------------------------------------------------------------------------------- tables

def _table_value(field: Any) -> tuple[int, tuple[tuple[int, int, int], ...], bytes] | None:
    """A table chisel's value field as the C Table reads it: (kind, per-code params, per-code internal), or
    None when it is none of evt.rawarg.NAME (its param per code, when a fixed-size integer: what
    Event.param decodes), evt.latency (an internal event's none, a generic event's Python's) or evt.count."""
    import struct

    from sysdig_user.event_table import EC, EVENTS, PPM_EVENT_MAX
    from sysdig_user.fields import evt
    from sysdig_user.params import fixed_format

    k = _fastline
    assert k is not None
    extract = getattr(field, "extract", None)
    if extract is evt._count:
        return k.TV_ONE, (), b""
    if extract is evt._latency:
        internal = bytes(2 if code in evt._GENERIC else 1 if EVENTS[code].category & EC.INTERNAL else 0
                         for code in range(PPM_EVENT_MAX))
        return k.TV_LATENCY, (), internal
    if getattr(field, "name", None) != "evt.rawarg" or not getattr(field, "arg", None):
        return None
    params = []
    for code in range(PPM_EVENT_MAX):
        idx = EVENTS[code].param_index(field.arg)
        fmt = fixed_format(EVENTS[code].params[idx].type) if idx >= 0 else None
        if idx < 0 or fmt is None or fmt[-1] not in "bBhHiIqQ":
            params.append((idx, 0, 0))
        else:
            params.append((idx, struct.calcsize(fmt), int(fmt[-1].islower())))
    return k.TV_PARAM, tuple(params), b""


def native_table(filter_text: str, keys: list[Any], value: Any, table: dict[Any, Any], codes: set[int],
                 on_event: Any = None) -> Any:
    """A table chisel (chisels/builtin/table_generator.py) as a C Table adding to ``table``: ``keys`` and
    ``value`` the bound fields of its key and value fields, ``filter_text`` its filter, ``codes`` the event
    codes it may add to, ``on_event`` the chisel's (what adds an event already processed whose key or value
    the C code cannot read; without it a Core declines such events to the pipeline); None when a key is not a field the C code gives as an int or a str, the value is
    not one _table_value reads, or the filter does not compile."""
    if _fastline is None or not keys or len(keys) > 8:
        return None
    from sysdig_user.event_table import PPM_EVENT_MAX

    k = _fastline
    val = _table_value(value)
    if val is None:
        return None
    accs = []
    for field in keys:
        try:
            acc, probe, vkind = _field(getattr(field, "extract", None))
        except NotCompiled:
            return None
        if _is_bool(acc) or vkind not in (k.V_INT, k.V_STR) or getattr(field, "extract_many", None) is not None:
            return None
        accs.append((acc, probe))
    native = None
    if filter_text:
        native = native_filter(filter_text)
        if native is None:
            return None
    used = {a for a, _ in accs}
    code_flags = bytes(1 if c in codes else 0 for c in range(PPM_EVENT_MAX))
    return k.Table(_fields_for(used), native, tuple(accs), val[0], code_flags,
                   val[1], val[2], table, on_event)
