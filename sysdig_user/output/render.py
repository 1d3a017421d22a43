"""Text of event params, exactly as sysdig 0.29.3 prints them in ``evt.args`` / ``evt.arg.X``.

Each param renders to two strings, as in libsinsp's ``sinsp_evt::get_param_as_str``: the value
(``3``, ``4097``, ``-2``) and an optional resolved form (``<f>/etc/passwd``, ``O_RDONLY|O_CLOEXEC``,
``ENOENT``). ``evt.args`` joins them as ``name=value(resolved) ``; ``evt.arg.X`` shows the resolved
form when there is one. Resolution reads state (fd tables, thread names, cwd) at the moment the
event is printed, so the Inspector must call this before it applies the event's deferred removals.

Decoding lives in sysdig_user.params; this module only turns values into text (STYLE.md section 8).
"""
from __future__ import annotations

import binascii
import time
from _collections_abc import Callable  # (collections.abc without collections)

from sysdig_user import cache
from sysdig_user.consts import FlagConst
from sysdig_user.event_table import PF, PT, SC_NAMES, EventInfo, Param
from sysdig_user.flags import FLAG_TABLES
from sysdig_user.output.names import ERRNO_NAMES, errno_name, signal_name
from sysdig_user.params import AF_INET, AF_INET6, AF_UNIX
from sysdig_user.rows import Record, TupleRow
from sysdig_user.state.fds import IP_SOCKS, SERVER_SOCKS, TYPE_CHARS, ipv4_text, ipv6_text, port_str, sanitize
from sysdig_user.state.parsers_files import concatenate_paths

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)

if TYPE_CHECKING:
    from typing import Any

    from typing_extensions import Self

    from sysdig_user.event import Event
    from sysdig_user.state.fds import FdInfo
    from sysdig_user.state.threads import ThreadInfo

# ppm_evt_hdr codes of the generic syscall events: evt.args is empty for them (sysdig hides the ID).
GENERIC_E, GENERIC_X = 0, 1
PPM_AT_FDCWD = -100
# scap_l4_proto -> the letter after the fd type char (sinsp_evt::render_fd): TCP, UDP, ICMP, RAW.
_L4_CHARS = {2: "t", 3: "u", 4: "i", 5: "r"}
_L4_TYPES = IP_SOCKS | SERVER_SOCKS  # the fd types whose shown_l4proto may be other than SCAP_L4_NA
# sysdig truncates data buffers to this many characters unless -v (sysdig.cpp: set_max_evt_output_len).
DEFAULT_MAX_LEN = 80


class BufferFormat(FlagConst):
    """``sinsp_evt::param_fmt``: how BYTEBUF params print (-A, -x, -X, -b, and their -j variants)."""

    NORMAL = 0
    JSON = 1
    SIMPLE = 2
    HEX = 4
    HEXASCII = 8
    EOLS = 16
    EOLS_COMPACT = 32
    BASE64 = 64
    JSONEOLS = 128
    JSONHEX = 256
    JSONHEXASCII = 512
    JSONBASE64 = 1024

    def as_json(self) -> BufferFormat:
        """The -j variant of a text format (sysdig.cpp rewrites the format when -j is given)."""
        return _JSON_VARIANT.get(self, self)


_JSON_VARIANT = {
    BufferFormat.NORMAL: BufferFormat.JSON, BufferFormat.EOLS: BufferFormat.JSONEOLS,
    BufferFormat.HEX: BufferFormat.JSONHEX, BufferFormat.HEXASCII: BufferFormat.JSONHEXASCII,
    BufferFormat.BASE64: BufferFormat.JSONBASE64,
}


class RenderOptions(Record):
    """What the command line changes about param text.

    ``max_len``: 80 by default, 0 (no limit) with -v or when chisels run. ``lookup_thread`` resolves
    PID params to a command name (``ptid=11310(bash)``); without it the thread table of the state
    view attached to the event is used (sysdig_user.fields.base.lookup_thread).
    """

    _fields = ("buffer_format", "max_len", "lookup_thread")
    __slots__ = _fields
    buffer_format: BufferFormat
    max_len: int
    lookup_thread: Callable[[int], ThreadInfo | None] | None

    def __init__(self, buffer_format: BufferFormat = BufferFormat.NORMAL, max_len: int = DEFAULT_MAX_LEN,
                 lookup_thread: Callable[[int], ThreadInfo | None] | None = None) -> None:
        self.buffer_format = buffer_format
        self.max_len = max_len
        self.lookup_thread = lookup_thread


DEFAULT_OPTIONS = RenderOptions()

# ----------------------------------------------------------------------------------------- buffers


def _printable(b: int) -> bool:
    return 0x20 <= b < 0x7F


