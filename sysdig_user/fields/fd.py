"""The fd.* fields: the file descriptor an event uses, as the state engine knows it.

libsinsp sinsp_filter_check_fd (libs e5c53d64). Only events flagged CREATES_FD, USES_FD or DESTROYS_FD
have fd fields. The fd is ``Event.fdinfo`` (else the thread's table entry for ``Event.fdnum``); when
there is none, the fd-creating exits still give a name from their own params (a failed open still has
a path), which is sinsp's extract_from_null_fd. Client/server addresses follow the socket's role; the
local/remote ones ask whether the client address belongs to this machine (the view's interface list).
"""
from __future__ import annotations

import _socket as socket  # the C module: socket.py itself costs ~2 ms of start-up
from _collections_abc import Callable  # (collections.abc without collections)
from functools import lru_cache

from sysdig_user.event_table import EF, EVENTS, PF, PT, SDU_EXTENSION_BASE, event_code
from sysdig_user.fields.base import (
    Custom,
    Extractor,
    FieldClass,
    FieldDef,
    FieldFlag,
    NetLiteral,
    ip_text,
    plain,
    view_of,
)
from sysdig_user.fields.container import container_id
from sysdig_user.state.fds import FdInfo, FdType, Role
from sysdig_user.state.parsers_files import concatenate_paths

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)

if TYPE_CHECKING:
    from typing import Any

    from sysdig_user.event import Event
    from sysdig_user.state.threads import ThreadInfo

# sdu's packet event carries a synthetic socket fd (state/parsers_packet.py)
_FD_FLAGS = int(EF.CREATES_FD | EF.USES_FD | EF.DESTROYS_FD)
_FD_EVENTS = frozenset(e.code for e in EVENTS if int(e.flags) & _FD_FLAGS) \
    | {SDU_EXTENSION_BASE}
_CONTAINER_JSON_E = event_code("container", True)
V4, V6, V4S, V6S = FdType.IPV4_SOCK, FdType.IPV6_SOCK, FdType.IPV4_SERVSOCK, FdType.IPV6_SERVSOCK
_SOCKS = frozenset({V4, V6})
_ALL_IP = frozenset({V4, V6, V4S, V6S})
_FILES = frozenset({FdType.FILE, FdType.FILE_V2})


def fd_of(evt: Event) -> tuple[ThreadInfo, FdInfo | None] | None:
    """sinsp extract_fd: (thread, fd or None) for fd events with a thread, else None."""
    if evt.type not in _FD_EVENTS:
        return None
    t = evt.thread
    if t is None:
        return None
    fdinfo = evt.fdinfo
    if fdinfo is None and evt.fdnum != -1:
        fdinfo = t.fdtable.get(evt.fdnum)
    return t, fdinfo


def _fdinfo(evt: Event) -> FdInfo | None:
    got = fd_of(evt)
    return None if got is None else got[1]


# ------------------------------------------------------------------------------------------------ names

def _codes(*names: str, exit_only: bool = True) -> frozenset[int]:
    return frozenset(e.code for e in EVENTS if e.name in names and (e.code & 1 or not exit_only))


_NAME_FROM_P1 = _codes("open", "accept", "creat", "connect")
_OPENAT_EXITS = _codes("openat")
_CONNECT_X = _codes("connect")
PPM_AT_FDCWD = -100


def _fspath_resolved(evt: Event, t: ThreadInfo, path: str) -> str:
    """An FSPATH param's resolved text: the path joined to the cwd when relative, else ""."""
    if path.startswith(("/", "<NA>")):
        return ""
    from sysdig_user.fields.proc import thread_cwd

    cwd = thread_cwd(evt, t)
    return concatenate_paths(cwd if cwd.endswith("/") else cwd + "/", path)


def _tuple_text(value: Any) -> str:
    """A socktuple as sysdig prints it when the renderer is not there: "sip:sport->dip:dport"."""
    if isinstance(value, tuple) and len(value) == 5:
        return f"{ip_text(value[1])}:{value[2]}->{ip_text(value[3])}:{value[4]}"
    return ""


