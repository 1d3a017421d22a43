"""Socket syscalls: socket, socketpair, bind, connect, listen, accept(4), send*/recv*, shutdown, sockopts.

SOCKADDR/SOCKTUPLE values follow sysdig_user.params: (family, ip_bytes, port) / (1, path) and
(family, sip, sport, dip, dport) / (1, source, dest, path).

Tuples need the socket's own address, which only the tracee's kernel socket knows. We duplicate the
tracee's fd into sdu with pidfd_getfd(2) (Linux 5.6; needs the ptrace access we already hold) and ask
getsockname/getpeername; the copy is closed at once and never read from. Where pidfd_getfd is missing,
the local side is left unset (0.0.0.0:0). Unix sockets: the driver writes kernel socket pointers as
source/dest; user space cannot see those, so source is the socket's inode and dest is 0.
"""
from __future__ import annotations

import _socket as socket  # the C module (socket.py, for its socket class, only in sock_names)
import os
import struct

from tracer import libc, memory
from tracer.decoders import native
from tracer.decoders.base import Call, Decoder, Values, fd_only, no_params, pidfds, res_only

_getfd_works = True

AF_UNIX, AF_INET, AF_INET6 = socket.AF_UNIX, socket.AF_INET, socket.AF_INET6
_IPPROTO_L4 = {socket.SOCK_STREAM: "tcp", socket.SOCK_DGRAM: "udp"}


def _dup_from(pid: int, fd: int) -> int | None:
    """A copy of tracee `pid`'s fd in sdu, or None."""
    global _getfd_works
    if not _getfd_works or fd < 0:
        return None
    pidfd = pidfds.get(pid)
    if pidfd is None:
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            return None
        pidfds[pid] = pidfd  # (closed by base.forget_process)
    got = libc.pidfd_getfd(pidfd, fd)
    if got < 0:
        if libc.last_errno() in (38, 1):  # ENOSYS, EPERM: not usable at all here
            _getfd_works = False
        return None
    return int(got)


def sock_names(pid: int, fd: int) -> tuple[bytes | None, bytes | None, int]:
    """(raw local sockaddr, raw peer sockaddr, socket inode) of tracee socket `fd`."""
    dup = _dup_from(pid, fd)
    if dup is None:
        return None, None, 0
    import socket as socket_module  # (its socket class: fileno= adoption and family as an enum)

    try:
        s = socket_module.socket(fileno=dup)
    except OSError:
        os.close(dup)
        return None, None, 0
    try:
        ino = os.fstat(dup).st_ino
        local = _raw_name(s.getsockname, s.family)
        peer = _raw_name(s.getpeername, s.family)
        return local, peer, ino
    finally:
        s.close()


def _raw_name(getter: object, family: int) -> bytes | None:
    """Re-encode Python's address tuple as a raw struct sockaddr (so one parser serves both sources)."""
    try:
        addr = getter()  # type: ignore[operator]
    except OSError:
        return None
    if family == AF_INET:
        return struct.pack("<H", AF_INET) + struct.pack(">H", addr[1]) + socket.inet_aton(addr[0])
    if family == AF_INET6:
        return (struct.pack("<H", AF_INET6) + struct.pack(">HI", addr[1], 0)
                + socket.inet_pton(AF_INET6, addr[0]))
    if family == AF_UNIX:
        path = addr if isinstance(addr, bytes) else os.fsencode(addr)
        return struct.pack("<H", AF_UNIX) + path
    return struct.pack("<H", family)


def parse_sockaddr(raw: bytes | None) -> tuple[object, ...] | None:
    """Raw struct sockaddr -> SOCKADDR value. b"\\x02\\x00\\x1f\\x90\\x7f\\0\\0\\1" -> (2, b"\\x7f\\0\\0\\1", 8080)."""
    if not raw or len(raw) < 2:
        return None
    fam = int.from_bytes(raw[:2], "little")
    if fam == AF_INET and len(raw) >= 8:
        return (AF_INET, raw[4:8], int.from_bytes(raw[2:4], "big"))
    if fam == AF_INET6 and len(raw) >= 24:
        return (AF_INET6, raw[8:24], int.from_bytes(raw[2:4], "big"))
    if fam == AF_UNIX:
        path = raw[2:]
        if path[:1] == b"\0":  # abstract socket: shown with a leading @ by libsinsp; keep the name bytes
            path = b"@" + path[1:]
        end = path.find(b"\0")
        return (AF_UNIX, (path if end < 0 else path[:end]).decode("utf-8", "surrogateescape"))
    return None  # the driver's pack_addr packs nothing for other families (AF_UNSPEC, netlink ...)


def _read_sockaddr(c: Call, addr_i: int, len_val: int) -> bytes | None:
    if c.args[addr_i] == 0 or len_val <= 0:
        return None
    return memory.read(c.tid, c.args[addr_i], min(len_val, 128))


