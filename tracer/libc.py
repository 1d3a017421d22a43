"""The libc calls the Python tracer makes: ptrace, wait4, process_vm_readv/writev, fstatat, pidfd_getfd,
sched_getcpu. tracer/_fastpath.c's thin wrappers when it is built and current, else ctypes.

ctypes is imported only for the fallback: its import and the set-up of its function and structure
types cost a start ~10M instructions (callgrind, ``sdu -- /bin/true``), more than all the rest of
what a short run's tracer does. Both sides behave the same: a call returns what libc returns, a
failure keeps its errno for ``last_errno()`` (ctypes' use_errno), and buffers are what ``buffer(n)``
makes (a bytearray for the C side, a ctypes char array for the fallback), read through memoryview
and struct like any buffer. ``SDU_NO_NATIVE=1`` takes the fallback (tests compare the two).

ptrace's addr and data are the small ints of the requests the tracer makes (pids, sizes, signals,
options) or a buffer: the fallback passes ints untyped, as C ints (the cost of argtypes' conversion
on the hot path, bench/tracer_bench.py "micro"), so no address is ever passed as an int.
"""
from __future__ import annotations

import os

from sysdig_user.native import extension

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

#: the tracer/_fastpath.c interface (its FASTPATH_VERSION) that this module and tracer/fastpath.py drive
FASTPATH_VERSION = 7


def _native() -> Any:
    if os.environ.get("SDU_NO_NATIVE"):
        return None
    return extension("tracer._fastpath", FASTPATH_VERSION)


_c = _native()
NATIVE = _c is not None  # the calls are tracer/_fastpath.c's

ptrace: Callable[[int, int, int, Any], int]
wait4: Callable[[int, int], tuple[int, int, int]]
vm_read: Callable[[int, Any, int, int], int]
vm_write: Callable[[int, int, bytes], int]
fstatat_dev: Callable[[int, bytes], int] | None
pidfd_getfd: Callable[[int, int], int]
sched_getcpu: Callable[[], int]
last_errno: Callable[[], int]
buffer: Callable[[int], Any]

if _c is not None:
    ptrace = _c.ptrace
    wait4 = _c.wait4
    vm_read = _c.vm_read
    vm_write = _c.vm_write
    fstatat_dev = _c.fstatat_dev
    pidfd_getfd = _c.pidfd_getfd
    sched_getcpu = _c.sched_getcpu
    last_errno = _c.last_errno
    buffer = bytearray
else:
    from tracer import _libc_ctypes as _py

    ptrace = _py.ptrace
    wait4 = _py.wait4
    vm_read = _py.vm_read
    vm_write = _py.vm_write
    fstatat_dev = _py.fstatat_dev
    pidfd_getfd = _py.pidfd_getfd
    sched_getcpu = _py.sched_getcpu
    last_errno = _py.last_errno
    buffer = _py.buffer

__all__ = ["FASTPATH_VERSION", "NATIVE", "buffer", "fstatat_dev", "last_errno", "pidfd_getfd", "ptrace",
           "sched_getcpu", "vm_read", "vm_write", "wait4"]
