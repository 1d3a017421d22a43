"""The compiled fast path (tracer/_fastpath.c) writes the bytes the Python path writes.

* Per recipe: for every syscall the C path encodes, enter and exit events from the same registers and
  return values, with pointers into this process's own memory (process_vm_readv works on oneself):
  strings, a NULL, an unmapped address, a string crossing into an unmapped page, one longer than the
  4096-byte limit, buffers longer than the snaplen, real fds for open's dev.
* End to end: the test programs traced with and without it (SDU_NO_NATIVE=1) print the same lines,
  apart from what differs between any two runs (addresses, pids, times, memory counters); and it did
  handle most stops (-v says how many).
"""
from __future__ import annotations

import ctypes
import mmap
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support import ROOT, require_built
from tracer import fastpath
from tracer.engine import Thread
from tracer.events import EventBuilder


def _require_core() -> None:
    require_built(fastpath._fastpath, "tracer._fastpath")


def _pair(snaplen: int, read_dev: bool, read_vm: bool) -> tuple[EventBuilder, list[bytes], Any]:
    shipped: list[bytes] = []
    builder = EventBuilder(lambda evt: None, snaplen=snaplen, read_dev=read_dev, read_vm=read_vm)
    builder.ship = lambda ts, cpu, raw: shipped.append(raw)
    return builder, shipped, fastpath.core_for(builder)