def _param1_text(evt: Event, t: ThreadInfo) -> str:
    from sysdig_user.fields.evt import TODO_RENDER, param_text

    value = evt.param(1) if evt.nparams > 1 else None
    info = evt.info
    if info is not None and len(info.params) > 1 and info.params[1].type is PT.FSPATH and isinstance(value, str):
        return _fspath_resolved(evt, t, value) or value
    text, resolved = param_text(evt, 1)
    if text == TODO_RENDER:
        return _tuple_text(value)
    return resolved or text


def _openat_name(evt: Event, t: ThreadInfo) -> str | None:
    """openat exit: join dirfd and name (old layout: from the paired enter event; new: own params)."""
    from sysdig_user.fields.proc import thread_cwd

    info = evt.info
    assert info is not None
    src = evt
    ni, di = info.param_index("name"), info.param_index("dirfd")
    if di < 0:  # the old openat exit has only fd; the enter event holds dirfd and name
        enter = evt.enter
        if enter is None or enter.info is None:
            return None
        src = enter
        ni, di = enter.info.param_index("name"), enter.info.param_index("dirfd")
    name = src.param(ni) if 0 <= ni < src.nparams else None
    dirfd = src.param(di) if 0 <= di < src.nparams else None
    if not isinstance(name, str):
        return None
    if name.startswith("/"):
        base = ""
    elif dirfd == PPM_AT_FDCWD:
        base = thread_cwd(evt, t)
    else:
        d = t.fdtable.get(dirfd) if isinstance(dirfd, int) else None
        base = "<UNKNOWN>" if d is None else d.name
    if base and not base.endswith("/"):
        base += "/"
    return concatenate_paths(base, name) if base or name.startswith("/") else name


def creator_name(evt: Event, t: ThreadInfo) -> str | None:
    """sinsp extract_fdname_from_creator: the name an fd-creating exit carries; "" for other exits."""
    code = evt.type
    if not code & 1:
        return None
    if code in _NAME_FROM_P1:
        return _param1_text(evt, t)
    if code in _OPENAT_EXITS:
        return _openat_name(evt, t)
    return ""


def _name_with(evt: Event, with_container: bool) -> str | None:
    got = fd_of(evt)
    if got is None:
        return None
    t, fdinfo = got
    if fdinfo is None or (evt.type in _CONNECT_X and _failed_connect(evt)):
        name = creator_name(evt, t)
    else:
        name = fdinfo.name
    if name is None:
        return None
    return container_id(t) + ":" + name if with_container else name


def _failed_connect(evt: Event) -> bool:
    res = evt.param(0) if evt.nparams else None
    return isinstance(res, int) and res < 0


def _name(evt: Event) -> str | None:
    return _name_with(evt, False)


def _containername(evt: Event) -> str | None:
    return _name_with(evt, True)


def _dir_of(name: str) -> str:
    pos = name.rfind("/")
    if pos > 0:
        return name[:pos] if pos < len(name) - 1 else name
    return "/"


def _directory_with(evt: Event, with_container: bool) -> str | None:
    got = fd_of(evt)
    if got is None:
        return None
    t, fdinfo = got
    if fdinfo is None:
        name = creator_name(evt, t)
        if name is None:
            return None
        d = _dir_of(name)
    elif fdinfo.type in _FILES:
        d = _dir_of(fdinfo.name)
    elif fdinfo.type is FdType.DIRECTORY:
        d = fdinfo.name
    else:
        return None
    return container_id(t) + ":" + d if with_container else d


def _directory(evt: Event) -> str | None:
    return _directory_with(evt, False)


def _containerdirectory(evt: Event) -> str | None:
    return _directory_with(evt, True)


def _filename(evt: Event) -> str | None:
    fdinfo = _fdinfo(evt)
    if fdinfo is None or fdinfo.type not in _FILES:
        return None  # sinsp's null-fd branch only accepts enter events, which have no creator name
    name = fdinfo.name
    pos = name.rfind("/")
    if pos < 0:
        return "/"
    return name[pos + 1:] if pos < len(name) - 1 else name


_TYPE_NAMES = {
    FdType.FILE: "file", FdType.FILE_V2: "file", FdType.DIRECTORY: "directory", V4: "ipv4", V4S: "ipv4",
    V6: "ipv6", V6S: "ipv6", FdType.UNIX_SOCK: "unix", FdType.FIFO: "pipe", FdType.EVENT: "event",
    FdType.SIGNALFD: "signalfd", FdType.EVENTPOLL: "eventpoll", FdType.INOTIFY: "inotify",
    FdType.TIMERFD: "timerfd", FdType.NETLINK: "netlink", FdType.BPF: "bpf",
    FdType.USERFAULTFD: "userfaultfd",
}


