"""File descriptor state: one FdInfo per open fd, in tables shared by the threads of a process.

Mirrors libsinsp's sinsp_fdinfo (libs e5c53d64): the fd type decides which of the name or socket-tuple
fields are set. Parsers (state/parsers_*.py) create and update these; fields read them through
``Event.fdinfo``. Socket names follow sinsp's ``sockinfo_to_str``/``get_param_as_str`` spelling
(``10.0.0.2:40000->93.184.216.34:80``, ``2001:db8::1:80``, ``0->ffff9a00 /run/x.sock``) because
sysdig prints ``fd.name`` straight from the stored name.
"""
from __future__ import annotations

from sysdig_user.consts import IntConst
from sysdig_user.rows import Record
from sysdig_user.scap.records import FdType
from sysdig_user.state.fdorder import OrderLog

__all__ = ["TYPE_CHARS", "FdInfo", "FdTable", "FdType", "Role"]


# The character sysdig shows in fd=N(<c>name) and fd.typechar.
TYPE_CHARS: dict[FdType, str] = {
    FdType.FILE: "f", FdType.FILE_V2: "f", FdType.DIRECTORY: "d",
    FdType.IPV4_SOCK: "4", FdType.IPV4_SERVSOCK: "4", FdType.IPV6_SOCK: "6", FdType.IPV6_SERVSOCK: "6",
    FdType.FIFO: "p", FdType.UNIX_SOCK: "u", FdType.EVENT: "e", FdType.UNSUPPORTED: "X",
    FdType.SIGNALFD: "s", FdType.EVENTPOLL: "l", FdType.INOTIFY: "i", FdType.TIMERFD: "t",
    FdType.NETLINK: "n", FdType.BPF: "b", FdType.USERFAULTFD: "u",
}

IP_SOCKS = frozenset({FdType.IPV4_SOCK, FdType.IPV6_SOCK})
SERVER_SOCKS = frozenset({FdType.IPV4_SERVSOCK, FdType.IPV6_SERVSOCK})


class Role(IntConst):
    """Which end of a connection this fd is (sinsp FLAGS_ROLE_CLIENT / FLAGS_ROLE_SERVER)."""

    NONE = 0
    CLIENT = 1
    SERVER = 2


class L4(IntConst):
    """scap_l4_proto."""

    UNKNOWN = 0
    NA = 1
    TCP = 2
    UDP = 3
    ICMP = 4
    RAW = 5


class FdInfo(Record):
    _fields = ("fd", "type", "name", "open_flags", "dev", "ino", "sip", "sport", "dip", "dport", "l4proto", "role",
               "unix_source", "unix_dest", "connected", "extra")
    __slots__ = _fields
    fd: int
    type: FdType
    name: str
    open_flags: int  # PPM_O_* bits
    dev: int
    ino: int
    # sockets: addresses are raw network-order bytes (4 or 16), ports host order. Server sockets
    # (IPV*_SERVSOCK) keep their one address in sip/sport, as sinsp's m_ipv4serverinfo does.
    sip: bytes
    sport: int
    dip: bytes
    dport: int
    l4proto: int  # scap l4 proto: 0 unknown, 1 n/a, 2 tcp, 3 udp, 4 icmp, 5 raw
    role: Role
    unix_source: int
    unix_dest: int
    connected: bool
    # per-fd counters some fields and chisels use
    extra: dict[str, object]

    def __init__(self, fd: int, type: FdType, name: str = "", open_flags: int = 0, dev: int = 0, ino: int = 0,
                 sip: bytes = b"", sport: int = 0, dip: bytes = b"", dport: int = 0, l4proto: int = 0,
                 role: Role = Role.NONE, unix_source: int = 0, unix_dest: int = 0, connected: bool = False,
                 extra: dict[str, object] | None = None) -> None:
        self.fd = fd
        self.type = type
        self.name = name
        self.open_flags = open_flags
        self.dev = dev
        self.ino = ino
        self.sip = sip
        self.sport = sport
        self.dip = dip
        self.dport = dport
        self.l4proto = l4proto
        self.role = role
        self.unix_source = unix_source
        self.unix_dest = unix_dest
        self.connected = connected
        self.extra = {} if extra is None else extra

    @property
    def typechar(self) -> str:
        return TYPE_CHARS.get(self.type, "o")

    @property
    def is_ip_socket(self) -> bool:
        return self.type in IP_SOCKS

    @property
    def is_tcp(self) -> bool:
        return self.type in IP_SOCKS and self.l4proto == L4.TCP

    @property
    def shown_l4proto(self) -> int:
        """sinsp get_l4proto, what fd.l4proto and the ``<4t>`` letter show: a connection socket
        reports SCAP_L4_NA until it has a role (bind to a port, connect, accept or a datagram's role
        guess), except a raw one; a server socket its stored protocol; anything else SCAP_L4_NA."""
        if self.type in IP_SOCKS:
            if self.l4proto == L4.RAW:
                return L4.RAW
            return L4.NA if self.role == Role.NONE else self.l4proto
        if self.type in SERVER_SOCKS:
            return self.l4proto
        return L4.NA

    def clone(self, fd: int) -> FdInfo:
        """A copy under a new number (dup, fork): later changes to one do not touch the other."""
        cls = self.__class__
        new = cls.__new__(cls)  # (copy.copy, without the import of copy and weakref at start-up)
        for name in cls.__slots__:
            setattr(new, name, getattr(self, name))
        new.fd = fd
        new.extra = dict(self.extra)
        return new


