"""Signals to sdu at awkward moments: before the command's execve, during start-up, and SIGKILL.

Every run traces only commands these tests start; each run's processes are found by a token in their
command lines (tests/live/sigtools.py). Bounds are generous (BOUND_S): what is asserted is that sdu ends
and leaves every process healthy, not how fast on a loaded machine.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live import sigtools as st
from tests.live.conftest import ROOT

pytestmark = pytest.mark.ptrace


def _end(proc: subprocess.Popen[bytes]) -> int | None:
    """sdu's exit status, None if it is still running after BOUND_S."""
    try:
        return proc.wait(timeout=st.BOUND_S)
    except subprocess.TimeoutExpired:
        return None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_before_the_commands_execve_is_not_lost(sig: int, tmp_path: Path) -> None:
    """One SIGTERM (timeout, systemd) or SIGINT as soon as sdu has forked: sdu ends with the status of a
    command killed by it, and the command got it or never started. (Before the fix the child, still sdu's
    Python before its execve, swallowed the forwarded signal in most runs.)"""
    for trial in range(3):
        _signal_at_fork(sig, tmp_path / f"started{trial}")


def _signal_at_fork(sig: int, started: Path) -> None:
    token = st.new_token()
    proc = st.sdu_popen("--", "sh", "-c", f"echo > {started}; exec sleep 30", token, token=token)
    try:
        assert st.wait_until(lambda: bool(st.children(proc.pid)) or proc.poll() is not None, step=0)
        os.kill(proc.pid, sig)
        status = _end(proc)
        assert status == 128 + sig, (status, st.stderr_now(proc))
        assert st.wait_steady(lambda: not st.run_processes(token, environ=True)), st.run_processes(token, environ=True)
    finally:
        st.kill_run(proc, token)


def _entry_point() -> tuple[str, str]:
    """The module and function the `sdu` command (scripts/sdu, pyproject.toml's script-files) runs."""
    text = (ROOT / "scripts" / "sdu").read_text()
    found = re.search(r"^from ([\w.]+) import (\w+)$", text, re.MULTILINE)
    assert found is not None
    return found.group(1), found.group(2)


# Runs the console script's entry point, raising SIGINT in this process when `module` is first imported.
_INTERRUPTED = """
import importlib.abc, os, signal, sys
class Interrupt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == {module!r}:
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, Interrupt())
sys.argv = ["sdu", *{argv!r}]
from {entry} import {func}
sys.exit({func}())
"""


def _interrupted(module: str, *argv: str) -> subprocess.CompletedProcess[str]:
    entry, func = _entry_point()
    code = _INTERRUPTED.format(module=module, argv=list(argv), entry=entry, func=func)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), start_new_session=True, check=False)


# sysdig_user.params: imported with the CLI (where the reported traceback came from); tracer.live: imported
# by the CLI once it runs (after parsing, before launching or attaching).
@pytest.mark.parametrize("module", ["sysdig_user.params", "tracer.live"])
def test_ctrl_c_during_start_up(module: str, tmp_path: Path) -> None:
    """Attach mode: exit 0 without a traceback, the process untouched. Launch mode: the command never
    starts and sdu exits 130, as for a command killed by SIGINT."""
    target = subprocess.Popen(["sleep", "30"])
    try:
        res = _interrupted(module, "-p", str(target.pid))
        assert (res.returncode, res.stderr) == (0, "")
        assert st.status_fields(target.pid)["TracerPid"] == "0"
    finally:
        target.kill()
        target.wait()
    started = tmp_path / "started"
    res = _interrupted(module, "--", "sh", "-c", f"echo > {started}")
    assert (res.returncode, res.stderr) == (128 + signal.SIGINT, "")
    assert not started.exists()


@pytest.mark.skipif(len(st.ORIGINAL) < 2, reason="co-location needs at least two allowed CPUs")
def test_sigkill_of_sdu_gives_the_command_its_cpus_back(tmp_path: Path) -> None:
    """Without a filter the command runs on untraced after sdu's SIGKILL, on all its CPUs again (the
    watchdog, tracer/guard.py); children it forks afterwards too."""
    for attempt in range(3):
        if _kill_colocated(tmp_path / f"beat{attempt}"):
            return
    pytest.skip("co-location was released before the kill in every attempt (loaded machine)")


