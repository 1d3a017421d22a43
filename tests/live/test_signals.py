"""Signals to sdu at awkward moments: SIGKILL.

Every run traces only commands these tests start; each run's processes are found by a token in their
command lines (tests/live/sigtools.py). Bounds are generous (BOUND_S): what is asserted is that sdu ends
and leaves every process healthy, not how fast on a loaded machine.
"""
from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.live import sigtools as st

pytestmark = pytest.mark.ptrace


def _end(proc: subprocess.Popen[bytes]) -> int | None:
    """sdu's exit status, None if it is still running after BOUND_S."""
    try:
        return proc.wait(timeout=st.BOUND_S)
    except subprocess.TimeoutExpired:
        return None


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


def test_no_process_of_a_run_outlives_it(tmp_path: Path) -> None:
    """After a normal run the consumer and the watchdog are gone too."""
    token = st.new_token()
    proc = st.sdu_popen("--", "sh", "-c", "sleep 0.2", token, token=token)
    try:
        assert _end(proc) == 0
        assert st.wait_steady(lambda: not st.run_processes(token, environ=True)), st.run_processes(token, environ=True)
    finally:
        st.kill_run(proc, token)
