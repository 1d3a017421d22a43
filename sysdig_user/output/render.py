"""Text of event params, exactly as sysdig 0.29.3 prints them in ``evt.args`` / ``evt.arg.X``.

Each param renders to two strings, as in libsinsp's ``sinsp_evt::get_param_as_str``: the value
(``3``, ``4097``, ``-2``) and an optional resolved form (``<f>/etc/passwd``, ``O_RDONLY|O_CLOEXEC``,
``ENOENT``). ``evt.args`` joins them as ``name=value(resolved) ``; ``evt.arg.X`` shows the resolved
form when there is one. Resolution reads state (fd tables, thread names, cwd) at the moment the
event is printed, so the Inspector must call this before it applies the event's deferred removals.

Decoding lives in sysdig_user.params; this module only turns values into text (STYLE.md section 8).
"""
from __future__ import annotations

import base64
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntFlag
from typing import TYPE_CHECKING, Any

from sysdig_user.event_table import PF, PPM_SC, PT, Param
from sysdig_user.flags import FLAG_TABLES
from sysdig_user.output.names import errno_name, signal_name
from sysdig_user.params import AF_INET, AF_INET6, AF_UNIX

if TYPE_CHECKING:
    from sysdig_user.event import Event
    from sysdig_user.state.fds import FdInfo
    from sysdig_user.state.threads import ThreadInfo

# ppm_evt_hdr codes of the generic syscall events: evt.args is empty for them (sysdig hides the ID).
GENERIC_E, GENERIC_X = 0, 1
PPM_AT_FDCWD = -100
# scap_l4_proto -> the letter after the fd type char (sinsp_evt::render_fd): TCP, UDP, ICMP, RAW.
_L4_CHARS = {2: "t", 3: "u", 4: "i", 5: "r"}
# sysdig truncates data buffers to this many characters unless -v (sysdig.cpp: set_max_evt_output_len).
DEFAULT_MAX_LEN = 80


class BufferFormat(IntFlag):
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


@dataclass(slots=True)
class RenderOptions:
    """What the command line changes about param text.

    ``max_len``: 80 by default, 0 (no limit) with -v or when chisels run. ``lookup_thread`` resolves
    PID params to a command name (``ptid=11310(bash)``); without it the thread table of the state
    view attached to the event is used (sysdig_user.fields.base.lookup_thread).
    """

    buffer_format: BufferFormat = BufferFormat.NORMAL
    max_len: int = DEFAULT_MAX_LEN
    lookup_thread: Callable[[int], ThreadInfo | None] | None = None


DEFAULT_OPTIONS = RenderOptions()

# ----------------------------------------------------------------------------------------- buffers


def _printable(b: int) -> bool:
    return 0x20 <= b < 0x7F


_DOTS = bytes(b if _printable(b) else 0x2E for b in range(256))


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
    return base64.b64encode(data).decode("ascii")


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


def format_number(value: int, pt: PT, fmt: PF) -> str:
    """SET_NUMERIC_FORMAT: OCT is ``%#o``, HEX is ``%X`` of the two's complement, PADDED_DEC ``%09``.

    UINT64 prints through a signed cast in sinsp (``*(int64_t *)payload``), so 2**64-1 prints -1.
    """
    if fmt is PF.HEX:
        return "%X" % (value & ((1 << _WIDTH.get(pt, 64)) - 1))
    if fmt is PF.OCT:
        v = value & ((1 << _WIDTH.get(pt, 64)) - 1)
        return f"0{v:o}" if v else "0"
    if pt is PT.UINT64 and value >= 1 << 63:
        value -= 1 << 64
    if fmt is PF.PADDED_DEC:
        return f"{value:09d}"
    return str(value)


def resolve_flags(value: int, table: str | None) -> str:
    """Walk the flag table in order (sinsp PT_FLAGS*): every entry whose bits are all set is named
    and its bits cleared; the walk stops at the entry equal to the whole value, which is named too.
    A zero entry only matches a zero value."""
    if table is None:
        return ""
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