_DOTS = b"." * 0x20 + bytes(range(0x20, 0x7F)) + b"." * 0x81  # (_printable bytes as they are, else '.')


def buffer_dots(data: bytes) -> str:
    """Non-printable bytes become '.' (binary_buffer_to_string_dots)."""
    return data.translate(_DOTS).decode("ascii")


def buffer_ascii(data: bytes, compact: bool = False) -> str:
    """-A: printable bytes only, CR becomes LF, LF kept unless it follows a CR (asciionly_string)."""
    out = [] if compact else ["\n"]
    prev = -1
    for b in data:
        if _printable(b):
            out.append(chr(b))
        elif b == 0x0D or (b == 0x0A and prev not in (-1, 0x0D)):
            out.append("\n")
        prev = b
    return "".join(out)


def buffer_hex(data: bytes, with_ascii: bool) -> str:
    """-x / -X: rows of 8 big-endian 16-bit groups, each row on its own ``\\n\\t0x%04x:`` line,
    ending with a newline (binary_buffer_to_hex_string)."""
    rows = []
    n = len(data)
    for off in range(0, n, 16):
        chunk = data[off:off + 16]
        groups = [chunk[k:k + 2].hex() for k in range(0, len(chunk), 2)]
        row = f"\n\t0x{off:04x}: " + " ".join(groups)
        if with_ascii:
            row += " " * (5 * (8 - len(groups))) + "  " + buffer_dots(chunk)
        rows.append(row)
    rows.append("\n")
    return "".join(rows)


def buffer_base64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")  # base64.b64encode, without its import


def render_buffer(data: bytes, fmt: BufferFormat, max_len: int) -> str:
    """A BYTEBUF in the chosen format; only the plain format is cut to ``max_len`` ("..." at end)."""
    if not data:
        return ""
    if fmt is BufferFormat.NORMAL:  # the default, without IntFlag's per-test object creation
        text = buffer_dots(data)
        if max_len and len(text) > max_len:
            text = text[:max_len - 3] + "..." if max_len > 3 else text[:max_len]
        return text
    if fmt & (BufferFormat.HEX | BufferFormat.HEXASCII):
        return buffer_hex(data, bool(fmt & BufferFormat.HEXASCII))
    if fmt & BufferFormat.BASE64:
        return buffer_base64(data)
    if fmt & (BufferFormat.JSONHEX | BufferFormat.JSONHEXASCII):
        return buffer_hex(data, bool(fmt & BufferFormat.JSONHEXASCII))
    if fmt & BufferFormat.JSONEOLS:
        return buffer_ascii(data)
    if fmt & BufferFormat.JSONBASE64:
        return buffer_base64(data)
    if fmt & BufferFormat.JSON:
        return buffer_dots(data)
    if fmt & (BufferFormat.EOLS | BufferFormat.EOLS_COMPACT):
        return buffer_ascii(data, bool(fmt & BufferFormat.EOLS_COMPACT))
    text = buffer_dots(data)
    if fmt == BufferFormat.NORMAL and max_len and len(text) > max_len:
        text = text[:max_len - 3] + "..." if max_len > 3 else text[:max_len]
    return text


# ------------------------------------------------------------------------------------------ numbers

_WIDTH = {PT.INT8: 8, PT.INT16: 16, PT.INT32: 32, PT.INT64: 64, PT.UINT8: 8, PT.UINT16: 16,
          PT.UINT32: 32, PT.UINT64: 64, PT.MODE: 32}
# enum members read per event, as module constants (a member lookup on its class is slow in 3.11)
_PF_HEX, _PF_OCT, _PF_PADDED_DEC = PF.HEX, PF.OCT, PF.PADDED_DEC
_PT_UINT64, _PT_BYTEBUF, _PT_FSRELPATH, _PT_UID = PT.UINT64, PT.BYTEBUF, PT.FSRELPATH, PT.UID


def format_number(value: int, pt: PT, fmt: PF) -> str:
    """SET_NUMERIC_FORMAT: OCT is ``%#o``, HEX is ``%X`` of the two's complement, PADDED_DEC ``%09``.

    UINT64 prints through a signed cast in sinsp (``*(int64_t *)payload``), so 2**64-1 prints -1.
    """
    if fmt is _PF_HEX:
        return "%X" % (value & ((1 << _WIDTH.get(pt, 64)) - 1))
    if fmt is _PF_OCT:
        v = value & ((1 << _WIDTH.get(pt, 64)) - 1)
        return f"0{v:o}" if v else "0"
    if pt is _PT_UINT64 and value >= 1 << 63:
        value -= 1 << 64
    if fmt is _PF_PADDED_DEC:
        return f"{value:09d}"
    return str(value)


