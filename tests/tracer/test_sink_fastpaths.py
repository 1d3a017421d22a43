"""The EventBuilder's per-stop shortcuts give what the plain paths give (no tracee: sdu's own process
stands in for one, its memory read with process_vm_readv and its fds stat'ed through /proc/PID/fd)."""
from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator

import pytest

from tracer import memory
from tracer.decoders import base
from tracer.engine import Thread
from tracer.events import EventBuilder


def _expected_dev(fd: int) -> int:
    dev = os.fstat(fd).st_dev
    major, minor = os.major(dev), os.minor(dev)
    return (minor & 0xFF) | (major << 8) | ((minor & ~0xFF) << 12)


@pytest.fixture
def high_fd() -> Iterator[int]:
    """An open fd numbered past fd_dev's table of names."""
    low = os.open("/etc/hostname" if os.path.exists("/etc/hostname") else "/", os.O_RDONLY)
    try:
        fd = os.dup2(low, 1500)
    except OSError:
        os.close(low)
        pytest.skip("cannot open fd 1500")
    os.close(low)
    yield fd
    os.close(fd)


@pytest.mark.parametrize("way", ["libc", "ctypes", "os.stat"])
def test_fd_dev_matches_fstat(way: str, high_fd: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """fd_dev through tracer/libc.py's fstatat_dev (C when built), its ctypes fallback, and os.stat."""
    if way == "os.stat":
        monkeypatch.setattr(base, "_fstatat_dev", None)  # the os.stat fallback
    elif way == "ctypes":
        from tracer import _libc_ctypes

        monkeypatch.setattr(base, "_fstatat_dev", _libc_ctypes.fstatat_dev)
    if way != "os.stat" and base._fstatat_dev is None:
        pytest.skip("no libc fstatat here")
    monkeypatch.setattr(base, "_dev_codes", {})
    pid = os.getpid()
    r, w = os.pipe()
    try:
        for fd in (0, r, high_fd):
            assert base.fd_dev(pid, fd) == _expected_dev(fd)
        closed = r
        os.close(r)
        r = -1
        assert base.fd_dev(pid, closed) == 0  # no such fd: no device
    finally:
        os.close(w)
        if r >= 0:
            os.close(r)
        base.forget_process(pid)


def test_memory_reads_own_process() -> None:
    pid = os.getpid()
    text = b"/some/path/name"
    buf = ctypes.create_string_buffer(text + b"\0tail", memory.PAGE * 3)
    addr = ctypes.addressof(buf)
    assert memory.read_cstring(pid, addr) == text
    assert memory.read_cstring(pid, addr, 4) == text[:4]
    assert memory.read_cstring(pid, 0) is None
    assert memory.read(pid, addr, 5) == text[:5]
    assert memory.read(pid, addr, 0) == b""
    # a range over page boundaries: read page by page, in one call
    long_buf = bytes(range(256)) * (memory.PAGE * 2 // 256)
    ctypes.memmove(addr, long_buf, len(long_buf))
    assert memory.read(pid, addr + 100, len(long_buf) - 100) == long_buf[100:]


def test_call_follows_the_thread_through_exec() -> None:
    """syscall_enter/exit keep the Call's tid and pid; exec() moves them (non-leader exec)."""
    got: list[tuple[int, int, bytes]] = []
    builder = EventBuilder(lambda _e: None)
    builder.ship = lambda ts, cpu, raw: got.append((ts, cpu, raw))
    pid = os.getpid()
    th = Thread(pid + 1, pid)
    args = (0, 0, 0, 0, 0, 0)
    th.args = args
    builder.syscall_enter(th, 1, 0, 110, args)  # getppid: a generic event
    builder.syscall_exit(th, 2, 0, 110, 7)
    assert th.call.tid == pid + 1
    th.tid = th.pid = pid
    builder.exec(th, pid + 1, 3, 0)
    assert (th.call.tid, th.call.pid) == (pid, pid)
    builder.syscall_enter(th, 4, 0, 110, args)
    assert len(got) == 3 and builder.errors == 0
    assert int.from_bytes(got[2][2][8:16], "little") == pid  # the event's tid


def test_ship_only_when_building() -> None:
    """Decoded records (build=False) are emitted even with ship set, as before."""
    out: list[object] = []
    shipped: list[bytes] = []
    builder = EventBuilder(out.append, build=False)
    builder.ship = lambda ts, cpu, raw: shipped.append(raw)
    th = Thread(os.getpid(), os.getpid())
    builder.syscall_enter(th, 1, 0, 110, (0,) * 6)
    assert len(out) == 1 and not shipped
    builder.build = True
    builder.syscall_enter(th, 1, 0, 110, (0,) * 6)
    assert len(out) == 1 and len(shipped) == 1
    assert builder.ship is not None
