"""State handlers for sockets: socket, bind, connect, accept, socketpair, and the tuple updates that
sendto/sendmsg/recvfrom/recvmsg make on sockets that have no tuple yet (datagram sockets).

Follows libsinsp parsers.cpp at libs e5c53d64: socket X needs its enter event (domain/type/proto),
bind makes a server socket when the port is non-zero, connect X names the fd after the tuple param,
accept X adds a server-role connected fd. Names use sinsp's spelling (see state/fds.py).
"""
from __future__ import annotations

from sysdig_user.params import AF_INET, AF_INET6, AF_UNIX
from sysdig_user.state.fds import (
    IP_SOCKS,
    L4,
    SERVER_SOCKS,
    FdInfo,
    FdType,
    Role,
    ip_str,
    is_ipv4_mapped,
    sanitize,
    sockinfo_name,
    tuple_name,
    unix_tuple_name,
)
from sysdig_user.state.parsers_files import Handler
from sysdig_user.state.threads import ThreadInfo
from sysdig_user.state.verdict import Verdict

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)

if TYPE_CHECKING:
    from typing import Any

    from sysdig_user.event import Event
    from sysdig_user.state.inspector import State

PPM_AF_NETLINK = 16
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW = 1, 2, 3
IPPROTO_IP, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_RAW = 0, 1, 6, 17, 255
EINPROGRESS = 115

SENDTO_X, SENDMSG_X, RECVFROM_X, RECVMSG_X = 31, 49, 35, 53
# where each exit finds its tuple: (in the enter event?, param index)
_TUPLE_PARAM = {SENDTO_X: (True, 2), SENDMSG_X: (True, 2), RECVFROM_X: (False, 2), RECVMSG_X: (False, 3)}


# ------------------------------------------------------------------------------------------ names

def sockaddr_str(addr: tuple[Any, ...] | None) -> str:
    """A SOCKADDR param as sinsp's PF_SIMPLE string: ``1.2.3.4:80``, ``2001:db8::1:80``, a unix path.
    IPv6 addresses are written as inet_ntop writes them, mapped ones too (``:::5353``)."""
    if addr is None:
        return ""
    if addr[0] in (AF_INET, AF_INET6):
        return f"{ip_str(addr[1])}:{addr[2]}"
    if addr[0] == AF_UNIX:
        return sanitize(str(addr[1]))
    return ""


def socktuple_str(tup: tuple[Any, ...] | None) -> str:
    """A SOCKTUPLE param as sinsp's PF_SIMPLE string (IPv4-mapped IPv6 pairs print as IPv4)."""
    if tup is None:
        return ""
    if tup[0] in (AF_INET, AF_INET6):
        sip, dip = tup[1], tup[3]
        if tup[0] == AF_INET6 and is_ipv4_mapped(sip) and is_ipv4_mapped(dip):
            sip, dip = sip[12:], dip[12:]
        return tuple_name(sip, tup[2], dip, tup[4])
    if tup[0] == AF_UNIX:
        return unix_tuple_name(tup[1], tup[2], tup[3])
    return ""


# ------------------------------------------------------------------------------------------ helpers

def _l4proto(sock_type: int, proto: int) -> int:
    if proto == IPPROTO_TCP:
        return L4.RAW if sock_type == SOCK_RAW else L4.TCP
    if proto == IPPROTO_UDP:
        return L4.RAW if sock_type == SOCK_RAW else L4.UDP
    if proto == IPPROTO_IP:
        base = sock_type & 0xFF  # SOCK_NONBLOCK/SOCK_CLOEXEC ride in the high bits
        return L4.TCP if base == SOCK_STREAM else L4.UDP if base == SOCK_DGRAM else L4.UNKNOWN
    if proto == IPPROTO_ICMP:
        return L4.RAW if sock_type == SOCK_RAW else L4.ICMP
    return L4.RAW if proto == IPPROTO_RAW else L4.UNKNOWN


def socket_info(fd: int, domain: int, stype: int, proto: int) -> FdInfo | None:
    """sinsp add_socket's new fd for a socket of this family, type and protocol; None for the unknown
    families, which are not added (INCLUDE_UNKNOWN_SOCKET_FDS off). (Also the compiled line's, for the
    socket exits it handles: output/fastline.py OP_SOCKET.)"""
    if domain == AF_UNIX:
        return FdInfo(fd, FdType.UNIX_SOCK)
    if domain in (AF_INET, AF_INET6):
        ftype = FdType.IPV4_SOCK if domain == AF_INET else FdType.IPV6_SOCK
        zero = bytes(4 if domain == AF_INET else 16)  # sinsp memsets the addresses
        return FdInfo(fd, ftype, l4proto=_l4proto(stype, proto), sip=zero, dip=zero)
    if domain == PPM_AF_NETLINK:
        return FdInfo(fd, FdType.NETLINK)
    return None