class FdTable:
    """fd number -> FdInfo for one process (threads created with CLONE_FILES share the table).

    ``fds`` is the lookup dict (read it freely; change it only through ``add``/``remove``/``load``,
    which also keep ``order``: the order sysdig's libstdc++ ``unordered_map`` would list the fds in,
    state/fdorder.py). ``in_sysdig_order`` gives that order, for the chisels that list fds."""

    __slots__ = ("fds", "order")

    def __init__(self) -> None:
        self.fds: dict[int, FdInfo] = {}
        self.order = OrderLog()

    def get(self, fd: int) -> FdInfo | None:
        return self.fds.get(fd)

    def add(self, info: FdInfo) -> FdInfo:
        """sinsp_fdtable::add: a new fd is inserted, an fd already there is overwritten in place."""
        fds = self.fds
        if info.fd not in fds:
            self.order.insert(info.fd)
        fds[info.fd] = info
        return info

    def load(self, info: FdInfo) -> None:
        """An entry of the capture's fd list (FDL): scap's per-process list puts a repeated fd last
        (scap_add_fd_to_proc_table deletes, then adds), and sinsp inserts the list in that order."""
        fds = self.fds
        order = self.order
        if info.fd in fds:
            order.erase(info.fd)
        order.insert(info.fd)
        fds[info.fd] = info

    def remove(self, fd: int) -> FdInfo | None:
        """sinsp_fdtable::erase."""
        info = self.fds.pop(fd, None)
        if info is not None:
            self.order.erase(fd)
        return info

    def copy(self) -> FdTable:
        """A deep copy, as a forked child gets (sinsp copies every fd, ignoring O_CLOEXEC); the copied
        unordered_map keeps the parent's order and bucket count."""
        new = FdTable()
        new.fds = {fd: info.clone(fd) for fd, info in self.fds.items()}
        new.order = self.order.copy()
        return new

    def in_sysdig_order(self) -> list[tuple[int, FdInfo]]:
        """(fd, info) pairs in the order sysdig iterates its fd table."""
        fds = self.fds
        return [(fd, fds[fd]) for fd in self.order]

    def __len__(self) -> int:
        return len(self.fds)


# ------------------------------------------------------------------------------------- address names

_UNPRINTABLE = {c: None for c in range(0x20)}
_UNPRINTABLE[0x7F] = None


def sanitize(text: str) -> str:
    """sinsp's sanitize_string / strcpy_sanitized (g_invalidchar): every byte that is not printable ASCII
    is dropped, control characters and every byte of a non-ASCII character alike (``café\n.txt`` ->
    ``caf.txt``). sysdig applies it to path, address and tuple params as it prints them (evt.args,
    evt.info, evt.arg.*) and to the names of the fds a capture's FDL lists."""
    if text.isascii():
        return text if text.isprintable() else text.translate(_UNPRINTABLE)
    return "".join(c for c in text if " " <= c <= "~")