_FLAG_TEXTS: dict[str, dict[int, str]] = {}  # per table, value -> text (a few values repeat)
_FLAG_TEXTS_MAX = 4096


def resolve_flags(value: int, table: str | None) -> str:
    """Walk the flag table in order (sinsp PT_FLAGS*): every entry whose bits are all set is named
    and its bits cleared; the walk stops at the entry equal to the whole value, which is named too.
    A zero entry only matches a zero value."""
    if table is None:
        return ""
    texts = _FLAG_TEXTS.get(table)
    if texts is None:
        texts = _FLAG_TEXTS[table] = {}
    text = texts.get(value)
    if text is None:
        text = _walk_flags(value, table)
        if len(texts) < _FLAG_TEXTS_MAX:
            texts[value] = text
    return text


def _walk_flags(value: int, table: str) -> str:
    entries = FLAG_TABLES.get(table)
    if not entries:
        return ""
    names: list[str] = []
    val = value
    for name, fv in entries:
        if fv == value:
            names.append(name)
            break
        if (fv == 0 and value == 0) or (fv != 0 and val != 0 and val & fv == fv):
            names.append(name)
            val &= ~fv
    return "|".join(names)


# ---------------------------------------------------------------------------------------- addresses


def _is_v4_mapped(raw: bytes) -> bool:
    """sinsp_utils::is_ipv4_mapped_ipv6: ::ffff:a.b.c.d, and also the all-zero address."""
    return raw[:10] == b"\0" * 10 and (raw[10:12] == b"\xff\xff" or raw[10:] == b"\0" * 6)


def sockaddr_text(value: tuple[Any, ...]) -> str:
    fam = value[0]
    if fam == AF_UNIX:
        return sanitize(value[1])
    if fam == AF_INET:
        return "INVALID IPv4" if len(value) < 3 else f"{ipv4_text(value[1])}:{port_str(value[2])}"
    if fam == AF_INET6:
        return "INVALID IPv6" if len(value) < 3 else f"{ipv6_text(value[1])}:{port_str(value[2])}"
    return f"family {fam}"


def socktuple_text(value: tuple[Any, ...]) -> str:
    """``sip:sport->dip:dport``; IPv4-mapped IPv6 pairs print as IPv4; unix ``%x->%x path``."""
    fam = value[0]
    if fam == AF_INET:
        if len(value) < 5:
            return "INVALID IPv4"
        return f"{ipv4_text(value[1])}:{port_str(value[2])}->{ipv4_text(value[3])}:{port_str(value[4])}"
    if fam == AF_INET6:
        if len(value) < 5:
            return "INVALID IPv6"
        sip, sport, dip, dport = value[1], port_str(value[2]), value[3], port_str(value[4])
        if _is_v4_mapped(sip) and _is_v4_mapped(dip):
            return f"{ipv4_text(sip[12:])}:{sport}->{ipv4_text(dip[12:])}:{dport}"
        return f"{ipv6_text(sip)}:{sport}->{ipv6_text(dip)}:{dport}"
    if fam == AF_UNIX:
        if len(value) < 4:
            return "family 1"
        return f"{value[1]:x}->{value[2]:x} {sanitize(value[3])}"
    return f"family {fam}"


# ------------------------------------------------------------------------------------------- paths


def shown_as_is(value: str, thread: ThreadInfo | None) -> bool:
    """A path param printed without a resolved form: absolute, empty, <NA>, or no thread to resolve by."""
    return thread is None or not value or value.startswith(("<NA>", "/"))


def resolved_path(value: str, cwd: str, thread: ThreadInfo, dirfd: Any) -> str:
    """A relative path param resolved against the thread's cwd (sinsp get_cwd: the main thread's, as
    proc.cwd shows) for FSPATH, AT_FDCWD or no dirfd param (``dirfd`` None), else against the dirfd's
    path; '' when that is unknown."""
    cwd = cwd or "/"
    if not cwd.endswith("/"):
        cwd += "/"
    if not isinstance(dirfd, int) or dirfd == PPM_AT_FDCWD:
        base = cwd
    else:
        info = thread.fdtable.get(dirfd)
        if info is None or not info.name:
            return ""
        base = sanitize(info.name) + "/"
    return concatenate_paths(base, value)


def _path_strings(evt: Event, i: int, param: Param, value: str) -> tuple[str, str]:
    text = sanitize(value)
    thread = evt.thread
    if shown_as_is(value, thread):
        return text, ""
    from sysdig_user.fields.proc import thread_cwd

    assert thread is not None
    dirfd = evt.param(param.dirfd) if param.type is _PT_FSRELPATH and param.dirfd is not None else None
    return text, resolved_path(value, thread_cwd(evt, thread), thread, dirfd)