def _type(evt: Event) -> str | None:
    fdinfo = _fdinfo(evt)
    return None if fdinfo is None else _TYPE_NAMES.get(fdinfo.type, "<NA>")


# typechar of a missing fd, by the (enter) event that would have created it
_NULL_TYPECHAR: dict[str, str] = {"open": "f", "openat": "f", "creat": "f", "socket": "4", "accept": "4",
                                  "pipe": "p", "eventfd": "e", "signalfd": "s", "timerfd_create": "t",
                                  "inotify_init": "i"}


def _typechar(evt: Event) -> str | None:
    got = fd_of(evt)
    if got is None:
        return None
    fdinfo = got[1]
    if fdinfo is not None:
        return fdinfo.typechar
    return _NULL_TYPECHAR.get(evt.name, "o")


def _num(evt: Event) -> int | None:
    return None if fd_of(evt) is None else evt.fdnum


def _uid(evt: Event) -> str | None:
    if evt.type == _CONTAINER_JSON_E:
        return None
    got = fd_of(evt)
    return None if got is None else f"{got[0].tid}{evt.fdnum}"


# ------------------------------------------------------------------------------------------------ sockets

def _sock(evt: Event) -> tuple[ThreadInfo, FdInfo] | None:
    got = fd_of(evt)
    if got is None or got[1] is None:
        return None
    return got[0], got[1]


def _is_local(evt: Event, t: ThreadInfo, fdinfo: FdInfo, addr: bytes) -> bool:
    """sinsp is_ipv{4,6}addr_in_local_machine: the address is one of the capture's interfaces.
    A containerised thread counts every IPv4 address as local and no IPv6 one (no container IPs)."""
    view = view_of(evt)
    v6 = fdinfo.type in (V6, V6S)
    if container_id(t):
        return not v6
    if view is None:
        return False
    return view.interfaces.is_local_ipv6(addr) if v6 else view.interfaces.is_local_ipv4(addr)


def _cip(evt: Event) -> bytes | None:
    s = _sock(evt)
    if s is None or s[1].role is Role.NONE or s[1].type not in _SOCKS:
        return None
    return s[1].sip


def _sip(evt: Event) -> bytes | None:
    s = _sock(evt)
    if s is None or s[1].role is Role.NONE:
        return None
    fdinfo = s[1]
    if fdinfo.type in _SOCKS:
        return fdinfo.dip
    if fdinfo.type in (V4S, V6S):
        return fdinfo.sip
    return None


def _local_remote(evt: Event, local: bool, ports: bool) -> Any:
    s = _sock(evt)
    if s is None:
        return None
    t, fdinfo = s
    if fdinfo.type not in _SOCKS or fdinfo.role is Role.NONE:
        return None
    is_local = _is_local(evt, t, fdinfo, fdinfo.sip)
    use_source = is_local == local
    if ports:
        return fdinfo.sport if use_source else fdinfo.dport
    return fdinfo.sip if use_source else fdinfo.dip


def _lip(evt: Event) -> bytes | None:
    return _local_remote(evt, True, False)  # type: ignore[no-any-return]


def _rip(evt: Event) -> bytes | None:
    return _local_remote(evt, False, False)  # type: ignore[no-any-return]


def _lport(evt: Event) -> int | None:
    return _local_remote(evt, True, True)  # type: ignore[no-any-return]


def _rport(evt: Event) -> int | None:
    return _local_remote(evt, False, True)  # type: ignore[no-any-return]


def _cport(evt: Event) -> int | None:
    s = _sock(evt)
    if s is None or s[1].role is Role.NONE:
        return None
    # sinsp falls through into fd.cproto for a non-IP fd with a role and prints its empty text as 0
    return s[1].sport if s[1].type in _SOCKS else 0


def _sport(evt: Event) -> int | None:
    s = _sock(evt)
    if s is None:
        return None
    fdinfo = s[1]
    if fdinfo.type in _SOCKS:
        return None if fdinfo.role is Role.NONE else fdinfo.dport
    if fdinfo.type in (V4S, V6S):
        return fdinfo.sport
    return None


