"""tracer/libc.py: the C wrappers (tracer/_fastpath.c) and their ctypes fallback give the same results,
errnos included, on this process's own memory and children."""
from __future__ import annotations

import ctypes
import errno
import os

import pytest

from tracer import _libc_ctypes, libc, memory

native = pytest.mark.skipif(not libc.NATIVE, reason="tracer/_fastpath.c not built (or SDU_NO_NATIVE)")
PAGE = memory.PAGE


def _no_pid() -> int:
    """A pid that is not running (the highest one not in /proc)."""
    pid = 4_000_000
    while os.path.exists(f"/proc/{pid}"):
        pid -= 1
    return pid


@pytest.fixture
def two_pages_then_a_hole() -> tuple[int, bytes]:
    """Address of two mapped pages (filled with a pattern) followed by an unmapped page; and the pattern."""
    lib = ctypes.CDLL(None, use_errno=True)
    lib.mmap.restype = ctypes.c_void_p
    lib.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long)
    lib.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
    addr = lib.mmap(None, 3 * PAGE, 3, 0x22, -1, 0)  # PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS
    assert addr not in (None, ctypes.c_void_p(-1).value)
    assert lib.munmap(addr + 2 * PAGE, PAGE) == 0
    pattern = bytes(range(256)) * (2 * PAGE // 256)
    ctypes.memmove(addr, pattern, len(pattern))
    yield addr, pattern
    lib.munmap(addr, 2 * PAGE)


@native
@pytest.mark.parametrize(("offset", "size"), [(0, 10), (100, PAGE - 100), (PAGE - 5, 10), (10, 2 * PAGE - 10),
                                              (PAGE + 7, PAGE + 100), (2 * PAGE - 1, 1), (0, 0)])
def test_vm_read_same_both_ways(two_pages_then_a_hole: tuple[int, bytes], offset: int, size: int) -> None:
    """Within a page, across pages, and into the unmapped page (a short, page-exact count)."""
    addr, pattern = two_pages_then_a_hole
    results = []
    for calls in (libc, _libc_ctypes):
        buf = calls.buffer(64 * PAGE)
        got = calls.vm_read(os.getpid(), buf, addr + offset, size)
        results.append((got, bytes(memoryview(buf).cast("B")[:max(got, 0)])))
    assert results[0] == results[1]
    assert results[0][1] == pattern[offset:offset + size]


@native
def test_errors_same_both_ways() -> None:
    """A gone pid: vm_read and ptrace fail with ESRCH, wait4 of no child with ECHILD, on either side."""
    gone = _no_pid()
    for calls in (libc, _libc_ctypes):
        buf = calls.buffer(16)
        assert calls.vm_read(gone, buf, 0x10000, 8) == -1
        assert calls.last_errno() == errno.ESRCH
        assert calls.ptrace(0x4201, gone, 0, calls.buffer(8)) == -1  # PTRACE_GETEVENTMSG
        assert calls.last_errno() == errno.ESRCH
        assert calls.wait4(gone, 0) == (-1, 0, errno.ECHILD)
        assert calls.vm_write(gone, 0x10000, b"x") == -1
        assert calls.last_errno() == errno.ESRCH


@native
def test_wait4_and_cpu_same_both_ways() -> None:
    for calls in (libc, _libc_ctypes):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            os._exit(3)
        assert calls.wait4(pid, 0) == (pid, 3 << 8, 0)
        assert 0 <= calls.sched_getcpu() < (os.cpu_count() or 1) * 64


def test_memory_write_and_read_own_process() -> None:
    """memory.write (process_vm_writev) and memory.read agree, whichever calls tracer/libc.py has."""
    target = ctypes.create_string_buffer(b"\0" * 32)
    memory.write(os.getpid(), ctypes.addressof(target), b"written")
    assert target.raw[:8] == b"written\0"
    assert memory.read(os.getpid(), ctypes.addressof(target), 7) == b"written"