# --------------------------------------------------------------------------------------------- fds


_TYPE_PREFIXES = {t: f"<{c}>" for t, c in TYPE_CHARS.items()}  # fd_resolved's "<f>" when no L4 letter


def fd_resolved(info: FdInfo) -> str:
    """``<f>/etc/passwd``, ``<4t>1.2.3.4:5->6.7.8.9:80``: type char, L4 letter for sockets, name."""
    name = info.name
    if not (name.isascii() and name.isprintable()):
        name = sanitize(name)
    if info.type in _L4_TYPES:
        return f"<{info.typechar}{_L4_CHARS.get(info.shown_l4proto, '')}>{name}"
    return f"<{TYPE_CHARS.get(info.type, 'o')}>{name}"  # shown_l4proto is SCAP_L4_NA: no letter


def _fd_strings(evt: Event, fd: int) -> tuple[str, str]:
    thread = evt.thread
    if thread is None:
        return str(fd), ""
    if fd >= 0:
        info = thread.fdtable.fds.get(fd)
        return str(fd), fd_resolved(info) if info is not None else ""
    if fd == PPM_AT_FDCWD:
        return str(fd), "AT_FDCWD"
    return str(fd), errno_name(fd)


def _fdlist_text(evt: Event, value: tuple[tuple[int, int], ...]) -> str:
    return fdlist_text(evt.thread, value)


def fdlist_text(thread: ThreadInfo | None, value: tuple[tuple[int, int], ...]) -> str:
    """PT_FDLIST (poll's fds): ``fd:<type char><events in hex>`` each, the type from the thread's table."""
    if thread is None:
        return ""
    items = []
    for fd, flags in value:
        info = thread.fdtable.get(fd)
        tch = info.typechar if info is not None else "?"
        items.append(f"{fd & 0xFFFFFFFFFFFFFFFF}:{tch}{flags & 0xFFFF:x}")
    return " ".join(items)


# ------------------------------------------------------------------------------------------ params


def abstime_text(ns: int) -> str:
    """PT_ABSTIME: ``%Y-%m-%d %H:%M:%S.<ns> %z`` in local time."""
    sec, nsec = divmod(ns, 1_000_000_000)
    tm = time.localtime(sec)
    return time.strftime("%Y-%m-%d %H:%M:%S.", tm) + f"{nsec:09d}" + time.strftime(" %z", tm)


def _state_thread(evt: Event, tid: int) -> ThreadInfo | None:
    """The thread table entry for ``tid`` through the state view the Inspector attached to ``evt``."""
    from sysdig_user.fields.base import lookup_thread

    return lookup_thread(evt, tid)


StringsFn = Callable[["Event", int, Param, PT, "Any", int, RenderOptions], tuple[str, str]]


def _value_strings(evt: Event, i: int, param: Param, pt: PT, value: Any, raw_len: int,
                   opts: RenderOptions) -> tuple[str, str]:
    """(value, resolved) for one decoded param of concrete type ``pt`` (DYN already unwrapped)."""
    return _STRINGS.get(pt, _na_strings)(evt, i, param, pt, value, raw_len, opts)


# One function per branch of get_param_as_str; _STRINGS maps each type to its branch.

def _na_strings(evt: Event, i: int, param: Param, pt: PT, value: Any, raw_len: int,
                opts: RenderOptions) -> tuple[str, str]:
    return "(n.a.)", ""


def _pid_strings(evt: Event, i: int, param: Param, pt: PT, value: Any, raw_len: int,
                 opts: RenderOptions) -> tuple[str, str]:
    lookup = opts.lookup_thread
    return pid_strings(value, lookup(value) if lookup is not None else _state_thread(evt, value))


def pid_strings(value: int, info: ThreadInfo | None) -> tuple[str, str]:
    """A PID param with the thread table's entry for it (or None)."""
    return str(value), info.comm if info is not None else ""


def _mode_strings(evt: Event, i: int, param: Param, pt: PT, value: Any, raw_len: int,
                  opts: RenderOptions) -> tuple[str, str]:
    return format_number(value, pt, param.fmt), resolve_flags(value, param.table)


def _buffer_strings(evt: Event, i: int, param: Param, pt: PT, value: Any, raw_len: int,
                    opts: RenderOptions) -> tuple[str, str]:
    return render_buffer(value, opts.buffer_format, opts.max_len), ""


def _sockaddr_strings(evt: Event, i: int, param: Param, pt: PT, value: Any, raw_len: int,
                      opts: RenderOptions) -> tuple[str, str]:
    return sockaddr_text(value) if value is not None else "NULL", ""


def _socktuple_strings(evt: Event, i: int, param: Param, pt: PT, value: Any, raw_len: int,
                       opts: RenderOptions) -> tuple[str, str]:
    return socktuple_text(value) if value is not None else "NULL", ""