_L4_NAMES = {2: "tcp", 3: "udp", 4: "icmp", 5: "raw"}


def l4proto(fdinfo: FdInfo) -> int:
    """sinsp get_l4proto (FdInfo.shown_l4proto): SCAP_L4_NA (1) for a non-IP fd or a role-less socket."""
    return fdinfo.shown_l4proto


@lru_cache(maxsize=4096)
def port_name(port: int, proto: int, resolve: bool = True) -> str:
    """sinsp port_to_string: the service name for (port, tcp/udp) when known and wanted, else the number.
    sysdig 0.29.3 prints numbers unless asked otherwise (fd.sproto of port 53 is "53")."""
    pname = _L4_NAMES.get(proto)
    if resolve and pname in ("tcp", "udp"):
        try:
            return socket.getservbyport(port, pname)
        except OSError:
            pass
    return str(port)


def _resolve_ports(evt: Event) -> bool:
    return bool(getattr(view_of(evt), "resolve_ports", False))


def _proto_of(port_fn: Callable[[Event], int | None], servsock_ok: bool) -> Extractor:
    def extract(evt: Event) -> str | None:
        s = _sock(evt)
        if s is None:
            return None
        port = port_fn(evt)
        if port is None:
            return None
        if s[1].type not in _SOCKS:
            return ""  # sinsp builds no text for server sockets nor for fd.cport's fall-through
        return port_name(port, l4proto(s[1]), _resolve_ports(evt))
    return extract


_cproto = _proto_of(_cport, False)
_sproto = _proto_of(_sport, True)
_lproto = _proto_of(_lport, False)
_rproto = _proto_of(_rport, False)


def _l4proto(evt: Event) -> str | None:
    fdinfo = _fdinfo(evt)
    return None if fdinfo is None else _L4_NAMES.get(l4proto(fdinfo), "<NA>")


def _sockfamily(evt: Event) -> str | None:
    fdinfo = _fdinfo(evt)
    if fdinfo is None:
        return None
    if fdinfo.type in _ALL_IP:
        return "ip"
    return "unix" if fdinfo.type is FdType.UNIX_SOCK else None


def _is_server(evt: Event) -> bool | None:
    s = _sock(evt)
    if s is None:
        return None
    t, fdinfo = s
    if fdinfo.type in (V4S, V6S):
        return True
    if fdinfo.type in _SOCKS:
        return _is_local(evt, t, fdinfo, fdinfo.dip)
    return False


def _connected(evt: Event) -> bool | None:
    fdinfo = _fdinfo(evt)
    if fdinfo is None:
        return None
    flag = getattr(fdinfo, "connected", None)
    return bool(flag if flag is not None else fdinfo.extra.get("connected", False))


def _name_changed(evt: Event) -> bool | None:
    """True on the event that renamed the fd (the state engine records that event's number)."""
    fdinfo = _fdinfo(evt)
    if fdinfo is None:
        return None
    return fdinfo.extra.get("name_changed_at") == evt.num and evt.num != 0


def _no_dns(evt: Event) -> None:
    return None  # sinsp's DNS manager only answers live captures with DNS tracking on


_cip_name = _sip_name = _lip_name = _rip_name = _no_dns


def _dev(evt: Event) -> int | None:
    fdinfo = _fdinfo(evt)
    return None if fdinfo is None else fdinfo.dev & 0xFFFFFFFF


def _dev_major(evt: Event) -> int | None:
    fdinfo = _fdinfo(evt)
    return None if fdinfo is None else (fdinfo.dev & 0xFFF00) >> 8


def _dev_minor(evt: Event) -> int | None:
    fdinfo = _fdinfo(evt)
    return None if fdinfo is None else (fdinfo.dev & 0xFF) | ((fdinfo.dev >> 12) & 0xFFF00)


# ------------------------------------------------------------------------------------------------ filter-only

def _ips(evt: Event) -> list[bytes]:
    fdinfo = _fdinfo(evt)
    if fdinfo is None:
        return []
    if fdinfo.type in _SOCKS:
        return [fdinfo.sip, fdinfo.dip]
    if fdinfo.type in (V4S, V6S):
        return [fdinfo.sip]
    return []


