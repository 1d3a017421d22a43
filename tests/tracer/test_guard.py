"""The co-location watchdog (tracer/guard.py): one fork of the tracer, reaped once released; gives pinned
threads their CPUs back when the tracer dies without releasing; not started under the seccomp filter,
whose PTRACE_O_EXITKILL already ends every tracee with the tracer. (sdu's own SIGKILL while co-located:
tests/live/test_signals.py.)"""
from __future__ import annotations

import os
import signal
import struct
import time
from collections.abc import Callable
from pathlib import Path

import pytest

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


def test_watchdog_is_a_child_reaped_once_released() -> None:
    g = guard.start(ORIGINAL, min(ORIGINAL))
    if g is None:
        pytest.skip("no pidfds here: no watchdog")
    assert _wait_until(lambda: _comm(g.pid) == guard.COMM)
    assert os.waitpid(g.pid, os.WNOHANG) == (0, 0)  # ours, and alive until released
    g.release()
    assert _wait_until(_all_reaped)
    with pytest.raises(ChildProcessError):  # reaped: no zombie left behind
        os.waitpid(g.pid, os.WNOHANG)


@needs_two
def test_watchdog_gives_the_cpus_back_when_the_tracer_dies() -> None:
    """A forked stand-in for the tracer starts the watchdog, pins a sleeping child of its own, reports it,
    and exits without releasing anything."""
    cpu = min(ORIGINAL)
    r, w = os.pipe()
    tracer = os.fork()
    if tracer == 0:  # pragma: no cover - the stand-in tracer
        try:
            os.close(r)
            g = guard.start(ORIGINAL, cpu)
            if g is None:
                os.write(w, struct.pack("<ii", 0, 0))
                os._exit(0)
            sleeper = os.fork()
            if sleeper == 0:
                os.execv("/bin/sleep", ["sleep", "30"])
            os.sched_setaffinity(sleeper, {cpu})
            g.add(sleeper)
            os.write(w, struct.pack("<ii", sleeper, g.pid))
        finally:
            os._exit(0)
    os.close(w)
    data = os.read(r, 8)
    os.close(r)
    os.waitpid(tracer, 0)
    sleeper, watchdog = struct.unpack("<ii", data)
    if not sleeper:
        pytest.skip("no pidfds here: no watchdog")
    try:
        assert _wait_until(lambda: frozenset(os.sched_getaffinity(sleeper)) == ORIGINAL)
        assert _wait_until(lambda: _comm(watchdog) != guard.COMM)  # done: it exits
    finally:
        os.kill(sleeper, signal.SIGKILL)


@needs_two
def test_no_watchdog_when_exitkill_covers_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_start(original: frozenset[int], cpu: int) -> None:
        raise AssertionError("a watchdog was started")

    monkeypatch.setattr(guard, "start", no_start)
    p = Placement()
    assert p.start(watchdog=False)
    assert p.guard is None and p.cpu in ORIGINAL