def _read_len_ptr(c: Call, i: int) -> int:
    words = memory.read(c.tid, c.args[i], 4) if c.args[i] else b""
    return int.from_bytes(words, "little") if len(words) == 4 else 0


_ZERO4, _ZERO16 = bytes(4), bytes(16)


def make_tuple(local: bytes | None, remote: bytes | None, ino: int = 0,
               outbound: bool = True) -> tuple[object, ...] | None:
    """SOCKTUPLE from two raw sockaddrs; outbound = local->remote (connect/send), else remote->local."""
    loc, rem = parse_sockaddr(local), parse_sockaddr(remote)
    fam = (loc or rem or (None,))[0]
    if fam is None:
        return None
    if fam in (AF_INET, AF_INET6):
        zero = _ZERO4 if fam == AF_INET else _ZERO16
        lip, lport = (loc[1], loc[2]) if loc and len(loc) == 3 else (zero, 0)
        rip, rport = (rem[1], rem[2]) if rem and len(rem) == 3 else (zero, 0)
        if outbound:
            return (fam, lip, lport, rip, rport)
        return (fam, rip, rport, lip, lport)
    if fam == AF_UNIX:
        path = ""
        for side in (rem, loc):
            if side and len(side) == 2 and side[1]:
                path = str(side[1])
                break
        return (AF_UNIX, ino, 0, path)
    return None  # as the driver's fd_to_socktuple: an empty tuple for other families


# ---- socket, socketpair, bind, listen, connect ------------------------------------------------

def socket_enter(c: Call) -> Values:
    return [c.s32(0), c.u32(1), c.u32(2)]


def socket_exit(c: Call) -> Values:
    return [c.ret]


def socketpair_exit(c: Call) -> Values:
    if c.failed:
        return [c.ret, -1, -1, 0, 0]
    raw = memory.read(c.tid, c.args[3], 8)
    fd1 = int.from_bytes(raw[:4], "little", signed=True) if len(raw) == 8 else -1
    fd2 = int.from_bytes(raw[4:], "little", signed=True) if len(raw) == 8 else -1
    _, _, ino1 = sock_names(c.pid, fd1)
    _, _, ino2 = sock_names(c.pid, fd2)
    return [c.ret, fd1, fd2, ino1, ino2]


def bind_exit(c: Call) -> Values:
    return [c.ret, parse_sockaddr(_read_sockaddr(c, 1, c.s32(2)))]


def listen_enter(c: Call) -> Values:
    return [c.fd(0), c.u32(1)]


def connect_enter(c: Call) -> Values:
    return [c.fd(0), parse_sockaddr(_read_sockaddr(c, 1, c.s32(2)))]


def connect_exit(c: Call) -> Values:
    # EINPROGRESS (-115) still has a meaningful tuple, as for the driver.
    remote = _read_sockaddr(c, 1, c.s32(2))
    local, peer, ino = sock_names(c.pid, c.fd(0))
    return [c.ret, make_tuple(local, peer or remote, ino)]


# ---- accept ----------------------------------------------------------------------------------------

def accept_exit(c: Call) -> Values:
    """fd, tuple (client -> server), queuepct/queuelen/queuemax (listen backlog: not visible, 0)."""
    if c.failed:
        return [c.ret, None, 0, 0, 0]
    local, peer, ino = sock_names(c.pid, c.ret)
    return [c.ret, make_tuple(local, peer, ino, outbound=False), 0, 0, 0]


def accept4_enter(c: Call) -> Values:
    return [c.s32(3)]


# ---- data transfer ----------------------------------------------------------------------------------

def _out_tuple(c: Call, addr_i: int | None, addrlen: int) -> tuple[object, ...] | None:
    remote = _read_sockaddr(c, addr_i, addrlen) if addr_i is not None else None
    local, peer, ino = sock_names(c.pid, c.fd(0))
    return make_tuple(local, remote or peer, ino)


def sendto_enter(c: Call) -> Values:
    return [c.fd(0), c.u32(2), _out_tuple(c, 4, c.s32(5))]


def sendto_exit(c: Call) -> Values:
    return [c.ret, c.data(1, max(0, c.ret))]


def recvfrom_enter(c: Call) -> Values:
    return [c.fd(0), c.u32(2)]


def recvfrom_exit(c: Call) -> Values:
    if c.failed:
        return [c.ret, b"", None]
    data = c.data(1, c.ret)
    remote = _read_sockaddr(c, 4, _read_len_ptr(c, 5)) if c.args[4] and c.args[5] else None
    local, peer, ino = sock_names(c.pid, c.fd(0))
    return [c.ret, data, make_tuple(local, remote or peer, ino, outbound=False)]


