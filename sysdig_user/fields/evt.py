"""The evt.* fields: event identity, times, return values, arguments and I/O classification.

Semantics follow libsinsp's sinsp_filter_check_gen_event and sinsp_filter_check_event (filterchecks.cpp
at libs e5c53d64, the code behind sysdig 0.29.3), including its quirks, each noted where it matters:
"human" times use the UTC offset of *now* (sinsp gmt2local(0)), evt.deltatime measures from the previous
event the same use of the field saw, a filter on FLAGS params via evt.rawarg stops sysdig.
Argument text (evt.args, evt.arg.X, evt.info) comes from the formatter's renderer
(sysdig_user.output.render), imported when first needed so the two modules stay independent.
"""
from __future__ import annotations

import errno
import time
from _collections_abc import Callable  # (collections.abc without collections)

from sysdig_user.event_table import EC, EF, EVENTS, EXTENSIONS, PF, PPM_SC, PT, event_code
from sysdig_user.fields.base import (
    ArgSyntax,
    Custom,
    Extractor,
    FieldClass,
    FieldDef,
    FieldError,
    FieldFlag,
    plain,
    view_of,
)
from sysdig_user.output.timefmt import absolute_text, seconds_text
from sysdig_user.state.fds import FdType
from sysdig_user.state.parsers_files import concatenate_paths

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)

if TYPE_CHECKING:
    from typing import Any

    from sysdig_user.event import Event

ONE_SECOND = 1_000_000_000
_GENERIC = frozenset({0, 1})  # PPME_GENERIC_E / _X: the syscall id is param 0
_SCHEDSWITCH_6_E = event_code("switch", True)


def _param_index_tables(*names: str) -> tuple[tuple[int, ...], ...]:
    """Per name, the index of the param so named for every event code (-1 where absent; the first one,
    as EventInfo.param_index): precomputed, never searched. The events' param names are listed once."""
    tables = {name: [-1] * len(EVENTS) for name in names}
    for code, e in enumerate(EVENTS):
        for i, p in enumerate(e.params):
            table = tables.get(p.name)
            if table is not None and table[code] < 0:
                table[code] = i
    return tuple(tuple(tables[name]) for name in names)


# EF bits as ints: IntFlag operators run Python code and build flag objects (slow per event)
_EF_READS, _EF_WRITES, _EF_WAITS = int(EF.READS_FROM_FD), int(EF.WRITES_TO_FD), int(EF.WAITS)
_EF_SKIPPARSERESET, _EF_CREATES_FD = int(EF.SKIPPARSERESET), int(EF.CREATES_FD)

# The per-code tables below are made by the first field that reads them, not by every run that imports
# the class (the default line's fields need none: ~2M instructions of a start, callgrind).
_flag_ints: tuple[int, ...] | None = None  # by code (EVENTS[code] is the info below 336): _flag_table
_indexes: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], frozenset[int]] | None = None


def _flag_table() -> tuple[int, ...]:
    """Every event's EF flags as an int, by code."""
    global _flag_ints
    _flag_ints = tuple(int(e.flags) for e in EVENTS)
    return _flag_ints


def param_indexes() -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], frozenset[int]]:
    """By code, the index of the "res", "fd" and "data" params (-1 where absent), and the codes of the
    fd-creating exit events (whose "fd" return_value reads when there is no "res")."""
    global _indexes
    if _indexes is None:
        res, fd, data = _param_index_tables("res", "fd", "data")
        _indexes = res, fd, data, frozenset(e.code for e in EVENTS
                                           if int(e.flags) & _EF_CREATES_FD and e.code & 1)
    return _indexes


def _param_named(evt: Event, table: tuple[int, ...]) -> Any:
    code = evt.type
    if code >= len(table):
        return None
    idx = table[code]
    if idx < 0 or idx >= evt.nparams:
        return None
    return evt.param(idx)


def return_value(evt: Event) -> int | None:
    """sinsp's "res", or the "fd" of an fd-creating exit event; None when the event has neither."""
    res_idx, fd_idx, _data_idx, creates_fd = _indexes or param_indexes()
    res = _param_named(evt, res_idx)
    if res is None and evt.type in creates_fd:
        res = _param_named(evt, fd_idx)
    return res if isinstance(res, int) else None


def _flags(evt: Event) -> int:
    """The event's EF flags, as an int."""
    code = evt.type
    flag_ints = _flag_ints or _flag_table()
    if code < len(flag_ints):
        return flag_ints[code]
    info = evt.info
    return int(info.flags) if info is not None else 0


def _category(evt: Event) -> EC:
    info = evt.info
    if info is None:
        return EC.UNKNOWN
    if evt.type in _GENERIC:
        sc = evt.param(0)
        return PPM_SC[sc].category if isinstance(sc, int) and sc < len(PPM_SC) else EC.UNKNOWN
    return info.category


# ------------------------------------------------------------------------------------------------ times

def _local_offset() -> int:
    """sinsp's gmt2local(0): the UTC offset (seconds) in force *now*, applied to every timestamp."""
    now = time.time()
    return int(time.mktime(time.localtime(now)) - time.mktime(time.gmtime(now)))


_OFFSET = _local_offset()