def add_socket(st: State, evt: Event, th: ThreadInfo, fd: int, domain: int, stype: int,
               proto: int) -> None:
    """sinsp add_socket: the socket_info fd added to the thread's table (and the event's fd)."""
    info = socket_info(fd, domain, stype, proto)
    if info is not None:
        evt.fdinfo = st.add_fd(th, info)


def _is_zero(addr: bytes) -> bool:
    return not addr.strip(b"\0")


def _set_addresses(info: FdInfo, sip: bytes, sport: int, dip: bytes, dport: int,
                   overwrite_dest: bool) -> bool:
    """Store a tuple; False when the fd already holds it (either direction). The source side is always
    replaced, the destination only when unset or ``overwrite_dest``: a datagram reply thus keeps the
    peer learnt from the first sendto, which is why sysdig shows ``8.8.8.8:53->8.8.8.8:53`` after a
    sendto/recvfrom pair (sinsp update_ipv4_addresses_and_ports). connect's exit does not overwrite
    either: only its enter's address moves the destination (see connect_exit)."""
    cur = (info.sip, info.sport, info.dip, info.dport)
    if info.type in IP_SOCKS and (cur == (sip, sport, dip, dport) or cur == (dip, dport, sip, sport)):
        return False
    changed = False
    if info.sip != sip or info.sport != sport:
        info.sip, info.sport = sip, sport
        changed = True
    if _is_zero(info.dip) or (overwrite_dest and info.dip != dip):
        info.dip = dip
        changed = True
    if info.dport == 0 or (overwrite_dest and info.dport != dport):
        info.dport = dport
        changed = True
    return changed


def _apply_ip_tuple(info: FdInfo, tup: tuple[Any, ...], overwrite_dest: bool = False) -> bool:
    """Set an INET/INET6 tuple, turning IPv4-mapped IPv6 pairs into an IPv4 socket. Like sinsp, the type
    is set first and the "unchanged" test then compares against it."""
    sip, dip = tup[1], tup[3]
    if tup[0] == AF_INET6 and not (is_ipv4_mapped(sip) and is_ipv4_mapped(dip)):
        _become_v6(info)
        return _set_addresses(info, sip, tup[2], dip, tup[4], overwrite_dest)
    if tup[0] == AF_INET6:
        sip, dip = sip[12:], dip[12:]
    _become_v4(info)
    return _set_addresses(info, sip, tup[2], dip, tup[4], overwrite_dest)


def _become_v4(info: FdInfo) -> None:
    """Retype a socket IPV4_SOCK. sinsp keeps an IPv6 socket's protocol at the end of m_ipv6info, but
    the IPv4 view reads it from byte 12 of the IPv6 source address (0, unknown, on a fresh socket).
    The IPv6 slot lies past every IPv4 field, so it is kept for a return to IPv6 (_become_v6)."""
    if info.type == FdType.IPV6_SOCK:
        info.extra["v6_l4proto"] = info.l4proto
        info.l4proto = info.sip[12] if len(info.sip) == 16 else L4.UNKNOWN
    info.type = FdType.IPV4_SOCK


def _become_v6(info: FdInfo) -> None:
    """Retype a socket IPV6_SOCK: an IPv6 socket that an IPv4-mapped (or all-zero) connect address
    made IPv4 for a while reads its protocol from the untouched IPv6 slot again (a connect to ``::``
    whose tuple is IPv6 shows ``udp``, not ``<unknown>``, in sysdig)."""
    if info.type == FdType.IPV4_SOCK and "v6_l4proto" in info.extra:
        info.l4proto = info.extra.pop("v6_l4proto")  # type: ignore[assignment]
    info.type = FdType.IPV6_SOCK


def _swap(info: FdInfo) -> None:
    info.sip, info.sport, info.dip, info.dport = info.dip, info.dport, info.sip, info.sport


def _v4_ports(info: FdInfo) -> tuple[int, int]:
    """(sport, dport) as sinsp reads them through m_ipv4info even for IPv6 fds (a union alias: for an
    IPv6 fd these are bytes 8-11 of the source address)."""
    if info.type == FdType.IPV6_SOCK and len(info.sip) == 16:
        return int.from_bytes(info.sip[8:10], "little"), int.from_bytes(info.sip[10:12], "little")
    return info.sport, info.dport


