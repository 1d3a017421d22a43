"""The co-location watchdog (tracer/guard.py): a child of the tracer, reaped once released; gives pinned
threads (and the processes forked from them) their CPUs back when the tracer dies without releasing; not
started under the seccomp filter, whose PTRACE_O_EXITKILL already ends every tracee with the tracer. Each
test runs with both watchdogs: the program tracer/_guard.c (guard.HELPER) and guard._watch (forked,
SDU_NO_NATIVE).
(sdu's own SIGKILL while co-located: tests/live/test_signals.py.)"""
from __future__ import annotations

import os
import signal
import struct
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import require_built
from tracer import guard
from tracer.placement import Placement

ORIGINAL = frozenset(os.sched_getaffinity(0))
needs_two = pytest.mark.skipif(len(ORIGINAL) < 2, reason="co-location needs at least two allowed CPUs")
BOUND_S = 10.0  # generous: the machine running the tests may be loaded


def _wait_until(check: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + BOUND_S
    while not check():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)
    return True


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _all_reaped() -> bool:
    guard.reap_exited()
    return not guard._exiting


@pytest.fixture(params=["native", "python"])
def kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which watchdog guard.start starts: the program (tracer/_guard.c), or the forked Python one."""
    monkeypatch.delenv("SDU_NO_NATIVE", raising=False)
    if request.param == "native":
        require_built(guard._helper(), f"tracer/{guard.HELPER}")
    else:
        monkeypatch.setenv("SDU_NO_NATIVE", "1")
    return str(request.param)


def test_watchdog_is_a_child_reaped_once_released(kind: str) -> None:
    g = guard.start(ORIGINAL, min(ORIGINAL))
    if g is None:
        pytest.skip("no pidfds here: no watchdog")
    assert _wait_until(lambda: _comm(g.pid) == guard.COMM)
    assert os.waitpid(g.pid, os.WNOHANG) == (0, 0)  # ours, and alive until released
    program = os.readlink(f"/proc/{g.pid}/exe")
    assert program.endswith(f"/{guard.HELPER}") == (kind == "native"), program
    g.release()
    assert _wait_until(_all_reaped)
    with pytest.raises(ChildProcessError):  # reaped: no zombie left behind
        os.waitpid(g.pid, os.WNOHANG)


def _tracer_dies(command: list[str], others: int = 0, no_stdin: bool = False, drop: bool = False) -> tuple[int, int]:
    """A forked stand-in for the tracer starts the watchdog, starts `command` pinned to one CPU, reports
    it, waits until the command's process has `others` children, and exits without releasing anything.
    The command's pid and the watchdog's (skips without pidfds). `no_stdin`: the stand-in runs with
    descriptor 0 closed, so the watchdog's pidfd is 0. `drop`: the command is reported gone again
    right after (Guard.drop)."""
    cpu = min(ORIGINAL)
    r, w = os.pipe()
    tracer = os.fork()
    if tracer == 0:  # pragma: no cover - the stand-in tracer
        try:
            os.close(r)
            if no_stdin:
                os.close(0)
            g = guard.start(ORIGINAL, cpu)
            if g is None:
                os.write(w, struct.pack("<iii", 0, 0, 0))
                os._exit(0)
            pid = os.fork()
            if pid == 0:
                os.sched_setaffinity(0, {cpu})
                os.execv(command[0], command)
            g.add(pid)
            if drop:
                g.drop(pid)
            _wait_until(lambda: len(_children(pid)) >= others)
            # still watching, not done early: named, running, the command on the one CPU as it was put
            time.sleep(0.1)
            watching = (_wait_until(lambda: _comm(g.pid) == guard.COMM) and _state(g.pid) not in ("Z", "")
                        and frozenset(os.sched_getaffinity(pid)) == {cpu})
            os.write(w, struct.pack("<iii", pid, g.pid, watching))
        finally:
            os._exit(0)
    os.close(w)
    data = os.read(r, 12)
    os.close(r)
    os.waitpid(tracer, 0)
    pid, watchdog, watching = struct.unpack("<iii", data) if len(data) == 12 else (0, 0, 0)
    if not pid:
        pytest.skip("no pidfds here: no watchdog")
    assert watching, "the watchdog ended (or restored the command) before the tracer did"
    return pid, watchdog


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return ""


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (OSError, ValueError):
        return []


@needs_two
def test_watchdog_gives_the_cpus_back_when_the_tracer_dies(kind: str) -> None:
    sleeper, watchdog = _tracer_dies(["/bin/sleep", "30"])
    try:
        assert _wait_until(lambda: frozenset(os.sched_getaffinity(sleeper)) == ORIGINAL)
        assert _wait_until(lambda: _comm(watchdog) != guard.COMM)  # done: it exits
    finally:
        os.kill(sleeper, signal.SIGKILL)


@needs_two
def test_watchdog_works_when_sdu_has_no_stdin(kind: str) -> None:
    """sdu run with descriptor 0 closed: the pidfd of the tracer lands on 0, which the watchdog puts
    /dev/null on; it must move it first, or it sees the tracer gone at once and protects nothing."""
    sleeper, _ = _tracer_dies(["/bin/sleep", "30"], no_stdin=True)
    try:
        assert _wait_until(lambda: frozenset(os.sched_getaffinity(sleeper)) == ORIGINAL)
    finally:
        os.kill(sleeper, signal.SIGKILL)


def test_the_program_refuses_arguments_it_cannot_use() -> None:
    """Exit 2, nothing done, for a wrong count, a non-number, a CPU out of range or a bad mask."""
    program = guard._helper()
    require_built(program, f"tracer/{guard.HELPER}")
    assert program is not None
    for args in ([], ["3", "4", "0"], ["x", "4", "0", "03"], ["3", "4", "99999", "03"], ["3", "4", "0", "0"],
                 ["3", "4", "0", "zz"]):
        assert subprocess.run([program, *args], timeout=10, check=False).returncode == 2, args


@needs_two
def test_watchdog_restores_processes_forked_from_a_pinned_one(kind: str) -> None:
    """Only the shell was reported; the sleep it forked inherited the one CPU and gets the mask back too."""
    shell, watchdog = _tracer_dies(["/bin/sh", "-c", "sleep 30 & wait"], others=1)
    kids = _children(shell)
    try:
        assert kids
        assert _wait_until(lambda: frozenset(os.sched_getaffinity(shell)) == ORIGINAL)
        assert _wait_until(lambda: all(frozenset(os.sched_getaffinity(k)) == ORIGINAL for k in kids))
        assert _wait_until(lambda: _comm(watchdog) != guard.COMM)
    finally:
        for pid in (*kids, shell):
            os.kill(pid, signal.SIGKILL)


@needs_two
def test_a_thread_reported_gone_is_left_alone(kind: str) -> None:
    """A tid the tracer reported gone (drop) is no longer the watchdog's: a process that has taken its
    number keeps the one CPU it chose."""
    pid, watchdog = _tracer_dies(["/bin/sleep", "30"], drop=True)
    try:
        assert _wait_until(lambda: _comm(watchdog) != guard.COMM)  # it has done all it will do
        assert frozenset(os.sched_getaffinity(pid)) == {min(ORIGINAL)}
    finally:
        os.kill(pid, signal.SIGKILL)


@needs_two
def test_no_watchdog_when_exitkill_covers_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_start(original: frozenset[int], cpu: int) -> None:
        raise AssertionError("a watchdog was started")

    monkeypatch.setattr(guard, "start", no_start)
    p = Placement()
    assert p.start(watchdog=False)
    assert p.guard is None and p.cpu in ORIGINAL