def unix_tuple_name(source: int, dest: int, path: str) -> str:
    """``%lx->%lx path``: how sinsp renders an AF_UNIX socket tuple (the path sanitized)."""
    return f"{source:x}->{dest:x} {sanitize(path)}"


# The one place addresses become text (render's params, the fields, the fd names).

def ipv4_text(addr: bytes) -> str:
    """inet_ntop's dotted quad of a 4-byte address."""
    return f"{addr[0]}.{addr[1]}.{addr[2]}.{addr[3]}"


def ipv6_text(addr: bytes) -> str:
    """inet_ntop of a 16-byte address: glibc's spelling (``2001:db8::3``; IPv4-mapped ones as
    ``::ffff:1.2.3.4``)."""
    import _socket  # (the C module: socket.py costs ~2 ms of start-up; _socket on first use: ~1M instructions)

    return _socket.inet_ntop(_socket.AF_INET6, addr)


def ip_str(addr: bytes) -> str:
    """inet_ntop of a raw address (4 or 16 bytes), "" for another length."""
    if len(addr) == 4:
        return ipv4_text(addr)
    if len(addr) == 16:
        return ipv6_text(addr)
    return ""


def is_ipv4_mapped(addr: bytes) -> bool:
    """True for ::ffff:a.b.c.d (sinsp_utils::is_ipv4_mapped_ipv6 also accepts the all-zero address)."""
    return len(addr) == 16 and (addr[:12] == b"\0" * 10 + b"\xff\xff" or addr == b"\0" * 16)


class PortNames:
    """``-R`` (``--resolve-ports``): the ports in socket names and tuple arguments print as their
    services(5) names where one exists (sinsp's port_to_string: getservbyport for the socket's protocol,
    any protocol when unknown); the numeric fields (fd.sport, fd.rport, ...) stay numbers. One switch
    for the process, set by each Session."""

    on = False


_SERVICE_PROTO = {"tcp": "tcp", "udp": "udp"}
_service_names: dict[tuple[int, str | None], str] = {}


def port_str(port: int, proto: str | None = None) -> str:
    """A port as socket names print it: the number, or with -R its service name."""
    if not PortNames.on:
        return str(port)
    key = (port, proto)
    name = _service_names.get(key)
    if name is None:
        import _socket  # (on first use)

        try:
            name = _socket.getservbyport(port, proto) if proto else _socket.getservbyport(port)
        except (OSError, OverflowError, TypeError):
            name = str(port)
        _service_names[key] = name
    return name


def tuple_name(sip: bytes, sport: int, dip: bytes, dport: int, proto: str | None = None) -> str:
    """``sip:sport->dip:dport`` as sinsp's ipv4tuple_to_string / ipv6tuple_to_string (ports numeric, or
    named with -R: PortNames)."""
    if PortNames.on:
        return f"{ip_str(sip)}:{port_str(sport, proto)}->{ip_str(dip)}:{port_str(dport, proto)}"
    return f"{ip_str(sip)}:{sport}->{ip_str(dip)}:{dport}"


def l4_name(l4proto: int) -> str | None:
    """getservbyport's protocol for an fd's L4 protocol (None: any)."""
    return "tcp" if l4proto == L4.TCP else "udp" if l4proto == L4.UDP else None


def sockinfo_name(info: FdInfo) -> str:
    """The name sinsp gives a socket fd from its current addresses (sinsp_utils::sockinfo_to_str): ports
    only for TCP/UDP, ``sip->dip`` for ICMP (and RAW on IPv4), ``<unknown>`` for any other protocol
    (e.g. an AF_INET6 socket turned IPv4 by a mapped tuple, whose protocol byte is then zero)."""
    if info.type in IP_SOCKS:
        if info.l4proto in (L4.TCP, L4.UDP):
            return tuple_name(info.sip, info.sport, info.dip, info.dport, l4_name(info.l4proto))
        bare = info.l4proto == L4.ICMP or (info.l4proto == L4.RAW and info.type == FdType.IPV4_SOCK)
        return f"{ip_str(info.sip)}->{ip_str(info.dip)}" if bare else "<unknown>"
    if info.type in SERVER_SOCKS:
        return f"{ip_str(info.sip)}:{port_str(info.sport, l4_name(info.l4proto))}"
    return info.name