def _guess_role(st: State, th: ThreadInfo, info: FdInfo, incoming: bool) -> None:
    """sinsp set_net_role_by_guessing: server when this process owns the destination port."""
    sport, dport = _v4_ports(info)
    table = th.fdtable.fds.values()
    bound = any((o.type == FdType.IPV4_SOCK and o.dport == dport)
                or (o.type == FdType.IPV4_SERVSOCK and o.sport == dport) for o in table)
    if not bound:
        info.role = Role.CLIENT
        return
    uses_client = any(o.type == FdType.IPV4_SOCK and o.sport == sport for o in table)
    if not uses_client:
        info.role = Role.SERVER
    elif info.role == Role.NONE:
        info.role = Role.SERVER if incoming else Role.CLIENT


def _servsock_to_v4(info: FdInfo) -> None:
    """An IPv4 server socket taking an IPv4 tuple (sinsp update_fd). m_ipv4serverinfo {ip, port,
    l4proto} overlays m_ipv4info {sip, dip, sport, dport, l4proto}: the protocol is copied over, and
    the server port and protocol bytes become the destination address, which the tuple then does not
    replace (it is not zero). So a UDP server on 5353 shows ``...->233.20.3.0:5353``."""
    info.dip = info.sport.to_bytes(2, "little") + bytes([info.l4proto & 0xFF, 0])
    info.dport = 0


def _servsock_v6_tuple(info: FdInfo, sip: bytes) -> None:
    """A server socket taking a non-mapped IPv6 tuple: sinsp keeps the fd type and writes the tuple
    through m_ipv6info, which overlays the server info. The new source address becomes the server
    address; an IPv6 server keeps its port and protocol (they lie under the untouched destination),
    an IPv4 one reads them from bytes 4-6 of the address."""
    if info.type == FdType.IPV6_SERVSOCK:
        info.sip = sip
        return
    info.sip, info.sport, info.l4proto = sip[:4], int.from_bytes(sip[4:6], "little"), sip[6]


def update_fd(st: State, info: FdInfo, tup: tuple[Any, ...] | None) -> bool:
    """sinsp update_fd: take the tuple of a datagram call; unknown L4 becomes UDP; incomplete IP tuples
    are patched from the interface list. False when nothing changed."""
    if tup is None:
        return False
    if tup[0] == AF_UNIX:
        info.type = FdType.UNIX_SOCK
        info.unix_source, info.unix_dest, info.name = tup[1], tup[2], tup[3]
        return True
    if tup[0] not in (AF_INET, AF_INET6):
        return False
    if tup[0] == AF_INET6 and not (is_ipv4_mapped(tup[1]) and is_ipv4_mapped(tup[3])):
        if info.type in SERVER_SOCKS:
            _servsock_v6_tuple(info, tup[1])
            return True
    elif info.type == FdType.IPV4_SERVSOCK:
        _servsock_to_v4(info)
    elif info.type == FdType.IPV6_SERVSOCK:
        info.sip, info.sport = b"", 0  # the server address is replaced by the tuple
    if not _apply_ip_tuple(info, tup):
        return False
    if info.l4proto == L4.UNKNOWN:
        info.l4proto = L4.UDP
    st.interfaces.update_fd(info)
    return True


# ------------------------------------------------------------------------------------------ handlers