class _Memory:
    """The pointer arguments, in a mapping of their own so that every byte a read may reach stays the same
    between the two encodings (the Python heap would not): page 0 a path, page 1 data, pages 2-3 a
    string with no NUL for 8 KiB whose last bytes run into page 4, which is unmapped."""

    def __init__(self) -> None:
        page = mmap.PAGESIZE
        self.map = mmap.mmap(-1, 5 * page)
        self.map[0:14] = b"/etc/hostname\0"
        self.map[page:2 * page] = bytes(range(256)) * (page // 256)
        self.map[2 * page:4 * page - 6] = b"a" * (2 * page - 6)
        self.map[4 * page - 6:4 * page] = b"/tmp/x"
        base = ctypes.addressof(ctypes.c_char.from_buffer(self.map))
        ctypes.CDLL(None).munmap(ctypes.c_void_p(base + 4 * page), page)
        self.base = base

    def pointers(self) -> list[int]:
        page = mmap.PAGESIZE
        return [self.base, self.base + page, self.base + 2 * page, 0, self.base + 4 * page - 6,
                self.base + 4 * page]


def _arg_sets(mem: _Memory, fd: int) -> list[tuple[int, ...]]:
    ptrs = mem.pointers()
    flag_words = [0, 0o1101, 0o2 | 0o100 | 0o2000000, 0o20200000 | 0o2, 0xFFFFFFFF]
    sets = []
    for i, ptr in enumerate(ptrs):
        flags = flag_words[i % len(flag_words)]
        sets.append((fd, ptr, flags, 0o4755 | (1 << 40), ptr, (1 << 64) - 100))
        sets.append((-100 & ((1 << 64) - 1), ptr, ptr, flags, 3, 0))  # AT_FDCWD as the register holds it
        sets.append((ptr, ptr, 7, 0o644, 0, 1 << 63))
    for cmd in (0, 1, 2, 4, 1030, 1032, 99, -1 & ((1 << 64) - 1)):  # fcntl commands
        sets.append((fd, cmd, 0x22, 0x812, fd, 4096))
    return sets


@pytest.mark.parametrize("snaplen,read_dev,read_vm", [(80, True, True), (1, False, False), (0, True, True),
                                                      (3000, True, False), (65536, True, True)])
def test_every_recipe_encodes_as_the_python_path(snaplen: int, read_dev: bool, read_vm: bool) -> None:
    _require_core()
    builder, shipped, core = _pair(snaplen, read_dev, read_vm)
    mem = _Memory()
    me = os.getpid()
    fd = os.open("/etc/hostname", os.O_RDONLY)
    high = os.dup2(fd, 1019)  # a 4-digit fd number for open's dev (its /proc/PID/fd name)
    # Process-wide values (open's dev of the returned fd, the VM sizes) come from a sleeping child that
    # holds the same fd, as this process's own counters could move between the two encodings.
    child = subprocess.Popen(["sleep", "60"], pass_fds=(fd, high))
    pid = child.pid
    try:
        routes = fastpath.routes(builder)
        # read, write, open, close, mmap, mprotect, munmap, brk, fcntl, openat, getpid (generic)
        assert {0, 1, 2, 3, 9, 10, 11, 12, 72, 257, 39} <= set(routes)
        checked = 0
        for nr in routes:
            for args in _arg_sets(mem, fd):
                th = Thread(me, pid)
                shipped.clear()
                builder.syscall_enter(th, 123, 0, nr, args)
                assert [core.encode(nr, True, 123, me, pid, args, 0)] == (shipped or [None]), (nr, args)
                for ret in (-2, 0, 1, 5, 100, 5000, 70000, fd, high, -4095, 1 << 40):
                    th.args = args
                    shipped.clear()
                    builder.syscall_exit(th, 456, 0, nr, ret)
                    assert [core.encode(nr, False, 456, me, pid, args, ret)] == (shipped or [None]), (nr, args, ret)
                    checked += 1
        assert builder.errors == 0, builder.last_error
        assert checked > 1000
    finally:
        child.kill()
        child.wait()
        os.close(fd)
        os.close(high)


def _open_exit(core: Any, builder: EventBuilder, shipped: list[bytes], pid: int, fd: int) -> tuple[bytes, bytes]:
    """An openat exit returning `fd` of process `pid`, encoded by the C path and by the Python path (whose
    dev is always a stat of /proc/PID/fd/FD)."""
    nr, me = 257, os.getpid()
    args = (-100 & ((1 << 64) - 1), 0, 0, 0, 0, 0)
    shipped.clear()
    th = Thread(me, pid)
    th.args = args
    builder.syscall_exit(th, 456, 0, nr, fd)
    return core.encode(nr, False, 456, me, pid, args, fd), shipped[0]


def test_open_dev_from_the_mount_table_is_the_stat(tmp_path: Path) -> None:
    """open's dev read from fdinfo's mount id is the stat's, file system by file system; a pipe (whose
    mount mountinfo does not list) and a file system not in STAT_DEV_FSTYPES keep the stat."""
    _require_core()
    builder, shipped, core = _pair(80, True, False)
    from tracer.decoders import base

    files = [os.open("/etc/hostname", os.O_RDONLY), os.open("/proc/self/status", os.O_RDONLY)]
    if os.path.isdir("/dev/shm"):
        shm = f"/dev/shm/sdu-test-{os.getpid()}"
        files.append(os.open(shm, os.O_RDWR | os.O_CREAT, 0o600))
        os.unlink(shm)
    rd, wr = os.pipe()
    files.append(os.open(f"/proc/self/fd/{rd}", os.O_RDONLY | os.O_NONBLOCK))  # a FIFO open: pipefs
    files += [rd, wr]
    try:
        for fd in files:
            for _ in range(4):  # the first sighting of (pid, fd) takes the stat, the later ones may not
                mine, python = _open_exit(core, builder, shipped, os.getpid(), fd)
                assert mine == python, fd
        from_table, stat, _reloads = core.dev_reads()
        assert from_table >= 4  # (at least the root file system's and /proc's, the later rounds)
        assert stat >= len(files)
        fstype = _fstype_of("/etc/hostname")
        assert fstype.encode() not in base.STAT_DEV_FSTYPES or from_table >= 6
    finally:
        for fd in files:
            os.close(fd)


def test_open_dev_of_many_fds_in_turn_is_the_stat() -> None:
    """More (pid, fd) pairs than the C path keeps fdinfo files for, in an order that makes them take each
    other's places: every dev still the stat's."""
    _require_core()
    builder, shipped, core = _pair(80, True, False)
    fds = [os.open("/etc/hostname", os.O_RDONLY) for _ in range(40)]
    try:
        order = fds + fds[::-1] + [fd for pair in zip(fds, fds) for fd in pair] + fds[::3] * 3
        for fd in order:
            mine, python = _open_exit(core, builder, shipped, os.getpid(), fd)
            assert mine == python, fd
        assert core.dev_reads()[0] > 0
    finally:
        for fd in fds:
            os.close(fd)


def _fstype_of(path: str) -> str:
    best, kind = "", ""
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            point = fields[4]
            if (real == point or real.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
                best, kind = point, fields[fields.index("-") + 1]
    return kind


def test_open_dev_follows_a_new_mount_on_a_reused_mount_id(tmp_path: Path) -> None:
    """A tmpfs unmounted and another file system bound in its place, which takes the lowest free mount id,
    most likely the one just freed: the same (pid, fd) then names the other device, as the stat does
    (the table is read again once mountinfo's poll says the mounts changed)."""
    _require_core()
    first, other = tmp_path / "first", tmp_path / "other"
    first.mkdir()
    other.mkdir()
    builder, shipped, core = _pair(80, True, False)

    def run(*argv: str) -> bool:
        return subprocess.run(argv, check=False, capture_output=True).returncode == 0

    def opens(path: Path) -> int:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        high = os.dup2(fd, 917)  # the same fd number both times
        os.close(fd)
        try:
            for _ in range(3):
                mine, python = _open_exit(core, builder, shipped, os.getpid(), high)
                assert mine == python
            return os.fstat(high).st_dev
        finally:
            os.close(high)

    if not run("mount", "-t", "tmpfs", "sdu-test", str(first)):
        pytest.skip("cannot mount a tmpfs here")
    mounted = [first]
    try:
        if not run("mount", "-t", "tmpfs", "sdu-test", str(other)):
            pytest.skip("cannot mount a second tmpfs here")
        mounted.append(other)
        dev_first = opens(first / "f")
        assert run("umount", str(first))
        mounted.remove(first)
        assert run("mount", "--bind", str(other), str(first))
        mounted.append(first)
        assert opens(first / "g") != dev_first
    finally:
        for point in reversed(mounted):
            run("umount", str(point))
    from_table, _stat, reloads = core.dev_reads()
    assert from_table >= 4 and reloads >= 1


def test_recipes_are_checked_against_the_event_table() -> None:
    # a recipe whose sizes do not match its event's params is refused, not used
    from sysdig_user.event_table import event_code

    close_x = event_code("close", False)  # (res: ERRNO, 8 bytes)
    assert fastpath._fits(close_x, [fastpath._op(fastpath.RET)])
    assert not fastpath._fits(close_x, [fastpath._op(fastpath.U32, 0)])
    assert not fastpath._fits(close_x, [fastpath._op(fastpath.PATH, 0)])
    assert not fastpath._fits(close_x, [])


# ---- end to end ------------------------------------------------------------------------------------

_VOLATILE = re.compile(r"\b(res|addr|vm_size|vm_rss|vm_swap|pgft_maj|pgft_min|tid|pid|ptid|ino|dev|data|"
                       r"ID|nativeID|fd|env|cgroups|fdlimit|ts|timeout|child_tid|source|peer|vtid|vpid|spid|dpid)=\S*")
_PORT = re.compile(r"(\d+\.\d+\.\d+\.\d+):\d+|\b[0-9a-f]{5,}->")  # ports; unix socket addresses


def _lines(scap: Path) -> list[list[str]]:
    """Each thread's lines, normalised; the threads in sorted order (processes interleave by chance)."""
    out = subprocess.run([sys.executable, "-m", "sysdig_user", "-r", str(scap), "-p",
                          "%thread.tid %evt.dir %evt.type %evt.args"], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=120).stdout
    threads: dict[str, list[str]] = {}
    for line in out.splitlines():
        tid, _, rest = line.partition(" ")
        norm = _PORT.sub(lambda m: f"{m.group(1)}:P" if m.group(1) else "X->", _VOLATILE.sub(r"\1=", rest))
        threads.setdefault(tid, []).append(norm)
    return sorted(threads.values())


def _capture(tmp: Path, name: str, argv: list[str], native: bool) -> tuple[Path, str]:
    scap = tmp / f"{name}-{'c' if native else 'py'}.scap"
    env = dict(os.environ)
    env.pop("SDU_NO_NATIVE", None)
    env["SDU_TEST_CONSUMER_AFTER"] = "0"  # the consumer (and so the fast path) from the first event on
    if not native:
        env["SDU_NO_NATIVE"] = "1"
    proc = subprocess.run([sys.executable, "-m", "sysdig_user", "-v", "-q", "-w", str(scap), "--", *argv],
                          cwd=tmp, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return scap, proc.stderr


@pytest.mark.ptrace
@pytest.mark.parametrize("mode", ["files", "reopen", "pipes", "tcp", "udp", "unix", "forks", "signals"])
def test_capture_equals_the_python_path(mode: str, calls_bin: Path, tmp_path: Path) -> None:
    _require_core()
    c_scap, c_err = _capture(tmp_path, mode, [str(calls_bin), mode], True)
    py_scap, py_err = _capture(tmp_path, mode, [str(calls_bin), mode], False)
    handled = re.search(r"compiled fast path: (\d+) of (\d+) stops", c_err)
    assert handled is not None, c_err
    # The C path took part (how large a share depends on timing: a batch older than its age limit, which a
    # loaded machine reaches sooner, sends the next stop to Python; shares belong in bench/).
    assert int(handled.group(1)) > 0, c_err
    assert "compiled fast path: not used" in py_err
    assert _lines(c_scap) == _lines(py_scap)


_SPINNER = """
import sys, threading, time
count = [0]
def spin():
    while True:
        count[0] += 1
        time.sleep(0.001)
threading.Thread(target=spin, daemon=True).start()
time.sleep(0.05)
from sysdig_user.cli import main
before = count[0]
status = main(["-q", "-v", "--", "sleep", "1"])
print("spins", count[0] - before, "status", status, file=sys.stderr)
"""


@pytest.mark.ptrace
def test_the_loop_lets_another_thread_run_while_it_waits(tmp_path: Path) -> None:
    """The compiled loop keeps the GIL across wait4 only when no other Python thread exists: a thread of
    the tracing program goes on running while the command sleeps (and the loop waits for its stop)."""
    _require_core()
    env = dict(os.environ, SDU_TEST_CONSUMER_AFTER="0")  # the fast path from the first event on
    env.pop("SDU_NO_NATIVE", None)
    proc = subprocess.run([sys.executable, "-c", _SPINNER], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert "compiled fast path: not used" not in proc.stderr
    spins = re.search(r"spins (\d+) status 0", proc.stderr)
    assert spins is not None, proc.stderr
    # ~1,000 spins of 1 ms; the loop holding the GIL through the 1 s wait left ~25, all of them before it
    assert int(spins.group(1)) > 150, proc.stderr


@pytest.mark.ptrace
def test_open_exits_write_the_path_their_enter_read(calls_bin: Path, tmp_path: Path) -> None:
    """reopen rewrites one buffer between 300 opens: with the enter's path reused at the exit, each exit
    still names the file its own call opened, and the C path reused the path for most of them."""
    _require_core()
    scap, err = _capture(tmp_path, "reopen", [str(calls_bin), "reopen"], True)
    reused = re.search(r"(\d+) paths reused", err)
    assert reused is not None, err
    assert int(reused.group(1)) > 100, err
    out = subprocess.run([sys.executable, "-m", "sysdig_user", "-r", str(scap), "-p", "%evt.dir %evt.type %evt.args",
                          "evt.type in (open, openat) and fd.name contains r and fd.name contains .txt"], cwd=ROOT,
                         capture_output=True, text=True, check=True, timeout=120).stdout.splitlines()
    names = [re.search(r"name=([^ (]+)", line) for line in out if line.startswith("<")]
    got = [m.group(1) for m in names if m is not None]
    assert got == [f"r{i % 7}.txt" for i in range(300)]