def _fdlist_strings(evt: Event, i: int, param: Param, pt: PT, value: Any, raw_len: int,
                    opts: RenderOptions) -> tuple[str, str]:
    return _fdlist_text(evt, value), ""


def _syscallid_strings(evt: Event, i: int, param: Param, pt: PT, value: Any, raw_len: int,
                       opts: RenderOptions) -> tuple[str, str]:
    if value >= len(SC_NAMES):
        return "<unknown syscall>", ""
    return str(value), SC_NAMES[value]


def _signal_strings(evt: Event, i: int, param: Param, pt: PT, value: Any, raw_len: int,
                    opts: RenderOptions) -> tuple[str, str]:
    return str(value), signal_name(value)


def _reltime_strings(evt: Event, i: int, param: Param, pt: PT, value: Any, raw_len: int,
                     opts: RenderOptions) -> tuple[str, str]:
    return str(value), f"{value / 1e9:g}s"


def _abstime_strings(evt: Event, i: int, param: Param, pt: PT, value: Any, raw_len: int,
                     opts: RenderOptions) -> tuple[str, str]:
    return abstime_text(value), ""


def _uid_gid_strings(evt: Event, i: int, param: Param, pt: PT, value: Any, raw_len: int,
                     opts: RenderOptions) -> tuple[str, str]:
    return _id_strings(evt, pt, value)


def _plain_strings(evt: Event, i: int, param: Param, pt: PT, value: Any, raw_len: int,
                   opts: RenderOptions) -> tuple[str, str]:
    return str(value), ""


def _ipv4_strings(evt: Event, i: int, param: Param, pt: PT, value: Any, raw_len: int,
                  opts: RenderOptions) -> tuple[str, str]:
    return ipv4_text(value), ""


def _ipv6_strings(evt: Event, i: int, param: Param, pt: PT, value: Any, raw_len: int,
                  opts: RenderOptions) -> tuple[str, str]:
    return ipv6_text(value), ""


def _double_strings(evt: Event, i: int, param: Param, pt: PT, value: Any, raw_len: int,
                    opts: RenderOptions) -> tuple[str, str]:
    return f"{value:f}", ""


def _id_strings(evt: Event, pt: PT, value: int) -> tuple[str, str]:
    """PT_UID/PT_GID: the id and its user or group name from the state's tables, "<NA>" when unknown,
    ``-1(<NONE>)`` for (uint32)-1 (sinsp_evt::get_param_as_str)."""
    return id_strings(getattr(getattr(evt, "_state", None), "users", None), pt, value)


def id_strings(users: Any, pt: PT, value: int) -> tuple[str, str]:
    """PT_UID/PT_GID with the state's user table (or None)."""
    if value >= 0xFFFFFFFF:
        return "-1", "<NONE>"
    entry: Any = None
    if users is not None:
        entry = users.user(value) if pt is _PT_UID else users.group(value)
    return str(value), entry.name if entry is not None else "<NA>"


# Empty params of these types print NULL (an unconnected socket's tuple); an empty buffer or string
# prints as nothing and an empty number as 0, as sysdig 0.29.3 does.
_NULL_WHEN_EMPTY = frozenset({PT.SOCKADDR, PT.SOCKTUPLE, PT.DYN})


def param_strings(evt: Event, i: int, opts: RenderOptions | None = None) -> tuple[str, str]:
    """(value, resolved) of param ``i``, as get_param_as_str returns them."""
    info = evt.info
    if info is None or i >= evt.param_count:
        return "", ""
    param = info.params[i]
    raw = evt.rawparam(i)
    if not raw and param.type in _NULL_WHEN_EMPTY:
        return "NULL", ""
    value = evt.param(i)
    pt = param.type
    if pt is PT.DYN:
        if value is None:
            return "NULL", ""
        idx, value = value
        pt = param.dyn[idx] if idx < len(param.dyn) else PT.BYTEBUF
    return _value_strings(evt, i, param, pt, value, len(raw), opts or DEFAULT_OPTIONS)


def render_param(evt: Event, i: int, opts: RenderOptions | None = None) -> str:
    """``value(resolved)`` or ``value``: how param ``i`` appears in evt.args (without the name)."""
    value, resolved = param_strings(evt, i, opts)
    return f"{value}({resolved})" if resolved else value


def param_display(evt: Event, i: int, opts: RenderOptions | None = None) -> str:
    """evt.arg.X / evt.arg[N]: the resolved form when there is one, else the value."""
    value, resolved = param_strings(evt, i, opts)
    return resolved or value