def _msghdr(c: Call) -> tuple[int, int, int, int]:
    """(msg_name, msg_namelen, msg_iov, msg_iovlen) of the struct msghdr at arg 1."""
    words = memory.read_u64s(c.tid, c.args[1], 4)
    if len(words) < 4:
        return 0, 0, 0, 0
    return words[0], words[1] & 0xFFFFFFFF, words[2], words[3]


def sendmsg_enter(c: Call) -> Values:
    name, namelen, iov, iovlen = _msghdr(c)
    remote = memory.read(c.tid, name, min(namelen, 128)) if name and namelen else None
    local, peer, ino = sock_names(c.pid, c.fd(0))
    return [c.fd(0), memory.iovecs_total(c.tid, iov, iovlen), make_tuple(local, remote or peer, ino)]


def sendmsg_exit(c: Call) -> Values:
    if c.failed:
        return [c.ret, b""]
    _, _, iov, iovlen = _msghdr(c)
    return [c.ret, memory.read_iovecs(c.tid, iov, iovlen, min(c.ret, c.snaplen))]


def recvmsg_exit(c: Call) -> Values:
    if c.failed:
        return [c.ret, 0, b"", None]
    name, namelen, iov, iovlen = _msghdr(c)
    remote = memory.read(c.tid, name, min(namelen, 128)) if name and namelen else None
    local, peer, ino = sock_names(c.pid, c.fd(0))
    return [c.ret, c.ret, memory.read_iovecs(c.tid, iov, iovlen, min(c.ret, c.snaplen)),
            make_tuple(local, remote or peer, ino, outbound=False)]


def shutdown_enter(c: Call) -> Values:
    return [c.fd(0), c.s32(1) & 0xFF]


def sockopt_exit(c: Call) -> Values:
    """setsockopt/getsockopt X: res, fd, level, optname, val (DYN), optlen, as the driver's parse_sockopt
    writes val: SOL_SOCKET's SO_ERROR as an errno (-value, dyn 1), SO_RCVTIMEO/SO_SNDTIMEO as a
    relative time (dyn 4), SO_COOKIE as u64 (dyn 3), its integer options as u32 (dyn 2); any other
    option, and every option of another level, as the raw buffer (dyn 0, cut at the snaplen)."""
    is_get = c.nr == 55
    optlen = _read_len_ptr(c, 4) if is_get else c.u32(4)
    level, optname, ptr = c.s32(1), c.s32(2), c.args[3]
    val: tuple[int, object] = (0, b"")
    if level == native.SOL_SOCKET and optname == native.SO_ERROR:
        val = (1, -int.from_bytes(memory.read(c.tid, ptr, 4).ljust(4, b"\0"), "little", signed=True))
    elif level == native.SOL_SOCKET and optname in (native.SO_RCVTIMEO, native.SO_SNDTIMEO):
        raw = memory.read(c.tid, ptr, 16).ljust(16, b"\0")
        sec, usec = int.from_bytes(raw[:8], "little", signed=True), int.from_bytes(raw[8:], "little", signed=True)
        val = (4, (sec * 1_000_000_000 + usec * 1000) & 0xFFFFFFFFFFFFFFFF)
    elif level == native.SOL_SOCKET and optname == native.SO_COOKIE:
        val = (3, int.from_bytes(memory.read(c.tid, ptr, 8).ljust(8, b"\0"), "little"))
    elif level == native.SOL_SOCKET and optname in native.SO_U32:
        val = (2, int.from_bytes(memory.read(c.tid, ptr, 4).ljust(4, b"\0"), "little"))
    elif ptr and optlen > 0:
        val = (0, memory.read(c.tid, ptr, min(optlen, c.snaplen)))
    return [c.ret, c.fd(0), native.sockopt_level(level) & 0xFF, native.sockopt_optname(level, optname), val,
            optlen]


DECODERS: dict[str, Decoder] = {
    "socket": Decoder(socket_enter, socket_exit),
    "socketpair": Decoder(socket_enter, socketpair_exit),
    "bind": Decoder(fd_only, bind_exit),
    "listen": Decoder(listen_enter, res_only),
    "connect": Decoder(connect_enter, connect_exit),
    "accept": Decoder(no_params, accept_exit),
    "accept4": Decoder(accept4_enter, accept_exit),
    "sendto": Decoder(sendto_enter, sendto_exit),
    "recvfrom": Decoder(recvfrom_enter, recvfrom_exit),
    "sendmsg": Decoder(sendmsg_enter, sendmsg_exit),
    "recvmsg": Decoder(fd_only, recvmsg_exit),
    "sendmmsg": Decoder(no_params, no_params),
    "recvmmsg": Decoder(no_params, no_params),
    "shutdown": Decoder(shutdown_enter, res_only),
    "getsockname": Decoder(no_params, no_params),
    "getpeername": Decoder(no_params, no_params),
    "setsockopt": Decoder(no_params, sockopt_exit),
    "getsockopt": Decoder(no_params, sockopt_exit),
}
