"""Engine.launch's child cloned in C (tracer/_launch.c) against the Python child (SDU_NO_NATIVE=1).

The same launches both ways: the same events (with and without the seccomp pushdown), the same
command environment and directory, the same exit status and stderr line when the execve fails, and
the C child's pipe protocol on its own (EOF before the go: exit 127, the command never runs).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sysdig_user.native import extension
from tests.support import ROOT, native_environ, require_built
from tracer import engine as engine_module
from tracer import seccomp
from tracer.engine import Engine
from tracer.events import EventBuilder

pytestmark = pytest.mark.ptrace

_FORMAT = "%evt.num %evt.dir %evt.type %proc.name %evt.res %fd.name"
_SPAWN = getattr(extension("tracer._launch", engine_module._LAUNCH_VERSION), "spawn", None)  # (whatever SDU_NO_NATIVE)


@pytest.fixture
def _built() -> None:
    """Skips without tracer/_launch.c's spawn, or fails where it must have been built (CI)."""
    require_built(_SPAWN, "tracer._launch")


needs_native = pytest.mark.usefixtures("_built")


def _sdu(args: list[str], native: bool, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(native_environ(native), PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "sysdig_user", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, stdin=subprocess.DEVNULL, timeout=120, check=False)


@needs_native
@pytest.mark.parametrize("args", [["-p", _FORMAT, "--", "/bin/true"],
                                  ["-p", _FORMAT, "evt.type=openat", "--", "/bin/true"],
                                  ["-p", _FORMAT, "evt.type in (execve,close)", "--", "/bin/sh", "-c", "exit 3"]])
def test_same_events_both_ways(args: list[str]) -> None:
    native, python = _sdu(args, True), _sdu(args, False)
    assert (native.returncode, native.stderr) == (python.returncode, python.stderr)
    assert native.stdout.splitlines() == python.stdout.splitlines()
    assert native.stdout


@needs_native
@pytest.mark.parametrize("content", ["#!/nonexistent/interpreter\n", "not an executable\n\x00\x01"])
def test_failed_execve_same_line_both_ways(tmp_path: Path, content: str) -> None:
    prog = tmp_path / "prog"
    prog.write_text(content)
    prog.chmod(0o755)
    native, python = _sdu(["-q", "--", str(prog)], True), _sdu(["-q", "--", str(prog)], False)
    assert native.returncode == python.returncode != 0
    assert native.stderr == python.stderr
    assert native.stderr.startswith(f"sdu: {prog}: ")


def _launch_files(tmp_path: Path, native: bool, monkeypatch: pytest.MonkeyPatch, pushdown: bool) -> tuple:
    if native:
        monkeypatch.delenv("SDU_NO_NATIVE", raising=False)
    else:
        monkeypatch.setenv("SDU_NO_NATIVE", "1")
    out = tmp_path / ("native" if native else "python")
    out.mkdir()
    records: list = []
    engine = Engine(EventBuilder(records.append))
    if pushdown:
        engine.seccomp_syscalls = frozenset({257})  # openat
    script = 'pwd > where; echo "$A|$B" > env; trap -p > traps'
    engine.launch(["/bin/sh", "-c", script], env={"A": "1", "B": "two words", "PATH": "/usr/bin:/bin"}, cwd=str(out))
    status = engine.run()
    files = tuple((out / name).read_text().replace(str(out), "DIR") for name in ("where", "env", "traps"))
    return status, files, engine._seccomp_err


@needs_native
@pytest.mark.parametrize("pushdown", [False, True])
def test_env_cwd_and_seccomp_same_both_ways(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pushdown: bool) -> None:
    native = _launch_files(tmp_path, True, monkeypatch, pushdown)
    python = _launch_files(tmp_path, False, monkeypatch, pushdown)
    assert native == python
    assert native[1][:2] == ("DIR\n", "1|two words\n")


@needs_native
@pytest.mark.parametrize("go", [b"", b"g"])
@pytest.mark.parametrize("drop_early", [False, True])
def test_pipe_protocol(tmp_path: Path, go: bytes, drop_early: bool) -> None:
    """EOF before the go (the tracer died): exit 127 before the execve; 'g': the command runs. The
    child's block outlives a handle dropped before the execve."""
    mark = tmp_path / "ran"
    rfd, wfd = os.pipe()
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    program = seccomp.Program(frozenset({257})).code
    pid, keep = _SPAWN(b"/bin/sh", [b"sh", b"-c", b"touch " + os.fsencode(mark)], None, None,
                       [(int(signal.SIGTERM), False)], [int(s) for s in mask], rfd, wfd, program, True, b"sh")
    os.close(rfd)
    if drop_early:
        del keep
    if go:
        os.write(wfd, go)
    os.close(wfd)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == (0 if go else 127)
    assert mark.exists() == bool(go)


@needs_native
def test_a_signal_to_the_waiting_child_never_runs_sdus_handler() -> None:
    """The C child shares sdu's memory until its execve: a signal sent to it before then (here one sdu
    has a Python handler for, which _command_dispositions does not reset) must not trip sdu's handler,
    and acts on the child as on a freshly spawned one (posix_spawn: caught signals reset to SIG_DFL)."""
    seen: list[int] = []
    old = signal.signal(signal.SIGUSR2, lambda sig, _frame: seen.append(sig))
    rfd, wfd = os.pipe()
    try:
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
        pid, keep = _SPAWN(b"/bin/true", [b"true"], None, None, [], [int(s) for s in mask], rfd, wfd, None,
                           False, b"true")
        os.close(rfd)
        os.kill(pid, signal.SIGUSR2)  # (the child waits for the go on the pipe meanwhile)
        try:
            os.write(wfd, b"g")  # (a child that survived the signal runs the command)
        except BrokenPipeError:
            pass
        _, status = os.waitpid(pid, 0)
        for _ in range(100):  # (any handler CPython was told of runs at one of these)
            signal.pthread_sigmask(signal.SIG_BLOCK, [])
        assert seen == []
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGUSR2
        del keep
    finally:
        os.close(wfd)
        signal.signal(signal.SIGUSR2, old)