def _kill_colocated(beat: Path) -> bool:
    """SIGKILL sdu while the command is co-located, then check the command; False if it was not."""
    token = st.new_token()
    proc = st.sdu_popen("--", "sh", "-c", st.heartbeat_script(beat), token, token=token)
    try:
        assert st.wait_until(lambda: st.beats(beat) >= 3), st.stderr_now(proc)
        shell = int(Path(f"{beat}.pid").read_text())
        pinned = st.parse_cpus(st.status_fields(shell).get("Cpus_allowed_list", "0-4095"))
        if len(pinned) != 1:  # co-location already released (threads queued: a loaded machine)
            return False
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert st.healthy_problems(shell, beat) == []
        guard = st.helper_of(proc.pid, token, st.GUARD_COMM)
        assert guard is None or st.wait_until(lambda: not st.status_fields(guard))  # it exits when done
        return True
    finally:
        st.kill_run(proc, token)


def test_command_starts_with_default_sigpipe(tmp_path: Path) -> None:
    """Python ignores SIGPIPE for itself; the command must not inherit that (`yes | head` would print
    'Broken pipe' and exit 1 instead of dying quietly)."""
    res = subprocess.run([sys.executable, "-m", "sysdig_user", "-q", "--", "sh", "-c",
                          "yes | head -1 > /dev/null; grep SigIgn /proc/self/status"], capture_output=True,
                         text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)), check=False)
    assert res.returncode == 0 and "Broken pipe" not in res.stderr, res.stderr
    ignored = int(res.stdout.split()[1], 16)
    assert not ignored & 1 << (signal.SIGPIPE - 1)


def test_command_inherits_an_ignored_sighup(tmp_path: Path) -> None:
    """Under nohup (SIGHUP ignored) the command keeps SIGHUP ignored, as it would without sdu, although
    sdu itself catches it."""
    res = subprocess.run([sys.executable, "-m", "sysdig_user", "-q", "--", "sh", "-c", "grep SigIgn /proc/self/status"],
                         capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                         preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN), check=False)
    assert res.returncode == 0, res.stderr
    ignored = int(res.stdout.split()[1], 16)
    assert ignored & 1 << (signal.SIGHUP - 1)
    assert not ignored & 1 << (signal.SIGTERM - 1)


def test_no_process_of_a_run_outlives_it(tmp_path: Path) -> None:
    """After a normal run the consumer and the watchdog are gone too."""
    token = st.new_token()
    proc = st.sdu_popen("--", "sh", "-c", "sleep 0.2", token, token=token)
    try:
        assert _end(proc) == 0
        assert st.wait_steady(lambda: not st.run_processes(token, environ=True)), st.run_processes(token, environ=True)
    finally:
        st.kill_run(proc, token)


@pytest.mark.skipif(len(st.ORIGINAL) < 2, reason="co-location needs at least two allowed CPUs")
def test_sigkill_of_sdu_under_the_filter_ends_the_pinned_command(tmp_path: Path) -> None:
    """Under the seccomp filter no watchdog runs (tracer/placement.py): a co-located command must then be
    ended by PTRACE_O_EXITKILL when sdu dies, it and the children it forked, never left running pinned."""
    for attempt in range(3):
        if _kill_colocated_filtered(tmp_path / f"beat{attempt}"):
            return
    pytest.skip("co-location was released before the kill in every attempt (loaded machine)")


def _kill_colocated_filtered(beat: Path) -> bool:
    """SIGKILL sdu while the command runs co-located under the filter, then check nothing of it is left;
    False if co-location was already released."""
    token = st.new_token()
    proc = st.sdu_popen("evt.type=openat", "--", "sh", "-c", st.heartbeat_script(beat), token, token=token)
    try:
        assert st.wait_until(lambda: st.beats(beat) >= 3), st.stderr_now(proc)
        shell = int(Path(f"{beat}.pid").read_text())
        fields = st.status_fields(shell)
        if fields.get("Seccomp") != "2":
            pytest.skip("the filter was not installed here")
        if len(st.parse_cpus(fields.get("Cpus_allowed_list", "0-4095"))) != 1:
            return False
        assert st.helper_of(proc.pid, token, st.GUARD_COMM) is None  # (none under the filter)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert st.wait_until(lambda: not st.run_processes(token)), st.run_processes(token)
        return True
    finally:
        st.kill_run(proc, token)