def _ports(evt: Event) -> list[int]:
    fdinfo = _fdinfo(evt)
    if fdinfo is None:
        return []
    if fdinfo.type in _SOCKS:
        return [fdinfo.sport, fdinfo.dport]
    if fdinfo.type in (V4S, V6S):
        return [fdinfo.sport]
    return []


def _first(many: Callable[[Event], list[Any]]) -> Extractor:
    def extract(evt: Event) -> Any:
        vals = many(evt)
        return vals[0] if vals else None
    return extract


def _ip(arg: str | None) -> Custom:
    return Custom(_first(_ips), many=_ips)


def _port(arg: str | None) -> Custom:
    return Custom(_first(_ports), many=_ports)


def _proto(arg: str | None) -> Custom:
    return Custom(_first(_ports), many=_ports)  # sinsp compares fd.proto exactly like fd.port


def _net(arg: str | None) -> Custom:
    return Custom(_first(_ips), many=_ips, parse=NetLiteral)


def _net_of(fn: Extractor) -> Callable[[str | None], Custom]:
    def make(arg: str | None) -> Custom:
        return Custom(fn, parse=NetLiteral)
    return make


_cnet, _snet, _lnet, _rnet = _net_of(_cip), _net_of(_sip), _net_of(_lip), _net_of(_rip)


