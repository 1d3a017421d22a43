"""A sink that raises mid-stop: Engine.run() detaches every tracee (the stopped one included) at once.

The thread whose stop was being handled is held by the loop; detach_all detaches it directly instead of
interrupting it and waiting 5 s for a stop that never comes. Attach mode: the target runs on untraced.
Launch mode (the documented policy, tracer/engine.py): a command without sdu's seccomp filter runs on
untraced and the caller reaps it; one under the filter is killed.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import status_field, wait_for
from tracer import pushdown
from tracer.engine import Engine, Thread
from tracer.events import EventBuilder

pytestmark = pytest.mark.ptrace


class Boom(Exception):
    pass


class RaisingSink(EventBuilder):
    """EventBuilder that raises on its Nth syscall record, or on the first signal when `on_signal`."""

    def __init__(self, nth: int = 0, on_signal: bool = False) -> None:
        super().__init__(lambda _e: None, build=False)
        self.nth = nth
        self.on_signal = on_signal
        self.count = 0

    def _tick(self) -> None:
        self.count += 1
        if self.nth and self.count == self.nth:
            raise Boom(f"record {self.count}")

    def syscall_enter(self, th: Thread, ts: int, cpu: int, nr: int, args: tuple[int, ...]) -> None:
        self._tick()
        super().syscall_enter(th, ts, cpu, nr, args)

    def syscall_exit(self, th: Thread, ts: int, cpu: int, nr: int, ret: int) -> None:
        self._tick()
        super().syscall_exit(th, ts, cpu, nr, ret)

    def signal(self, th: Thread, sig: int, sender: int, ts: int, cpu: int) -> None:
        if self.on_signal:
            raise Boom("signal")
        super().signal(th, sig, sender, ts, cpu)


# The detach path has a 5 s timeout for a thread that never stops; an error must not wait for it. The bound
# sits under that timeout with room for a loaded machine, so it still tells the two apart.
NO_DETACH_TIMEOUT = 4.5


def _run_raising(engine: Engine) -> float:
    start = time.monotonic()
    with pytest.raises(Boom):
        engine.run()
    return time.monotonic() - start


@pytest.fixture
def looper(calls_bin: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    out = tmp_path / "dots"
    with open(out, "wb") as f:
        proc = subprocess.Popen([str(calls_bin), "loop"], stdout=f)
    try:
        yield proc, out
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("nth", [1, 2, 7])
def test_attach_sink_raises_target_keeps_running(looper, nth: int) -> None:  # type: ignore[no-untyped-def]
    target, dots = looper
    engine = Engine(RaisingSink(nth))
    engine.attach([target.pid])
    elapsed = _run_raising(engine)
    assert elapsed < NO_DETACH_TIMEOUT
    assert not engine.threads and not engine._held
    assert status_field(target.pid, "TracerPid") == "0"
    assert status_field(target.pid, "State")[0] in "SR"
    before = dots.stat().st_size
    assert wait_for(lambda: dots.stat().st_size > before + 2)
    assert target.poll() is None


def test_launch_sink_raises_command_runs_on(calls_bin: Path, tmp_path: Path) -> None:
    out = tmp_path / "dots"
    engine = Engine(RaisingSink(5))
    saved = os.dup(1)
    with open(out, "wb") as f:
        os.dup2(f.fileno(), 1)
        try:
            pid = engine.launch([str(calls_bin), "loop"])
        finally:
            os.dup2(saved, 1)
            os.close(saved)
    try:
        assert _run_raising(engine) < NO_DETACH_TIMEOUT
        assert status_field(pid, "TracerPid") == "0"
        before = out.stat().st_size
        assert wait_for(lambda: out.stat().st_size > before + 2)  # runs on, untraced
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def test_launch_sink_raises_on_signal_delivers_it(calls_bin: Path, capfd: pytest.CaptureFixture[str]) -> None:
    engine = Engine(RaisingSink(on_signal=True))
    pid = engine.launch([str(calls_bin), "signals"])
    assert _run_raising(engine) < NO_DETACH_TIMEOUT
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert "sig" in capfd.readouterr().out  # the held signal was delivered on detach


def test_launch_under_seccomp_sink_raises_command_is_killed(calls_bin: Path) -> None:
    engine = Engine(RaisingSink(3), seccomp_syscalls=pushdown.syscalls_to_trace({"getppid"}, False, False))
    pid = engine.launch([str(calls_bin), "loop"])
    assert _run_raising(engine) < NO_DETACH_TIMEOUT
    assert engine.seccomp_active
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