def render_args(evt: Event, opts: RenderOptions | None = None) -> str:
    """evt.args: ``name=value(resolved) `` for each param, each followed by one space; empty for
    the generic syscall events, whose only param (the ppm_sc id) sysdig keeps internal.

    Same text as joining param_strings, through a function generated per event type (_args_function)."""
    return (ARGS_FUNCTIONS.get(evt.type) or args_function(evt))(evt, opts or DEFAULT_OPTIONS)


def args_function(evt: Event) -> ArgsFunction:
    """The function render_args calls for events of this event's type (``fn(evt, opts)``)."""
    fn = ARGS_FUNCTIONS.get(evt.type)
    if fn is None:
        fn = ARGS_FUNCTIONS[evt.type] = _args_function(evt.type, evt.info, -1)
    return fn


# plan kinds: how a param prints (singletons compared with ``is``)
_DECIMAL, _CHARBUF, _ERRNO, _FD, _FLAGS, _NUMBER, _PATH, _BUFFER, _NULL_EMPTY, _OTHER = (
    "dec", "str", "errno", "fd", "flags", "number", "path", "buffer", "null", "other")
PlanEntry = tuple[str, Param, str, "StringsFn | None"]  # name=, param, kind, strings function
ArgsFunction = Callable[["Event", RenderOptions], str]
ARGS_FUNCTIONS: dict[int, ArgsFunction] = {}  # by event code (args_function fills it)
_ARGS_BY_COUNT: dict[tuple[int, int], ArgsFunction] = {}


class ArgsSource(TupleRow):
    """evt.args of one event type as source code for a generated function (args_source). (A TupleRow:
    typing.NamedTuple imports typing, collections.namedtuple collections.)"""

    __slots__ = ()
    _fields = ("nparams", "unpack", "exprs", "template", "names")  # in the order __new__ takes them

    if TYPE_CHECKING:
        nparams: int  # the params an event must have: ``unpack`` unpacks that many values
        unpack: str  # the statement unpacking ``evt.param_values()`` (the name ``vals``) into a0, a1, ...
        exprs: list[str]  # per param, its text (%s prints it): an expression over evt, opts and its value
        template: str  # ``name=%s name=%s `` ('%' in names doubled)
        names: dict[str, Any]  # the globals the expressions use (all named ARG_* or arg_*)

    def __new__(cls, nparams: int, unpack: str, exprs: list[str], template: str, names: dict[str, Any]) -> Self:
        return tuple.__new__(cls, (nparams, unpack, exprs, template, names))


def args_source(code: int, info: EventInfo | None, count: int, opts: str = "opts") -> ArgsSource | None:
    """evt.args of events of type ``code`` with ``count`` params (-1: as many as the table has) as
    source code, ``opts`` naming the RenderOptions: per param, numbers and strings as they are, the
    other kinds through _arg_text or its inlined branches. None when evt.args is always empty."""
    if info is None or code in (GENERIC_E, GENERIC_X) or not info.params:
        return None
    plan = _args_plan(info.params)
    if count >= 0:
        plan = plan[:count]
    if not plan:
        return None
    names: dict[str, Any] = {"ARG_PLAN": plan, "arg_fd": _fd_arg, "ARG_ERRNO": _ERRNO_ARGS, "arg_flags": _flags_arg,
                             "arg_number": format_number, "arg_path": _path_arg, "arg_text": _arg_text,
                             "arg_buffer": render_buffer}
    exprs = []
    for i, (_prefix, p, kind, _strings) in enumerate(plan):
        v = f"a{i}"
        if kind is _DECIMAL or kind is _CHARBUF:
            exprs.append(v)
        elif kind is _ERRNO:  # "-2(ENOENT)", or the number (%s prints it)
            exprs.append(f"ARG_ERRNO.get({v}, {v})")
        elif kind is _FD:
            exprs.append(f"arg_fd(evt, {v})")
        elif kind is _FLAGS:  # _flags_arg's text from its cache, else from _flags_arg
            names[f"ARG_T{i}"] = p.table
            names[f"ARG_F{i}"] = _FLAG_ARGS.setdefault(p.table, {})
            exprs.append(f"(ARG_F{i}.get({v}) or arg_flags({v}, ARG_T{i}))")
        elif kind is _NUMBER and p.fmt is _PF_HEX:  # format_number's branches, inlined
            names[f"ARG_M{i}"] = (1 << _WIDTH.get(p.type, 64)) - 1
            exprs.append(f"'%X' % ({v} & ARG_M{i})")
        elif kind is _NUMBER and p.fmt is _PF_OCT:
            names[f"ARG_M{i}"] = (1 << _WIDTH.get(p.type, 64)) - 1
            exprs.append(f"('0%o' % ({v} & ARG_M{i}) if {v} & ARG_M{i} else '0')")
        elif kind is _NUMBER and p.type is _PT_UINT64 and p.fmt not in _NON_DECIMAL:  # printed signed
            exprs.append(f"({v} - {1 << 64} if {v} >= {1 << 63} else {v})")
        elif kind is _NUMBER:
            names[f"ARG_P{i}"] = p
            exprs.append(f"arg_number({v}, ARG_P{i}.type, ARG_P{i}.fmt)")
        elif kind is _PATH:  # an absolute printable ASCII path prints as it is (_path_strings)
            names[f"ARG_P{i}"] = p
            exprs.append(f"({v} if {v}[:1] == '/' and {v}.isascii() and {v}.isprintable() "
                         f"else arg_path(evt, {i}, ARG_P{i}, {v}))")
        elif kind is _BUFFER:
            exprs.append(f"arg_buffer({v}, {opts}.buffer_format, {opts}.max_len)")
        else:
            exprs.append(f"arg_text(evt, {i}, ARG_PLAN[{i}], {v}, {opts})")
    template = "".join(prefix.replace("%", "%%") + "%s " for prefix, *_rest in plan)
    unpack = "".join(f"a{i}, " for i in range(len(plan))) + "= vals"
    return ArgsSource(len(plan), unpack, exprs, template, names)


