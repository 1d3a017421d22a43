"""File-descriptor I/O: read/write families, close, dup, pipe, lseek, ioctl, fcntl, poll, the fd makers.

Data params (read/write/... `data`) hold at most snaplen bytes: the bytes actually transferred (the
return value), read from the tracee buffer at exit, as the driver does.
"""
from __future__ import annotations

import os

from tracer import memory
from tracer.decoders import native
from tracer.decoders.base import Call, Decoder, Values, fd_only, no_params, res_only


def _done(c: Call) -> int:
    return max(0, c.ret)


def rw_enter(c: Call) -> Values:
    a = c.args  # [c.fd(0), c.u32(2)], inlined (see Call.fd)
    return [((a[0] & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000, a[2] & 0xFFFFFFFF]


def rw_exit(c: Call) -> Values:
    return [c.ret, c.data(1, c.ret)]  # (data() reads nothing for a size <= 0: a failed call)


def prw_enter(c: Call) -> Values:
    return [c.fd(0), c.u32(2), c.u64(3)]


def readv_exit(c: Call) -> Values:
    return [c.ret, memory.iovecs_total(c.tid, c.args[1], c.s32(2)),
            memory.read_iovecs(c.tid, c.args[1], c.s32(2), min(_done(c), c.snaplen))]


def writev_enter(c: Call) -> Values:
    return [c.fd(0), memory.iovecs_total(c.tid, c.args[1], c.s32(2))]


def writev_exit(c: Call) -> Values:
    return [c.ret, memory.read_iovecs(c.tid, c.args[1], c.s32(2), min(_done(c), c.snaplen))]


def preadv_enter(c: Call) -> Values:
    return [c.fd(0), c.u64(3)]


def pwritev_enter(c: Call) -> Values:
    return [c.fd(0), memory.iovecs_total(c.tid, c.args[1], c.s32(2)), c.u64(3)]


def dup_exit(c: Call) -> Values:
    return [c.ret]


def pipe_exit(c: Call) -> Values:
    raw = memory.read(c.tid, c.args[0], 8)
    if c.failed or len(raw) < 8:
        return [c.ret, -1, -1, 0]
    fd1 = int.from_bytes(raw[:4], "little", signed=True)
    fd2 = int.from_bytes(raw[4:], "little", signed=True)
    try:
        ino = os.stat(f"/proc/{c.pid}/fd/{fd1}").st_ino
    except OSError:
        ino = 0
    return [c.ret, fd1, fd2, ino]


def lseek_enter(c: Call) -> Values:
    return [c.fd(0), c.u64(1), c.u32(2) & 0xFF]


def ioctl_enter(c: Call) -> Values:
    return [c.fd(0), c.u64(1), c.u64(2)]


def fcntl_enter(c: Call) -> Values:
    return [c.fd(0), native.fcntl_cmd(c.s32(1))]


def _u64_at(c: Call, i: int) -> int:
    words = memory.read_u64s(c.tid, c.args[i], 1) if c.args[i] else []
    return words[0] if words else 0


def sendfile_enter(c: Call) -> Values:
    return [c.fd(0), c.fd(1), _u64_at(c, 2), c.u64(3)]


def sendfile_exit(c: Call) -> Values:
    return [c.ret, _u64_at(c, 2)]


def splice_enter(c: Call) -> Values:
    return [c.fd(0), c.fd(2), c.u64(4), c.u32(5)]


def copy_file_range_enter(c: Call) -> Values:
    return [c.fd(0), _u64_at(c, 1), c.u64(4)]


def copy_file_range_exit(c: Call) -> Values:
    return [c.ret, c.fd(2), _u64_at(c, 3)]


def _fdlist(c: Call, revents: bool) -> tuple[tuple[int, int], ...]:
    """struct pollfd[nfds] {int fd; short events; short revents;} -> ((fd, PPM flags), ...)."""
    n = min(c.u32(1), 1024)
    raw = memory.read(c.tid, c.args[0], n * 8)
    out = []
    for off in range(0, len(raw) - 7, 8):
        fd = int.from_bytes(raw[off:off + 4], "little", signed=True)
        ev = int.from_bytes(raw[off + (6 if revents else 4):off + (8 if revents else 6)], "little")
        out.append((fd, native.poll_flags(ev)))
    return tuple(out)


def poll_enter(c: Call) -> Values:
    return [_fdlist(c, False), c.s32(2)]


def fdlist_exit(c: Call) -> Values:
    return [c.ret, _fdlist(c, True)]


def ppoll_enter(c: Call) -> Values:
    ts = memory.read_u64s(c.tid, c.args[2], 2) if c.args[2] else []
    timeout = ts[0] * 1_000_000_000 + ts[1] if len(ts) == 2 else 0
    mask = memory.read(c.tid, c.args[3], 4) if c.args[3] else b""
    return [_fdlist(c, False), timeout, int.from_bytes(mask, "little") if len(mask) == 4 else 0]


def epoll_wait_enter(c: Call) -> Values:
    return [c.s32(2)]


def eventfd_enter(c: Call) -> Values:
    flags = c.u32(1) if c.nr == 290 else 0
    return [c.u32(0), flags]


def signalfd_enter(c: Call) -> Values:
    mask = memory.read(c.tid, c.args[1], 4)
    flags = c.u32(3) & 0xFF if c.nr == 289 else 0
    return [c.fd(0), int.from_bytes(mask, "little") if len(mask) == 4 else 0, flags]


def timerfd_create_enter(c: Call) -> Values:
    return [c.u32(0) & 0xFF, c.u32(1) & 0xFF]


def inotify_init_enter(c: Call) -> Values:
    return [c.u32(0) & 0xFF if c.nr == 294 else 0]


def flock_enter(c: Call) -> Values:
    return [c.fd(0), c.u32(1)]


def userfaultfd_exit(c: Call) -> Values:
    return [c.ret, native.open_flags(c.u32(0))]


DECODERS: dict[str, Decoder] = {
    "read": Decoder(rw_enter, rw_exit),
    "write": Decoder(rw_enter, rw_exit),
    "pread64": Decoder(prw_enter, rw_exit),
    "pwrite64": Decoder(prw_enter, rw_exit),
    "readv": Decoder(fd_only, readv_exit),
    "writev": Decoder(writev_enter, writev_exit),
    "preadv": Decoder(preadv_enter, readv_exit),
    "pwritev": Decoder(pwritev_enter, writev_exit),
    "close": Decoder(fd_only, res_only),
    "dup": Decoder(fd_only, dup_exit),
    "dup2": Decoder(fd_only, dup_exit),
    "dup3": Decoder(fd_only, dup_exit),
    "pipe": Decoder(no_params, pipe_exit),
    "pipe2": Decoder(no_params, pipe_exit),
    "lseek": Decoder(lseek_enter, res_only),
    "ioctl": Decoder(ioctl_enter, res_only),
    "fcntl": Decoder(fcntl_enter, res_only),
    "sendfile": Decoder(sendfile_enter, sendfile_exit),
    "splice": Decoder(splice_enter, res_only),
    "copy_file_range": Decoder(copy_file_range_enter, copy_file_range_exit),
    "poll": Decoder(poll_enter, fdlist_exit),
    "ppoll": Decoder(ppoll_enter, fdlist_exit),
    "select": Decoder(no_params, res_only),
    "epoll_wait": Decoder(epoll_wait_enter, res_only),
    "getdents": Decoder(fd_only, res_only),
    "getdents64": Decoder(fd_only, res_only),
    "eventfd": Decoder(eventfd_enter, res_only),
    "eventfd2": Decoder(eventfd_enter, res_only),
    "signalfd": Decoder(signalfd_enter, res_only),
    "signalfd4": Decoder(signalfd_enter, res_only),
    "timerfd_create": Decoder(timerfd_create_enter, res_only),
    "inotify_init": Decoder(inotify_init_enter, res_only),
    "inotify_init1": Decoder(inotify_init_enter, res_only),
    "flock": Decoder(flock_enter, res_only),
    "userfaultfd": Decoder(no_params, userfaultfd_exit),
}