def ipv4_text(raw: bytes) -> str:
    return f"{raw[0]}.{raw[1]}.{raw[2]}.{raw[3]}"


def ipv6_text(raw: bytes) -> str:
    """inet_ntop's spelling (glibc writes IPv4-mapped addresses as ``::ffff:1.2.3.4``)."""
    return socket.inet_ntop(socket.AF_INET6, raw)


def _is_v4_mapped(raw: bytes) -> bool:
    """sinsp_utils::is_ipv4_mapped_ipv6: ::ffff:a.b.c.d, and also the all-zero address."""
    return raw[:10] == b"\0" * 10 and (raw[10:12] == b"\xff\xff" or raw[10:] == b"\0" * 6)


def sockaddr_text(value: tuple[Any, ...]) -> str:
    fam = value[0]
    if fam == AF_UNIX:
        return sanitize(value[1])
    if fam == AF_INET:
        return "INVALID IPv4" if len(value) < 3 else f"{ipv4_text(value[1])}:{value[2]}"
    if fam == AF_INET6:
        return "INVALID IPv6" if len(value) < 3 else f"{ipv6_text(value[1])}:{value[2]}"
    return f"family {fam}"


def socktuple_text(value: tuple[Any, ...]) -> str:
    """``sip:sport->dip:dport``; IPv4-mapped IPv6 pairs print as IPv4; unix ``%x->%x path``."""
    fam = value[0]
    if fam == AF_INET:
        if len(value) < 5:
            return "INVALID IPv4"
        return f"{ipv4_text(value[1])}:{value[2]}->{ipv4_text(value[3])}:{value[4]}"
    if fam == AF_INET6:
        if len(value) < 5:
            return "INVALID IPv6"
        sip, sport, dip, dport = value[1], value[2], value[3], value[4]
        if _is_v4_mapped(sip) and _is_v4_mapped(dip):
            return f"{ipv4_text(sip[12:])}:{sport}->{ipv4_text(dip[12:])}:{dport}"
        return f"{ipv6_text(sip)}:{sport}->{ipv6_text(dip)}:{dport}"
    if fam == AF_UNIX:
        if len(value) < 4:
            return "family 1"
        return f"{value[1]:x}->{value[2]:x} {sanitize(value[3])}"
    return f"family {fam}"


# ------------------------------------------------------------------------------------------- paths

_INVALID = {c: None for c in range(0x20)}
_INVALID[0x7F] = None


_CONTROL = re.compile("[\x00-\x1f\x7f]")


def sanitize(text: str) -> str:
    """sanitize_string: drop control characters from names before printing them."""
    if _CONTROL.search(text) is None:  # nearly always: a search is much cheaper than translate
        return text
    return text.translate(_INVALID)


def concatenate_paths(base: str, path: str) -> str:
    """sinsp_utils::concatenate_paths for a relative ``path``: ``base`` (ends with '/') + path,
    with '.', '..' and repeated slashes folded."""
    parts: list[str] = []
    for comp in (base + path).split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if parts:
                parts.pop()
            continue
        parts.append(comp)
    joined = "/" + "/".join(parts)
    if path.endswith("/") and joined != "/":
        joined += "/"
    return joined


def _base_dir(evt: Event, param: Param, thread: ThreadInfo) -> str:
    """cwd for FSPATH; for FSRELPATH the dirfd's path (or cwd for AT_FDCWD), '' if unknown."""
    cwd = thread.cwd or "/"
    if not cwd.endswith("/"):
        cwd += "/"
    if param.type is not PT.FSRELPATH or param.dirfd is None:
        return cwd
    dirfd = evt.param(param.dirfd)
    if not isinstance(dirfd, int) or dirfd == PPM_AT_FDCWD:
        return cwd
    info = thread.fdtable.get(dirfd)
    if info is None or not info.name:
        return ""
    return sanitize(info.name) + "/"