def _args_function(code: int, info: EventInfo | None, count: int) -> ArgsFunction:
    """The evt.args function of events of type ``code`` with ``count`` params (-1: as many as the table
    has), generated from args_source: the values unpacked and %-substituted into its template. An
    event with another param count takes the function of its count (_args_for_count)."""
    src = args_source(code, info, count)
    if src is None:
        return _no_args
    assert info is not None
    names = dict(src.names, TEMPLATE=src.template, other_count=_args_for_count)
    source = (f"def args(evt, opts):\n"
              f"    vals = evt.param_values()\n"
              f"    if len(vals) != {src.nparams}:\n"
              f"        return other_count(evt, opts, len(vals))\n"
              f"    {src.unpack}\n"
              f"    return TEMPLATE % ({''.join(e + ', ' for e in src.exprs)})\n")
    exec(cache.compiled(source, f"<sdu args {info.name}{info.dir}>"), names)  # noqa: S102
    fn: ArgsFunction = names["args"]
    return fn


def _args_for_count(evt: Event, opts: RenderOptions, count: int) -> str:
    """evt.args of an event with fewer params than the table (old captures), by count."""
    key = (evt.type, count)
    fn = _ARGS_BY_COUNT.get(key)
    if fn is None:
        fn = _ARGS_BY_COUNT[key] = _args_function(evt.type, evt.info, count)
    return fn(evt, opts)


def _no_args(evt: Event, opts: RenderOptions) -> str:
    return ""


def _arg_text(evt: Event, i: int, entry: PlanEntry, value: Any, opts: RenderOptions) -> str:
    """``value(resolved)`` or ``value`` of param ``i`` (render_param with its plan entry)."""
    _prefix, p, kind, strings = entry
    if kind is _DECIMAL or kind is _CHARBUF:
        return str(value)
    if kind is _ERRNO:
        return _errno_arg(value)
    if kind is _FD:
        return _fd_arg(evt, value)
    if kind is _FLAGS:
        return _flags_arg(value, p.table)
    if kind is _NULL_EMPTY and not evt.rawparam(i):
        return "NULL"
    if strings is None:  # DYN: the type depends on the value's first byte
        if value is None:
            return "NULL"
        idx, value = value
        sub = p.dyn[idx] if idx < len(p.dyn) else _PT_BYTEBUF
        text, resolved = _value_strings(evt, i, p, sub, value, 0, opts)
    else:
        text, resolved = strings(evt, i, p, p.type, value, 0, opts)
    return f"{text}({resolved})" if resolved else text


def _errno_arg(value: int) -> str:
    name = ERRNO_NAMES.get(-value) if value < 0 else None
    return f"{value}({name})" if name else str(value)


def _fd_arg(evt: Event, fd: int) -> str:
    thread = evt.thread
    if thread is not None and fd >= 0:  # _fd_strings and fd_resolved, inlined for fds in the table
        info = thread.fdtable.fds.get(fd)
        if info is None:
            return str(fd)
        t = info.type
        if t not in _L4_TYPES:
            name = info.name
            if not (name.isascii() and name.isprintable()):
                name = sanitize(name)
            return f"{fd}({_TYPE_PREFIXES.get(t, '<o>')}{name})"
    text, resolved = _fd_strings(evt, fd)
    return f"{text}({resolved})" if resolved else text


def _path_arg(evt: Event, i: int, param: Param, value: str) -> str:
    text, resolved = _path_strings(evt, i, param, value)
    return f"{text}({resolved})" if resolved else text