def socket_exit(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
    fd = evt.param(0)
    if th is None or fd < 0 or evt.enter is None:
        return
    ent = evt.enter
    add_socket(st, evt, th, fd, ent.param(0), ent.param(1), ent.param(2))


def bind_exit(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
    info = evt.fdinfo
    if info is None or evt.param(0) < 0:
        return
    addr = evt.param(1)
    if addr is None:
        return
    if addr[0] in (AF_INET, AF_INET6) and addr[2] > 0:
        ip = addr[1]
        if addr[0] == AF_INET6 and is_ipv4_mapped(ip):
            ip = ip[12:]
        info.type = FdType.IPV4_SERVSOCK if len(ip) == 4 else FdType.IPV6_SERVSOCK
        info.sip, info.sport, info.dip, info.dport = ip, addr[2], b"", 0
        info.role = Role.SERVER
    info.name = sockaddr_str(addr)


def connect_enter(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
    """sinsp parse_connect_enter: an IP socket takes its type and destination from the address (a
    mapped IPv6 address makes it IPv4), its name is left for the exit; any other socket (unix) is
    named after the address here, so a connect that then fails leaves the fd named after its target.
    (sinsp also reads the unix source/dest pointers out of the address bytes; no field shows them.)"""
    info = evt.fdinfo
    addr = evt.param(1) if info is not None else None
    if info is None or addr is None:
        return
    if addr[0] not in (AF_INET, AF_INET6):
        info.name = sockaddr_str(addr)
        return
    ip = addr[1]
    if addr[0] == AF_INET6 and is_ipv4_mapped(ip):
        ip = ip[12:]
    if len(ip) == 4:
        _become_v4(info)
    else:
        _become_v6(info)
    info.dip, info.dport = ip, addr[2]


def connect_exit(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
    info = evt.fdinfo
    if info is None:
        return
    res = evt.param(0)
    if res < 0 and res != -EINPROGRESS:
        return
    info.connected = True
    tup = evt.param(1)
    if tup is None:
        return
    if tup[0] in (AF_INET, AF_INET6):
        # the destination stays what the fd holds unless it is unset: a connect(AF_UNSPEC), whose
        # tuple is all zeros, keeps the old peer, and so does an exit whose enter carried no address
        # (sysdig 0.29.3 measured: tests/state/test_state_corners.py)
        changed = _apply_ip_tuple(info, tup)
        if changed and info.role == Role.SERVER and info.l4proto == L4.UDP:
            _swap(info)
        info.name = sockinfo_name(info)
    else:
        info.name = socktuple_str(tup)
        if tup[0] == AF_UNIX:
            info.unix_source, info.unix_dest = tup[1], tup[2]
    if info.role == Role.NONE:
        info.role = Role.CLIENT


def accept_exit(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
    """accept/accept4 (all versions): a connected, server-role fd named after the tuple."""
    if th is None:
        return
    fd = evt.param(0)
    if fd < 0:
        return
    th.lastevent_fd = fd
    tup = evt.param(1)
    if tup is None:
        return
    if tup[0] in (AF_INET, AF_INET6):
        info = FdInfo(fd, FdType.IPV4_SOCK, l4proto=L4.TCP)
        _apply_ip_tuple(info, tup, overwrite_dest=True)
    elif tup[0] == AF_UNIX:
        info = FdInfo(fd, FdType.UNIX_SOCK, unix_source=tup[1], unix_dest=tup[2])
    else:
        return
    info.name = socktuple_str(tup)
    info.role = Role.SERVER
    info.connected = True
    evt.fdinfo = st.add_fd(th, info)


def socketpair_exit(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
    if th is None or evt.param(0) < 0:
        return
    fd1, fd2, src, peer = evt.param(1), evt.param(2), evt.param(3), evt.param(4)
    evt.fdinfo = st.add_fd(th, FdInfo(fd1, FdType.UNIX_SOCK, unix_source=src, unix_dest=peer))
    st.add_fd(th, FdInfo(fd2, FdType.UNIX_SOCK, unix_source=src, unix_dest=peer))


def sendto_enter(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
    """sinsp infer_sendto_fdinfo: a sendto on an fd we never saw created is taken for a UDP socket."""
    if th is None or evt.fdinfo is not None:
        return
    fd = evt.param(0)
    tup = evt.param(2)
    if fd < 0 or tup is None or tup[0] not in (AF_INET, AF_INET6):
        return
    add_socket(st, evt, th, fd, tup[0], SOCK_DGRAM, IPPROTO_UDP)


def datagram_exit(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
    """sendto/sendmsg/recvfrom/recvmsg exit: give an untupled (or non-TCP) socket its tuple."""
    info = evt.fdinfo
    if th is None or info is None or evt.param(0) < 0:
        return
    if info.is_ip_socket:
        info.connected = True
    if info.name and info.is_tcp:
        return
    in_enter, idx = _TUPLE_PARAM[evt.type]
    src = evt.enter if in_enter else evt
    if src is None:
        return
    tup = src.param(idx)
    if not update_fd(st, info, tup):
        return
    if info.is_ip_socket:
        incoming = not in_enter
        if info.role == Role.NONE:
            _guess_role(st, th, info, incoming)
        if info.role == (Role.CLIENT if incoming else Role.SERVER):
            _swap(info)
        info.name = sockinfo_name(info)
    else:
        info.name = socktuple_str(tup)


def getsockopt_exit(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
    """sinsp parse_getsockopt_exit: its enter has no fd, so a successful exit makes its fd param the
    event's fd (fd.* fields, the line's fd). (SO_ERROR updates a connection's status only where sinsp
    tracks it, which sysdig does not: fd.connected keeps what connect set.)"""
    if th is None or evt.nparams < 2:
        return
    res = evt.param(0)
    if not isinstance(res, int) or res < 0:
        return
    fd = evt.param(1)
    th.lastevent_fd = fd
    evt.fdinfo = th.fdtable.fds.get(fd)


HANDLERS: dict[str, Handler] = {
    "getsockopt<": getsockopt_exit,
    "socket<": socket_exit,
    "bind<": bind_exit,
    "connect>": connect_enter,
    "connect<": connect_exit,
    "accept<": accept_exit,
    "socketpair<": socketpair_exit,
    "sendto>": sendto_enter,
    "sendto<": datagram_exit,
    "sendmsg<": datagram_exit,
    "recvfrom<": datagram_exit,
    "recvmsg<": datagram_exit,
}