def _path_strings(evt: Event, i: int, param: Param, value: str) -> tuple[str, str]:
    text = sanitize(value)
    thread = evt.thread
    if thread is None or not value or value.startswith(("<NA>", "/")):
        return text, ""
    base = _base_dir(evt, param, thread)
    if not base:
        return text, ""
    return text, concatenate_paths(base, value)


# --------------------------------------------------------------------------------------------- fds


def fd_resolved(info: FdInfo) -> str:
    """``<f>/etc/passwd``, ``<4t>1.2.3.4:5->6.7.8.9:80``: type char, L4 letter for sockets, name."""
    proto = _L4_CHARS.get(info.shown_l4proto, "")
    return f"<{info.typechar}{proto}>{sanitize(info.name)}"


def _fd_strings(evt: Event, fd: int) -> tuple[str, str]:
    thread = evt.thread
    if thread is None:
        return str(fd), ""
    if fd >= 0:
        info = thread.fdtable.get(fd)
        return str(fd), fd_resolved(info) if info is not None else ""
    if fd == PPM_AT_FDCWD:
        return str(fd), "AT_FDCWD"
    return str(fd), errno_name(fd)


def _fdlist_text(evt: Event, value: tuple[tuple[int, int], ...]) -> str:
    thread = evt.thread
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


def _value_strings(evt: Event, i: int, param: Param, pt: PT, value: Any, raw_len: int,
                   opts: RenderOptions) -> tuple[str, str]:
    """(value, resolved) for one decoded param of concrete type ``pt`` (DYN already unwrapped)."""
    fmt = param.fmt
    if pt is PT.FD:
        return _fd_strings(evt, value)
    if pt is PT.ERRNO:
        return str(value), errno_name(value)
    if pt is PT.PID:
        lookup = opts.lookup_thread
        info = lookup(value) if lookup is not None else _state_thread(evt, value)
        return str(value), info.comm if info is not None else ""
    if pt in (PT.FLAGS8, PT.FLAGS16, PT.FLAGS32):
        return str(value), resolve_flags(value, param.table)
    if pt is PT.MODE:
        return format_number(value, pt, fmt), resolve_flags(value, param.table)
    if pt in _WIDTH:
        return format_number(value, pt, fmt), ""
    if pt is PT.CHARBUF:
        return value, ""
    if pt in (PT.FSPATH, PT.FSRELPATH):
        return _path_strings(evt, i, param, value)
    if pt is PT.BYTEBUF:
        return render_buffer(value, opts.buffer_format, opts.max_len), ""
    if pt is PT.SOCKADDR:
        return sockaddr_text(value) if value is not None else "NULL", ""
    if pt is PT.SOCKTUPLE:
        return socktuple_text(value) if value is not None else "NULL", ""
    if pt is PT.FDLIST:
        return _fdlist_text(evt, value), ""
    if pt is PT.SYSCALLID:
        if value >= len(PPM_SC):
            return "<unknown syscall>", ""
        return str(value), PPM_SC[value].name
    if pt is PT.SIGTYPE:
        return str(value), signal_name(value)
    if pt is PT.RELTIME:
        return str(value), f"{value / 1e9:g}s"
    if pt is PT.ABSTIME:
        return abstime_text(value), ""
    if pt in (PT.UID, PT.GID):
        return _id_strings(evt, pt, value)
    if pt in (PT.BOOL, PT.PORT, PT.L4PROTO, PT.SOCKFAMILY, PT.SIGSET):
        return str(value), ""
    if pt is PT.IPV4ADDR:
        return ipv4_text(value), ""
    if pt is PT.IPV6ADDR:
        return ipv6_text(value), ""
    if pt is PT.DOUBLE:
        return f"{value:f}", ""
    return "(n.a.)", ""


