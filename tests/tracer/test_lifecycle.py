"""Launch, attach, detach, job control, exit status and privilege rules, on processes the tests start."""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT, status_field, system_user, wait_for
from tests.tracer.conftest import trace

pytestmark = pytest.mark.ptrace
TRACER = [sys.executable, "-m", "tracer"]






@pytest.fixture
def looper(calls_bin: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A target that makes a syscall every 20 ms and writes a dot per round to a file."""
    out = tmp_path / "dots"
    with open(out, "wb") as f:
        proc = subprocess.Popen([str(calls_bin), "loop"], stdout=f)
    try:
        yield proc, out
    finally:
        proc.kill()
        proc.wait()


def _progress(path: Path) -> int:
    return path.stat().st_size


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_attach_then_signal_detaches(looper, sig: int) -> None:  # type: ignore[no-untyped-def]
    target, dots = looper
    tracer = subprocess.Popen([*TRACER, "--count", "-p", str(target.pid)], cwd=ROOT,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: status_field(target.pid, "TracerPid") == str(tracer.pid))
        time.sleep(0.2)
        tracer.send_signal(sig)
        _, err = tracer.communicate(timeout=15)
    finally:
        if tracer.poll() is None:
            tracer.kill()
            tracer.wait()
    assert tracer.returncode == 0, err
    assert int(err.split()[0]) > 0  # it did see events
    assert target.poll() is None
    assert status_field(target.pid, "TracerPid") == "0"
    assert status_field(target.pid, "State")[0] in "SR"
    before = _progress(dots)
    assert wait_for(lambda: _progress(dots) > before + 2)


def test_attach_keeps_group_stop(looper) -> None:  # type: ignore[no-untyped-def]
    """SIGSTOP'd tracee stays stopped while traced (PTRACE_LISTEN), resumes on SIGCONT, detach is clean."""
    target, dots = looper
    tracer = subprocess.Popen([*TRACER, "--count", "-p", str(target.pid)], cwd=ROOT,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: status_field(target.pid, "TracerPid") == str(tracer.pid))
        os.kill(target.pid, signal.SIGSTOP)

        def settled() -> bool:
            # "t" is also every syscall stop of a traced process: wait until it stays stopped and the
            # dots stop growing, which is the group-stop taking effect
            before = _progress(dots)
            time.sleep(0.1)
            return status_field(target.pid, "State").startswith(("T", "t")) and _progress(dots) == before

        assert wait_for(settled)
        frozen = _progress(dots)
        time.sleep(0.3)
        assert _progress(dots) == frozen
        os.kill(target.pid, signal.SIGCONT)
        assert wait_for(lambda: _progress(dots) > frozen + 2)
        tracer.send_signal(signal.SIGTERM)
        tracer.communicate(timeout=15)
    finally:
        if tracer.poll() is None:
            tracer.kill()
            tracer.wait()
    assert tracer.returncode == 0
    assert status_field(target.pid, "TracerPid") == "0"


def test_exit_status_pass_through(calls_bin: Path) -> None:
    assert trace([str(calls_bin), "exit", "7"]).status == 7
    assert trace(["/bin/sh", "-c", "kill -TERM $$"]).status == 128 + signal.SIGTERM


def _wait_for_traced_child(tracer_pid: int, exe: Path, timeout: float = 20.0) -> None:
    """Wait until the launched command runs ``exe`` under the tracer (a loaded machine starts slowly)."""
    import psutil

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            for child in psutil.Process(tracer_pid).children():
                if child.exe() == str(exe) and status_field(child.pid, "TracerPid") == str(tracer_pid):
                    return
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
        time.sleep(0.05)
    raise AssertionError(f"{exe} did not start under the tracer within {timeout} s")


def test_signal_forwarded_to_launched_command(calls_bin: Path, tmp_path: Path) -> None:
    tracer = subprocess.Popen([*TRACER, "--count", "--", str(calls_bin), "loop"], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)  # no tty: SIGTERM must be forwarded by sdu
    try:
        _wait_for_traced_child(tracer.pid, calls_bin)  # before that, sdu's handlers may not exist yet
        tracer.send_signal(signal.SIGTERM)
        tracer.communicate(timeout=15)
    finally:
        if tracer.poll() is None:
            os.killpg(tracer.pid, signal.SIGKILL)
            tracer.wait()
    assert tracer.returncode == 128 + signal.SIGTERM


def test_attach_errors_are_one_line(looper) -> None:  # type: ignore[no-untyped-def]
    res = subprocess.run([*TRACER, "-p", "999999999"], cwd=ROOT, capture_output=True, text=True, timeout=30,
                         check=False)
    assert res.returncode == 1
    assert res.stderr.strip() == "sdu: cannot attach to pid 999999999: no such process"
    res = subprocess.run([*TRACER, "--", "/nonexistent/cmd"], cwd=ROOT, capture_output=True, text=True,
                         timeout=30, check=False)
    assert res.returncode == 1 and res.stderr.count("\n") == 1 and "command not found" in res.stderr


USER = "sdutest"


@pytest.fixture(scope="module")
def unprivileged() -> Iterator[pwd.struct_passwd]:
    with system_user(USER) as user:
        yield user


def _as_user(user: pwd.struct_passwd, argv: list[str], **kw):  # type: ignore[no-untyped-def]
    """Run argv as `user` with a system python able to import sdu from the checkout (the dev venv's
    interpreter lives under /root, which other users cannot traverse)."""
    py = shutil.which("python3", path="/usr/bin:/usr/local/bin")
    if py is None:
        pytest.skip("no system python3 for the unprivileged user")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": "/tmp"}
    cmd = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups",
           "--inh-caps=-all", py, "-m", "tracer", *argv]
    return subprocess.run(cmd, cwd="/tmp", env=env, capture_output=True, text=True, timeout=60, check=False,
                          **kw)


def test_unprivileged_user_traces_own_command(unprivileged, calls_bin: Path) -> None:  # type: ignore[no-untyped-def]
    shared = Path(tempfile.mkdtemp(prefix="sdu-unpriv-"))
    try:
        shared.chmod(0o755)
        exe = shared / "calls"
        shutil.copy(calls_bin, exe)
        exe.chmod(0o755)
        res = _as_user(unprivileged, ["--count", "--", str(exe), "forks"])
    finally:
        shutil.rmtree(shared)
    if "No module named" in res.stderr:
        pytest.skip(f"system python cannot import sdu: {res.stderr.strip()}")
    assert res.returncode == 0, res.stderr
    assert int(res.stderr.split()[-1]) > 50


def test_unprivileged_user_cannot_attach_to_root_process(unprivileged, looper) -> None:  # type: ignore[no-untyped-def]
    target, _ = looper
    res = _as_user(unprivileged, ["-p", str(target.pid)])
    if "No module named" in res.stderr:
        pytest.skip(f"system python cannot import sdu: {res.stderr.strip()}")
    assert res.returncode == 1
    line = res.stderr.strip()
    assert "\n" not in line and line.startswith(f"sdu: cannot attach to pid {target.pid}")
    assert "CAP_SYS_PTRACE" in line or "ptrace_scope" in line
    assert status_field(target.pid, "TracerPid") == "0"