CLASS = FieldClass(
    "fd",
    "Every syscall that has a file descriptor in its arguments has these fields set with information "
    "related to the file.", (
    FieldDef("fd.num", PT.INT64, PF.ID,
        'the unique number identifying the file descriptor.',
        plain(_num)),
    FieldDef("fd.type", PT.CHARBUF, PF.DEC,
        "type of FD. Can be 'file', 'directory', 'ipv4', 'ipv6', 'unix', 'pipe', 'event', "
        "'signalfd', 'eventpoll', 'inotify' or 'signalfd'.",
        plain(_type)),
    FieldDef("fd.typechar", PT.CHARBUF, PF.DEC,
        "type of FD as a single character. Can be 'f' for file, 4 for IPv4 socket, 6 for IPv6 "
        "socket, 'u' for unix socket, p for pipe, 'e' for eventfd, 's' for signalfd, 'l' for "
        "eventpoll, 'i' for inotify, 'o' for unknown.",
        plain(_typechar)),
    FieldDef("fd.name", PT.CHARBUF, PF.NA,
        'FD full name. If the fd is a file, this field contains the full path. If the FD is a '
        'socket, this field contain the connection tuple.',
        plain(_name)),
    FieldDef("fd.directory", PT.CHARBUF, PF.NA,
        'If the fd is a file, the directory that contains it.',
        plain(_directory)),
    FieldDef("fd.filename", PT.CHARBUF, PF.NA,
        'If the fd is a file, the filename without the path.',
        plain(_filename)),
    FieldDef("fd.ip", PT.IPADDR, PF.NA,
        'matches the ip address (client or server) of the fd.',
        _ip, FieldFlag.FILTER_ONLY),
    FieldDef("fd.cip", PT.IPADDR, PF.NA,
        'client IP address.',
        plain(_cip)),
    FieldDef("fd.sip", PT.IPADDR, PF.NA,
        'server IP address.',
        plain(_sip)),
    FieldDef("fd.lip", PT.IPADDR, PF.NA,
        'local IP address.',
        plain(_lip)),
    FieldDef("fd.rip", PT.IPADDR, PF.NA,
        'remote IP address.',
        plain(_rip)),
    FieldDef("fd.port", PT.PORT, PF.DEC,
        'matches the port (either client or server) of the fd.',
        _port, FieldFlag.FILTER_ONLY),
    FieldDef("fd.cport", PT.PORT, PF.DEC,
        'for TCP/UDP FDs, the client port.',
        plain(_cport)),
    FieldDef("fd.sport", PT.PORT, PF.DEC,
        'for TCP/UDP FDs, server port.',
        plain(_sport)),
    FieldDef("fd.lport", PT.PORT, PF.DEC,
        'for TCP/UDP FDs, the local port.',
        plain(_lport)),
    FieldDef("fd.rport", PT.PORT, PF.DEC,
        'for TCP/UDP FDs, the remote port.',
        plain(_rport)),
    FieldDef("fd.l4proto", PT.CHARBUF, PF.NA,
        "the IP protocol of a socket. Can be 'tcp', 'udp', 'icmp' or 'raw'.",
        plain(_l4proto)),
    FieldDef("fd.sockfamily", PT.CHARBUF, PF.NA,
        "the socket family for socket events. Can be 'ip' or 'unix'.",
        plain(_sockfamily)),
    FieldDef("fd.is_server", PT.BOOL, PF.NA,
        "'true' if the process owning this FD is the server endpoint in the connection.",
        plain(_is_server)),
    FieldDef("fd.uid", PT.CHARBUF, PF.NA,
        'a unique identifier for the FD, created by chaining the FD number and the thread ID.',
        plain(_uid)),
    FieldDef("fd.containername", PT.CHARBUF, PF.NA,
        'chaining of the container ID and the FD name. Useful when trying to identify which '
        'container an FD belongs to.',
        plain(_containername)),
    FieldDef("fd.containerdirectory", PT.CHARBUF, PF.NA,
        'chaining of the container ID and the directory name. Useful when trying to identify '
        'which container a directory belongs to.',
        plain(_containerdirectory)),
    FieldDef("fd.proto", PT.PORT, PF.NA,
        'matches the protocol (either client or server) of the fd.',
        _proto, FieldFlag.FILTER_ONLY),
    FieldDef("fd.cproto", PT.CHARBUF, PF.NA,
        'for TCP/UDP FDs, the client protocol.',
        plain(_cproto)),
    FieldDef("fd.sproto", PT.CHARBUF, PF.NA,
        'for TCP/UDP FDs, server protocol.',
        plain(_sproto)),
    FieldDef("fd.lproto", PT.CHARBUF, PF.NA,
        'for TCP/UDP FDs, the local protocol.',
        plain(_lproto)),
    FieldDef("fd.rproto", PT.CHARBUF, PF.NA,
        'for TCP/UDP FDs, the remote protocol.',
        plain(_rproto)),
    FieldDef("fd.net", PT.IPNET, PF.NA,
        'matches the IP network (client or server) of the fd.',
        _net, FieldFlag.FILTER_ONLY),
    FieldDef("fd.cnet", PT.IPNET, PF.NA,
        'matches the client IP network of the fd.',
        _cnet, FieldFlag.FILTER_ONLY),
    FieldDef("fd.snet", PT.IPNET, PF.NA,
        'matches the server IP network of the fd.',
        _snet, FieldFlag.FILTER_ONLY),
    FieldDef("fd.lnet", PT.IPNET, PF.NA,
        'matches the local IP network of the fd.',
        _lnet, FieldFlag.FILTER_ONLY),
    FieldDef("fd.rnet", PT.IPNET, PF.NA,
        'matches the remote IP network of the fd.',
        _rnet, FieldFlag.FILTER_ONLY),
    FieldDef("fd.connected", PT.BOOL, PF.NA,
        "for TCP/UDP FDs, 'true' if the socket is connected.",
        plain(_connected)),
    FieldDef("fd.name_changed", PT.BOOL, PF.NA,
        'True when an event changes the name of an fd used by this event. This can occur in some '
        'cases such as udp connections where the connection tuple changes.',
        plain(_name_changed)),
    FieldDef("fd.cip.name", PT.CHARBUF, PF.NA,
        'Domain name associated with the client IP address.',
        plain(_cip_name)),
    FieldDef("fd.sip.name", PT.CHARBUF, PF.NA,
        'Domain name associated with the server IP address.',
        plain(_sip_name)),
    FieldDef("fd.lip.name", PT.CHARBUF, PF.NA,
        'Domain name associated with the local IP address.',
        plain(_lip_name)),
    FieldDef("fd.rip.name", PT.CHARBUF, PF.NA,
        'Domain name associated with the remote IP address.',
        plain(_rip_name)),
    FieldDef("fd.dev", PT.INT32, PF.HEX,
        'device number (major/minor) containing the referenced file',
        plain(_dev)),
    FieldDef("fd.dev.major", PT.INT32, PF.DEC,
        'major device number containing the referenced file',
        plain(_dev_major)),
    FieldDef("fd.dev.minor", PT.INT32, PF.DEC,
        'minor device number containing the referenced file',
        plain(_dev_minor)),
))