def _clock(ts: int) -> time.struct_time:
    return time.gmtime(ts // ONE_SECOND + _OFFSET)


def _time(evt: Event) -> str:
    return time.strftime("%H:%M:%S", _clock(evt.ts)) + f".{evt.ts % ONE_SECOND:09d}"


def _time_s(evt: Event) -> str:
    return time.strftime("%H:%M:%S", _clock(evt.ts))


def _time_iso8601(evt: Event) -> str:
    ts = evt.ts
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts // ONE_SECOND)) + f".{ts % ONE_SECOND:09d}+0000"


def _datetime(evt: Event) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", _clock(evt.ts)) + f".{evt.ts % ONE_SECOND:09d}"


def _datetime_s(evt: Event) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", _clock(evt.ts))


def _rawtime(evt: Event) -> int:
    return evt.ts


def _rawtime_s(evt: Event) -> int:
    return evt.ts // ONE_SECOND


def _rawtime_ns(evt: Event) -> int:
    return evt.ts % ONE_SECOND


def _rel(evt: Event) -> int:
    first = getattr(view_of(evt), "first_ts", None)
    if not isinstance(first, int):
        first = evt.ts
    return (evt.ts - first) & 0xFFFFFFFFFFFFFFFF


def _reltime(evt: Event) -> int:
    return _rel(evt)


def _reltime_s(evt: Event) -> int:
    return _rel(evt) // ONE_SECOND


def _reltime_ns(evt: Event) -> int:
    return _rel(evt) % ONE_SECOND


def _pluginname(evt: Event) -> None:
    return None  # no plugin events in sdu


def _plugininfo(evt: Event) -> None:
    return None


def latency(evt: Event) -> int:
    """sinsp tinfo->m_latency: for an exit, ts minus the thread's last enter ts; 0 after an enter."""
    t = evt.thread
    lat = getattr(t, "latency", None)
    if isinstance(lat, int):
        return lat
    enter = evt.enter
    return evt.ts - enter.ts if enter is not None and evt.type & 1 else 0


def _lat_or_none(evt: Event) -> int | None:
    if evt.thread is None:
        return 0
    if _category(evt) & EC.INTERNAL:
        return None
    return latency(evt)


def _latency(evt: Event) -> int | None:
    return _lat_or_none(evt)


def _latency_s(evt: Event) -> int | None:
    lat = _lat_or_none(evt)
    return None if lat is None else lat // ONE_SECOND


def _latency_ns(evt: Event) -> int | None:
    lat = _lat_or_none(evt)
    return None if lat is None else lat % ONE_SECOND


def human_time(ns: int) -> str:
    """sinsp format_time: 1100000000 -> "1.10s", 3435 -> "3.43us", 12 -> "12ns"."""
    if ns >= ONE_SECOND:
        return f"{ns // ONE_SECOND}.{(ns % ONE_SECOND) // 10_000_000:02d}s"
    if ns >= ONE_SECOND // 100:
        return f"{ns // 1_000_000}ms"
    if ns >= ONE_SECOND // 1000:
        return f"{ns // 1_000_000}.{(ns % 1_000_000) // 10_000:02d}ms"
    if ns >= ONE_SECOND // 100000:
        return f"{ns // 1000}us"
    if ns >= ONE_SECOND // 1000000:
        return f"{ns // 1000}.{(ns % 1000) // 10:02d}us"
    return f"{ns}ns"


def _latency_human(arg: str | None) -> Extractor:
    """sinsp keeps the text in the check's m_strstorage and sets it only for an event with a thread:
    an event without one (a switch of an unknown tid) shows what this use of the field showed last
    ("" before any)."""
    last = [""]

    def extract(evt: Event) -> str | None:
        if evt.thread is None:
            return last[0]
        if _category(evt) & EC.INTERNAL:
            return None
        text = last[0] = human_time(latency(evt))
        return text
    return extract


def _latency_quantized(evt: Event) -> int | None:
    return None  # depends on a screen width sysdig only sets in csysdig


def _delta_factory(split: Callable[[int], int]) -> Callable[[str | None], Extractor]:
    """evt.deltatime*: each use remembers the last event it extracted (sinsp keeps it in the check)."""
    def make(arg: str | None) -> Extractor:
        prev = [0]

        def extract(evt: Event) -> int:
            last = prev[0]
            prev[0] = evt.ts
            return 0 if last == 0 else split(evt.ts - last)
        return extract
    return make


_deltatime = _delta_factory(lambda d: d)
_deltatime_s = _delta_factory(lambda d: d // ONE_SECOND)
_deltatime_ns = _delta_factory(lambda d: d % ONE_SECOND)


def _outputtime(arg: str | None) -> Extractor:
    """evt.outputtime follows -t (the view's ``output_time_flag``: h, a, r, d or D; default h)."""
    prev = [0]

    def extract(evt: Event) -> str:
        view = view_of(evt)
        flag = getattr(view, "output_time_flag", "h")
        ts = evt.ts
        if flag == "a":
            return absolute_text(ts)
        if flag == "r":
            return seconds_text(_rel(evt))
        if flag == "d":
            return seconds_text(latency(evt) if evt.thread is not None else 0)
        if flag == "D":
            last = prev[0] or ts
            prev[0] = ts
            return seconds_text(ts - last)
        return _time(evt)
    return extract


# ------------------------------------------------------------------------------------------------ identity

def _num(evt: Event) -> int:
    return evt.num


def _dir(evt: Event) -> str:
    return "<" if evt.type & 1 else ">"


#: by code: EVENTS[code] is an event's info below 336 (its name is evt.type but for the generic 0 and 1)
TYPE_NAMES = tuple([e.name for e in EVENTS])  # (a list, not a generator: ~50k instructions less at import)


def event_type_name(evt: Event) -> str:
    """evt.type: the event's name; generic events are named after their syscall (ppm_sc table)."""
    code = evt.type
    if code in _GENERIC:
        sc = evt.param(0)
        if isinstance(sc, int) and sc < len(PPM_SC):
            return PPM_SC[sc].name
    elif code < len(TYPE_NAMES):
        return TYPE_NAMES[code]
    info = evt.info
    return info.name if info is not None else "NA"  # Event.name


def _type(evt: Event) -> str:
    return event_type_name(evt)


# What sysdig 0.29.3 accepts as an evt.type literal: every event-table name and every ppm_sc name
# (generic syscalls such as getpid, and "<unknown>"), plus sdu's extension events. Made by the first
# evt.type literal: a run printing evt.type without such a filter never needs it.
_event_type_names: frozenset[str] | None = None


def _parse_event_type(text: str) -> str:
    """A filter literal for evt.type; sysdig rejects names it does not know, whatever the operator."""
    global _event_type_names
    if _event_type_names is None:
        _event_type_names = frozenset([e.name for e in EVENTS] + [sc.name for sc in PPM_SC]
                                      + [e.name for e in EXTENSIONS.values()])
    if text not in _event_type_names:
        raise ValueError(f"unknown event type {text}")
    return text


def _syscall_type(evt: Event) -> str | None:
    # sinsp tests the event *flags* against EC_INTERNAL (256), which is EF_SKIPPARSERESET's bit.
    if evt.type == _SCHEDSWITCH_6_E or _flags(evt) & _EF_SKIPPARSERESET:
        return None
    return event_type_name(evt)


def _type_is(arg: str | None) -> Extractor:
    """evt.type.is.NAME: 1 for the NAME enter and exit codes; evt.type.is.N: 1 for code N only."""
    if arg is None:
        raise FieldError("filter syntax error: evt.type.is", "evt.type.is")
    if arg.isdigit():
        codes = frozenset({int(arg)})
    else:
        first = next((e.code for e in EVENTS if e.name == arg), -1)
        codes = frozenset({first, first + 1})

    def extract(evt: Event) -> int:
        return 1 if evt.type in codes else 0
    return extract


_CATEGORY_NAMES = {
    EC.UNKNOWN: "unknown", EC.OTHER: "other", EC.FILE: "file", EC.NET: "net", EC.IPC: "IPC",
    EC.MEMORY: "memory", EC.PROCESS: "process", EC.SLEEP: "sleep", EC.SYSTEM: "system",
    EC.SIGNAL: "signal", EC.USER: "user", EC.TIME: "time", EC.PROCESSING: "processing",
    EC.WAIT: "wait", EC.SCHEDULER: "scheduler",
}
# I/O events take the sub-category of their fd (sinsp_evt::get_category); "unknown" without an fd.
_IO_SUBCATEGORY = {
    FdType.FILE: "file", FdType.FILE_V2: "file", FdType.DIRECTORY: "file",
    FdType.IPV4_SOCK: "net", FdType.IPV6_SOCK: "net", FdType.IPV4_SERVSOCK: "net", FdType.IPV6_SERVSOCK: "net",
    FdType.FIFO: "ipc", FdType.UNIX_SOCK: "ipc", FdType.EVENT: "ipc", FdType.SIGNALFD: "ipc",
    FdType.INOTIFY: "ipc",
}
_IO_CATEGORIES = frozenset({EC.IO_READ, EC.IO_WRITE, EC.IO_OTHER})


def _category_name(evt: Event) -> str:
    cat = _category(evt)
    if cat in _IO_CATEGORIES and evt.type not in _GENERIC:
        fdinfo = evt.parsed_fdinfo  # sinsp's m_fdinfo: None for an unpaired exit
        return _IO_SUBCATEGORY.get(fdinfo.type, "unknown") if fdinfo is not None else "unknown"
    return _CATEGORY_NAMES.get(cat, "unknown")


def _cpu(evt: Event) -> int:
    return evt.cpu


# ------------------------------------------------------------------------------------------------ args

def _render() -> Any:
    """The formatter's renderer module, or None while it does not exist yet."""
    try:
        from sysdig_user.output import render
    except ImportError:
        return None
    return render


TODO_RENDER = "<TODO:render>"  # placeholder until sysdig_user.output.render exists


def param_text(evt: Event, i: int) -> tuple[str, str]:
    """(text, resolved text) of param ``i`` as sysdig renders it: ("3", "<f>/etc/passwd") for an fd."""
    render = _render()
    fn = getattr(render, "param_strings", None)
    if fn is not None:
        text, resolved = fn(evt, i)
        return text, resolved
    single = getattr(render, "render_param", None)
    if single is not None:
        return single(evt, i), ""
    return TODO_RENDER, ""


def _args(evt: Event) -> str:
    if evt.type in _GENERIC:
        return ""  # sysdig hides the internal params of generic events
    render = _render()
    fn = getattr(render, "render_args", None)
    if fn is None:
        return TODO_RENDER
    return fn(evt)  # type: ignore[no-any-return]


def _arg(arg: str | None) -> Extractor:
    """evt.arg[N] / evt.arg.NAME: the resolved text of the param when there is one, else its text."""
    assert arg is not None
    if arg.lstrip("-").isdigit():
        index = int(arg)

        def by_index(evt: Event) -> str | None:
            if index >= evt.param_count or index < 0:
                return None
            text, resolved = param_text(evt, index)
            return resolved or text
        return by_index
    name = arg

    def by_name(evt: Event) -> str | None:
        info = evt.info
        if info is None:
            return None
        idx = info.param_index(name)
        if idx < 0 or idx >= evt.nparams:
            return None
        text, resolved = param_text(evt, idx)
        return resolved or text
    return by_name


def _first_param_type(name: str) -> PT:
    for e in EVENTS:
        for p in e.params:
            if p.name == name:
                return p.type
    return PT.DYN


def _rawarg(arg: str | None) -> Custom:
    """evt.rawarg.NAME: the decoded param, typed as the first table param called NAME (sinsp fixes the
    type when the field is parsed, so a FLAGS or FD type makes sysdig print "wrong event type N")."""
    assert arg is not None
    name = arg
    ptype = _first_param_type(name)

    def extract(evt: Event) -> Any:
        info = evt.info
        if info is None:
            return None
        idx = info.param_index(name)
        if idx < 0 or idx >= evt.nparams:
            return None
        return evt.param(idx)
    return Custom(extract, ftype=ptype)


def _syslog_info(evt: Event) -> str | None:
    from sysdig_user.fields.syslog import decode_syslog

    msg = decode_syslog(evt)
    if msg is None:
        return None
    return f"syslog sev={msg.severity_str} msg={msg.message}"


def _info(evt: Event) -> str:
    line = _syslog_info(evt) if evt.fdinfo is not None else None
    return line if line is not None else _args(evt)


def buffer_text(data: bytes) -> str:
    """sysdig's default rendering of a data buffer: printable ASCII kept, everything else '.'."""
    return "".join(chr(b) if 32 <= b < 127 else "." for b in data)


def _buffer(arg: str | None) -> Custom:
    def extract(evt: Event) -> bytes | None:
        data = _param_named(evt, (_indexes or param_indexes())[2])
        return data if isinstance(data, bytes) else None

    def text(value: Any) -> str:
        render = _render()
        fn = getattr(render, "buffer_text", None)
        return fn(value) if fn is not None else buffer_text(value)  # type: ignore[no-any-return]
    return Custom(extract, text=text)


def _buflen_if(evt: Event, cats: frozenset[EC], fd_types: frozenset[FdType] | None) -> int | None:
    """sinsp extract_buflen: param 0 of an exit I/O event with an fd, when it is not negative."""
    fdinfo = evt.fdinfo
    if fdinfo is None or not evt.type & 1 or _category(evt) not in cats:
        return None
    if fd_types is not None and fdinfo.type not in fd_types:
        return None
    if evt.nparams < 1:
        return None
    val = evt.param(0)
    return val if isinstance(val, int) and val >= 0 else None


_FILE_TYPES = frozenset({FdType.FILE, FdType.FILE_V2})
_NET_TYPES = frozenset({FdType.IPV4_SOCK, FdType.IPV6_SOCK, FdType.IPV4_SERVSOCK, FdType.IPV6_SERVSOCK})
_IN = frozenset({EC.IO_READ})
_OUT = frozenset({EC.IO_WRITE})


def _buflen(evt: Event) -> int | None:
    return _buflen_if(evt, _IO_CATEGORIES, None)


def _buflen_in(evt: Event) -> int | None:
    return _buflen_if(evt, _IN, None)


def _buflen_out(evt: Event) -> int | None:
    return _buflen_if(evt, _OUT, None)


def _buflen_file(evt: Event) -> int | None:
    return _buflen_if(evt, _IO_CATEGORIES, _FILE_TYPES)


def _buflen_file_in(evt: Event) -> int | None:
    return _buflen_if(evt, _IN, _FILE_TYPES)


def _buflen_file_out(evt: Event) -> int | None:
    return _buflen_if(evt, _OUT, _FILE_TYPES)


def _buflen_net(evt: Event) -> int | None:
    return _buflen_if(evt, _IO_CATEGORIES, _NET_TYPES)


def _buflen_net_in(evt: Event) -> int | None:
    return _buflen_if(evt, _IN, _NET_TYPES)


def _buflen_net_out(evt: Event) -> int | None:
    return _buflen_if(evt, _OUT, _NET_TYPES)


# ------------------------------------------------------------------------------------------------ results

def errno_name(res: int) -> str:
    """-2 -> "ENOENT" (the renderer's table when there is one, else the host's errno names)."""
    render = _render()
    fn = getattr(render, "errno_name", None)
    if fn is not None:
        return fn(res)  # type: ignore[no-any-return]
    return errno.errorcode.get(-res, "")


def _res(evt: Event) -> str | None:
    res = return_value(evt)
    if res is None:
        return None
    if res >= 0:
        return "SUCCESS"
    return errno_name(res) or str(res)


def _rawres(evt: Event) -> int | None:
    return return_value(evt)


def _failed(evt: Event) -> bool:
    res = return_value(evt)
    return res is not None and res < 0


def _is_io(evt: Event) -> bool:
    return bool(_flags(evt) & (_EF_READS | _EF_WRITES))


def _is_io_read(evt: Event) -> bool:
    return bool(_flags(evt) & _EF_READS)


def _is_io_write(evt: Event) -> bool:
    return bool(_flags(evt) & _EF_WRITES)


def _io_dir(evt: Event) -> str | None:
    flags = _flags(evt)
    if flags & _EF_WRITES:
        return "write"
    if flags & _EF_READS:
        return "read"
    return None


def _is_wait(evt: Event) -> bool:
    return bool(_flags(evt) & _EF_WAITS)


def _wait_latency(evt: Event) -> int | None:
    if _flags(evt) & _EF_WAITS and evt.type & 1:
        return latency(evt) if evt.thread is not None else 0
    return None


def _is_syslog(evt: Event) -> bool:
    fdinfo = evt.fdinfo
    return bool(_flags(evt) & _EF_WRITES) and fdinfo is not None and "/dev/log" in fdinfo.name


def _count(evt: Event) -> int:
    return 1


def _count_error(evt: Event) -> int | None:
    res = return_value(evt)
    return 1 if res is not None and res < 0 else None


_FILE_FD_TYPES = frozenset({FdType.FILE, FdType.FILE_V2, FdType.DIRECTORY})
_NET_FD_TYPES = _NET_TYPES | {FdType.UNIX_SOCK}
_created_exits: tuple[frozenset[int], frozenset[int]] | None = None  # (_created_fd_exits, on first use)


def _created_fd_exits() -> tuple[frozenset[int], frozenset[int]]:
    """The exit codes of the events that open a file (open, openat, creat) and of those that make a
    socket fd (accept, connect), for the evt.count.error.* fields when the event has no fd."""
    global _created_exits
    _created_exits = (frozenset(e.code for e in EVENTS if e.code & 1 and e.name in ("open", "openat", "creat")),
                      frozenset(e.code for e in EVENTS if e.code & 1 and e.name in ("accept", "connect")))
    return _created_exits


def _count_error_file(evt: Event) -> int | None:
    fdinfo = evt.fdinfo
    if fdinfo is not None:
        return _count_error(evt) if fdinfo.type in _FILE_FD_TYPES else None
    return _count_error(evt) if evt.type in (_created_exits or _created_fd_exits())[0] else None


def _count_error_net(evt: Event) -> int | None:
    fdinfo = evt.fdinfo
    if fdinfo is not None:
        return _count_error(evt) if fdinfo.type in _NET_FD_TYPES else None
    return _count_error(evt) if evt.type in (_created_exits or _created_fd_exits())[1] else None


def _count_error_memory(evt: Event) -> int | None:
    return _count_error(evt) if _category(evt) == EC.MEMORY else None


def _count_error_other(evt: Event) -> int | None:
    fdinfo = evt.fdinfo
    if fdinfo is not None:
        return None if fdinfo.type in _FILE_FD_TYPES | _NET_FD_TYPES else _count_error(evt)
    opens, sockets = _created_exits or _created_fd_exits()
    if evt.type in opens or evt.type in sockets or _category(evt) == EC.MEMORY:
        return None
    return _count_error(evt)


def _count_exit(evt: Event) -> int | None:
    return 1 if evt.type & 1 else None


_PROCINFO_E = event_code("procinfo", True)


def _count_procinfo(evt: Event) -> int | None:
    tinfo = evt.thread
    return 1 if evt.type == _PROCINFO_E and tinfo is not None and tinfo.tid == tinfo.pid else None


def _count_threadinfo(evt: Event) -> int | None:
    return 1 if evt.type == _PROCINFO_E else None


class _Within:
    """The literal of evt.around[T]=D: equal to any |ts - T| not larger than D milliseconds.

    sysdig compiles it with `=` (and `in`) only: ``operators``/``operator_error`` tell the filter compiler
    (sysdig_user/filter/compile.py), which reports any other operator as sysdig does."""

    __slots__ = ("limit",)
    operators = frozenset({"=", "in"})
    operator_error = "evt.around supports only '=' comparison operator"

    def __init__(self, text: str) -> None:
        from sysdig_user.fields.base import literal_fn

        self.limit = literal_fn(PT.UINT64)(text) * 1_000_000

    def __eq__(self, other: object) -> bool:
        return isinstance(other, int) and other <= self.limit

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(self.limit)


def _around(arg: str | None) -> Custom:
    """evt.around[T]: filter only; compares as |ts - T| against the ms literal (only '=' makes sense)."""
    if arg is None or not arg.isdigit():
        raise FieldError(f"wrong syntax for evt.around: {arg}", "evt.around")
    center = int(arg)

    def extract(evt: Event) -> int:
        return abs(evt.ts - center)
    return Custom(extract, parse=_Within)


# evt.abspath: which (dirfd, path) params to join, per event name and argument (sinsp extract_abspath).
_ABSPATH_PARAMS: dict[str, dict[str | None, tuple[str, str]]] = {
    "renameat": {None: ("olddirfd", "oldpath"), "src": ("olddirfd", "oldpath"), "dst": ("newdirfd", "newpath")},
    "renameat2": {None: ("olddirfd", "oldpath"), "src": ("olddirfd", "oldpath"), "dst": ("newdirfd", "newpath")},
    "symlinkat": {None: ("linkdirfd", "linkpath"), "src": ("linkdirfd", "linkpath"),
                  "dst": ("linkdirfd", "linkpath")},
    "openat": {None: ("dirfd", "name"), "src": ("dirfd", "name"), "dst": ("dirfd", "name")},
    "linkat": {None: ("olddir", "oldpath"), "src": ("olddir", "oldpath"), "dst": ("newdir", "newpath")},
    "unlinkat": {None: ("dirfd", "name"), "src": ("dirfd", "name"), "dst": ("dirfd", "name")},
    "mkdirat": {None: ("dirfd", "path"), "src": ("dirfd", "path"), "dst": ("dirfd", "path")},
    "fchmodat": {None: ("dirfd", "filename"), "src": ("dirfd", "filename"), "dst": ("dirfd", "filename")},
}
PPM_AT_FDCWD = -100


def _abspath_codes() -> dict[int, str]:
    """Codes sinsp handles: renameat/renameat2/symlinkat/mkdirat/fchmodat exits, openat/linkat/unlinkat
    enters of the old layout and exits of the new (_2) layout."""
    def has_params(code: int) -> bool:
        e = EVENTS[code] if code < len(EVENTS) else None
        if e is None or e.name not in _ABSPATH_PARAMS:
            return False
        names = {p.name for p in e.params}
        return all(d in names and p in names for d, p in _ABSPATH_PARAMS[e.name].values())

    out: dict[int, str] = {}
    for e in EVENTS:
        # an enter only where its exit lacks the params (the old layouts): sysdig shows <NA> for the
        # enter of the _2 layouts, whose exit repeats them
        if has_params(e.code) and (e.code & 1 or not has_params(e.code | 1)):
            out[e.code] = e.name
    return out


_ABSPATH_CODES: dict[int, str] = {}  # (_abspath_codes(), made when an evt.abspath field is first bound)


def _abspath(arg: str | None) -> Extractor:
    if arg not in (None, "src", "dst"):
        raise FieldError(f"filter syntax error: evt.abspath.{arg}", "evt.abspath")
    if not _ABSPATH_CODES:
        _ABSPATH_CODES.update(_abspath_codes())
    codes = _ABSPATH_CODES

    def extract(evt: Event) -> str | None:
        tinfo = evt.thread
        name = codes.get(evt.type)
        if tinfo is None or name is None or evt.info is None:
            return None
        dirarg, patharg = _ABSPATH_PARAMS[name][arg]
        di, pi = evt.info.param_index(dirarg), evt.info.param_index(patharg)
        if di < 0 or pi < 0 or di >= evt.nparams or pi >= evt.nparams:
            return None
        dirfd, path = evt.param(di), evt.param(pi)
        if not isinstance(path, str):
            return None
        if path.startswith("/"):
            base = "."
        elif dirfd == PPM_AT_FDCWD:
            from sysdig_user.fields.proc import thread_cwd

            base = thread_cwd(evt, tinfo)
        else:
            fdinfo = tinfo.fdtable.get(dirfd) if isinstance(dirfd, int) else None
            base = "<UNKNOWN>/" if fdinfo is None else fdinfo.name.rstrip("/") + "/"
            if fdinfo is not None:
                # sinsp makes the dirfd the event's fd here (evt->m_fdinfo): the fd.* fields read
                # after it, in the same filter or format, show the directory
                evt.fdinfo = fdinfo
        return concatenate_paths(base, path)
    return extract


# evt.is_open_*: flags / mode params of open exits, old openat enters and openat2-layout exits.
_S_IX = 0o111  # PPM_S_IXUSR | PPM_S_IXGRP | PPM_S_IXOTH
_O_RDONLY, _O_WRONLY, _O_CREAT, _O_TMPFILE = 1 << 0, 1 << 1, 1 << 2, 1 << 18


def _open_flags_mode(evt: Event) -> tuple[int, int] | None:
    info = evt.info
    if info is None or info.name not in ("open", "openat"):
        return None
    if info.name == "open" and not evt.type & 1:
        return None
    fi, mi = info.param_index("flags"), info.param_index("mode")
    if fi < 0 or fi >= evt.nparams:
        return None
    if info.name == "openat" and evt.type & 1 and info.param_index("dirfd") < 0:
        return None  # the old openat exit carries no flags
    flags = evt.param(fi)
    mode = evt.param(mi) if 0 <= mi < evt.nparams else 0
    return (flags if isinstance(flags, int) else 0, mode if isinstance(mode, int) else 0)


def _is_open_read(evt: Event) -> bool:
    fm = _open_flags_mode(evt)
    return fm is not None and bool(fm[0] & _O_RDONLY)


def _is_open_write(evt: Event) -> bool:
    fm = _open_flags_mode(evt)
    return fm is not None and bool(fm[0] & _O_WRONLY)


def _is_open_exec(evt: Event) -> bool:
    info = evt.info
    if info is not None and info.name == "creat" and evt.type & 1:
        mi = info.param_index("mode")
        mode = evt.param(mi) if 0 <= mi < evt.nparams else 0
        return bool(isinstance(mode, int) and mode & _S_IX)
    fm = _open_flags_mode(evt)
    return fm is not None and bool(fm[0] & (_O_TMPFILE | _O_CREAT)) and bool(fm[1] & _S_IX)


# ------------------------------------------------------------------------------------------------ rows

GENERIC_CLASS = FieldClass("evt (All event types)", "These fields can be used for all event types", (
    FieldDef("evt.num", PT.UINT64, PF.ID,
        'event number.',
        plain(_num)),
    FieldDef("evt.time", PT.CHARBUF, PF.NA,
        'event timestamp as a time string that includes the nanosecond part.',
        plain(_time)),
    FieldDef("evt.time.s", PT.CHARBUF, PF.NA,
        'event timestamp as a time string with no nanoseconds.',
        plain(_time_s)),
    FieldDef("evt.time.iso8601", PT.CHARBUF, PF.NA,
        'event timestamp in ISO 8601 format, including nanoseconds and time zone offset (in UTC).',
        plain(_time_iso8601)),
    FieldDef("evt.datetime", PT.CHARBUF, PF.NA,
        'event timestamp as a time string that includes the date.',
        plain(_datetime)),
    FieldDef("evt.datetime.s", PT.CHARBUF, PF.NA,
        'event timestamp as a datetime string with no nanoseconds.',
        plain(_datetime_s)),
    FieldDef("evt.rawtime", PT.ABSTIME, PF.DEC,
        'absolute event timestamp, i.e. nanoseconds from epoch.',
        plain(_rawtime)),
    FieldDef("evt.rawtime.s", PT.ABSTIME, PF.DEC,
        'integer part of the event timestamp (e.g. seconds since epoch).',
        plain(_rawtime_s)),
    FieldDef("evt.rawtime.ns", PT.ABSTIME, PF.PADDED_DEC,
        'fractional part of the absolute event timestamp.',
        plain(_rawtime_ns)),
    FieldDef("evt.reltime", PT.RELTIME, PF.PADDED_DEC,
        'number of nanoseconds from the beginning of the capture.',
        plain(_reltime)),
    FieldDef("evt.reltime.s", PT.RELTIME, PF.DEC,
        'number of seconds from the beginning of the capture.',
        plain(_reltime_s)),
    FieldDef("evt.reltime.ns", PT.RELTIME, PF.PADDED_DEC,
        'fractional part (in ns) of the time from the beginning of the capture.',
        plain(_reltime_ns)),
    FieldDef("evt.pluginname", PT.CHARBUF, PF.NA,
        'if the event comes from a plugin, the name of the plugin that generated it. The plugin '
        'must be currently loaded.',
        plain(_pluginname)),
    FieldDef("evt.plugininfo", PT.CHARBUF, PF.NA,
        'if the event comes from a plugin, a summary of the event as formatted by the plugin. The'
        ' plugin must be currently loaded.',
        plain(_plugininfo)),
))

SYSCALL_CLASS = FieldClass(
    "evt (Syscall events only)",
    "Event fields applicable to syscall events. Note that for most events you can access the individual "
    "arguments/parameters of each syscall via evt.arg, e.g. evt.arg.filename.", (
    FieldDef("evt.latency", PT.RELTIME, PF.DEC,
        'delta between an exit event and the correspondent enter event, in nanoseconds.',
        plain(_latency)),
    FieldDef("evt.latency.s", PT.RELTIME, PF.DEC,
        'integer part of the event latency delta.',
        plain(_latency_s)),
    FieldDef("evt.latency.ns", PT.RELTIME, PF.PADDED_DEC,
        'fractional part of the event latency delta.',
        plain(_latency_ns)),
    FieldDef("evt.latency.human", PT.CHARBUF, PF.NA,
        'delta between an exit event and the correspondent enter event, as a human readable '
        'string (e.g. 10.3ms).',
        _latency_human),
    FieldDef("evt.deltatime", PT.RELTIME, PF.DEC,
        'delta between this event and the previous event, in nanoseconds.',
        _deltatime),
    FieldDef("evt.deltatime.s", PT.RELTIME, PF.DEC,
        'integer part of the delta between this event and the previous event.',
        _deltatime_s),
    FieldDef("evt.deltatime.ns", PT.RELTIME, PF.PADDED_DEC,
        'fractional part of the delta between this event and the previous event.',
        _deltatime_ns),
    FieldDef("evt.dir", PT.CHARBUF, PF.DIR,
        "event direction can be either '>' for enter events or '<' for exit events.",
        plain(_dir)),
    FieldDef("evt.type", PT.CHARBUF, PF.NA,
        "The name of the event (e.g. 'open').",
        lambda arg: Custom(_type, parse=_parse_event_type)),
    FieldDef("evt.type.is", PT.UINT32, PF.NA,
        'allows one to specify an event type, and returns 1 for events that are of that type. For'
        ' example, evt.type.is.open returns 1 for open events, 0 for any other event.',
        _type_is, FieldFlag.REQUIRES_ARGUMENT, ArgSyntax.EVTTYPE),
    FieldDef("syscall.type", PT.CHARBUF, PF.NA,
        "For system call events, the name of the system call (e.g. 'open'). Unset for other "
        'events (e.g. switch or internal events). Use this field instead of evt.type if you need '
        'to make sure that the filtered/printed value is actually a system call.',
        plain(_syscall_type)),
    FieldDef("evt.category", PT.CHARBUF, PF.NA,
        "The event category. Example values are 'file' (for file operations like open and close),"
        " 'net' (for network operations like socket and bind), memory (for things like brk or "
        'mmap), and so on.',
        plain(_category_name)),
    FieldDef("evt.cpu", PT.INT16, PF.ID,
        'number of the CPU where this event happened.',
        plain(_cpu)),
    FieldDef("evt.args", PT.CHARBUF, PF.NA,
        'all the event arguments, aggregated into a single string.',
        plain(_args)),
    FieldDef("evt.arg", PT.CHARBUF, PF.NA,
        'one of the event arguments specified by name or by number. Some events (e.g. return '
        'codes or FDs) will be converted into a text representation when possible. E.g. '
        "'evt.arg.fd' or 'evt.arg[0]'.",
        _arg, FieldFlag.REQUIRES_ARGUMENT, ArgSyntax.PARAM),
    FieldDef("evt.rawarg", PT.DYN, PF.NA,
        "one of the event arguments specified by name. E.g. 'evt.rawarg.fd'.",
        _rawarg, FieldFlag.REQUIRES_ARGUMENT, ArgSyntax.PARAM_NAME),
    FieldDef("evt.info", PT.CHARBUF, PF.NA,
        'for most events, this field returns the same value as evt.args. However, for some events'
        ' (like writes to /dev/log) it provides higher level information coming from decoding the'
        ' arguments.',
        plain(_info)),
    FieldDef("evt.buffer", PT.BYTEBUF, PF.NA,
        'the binary data buffer for events that have one, like read(), recvfrom(), etc. Use this '
        "field in filters with 'contains' to search into I/O data buffers.",
        _buffer),
    FieldDef("evt.buflen", PT.UINT64, PF.DEC,
        'the length of the binary data buffer for events that have one, like read(), recvfrom(), '
        'etc.',
        plain(_buflen)),
    FieldDef("evt.res", PT.CHARBUF, PF.DEC,
        'event return value, as a string. If the event failed, the result is an error code string'
        " (e.g. 'ENOENT'), otherwise the result is the string 'SUCCESS'.",
        plain(_res)),
    FieldDef("evt.rawres", PT.INT64, PF.DEC,
        'event return value, as a number (e.g. -2). Useful for range comparisons.',
        plain(_rawres)),
    FieldDef("evt.failed", PT.BOOL, PF.NA,
        "'true' for events that returned an error status.",
        plain(_failed)),
    FieldDef("evt.is_io", PT.BOOL, PF.NA,
        "'true' for events that read or write to FDs, like read(), send, recvfrom(), etc.",
        plain(_is_io)),
    FieldDef("evt.is_io_read", PT.BOOL, PF.NA,
        "'true' for events that read from FDs, like read(), recv(), recvfrom(), etc.",
        plain(_is_io_read)),
    FieldDef("evt.is_io_write", PT.BOOL, PF.NA,
        "'true' for events that write to FDs, like write(), send(), etc.",
        plain(_is_io_write)),
    FieldDef("evt.io_dir", PT.CHARBUF, PF.NA,
        "'r' for events that read from FDs, like read(); 'w' for events that write to FDs, like "
        'write().',
        plain(_io_dir)),
    FieldDef("evt.is_wait", PT.BOOL, PF.NA,
        "'true' for events that make the thread wait, e.g. sleep(), select(), poll().",
        plain(_is_wait)),
    FieldDef("evt.wait_latency", PT.RELTIME, PF.DEC,
        'for events that make the thread wait (e.g. sleep(), select(), poll()), this is the time '
        'spent waiting for the event to return, in nanoseconds.',
        plain(_wait_latency)),
    FieldDef("evt.is_syslog", PT.BOOL, PF.NA,
        "'true' for events that are writes to /dev/log.",
        plain(_is_syslog)),
    FieldDef("evt.count", PT.UINT32, PF.DEC,
        'This filter field always returns 1 and can be used to count events from inside chisels.',
        plain(_count)),
    FieldDef("evt.count.error", PT.UINT32, PF.DEC,
        'This filter field returns 1 for events that returned with an error, and can be used to '
        'count event failures from inside chisels.',
        plain(_count_error)),
    FieldDef("evt.count.error.file", PT.UINT32, PF.DEC,
        'This filter field returns 1 for events that returned with an error and are related to '
        'file I/O, and can be used to count event failures from inside chisels.',
        plain(_count_error_file)),
    FieldDef("evt.count.error.net", PT.UINT32, PF.DEC,
        'This filter field returns 1 for events that returned with an error and are related to '
        'network I/O, and can be used to count event failures from inside chisels.',
        plain(_count_error_net)),
    FieldDef("evt.count.error.memory", PT.UINT32, PF.DEC,
        'This filter field returns 1 for events that returned with an error and are related to '
        'memory allocation, and can be used to count event failures from inside chisels.',
        plain(_count_error_memory)),
    FieldDef("evt.count.error.other", PT.UINT32, PF.DEC,
        'This filter field returns 1 for events that returned with an error and are related to '
        'none of the previous categories, and can be used to count event failures from inside '
        'chisels.',
        plain(_count_error_other)),
    FieldDef("evt.count.exit", PT.UINT32, PF.DEC,
        'This filter field returns 1 for exit events, and can be used to count single events from'
        ' inside chisels.',
        plain(_count_exit)),
    FieldDef("evt.around", PT.UINT64, PF.DEC,
        "Accepts the event if it's around the specified time interval. The syntax is "
        'evt.around[T]=D, where T is the value returned by %evt.rawtime for the event and D is a '
        'delta in milliseconds. For example, evt.around[1404996934793590564]=1000 will return the'
        ' events with timestamp with one second before the timestamp and one second after it, for'
        ' a total of two seconds of capture.',
        _around, FieldFlag.FILTER_ONLY | FieldFlag.REQUIRES_ARGUMENT, ArgSyntax.AROUND),
    FieldDef("evt.abspath", PT.CHARBUF, PF.NA,
        'Absolute path calculated from dirfd and name during syscalls like renameat and '
        "symlinkat. Use 'evt.abspath.src' or 'evt.abspath.dst' for syscalls that support multiple"
        ' paths.',
        _abspath, FieldFlag.ARG_OPTIONAL, ArgSyntax.SUFFIX),
    FieldDef("evt.is_open_read", PT.BOOL, PF.NA,
        "'true' for open/openat/openat2 events where the path was opened for reading",
        plain(_is_open_read)),
    FieldDef("evt.is_open_write", PT.BOOL, PF.NA,
        "'true' for open/openat/openat2 events where the path was opened for writing",
        plain(_is_open_write)),
    FieldDef("evt.is_open_exec", PT.BOOL, PF.NA,
        "'true' for open/openat/openat2 or creat events where a file is created with execute "
        'permissions',
        plain(_is_open_exec)),
    # hidden in -l (EPF_TABLE_ONLY / EPF_PRINT_ONLY) but accepted by sysdig 0.29.3
    FieldDef("evt.latency.quantized", PT.UINT64, PF.DEC,
        "10-base log of the delta between an exit event and the correspondent enter event.",
        plain(_latency_quantized), FieldFlag.TABLE_ONLY),
    FieldDef("evt.outputtime", PT.CHARBUF, PF.NA, "this depends on -t param, default is %evt.time ('h').",
        _outputtime, FieldFlag.PRINT_ONLY),
    FieldDef("evt.count.procinfo", PT.UINT32, PF.DEC,
        "This filter field returns 1 for procinfo events generated by process main threads, and can be "
        "used to count processes from inside views.", plain(_count_procinfo), FieldFlag.TABLE_ONLY),
    FieldDef("evt.count.threadinfo", PT.UINT32, PF.DEC,
        "This filter field returns 1 for procinfo events, and can be used to count processes from "
        "inside views.", plain(_count_threadinfo), FieldFlag.TABLE_ONLY),
    FieldDef("evt.buflen.in", PT.UINT64, PF.DEC,
        "the length of the binary data buffer, but only for input I/O events.",
        plain(_buflen_in), FieldFlag.TABLE_ONLY),
    FieldDef("evt.buflen.out", PT.UINT64, PF.DEC,
        "the length of the binary data buffer, but only for output I/O events.",
        plain(_buflen_out), FieldFlag.TABLE_ONLY),
    FieldDef("evt.buflen.file", PT.UINT64, PF.DEC,
        "the length of the binary data buffer, but only for file I/O events.",
        plain(_buflen_file), FieldFlag.TABLE_ONLY),
    FieldDef("evt.buflen.file.in", PT.UINT64, PF.DEC,
        "the length of the binary data buffer, but only for input file I/O events.",
        plain(_buflen_file_in), FieldFlag.TABLE_ONLY),
    FieldDef("evt.buflen.file.out", PT.UINT64, PF.DEC,
        "the length of the binary data buffer, but only for output file I/O events.",
        plain(_buflen_file_out), FieldFlag.TABLE_ONLY),
    FieldDef("evt.buflen.net", PT.UINT64, PF.DEC,
        "the length of the binary data buffer, but only for network I/O events.",
        plain(_buflen_net), FieldFlag.TABLE_ONLY),
    FieldDef("evt.buflen.net.in", PT.UINT64, PF.DEC,
        "the length of the binary data buffer, but only for input network I/O events.",
        plain(_buflen_net_in), FieldFlag.TABLE_ONLY),
    FieldDef("evt.buflen.net.out", PT.UINT64, PF.DEC,
        "the length of the binary data buffer, but only for output network I/O events.",
        plain(_buflen_net_out), FieldFlag.TABLE_ONLY),
))