def _id_strings(evt: Event, pt: PT, value: int) -> tuple[str, str]:
    """PT_UID/PT_GID: the id and its user or group name from the state's tables, "<NA>" when unknown,
    ``-1(<NONE>)`` for (uint32)-1 (sinsp_evt::get_param_as_str)."""
    if value >= 0xFFFFFFFF:
        return "-1", "<NONE>"
    users = getattr(getattr(evt, "_state", None), "users", None)
    entry: Any = None
    if users is not None:
        entry = users.user(value) if pt is PT.UID else users.group(value)
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

    Same text as joining param_strings, through a per-event-type plan (param names, types and the
    _value_strings branch of each type chosen once)."""
    code = evt.type
    plan = _ARGS_PLANS.get(code)
    if plan is None:
        info = evt.info
        if info is None or code in (GENERIC_E, GENERIC_X):
            return ""
        plan = _ARGS_PLANS[code] = _args_plan(info.params)
    opts = opts or DEFAULT_OPTIONS
    parts = []
    for i, value in enumerate(evt.param_values()):
        prefix, p, pt, null_when_empty, strings = plan[i]
        if strings is _decimal_strings:  # most numbers: their decimal text, nothing resolved
            parts.append(f"{prefix}{value} ")
            continue
        if null_when_empty and not evt.rawparam(i):
            parts.append(prefix + "NULL ")
            continue
        if strings is None:
            if value is None:
                parts.append(prefix + "NULL ")
                continue
            idx, value = value
            sub = p.dyn[idx] if idx < len(p.dyn) else PT.BYTEBUF
            text, resolved = _value_strings(evt, i, p, sub, value, 0, opts)
        else:
            text, resolved = strings(evt, i, p, pt, value, 0, opts)
        if resolved:
            parts.append(f"{prefix}{text}({resolved}) ")
        else:
            parts.append(prefix + text + " ")
    return "".join(parts)


ArgsPlan = tuple[tuple[str, Param, PT, bool, "Callable[..., tuple[str, str]] | None"], ...]
_ARGS_PLANS: dict[int, ArgsPlan] = {}


def _int_strings(evt: Event, i: int, param: Param, pt: PT, value: Any, raw_len: int,
                 opts: RenderOptions) -> tuple[str, str]:
    return format_number(value, pt, param.fmt), ""


def _decimal_strings(evt: Event, i: int, param: Param, pt: PT, value: Any, raw_len: int,
                     opts: RenderOptions) -> tuple[str, str]:
    return str(value), ""  # what format_number gives for the types and formats _args_plan picks


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


# the _value_strings branches of the most frequent types
_FAST_STRINGS: dict[PT, Callable[..., tuple[str, str]]] = {
    PT.FD: _fd_value_strings, PT.ERRNO: _errno_strings, PT.CHARBUF: _str_strings,
    PT.FSPATH: _path_value_strings, PT.FSRELPATH: _path_value_strings,
    PT.FLAGS8: _flags_strings, PT.FLAGS16: _flags_strings, PT.FLAGS32: _flags_strings,
}
_FAST_STRINGS.update((pt, _int_strings) for pt in _WIDTH if pt is not PT.MODE)


_NON_DECIMAL = frozenset({PF.HEX, PF.OCT, PF.PADDED_DEC})


def _args_plan(params: tuple[Param, ...]) -> ArgsPlan:
    """Per param: ``name=``, the param, its type, whether an empty value prints NULL, and the
    strings function (None for DYN, which picks its type per value)."""
    plan = []
    for p in params:
        pt = p.type
        strings = None if pt is PT.DYN else _FAST_STRINGS.get(pt, _value_strings)
        if strings is _int_strings and pt is not PT.UINT64 and p.fmt not in _NON_DECIMAL:
            strings = _decimal_strings
        plan.append((p.name + "=", p, pt, pt in _NULL_WHEN_EMPTY, strings))
    return tuple(plan)