def _flags_arg(value: int, table: str | None) -> str:
    texts = _FLAG_ARGS.get(table)
    text = texts.get(value) if texts is not None else None
    if text is None:
        resolved = resolve_flags(value, table)
        text = f"{value}({resolved})" if resolved else str(value)
        if texts is None:
            texts = _FLAG_ARGS[table] = {}
        if len(texts) < _FLAG_TEXTS_MAX:
            texts[value] = text
    return text


_FLAG_ARGS: dict[str | None, dict[int, str]] = {}  # per table, value -> _flags_arg's text
_ERRNO_ARGS = {-code: f"-{code}({name})" for code, name in ERRNO_NAMES.items()}  # _errno_arg's named ones


def _int_strings(evt: Event, i: int, param: Param, pt: PT, value: Any, raw_len: int,
                 opts: RenderOptions) -> tuple[str, str]:
    return format_number(value, pt, param.fmt), ""


def _str_strings(evt: Event, i: int, param: Param, pt: PT, value: Any, raw_len: int,
                 opts: RenderOptions) -> tuple[str, str]:
    return value, ""


def _fd_value_strings(evt: Event, i: int, param: Param, pt: PT, value: Any, raw_len: int,
                      opts: RenderOptions) -> tuple[str, str]:
    return _fd_strings(evt, value)


def _errno_strings(evt: Event, i: int, param: Param, pt: PT, value: Any, raw_len: int,
                   opts: RenderOptions) -> tuple[str, str]:
    return str(value), errno_name(value)


def _flags_strings(evt: Event, i: int, param: Param, pt: PT, value: Any, raw_len: int,
                   opts: RenderOptions) -> tuple[str, str]:
    return str(value), resolve_flags(value, param.table)


def _path_value_strings(evt: Event, i: int, param: Param, pt: PT, value: Any, raw_len: int,
                        opts: RenderOptions) -> tuple[str, str]:
    return _path_strings(evt, i, param, value)


# get_param_as_str's branches, per param type (DYN params are unwrapped to one of these first)
_STRINGS: dict[PT, StringsFn] = {
    PT.FD: _fd_value_strings, PT.ERRNO: _errno_strings, PT.PID: _pid_strings,
    PT.FLAGS8: _flags_strings, PT.FLAGS16: _flags_strings, PT.FLAGS32: _flags_strings,
    PT.MODE: _mode_strings, PT.CHARBUF: _str_strings,
    PT.FSPATH: _path_value_strings, PT.FSRELPATH: _path_value_strings, PT.BYTEBUF: _buffer_strings,
    PT.SOCKADDR: _sockaddr_strings, PT.SOCKTUPLE: _socktuple_strings, PT.FDLIST: _fdlist_strings,
    PT.SYSCALLID: _syscallid_strings, PT.SIGTYPE: _signal_strings, PT.RELTIME: _reltime_strings,
    PT.ABSTIME: _abstime_strings, PT.UID: _uid_gid_strings, PT.GID: _uid_gid_strings,
    PT.BOOL: _plain_strings, PT.PORT: _plain_strings, PT.L4PROTO: _plain_strings,
    PT.SOCKFAMILY: _plain_strings, PT.SIGSET: _plain_strings, PT.IPV4ADDR: _ipv4_strings,
    PT.IPV6ADDR: _ipv6_strings, PT.DOUBLE: _double_strings,
}
for _pt in _WIDTH:
    _STRINGS.setdefault(_pt, _int_strings)  # (MODE keeps its own branch)

_NON_DECIMAL = frozenset({PF.HEX, PF.OCT, PF.PADDED_DEC})
_INLINED = {_fd_value_strings: _FD, _errno_strings: _ERRNO, _str_strings: _CHARBUF, _flags_strings: _FLAGS,
            _int_strings: _NUMBER, _path_value_strings: _PATH, _buffer_strings: _BUFFER}


def _args_plan(params: tuple[Param, ...]) -> tuple[PlanEntry, ...]:
    """Per param: ``name=``, the param, its kind and its strings function (None for DYN, which picks
    its type per value)."""
    plan = []
    for p in params:
        pt = p.type
        strings = None if pt is PT.DYN else _STRINGS.get(pt, _na_strings)
        kind = _INLINED.get(strings, _OTHER) if strings is not None else _OTHER
        if strings is _int_strings and pt is not PT.UINT64 and p.fmt not in _NON_DECIMAL:
            kind = _DECIMAL  # what format_number gives for these types and formats
        if pt in _NULL_WHEN_EMPTY:
            kind = _NULL_EMPTY
        plan.append((p.name + "=", p, kind, strings))
    return tuple(plan)
