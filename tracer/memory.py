"""Reading a stopped tracee's memory: process_vm_readv, split at page boundaries, /proc/PID/mem fallback.

process_vm_readv stops at the first remote page that faults and returns a short count. Giving it one
remote iovec per page (instead of one big iovec) makes that short count page-exact, so a string that
ends just before an unmapped page is still read completely (the same reason strace splits its reads).
Where the syscall is refused (seccomp'd containers, ENOSYS), /proc/PID/mem is used instead; it needs
the same ptrace access we already hold.
"""
from __future__ import annotations

import errno
import os

from tracer import libc
from tracer.errors import ProcessGone

PAGE = os.sysconf("SC_PAGE_SIZE")
_MAX_PAGES = 64  # one call covers up to 64 pages (256 KiB); callers never ask for more than snaplen-ish
_buf = libc.buffer(_MAX_PAGES * PAGE)
# Bytes out of _buf: a memoryview slice's tobytes() copies `got` bytes (bytes(_buf) would copy all
# 256 KiB first).
_view = memoryview(_buf).cast("B")
_FIRST_CHUNK = 256  # most paths are short: read_cstring's first read, before going page by page
_use_vm_readv = True
_vm_read = libc.vm_read  # one remote iovec per page (tracer/libc.py)
_get_errno = libc.last_errno


def read(tid: int, addr: int, size: int) -> bytes:
    """Up to `size` bytes at `addr` in thread `tid`; shorter when the range runs into unmapped memory.

    Raises ProcessGone if the thread has gone. Reading address 0 or size 0 returns b"".
    """
    global _use_vm_readv
    if addr == 0 or size <= 0:
        return b""
    if _use_vm_readv:
        if addr % PAGE + size > PAGE:  # (the common case, one page, with no min() to cut the size)
            size = min(size, _MAX_PAGES * PAGE - (addr % PAGE))
        got = _vm_read(tid, _buf, addr, size)
        if got >= 0:
            return _view[:got].tobytes()
        err = _get_errno()
        if err == errno.ESRCH:
            raise ProcessGone(tid)
        if err == errno.EFAULT:
            return b""
        if err not in (errno.ENOSYS, errno.EPERM):
            return b""
        _use_vm_readv = False
    return _read_proc_mem(tid, addr, min(size, _MAX_PAGES * PAGE - (addr % PAGE)))


def _read_proc_mem(tid: int, addr: int, size: int) -> bytes:
    try:
        fd = os.open(f"/proc/{tid}/mem", os.O_RDONLY)
    except FileNotFoundError as exc:
        raise ProcessGone(tid) from exc
    try:
        out = bytearray()
        pos, end = addr, addr + size
        while pos < end:
            nxt = min(end, (pos // PAGE + 1) * PAGE)
            try:
                chunk = os.pread(fd, nxt - pos, pos)
            except OSError:
                break
            out += chunk
            if len(chunk) < nxt - pos:
                break
            pos = nxt
        return bytes(out)
    finally:
        os.close(fd)


def read_cstring(tid: int, addr: int, limit: int = 4096) -> bytes | None:
    """The NUL-terminated string at `addr` without its NUL (at most `limit` bytes); None for NULL.

    Reads a small first chunk, then page by page, so a short string (or one next to an unmapped page)
    costs one small read.
    """
    if addr == 0:
        return None
    # min(to the page end, limit, _FIRST_CHUNK), without a call to min
    want = PAGE - addr % PAGE
    if want > _FIRST_CHUNK:  # noqa: PLR1730
        want = _FIRST_CHUNK
    if want > limit:  # noqa: PLR1730
        want = limit
    if _use_vm_readv and want > 0:
        # The common case in one read: the string ends within the first chunk.
        got = _vm_read(tid, _buf, addr, want)
        if got > 0:
            text = _view[:got].tobytes()
            nul = text.find(b"\0")
            if nul >= 0:
                return text[:nul]
        # else: no NUL yet, a fault or an error: the loop below reads again and decides
    out = b""
    pos = addr
    first = True
    while len(out) < limit:
        want = min(PAGE - pos % PAGE, limit - len(out))
        if first:
            want = min(want, _FIRST_CHUNK)
            first = False
        chunk = read(tid, pos, want)
        if not chunk:
            break
        nul = chunk.find(b"\0")
        if nul >= 0:
            return out + chunk[:nul]
        out += chunk
        pos += len(chunk)
    return out


def read_u64s(tid: int, addr: int, count: int) -> list[int]:
    """`count` little-endian u64 words at `addr` (fewer if memory ends)."""
    raw = read(tid, addr, count * 8)
    return [int.from_bytes(raw[i:i + 8], "little") for i in range(0, len(raw) - 7, 8)]


def read_iovecs(tid: int, iov_addr: int, iovcnt: int, limit: int) -> bytes:
    """Concatenated data of a tracee `struct iovec[iovcnt]`, cut at `limit` bytes (snaplen)."""
    words = read_u64s(tid, iov_addr, min(iovcnt, 1024) * 2)
    out = b""
    for i in range(0, len(words) - 1, 2):
        if len(out) >= limit:
            break
        base, length = words[i], words[i + 1]
        out += read(tid, base, min(length, limit - len(out)))
    return out


def iovecs_total(tid: int, iov_addr: int, iovcnt: int) -> int:
    """Sum of iov_len over a tracee iovec array (the `size` param of readv/writev)."""
    words = read_u64s(tid, iov_addr, min(iovcnt, 1024) * 2)
    return sum(words[1::2])


def write(tid: int, addr: int, data: bytes) -> None:
    """Write `data` at `addr` in stopped thread `tid` (process_vm_writev, /proc/PID/mem as fallback).

    Only tracer/placement.py writes, to keep what the command sees of sdu's own doing unchanged.
    Raises OSError when neither way can write the whole range.
    """
    if not data:
        return
    if libc.vm_write(tid, addr, bytes(data)) == len(data):
        return
    fd = os.open(f"/proc/{tid}/mem", os.O_WRONLY)
    try:
        if os.pwrite(fd, data, addr) != len(data):
            raise OSError(errno.EFAULT, "short write to tracee memory")
    finally:
        os.close(fd)
