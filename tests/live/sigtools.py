"""Helpers for the signal tests: start sdu as the CLI, find every process of one run, check a tracee's health.

Each run's command line carries a unique token (the traced shell's $0), so every process of the run can be
found in /proc by its command line: sdu, its consumer and watchdog (forks of sdu), the launched child before
its execve (a fork of sdu too), the command and its children. Nothing else on the machine carries it.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from tests.live.conftest import ROOT
from tracer.guard import COMM as GUARD_COMM
from tracer.guard import HELPER as GUARD_HELPER

ORIGINAL = frozenset(os.sched_getaffinity(0))
BOUND_S = 10.0  # generous: the machine running the tests may be loaded


def new_token() -> str:
    return f"sdu-sigtest-{uuid.uuid4().hex[:12]}"


def heartbeat_script(beat: Path) -> str:
    """A shell loop appending a line per round to `beat`: a forked child's allowed CPUs (so a fresh
    process's affinity shows), its pid, then a short sleep. The file growing proves syscalls succeed."""
    return (f"echo $$ > {beat}.pid; while :; do "
            f"grep Cpus_allowed_list /proc/self/status >> {beat}; sleep 0.02; done")


def sdu_popen(*argv: str, token: str = "") -> subprocess.Popen[bytes]:
    """`sdu ARGV` (stdout discarded: a real file, so the run is pipelined) in its own session: no terminal
    relays signals, and the whole run can be cleaned up as a process group. `token` goes in its
    environment (SDU_TEST_TOKEN)."""
    return subprocess.Popen([sys.executable, "-m", "sysdig_user", *argv], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=str(ROOT), SDU_TEST_TOKEN=token),
                            start_new_session=True)


def stderr_now(proc: subprocess.Popen[bytes]) -> str:
    """What sdu wrote to stderr so far, without waiting for EOF (a command that outlives sdu holds it)."""
    assert proc.stderr is not None
    os.set_blocking(proc.stderr.fileno(), False)
    chunks = []
    while True:
        try:
            chunk = os.read(proc.stderr.fileno(), 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def status_fields(pid: int) -> dict[str, str]:
    """/proc/PID/status as a dict ({} once the process is gone or a zombie)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    if out.get("State", "").startswith(("Z", "X")):
        return {}
    return out


def parse_cpus(text: str) -> frozenset[int]:
    out: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return frozenset(out)


def run_processes(token: str, environ: bool = False) -> dict[int, str]:
    """pid -> comm of every live process whose command line holds `token` (or, `environ`, whose
    environment does: sdu_popen puts it there, for attach mode, whose sdu command line has no token)."""
    found: dict[int, str] = {}
    needle = token.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "cmdline").read_bytes() and not (
                    environ and needle in (entry / "environ").read_bytes()):
                continue
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if status_fields(int(entry.name)):
            found[int(entry.name)] = comm
    return found


def children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def is_sdu_side(pid: int) -> bool:
    """A process of sdu's (the tracer, its consumer or watchdog, the launched child before its execve),
    not the command: their command lines start with Python, or the watchdog's program (tracer/guard.py)."""
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0]
    except OSError:
        return False
    name = os.path.basename(argv0)
    return b"python" in name or name == GUARD_HELPER.encode()


def helper_of(sdu_pid: int, token: str, comm: str | None) -> int | None:
    """A process of sdu's that is neither sdu nor its child: the consumer (comm None) or the watchdog
    (comm GUARD_COMM)."""
    kids = set(children(sdu_pid))
    for pid, name in run_processes(token, environ=True).items():
        if pid == sdu_pid or pid in kids or not is_sdu_side(pid):
            continue
        if (name == GUARD_COMM) == (comm == GUARD_COMM):
            return pid
    return None


def wait_until(check: Callable[[], bool], bound: float = BOUND_S, step: float = 0.01) -> bool:
    """Poll `check` until it holds or `bound` seconds pass; its last value."""
    deadline = time.monotonic() + bound
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)


def wait_steady(check: Callable[[], bool], bound: float = BOUND_S, times: int = 3, gap: float = 0.03) -> bool:
    """wait_until for "no process is left": true `times` scans in a row, `gap` apart. A single /proc scan
    can miss a process forked while it runs by one that exits just after (the watchdog's middle process)."""
    deadline = time.monotonic() + bound
    streak = 0
    while streak < times:
        streak = streak + 1 if check() else 0
        if streak < times:
            if time.monotonic() >= deadline:
                return False
            time.sleep(gap)
    return True


def beats(beat: Path) -> int:
    try:
        return len(beat.read_bytes().splitlines())
    except OSError:
        return 0


def last_beat_cpus(beat: Path) -> frozenset[int] | None:
    """The allowed CPUs the newest heartbeat child reported."""
    try:
        lines = beat.read_text().splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        parts = line.split()
        if len(parts) == 2:
            return parse_cpus(parts[1])
    return None


def healthy_problems(pid: int, beat: Path | None, cpus: frozenset[int] = ORIGINAL) -> list[str]:
    """What is wrong with a process sdu no longer traces (empty: nothing). Waits up to BOUND_S for each
    condition (detaching and the watchdog take a moment), then reports what still does not hold."""
    problems: list[str] = []

    def state() -> str:
        return status_fields(pid).get("State", "gone")

    if not wait_until(lambda: status_fields(pid).get("TracerPid", "0") == "0"):
        problems.append(f"pid {pid} is still traced by {status_fields(pid).get('TracerPid')}")
    if not wait_until(lambda: state()[:1] not in ("t", "T")):
        problems.append(f"pid {pid} is stopped: {state()}")
    if not wait_until(lambda: parse_cpus(status_fields(pid).get("Cpus_allowed_list", "0-4095")) == cpus):
        problems.append(f"pid {pid} runs on CPUs {status_fields(pid).get('Cpus_allowed_list')}, not {sorted(cpus)}")
    if beat is not None:
        start = beats(beat)
        if not wait_until(lambda: beats(beat) >= start + 3):
            problems.append(f"pid {pid} makes no progress ({state()}): {beats(beat)} beats")
        elif not wait_until(lambda: last_beat_cpus(beat) == cpus):
            problems.append(f"pid {pid}'s new children run on {last_beat_cpus(beat)}, not {sorted(cpus)}")
    return problems


def kill_run(proc: subprocess.Popen[bytes], token: str) -> None:
    """End whatever is left of a run: its process group, then any process holding the token."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for pid in run_processes(token, environ=True):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()
