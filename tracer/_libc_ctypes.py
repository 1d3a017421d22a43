"""tracer/libc.py's calls through ctypes: where tracer/_fastpath.c is not built (or SDU_NO_NATIVE is set).

The same functions, with the same results, as the C wrappers (see tracer/libc.py); the buffers are
ctypes char arrays, passed by address.
"""
from __future__ import annotations

import ctypes
import os
import struct

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    from typing import Any

_libc = ctypes.CDLL(None, use_errno=True)

# Untyped: ints go as C ints (sign-extended to the register on x86_64), buffers by address; per-call
# argtypes conversion would cost ~0.5 us an argument on the hot path (bench/tracer_bench.py, "micro").
ptrace = _libc["ptrace"]
ptrace.restype = ctypes.c_long

_wait4 = _libc["wait4"]
_wait4.restype = ctypes.c_int
_status = ctypes.c_int(0)
_status_ptr = ctypes.byref(_status)

last_errno = ctypes.get_errno
buffer = ctypes.create_string_buffer


def wait4(pid: int, options: int) -> tuple[int, int, int]:
    """(pid, status, errno); pid -1 on an error (EINTR is not retried)."""
    got = _wait4(pid, _status_ptr, options, None)
    if got == -1:
        return -1, 0, ctypes.get_errno()
    return got, _status.value, 0


_PAGE = os.sysconf("SC_PAGE_SIZE")
_MAX_PAGES = 64
_vm_readv = _libc["process_vm_readv"]
_vm_readv.restype = ctypes.c_ssize_t
_vm_writev = _libc["process_vm_writev"]
_vm_writev.restype = ctypes.c_ssize_t
# the local iovec, then up to _MAX_PAGES remote ones (struct iovec: base u64, len u64), one buffer
_iovs = ctypes.create_string_buffer(16 * (1 + _MAX_PAGES))
_iov_local = ctypes.byref(_iovs)
_iov_remote = ctypes.byref(_iovs, 16)
_set_iov = struct.Struct("<QQ").pack_into
_set_iov1 = struct.Struct("<QQQQ").pack_into


def vm_read(tid: int, buf: Any, addr: int, size: int) -> int:
    """process_vm_readv of `size` bytes at `addr` into `buf`, one remote iovec per page; -1 on an error."""
    end = addr + size
    first_end = (addr // _PAGE + 1) * _PAGE
    if end <= first_end:  # one page (most reads): both iovecs in one pack
        _set_iov1(_iovs, 0, ctypes.addressof(buf), size, addr, size)
        return int(_vm_readv(tid, _iov_local, 1, _iov_remote, 1, 0))
    _set_iov(_iovs, 0, ctypes.addressof(buf), size)
    n = 0
    pos = addr
    while pos < end:
        nxt = min(end, (pos // _PAGE + 1) * _PAGE)
        n += 1
        _set_iov(_iovs, 16 * n, pos, nxt - pos)
        pos = nxt
    return int(_vm_readv(tid, _iov_local, 1, _iov_remote, n, 0))


def vm_write(tid: int, addr: int, data: bytes) -> int:
    """One process_vm_writev of `data` at `addr`; bytes written, -1 on an error."""
    local = ctypes.create_string_buffer(data, len(data))
    iovs = ctypes.create_string_buffer(32)
    _set_iov1(iovs, 0, ctypes.addressof(local), len(data), addr, len(data))
    return int(_vm_writev(tid, ctypes.byref(iovs), 1, ctypes.byref(iovs, 16), 1, 0))


def _libc_fstatat() -> Any:
    """libc's fstatat(dirfd, path, struct stat *, flags), or None (glibc < 2.33 only has __fxstatat)."""
    if os.uname().machine != "x86_64":  # _st_dev reads the x86_64 struct stat (st_dev first, 8 bytes)
        return None
    try:
        func = _libc["fstatat"]
    except (AttributeError, OSError):
        return None
    func.restype = ctypes.c_int
    return func


_fstatat = _libc_fstatat()
_stat_buf = ctypes.create_string_buffer(256)  # struct stat is 144 bytes on x86_64
_st_dev = struct.Struct("<Q").unpack_from


def _fstatat_dev(dirfd: int, name: bytes) -> int:
    """st_dev of `name` under `dirfd`, -1 on any failure."""
    if _fstatat(dirfd, name, _stat_buf, 0) != 0:
        return -1
    return int(_st_dev(_stat_buf)[0])


fstatat_dev = _fstatat_dev if _fstatat is not None else None
_NR_PIDFD_GETFD = 438


def pidfd_getfd(pidfd: int, fd: int) -> int:
    """A copy of the process's fd `fd` in this one; -1 on an error."""
    return int(_libc.syscall(_NR_PIDFD_GETFD, pidfd, fd, 0))


_sched_getcpu = _libc["sched_getcpu"]
_sched_getcpu.restype = ctypes.c_int
sched_getcpu = _sched_getcpu
