"""tracer/procfs.py's readers (os.open/os.read, one decode per file) against a plain reading of the same
files line by line through a buffered file object, for a process this test starts and its own ancestors."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tracer import procfs
from tracer.errors import ProcessGone

V2_CONTROLLERS = ("cpuset", "cpu", "cpuacct", "io", "memory", "devices", "freezer", "net_cls", "perf_event",
                  "net_prio", "hugetlb", "pids", "rdma", "misc")
#: a name with a space, a parenthesis, a colon and a byte that is not UTF-8
ODD_NAME = b"a b):\xff"
CHILD = f"""
import ctypes, sys
ctypes.CDLL(None).prctl(15, {ODD_NAME!r}, 0, 0, 0)
print("ready", flush=True)
sys.stdin.read()
"""


def _status(pid: int) -> dict[str, str]:
    out: dict[str, str] = {}
    with open(f"/proc/{pid}/status", "rb") as f:
        for line in f:
            key, _, val = line.partition(b":")
            out[key.decode()] = val.strip().decode("utf-8", "surrogateescape")
    return out


def _fdlimit(pid: int) -> int:
    with open(f"/proc/{pid}/limits", "rb") as f:
        for line in f:
            if line.startswith(b"Max open files"):
                soft = line.split()[3]
                return -1 if soft == b"unlimited" else int(soft)
    return 0


def _cgroups(pid: int) -> list[str]:
    out: list[str] = []
    with open(f"/proc/{pid}/cgroup", "rb") as f:
        for line in f:
            parts = line.rstrip(b"\n").decode("utf-8", "surrogateescape").split(":", 2)
            if len(parts) == 3:
                ctrls = parts[1].split(",") if parts[1] else list(V2_CONTROLLERS)
                out.extend(f"{c}={parts[2]}" for c in ctrls if c)
    return out


def _nul_list(path: str, limit: int = -1) -> list[str]:
    with open(path, "rb") as f:
        raw = f.read(limit)
    if limit >= 0 and len(raw) == limit:
        raw = raw[:limit - 2] + b"\0"
    if raw.endswith(b"\0"):
        raw = raw[:-1]
    return [s.decode("utf-8", "surrogateescape") for s in raw.split(b"\0")] if raw else []


def _pids() -> list[int]:
    """This test process and its ancestors up to init."""
    out = [os.getpid()]
    while out[-1] > 1:
        ppid = procfs.stat(out[-1]).ppid
        if ppid <= 0:
            break
        out.append(ppid)
    return out


@pytest.fixture
def child() -> object:
    proc = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        yield proc
    finally:
        proc.stdin.close()  # type: ignore[union-attr]
        proc.wait(timeout=10)


def test_readers_match_a_buffered_reading(child: subprocess.Popen[bytes]) -> None:
    for pid in [child.pid, *_pids()]:
        status = _status(pid)
        # (the Vm* lines of a running process, this one or an ancestor, may change between two reads:
        # they are compared for the child, which waits on its stdin)
        keys = [key for key in procfs.STATUS_KEYS if pid == child.pid or not key.startswith("Vm")]
        got = procfs.status(pid)
        assert {key: got[key] for key in keys if key in got} == {key: status[key] for key in keys if key in status}
        assert set(got) == {key for key in procfs.STATUS_KEYS if key in status}
        assert "Uid" in status
        assert procfs.fdlimit(pid) == procfs.fdlimit_file(pid) == _fdlimit(pid)
        assert procfs.cmdline(pid) == _nul_list(f"/proc/{pid}/cmdline")
        try:
            env = _nul_list(f"/proc/{pid}/environ", procfs.ENV_MAX + 1)
        except PermissionError:
            env = []
        assert procfs.environ(pid) == env
        assert procfs.cgroups(pid) == _cgroups(pid)
        with open(f"/proc/{pid}/loginuid") as f:
            uid = int(f.read())
        assert procfs.loginuid(pid) == (-1 if uid == 0xFFFFFFFF else uid)
    assert procfs.stat(child.pid).comm == ODD_NAME.decode("utf-8", "surrogateescape")


def test_read_beyond_one_chunk_and_up_to_a_limit(tmp_path: Path) -> None:
    data = bytes(range(256)) * 100  # longer than one read
    path = tmp_path / "f"
    path.write_bytes(data)
    assert procfs.read(str(path)) == data
    assert procfs.read(str(path), 10) == data[:10]
    assert procfs.read(str(path), 9000) == data[:9000]
    assert procfs.read(str(path), len(data) + 5) == data
    path.write_bytes(b"")
    assert procfs.read(str(path)) == b""


def test_a_missing_process_is_gone() -> None:
    with pytest.raises(ProcessGone):
        procfs.status(2**22 + 1)


def test_fdlimit_of_a_lowered_limit_and_of_a_gone_process() -> None:
    """prlimit(2) gives what /proc/PID/limits prints (RLIMIT_NOFILE is never unlimited: it cannot exceed
    fs.nr_open); a pid prlimit cannot read falls back to the file: a gone one raises ProcessGone."""
    proc = subprocess.Popen(["sh", "-c", "ulimit -n 1000 && exec cat"], stdin=subprocess.PIPE)
    try:
        assert procfs.fdlimit(proc.pid) == procfs.fdlimit_file(proc.pid) == _fdlimit(proc.pid)
    finally:
        proc.stdin.close()  # type: ignore[union-attr]
        proc.wait(timeout=10)
    with pytest.raises(ProcessGone):
        procfs.fdlimit(2**22 + 1)


def test_fdinfo_flags_match_a_line_by_line_reading(tmp_path: Path) -> None:
    from tracer.snapshot import _fdinfo_flags

    def flags(fd: int) -> int:
        with open(f"/proc/self/fdinfo/{fd}") as f:
            return next((int(line.split()[1], 8) for line in f if line.startswith("flags:")), 0)

    fds = [os.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT | os.O_APPEND), os.open(tmp_path, os.O_RDONLY),
           *os.pipe()]
    try:
        for fd in fds:
            assert _fdinfo_flags(os.getpid(), fd) == flags(fd) != 0
    finally:
        for fd in fds:
            os.close(fd)
    assert _fdinfo_flags(os.getpid(), max(fds) + 100) == 0


def test_nul_lists_decode_each_string_as_alone() -> None:
    raw = b"a\xc3\0\xa9b\0\xe2\x82\0ok\xc3\xa9\0\0x\0"
    assert procfs._nul_list(raw) == [s.decode("utf-8", "surrogateescape") for s in raw[:-1].split(b"\0")]
    assert procfs._nul_list(b"") == [] and procfs._nul_list(b"\0") == []
