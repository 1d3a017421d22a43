"""Signal safety: SIGINT/SIGTERM/SIGHUP/SIGKILL to sdu, or to its printing process, at random moments.

Select with ``-m signals``. Cases come from a seeded generator (SDU_SIGNAL_SEED overrides the seed; the
case ids show each case): launch mode with and without a filter (a filter installs the seccomp filter,
README "Stopping only where the filter can match"), attach mode; a signal to sdu as soon as it has a child
or has seized the target ("fork": before the command's execve, during attach), after a random delay from
its start (from before Python runs sdu's code on), or once the traced command runs; to the pipelined
consumer once it exists. The traced shell appends a heartbeat line per round, each written by a freshly
forked child, reporting its allowed CPUs.

What must hold, as documented (README, tracer/engine.py, tracer/live.py, sysdig_user/entry.py):
* SIGINT/SIGTERM/SIGHUP to sdu end it: launch mode with the status of a command killed by the signal (the
  command got it, or never started); attach mode with 0, the process detached and running. Before sdu
  catches them, SIGTERM and SIGHUP end sdu by their default action (nothing is traced yet), and a SIGINT
  during Python's own start-up (before sdu's code runs) may print Python's traceback; none may come from
  sdu's code.
* SIGKILL of sdu: an attached process runs on; a launched command runs on untraced without a filter (its
  CPUs given back by the watchdog), and is ended with one (PTRACE_O_EXITKILL).
* The consumer ignores SIGINT/SIGTERM/SIGHUP (the capture goes on). Its SIGKILL makes sdu detach: an
  attached process and a launched command without a filter run on, a command with a filter is ended.
* Afterwards every process still running is healthy: not traced, not stopped, on its original CPUs, and
  making progress (its syscalls succeed); none of sdu's own processes (consumer, watchdog, the launched
  child before its execve) is left.
"""
from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.live import sigtools as st

pytestmark = [pytest.mark.ptrace, pytest.mark.signals]

SEED = int(os.environ.get("SDU_SIGNAL_SEED", "20261207"))
FILTER = "evt.type=openat"  # pushdown: a seccomp filter in the launched command
_TERMINATING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# A frame in sdu's code other than the two lines that import the entry module: a traceback from there
# would be sdu's failure to handle the signal, not Python's start-up.
_SDU_FRAME = re.compile(r'File "[^"]*/(sysdig_user|tracer|netcap)/(?!__main__\.py|entry\.py)')


@dataclass(frozen=True)
class Case:
    mode: str  # "launch", "filter" (launch with a filter) or "attach"
    sig: int
    to: str  # "sdu" or "consumer"
    moment: str  # "fork", "random" or "running"
    delay: float  # seconds: from sdu's start ("random") or from the moment reached

    @property
    def id(self) -> str:
        return f"{self.mode}-{signal.Signals(self.sig).name}-{self.to}-{self.moment}-{self.delay:.2f}"


def _cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    cases = []
    for mode in ("launch", "filter", "attach"):
        for sig in (*_TERMINATING, signal.SIGKILL):
            for moment in rng.sample(("fork", "random", "running"), 2):
                delay = 0.0 if moment == "fork" else rng.uniform(0, 0.6 if moment == "random" else 0.2)
                cases.append(Case(mode, sig, "sdu", moment, delay))
        for sig in (rng.choice(_TERMINATING), signal.SIGKILL):
            cases.append(Case(mode, sig, "consumer", "running", rng.uniform(0, 0.2)))
    return cases


CASES = _cases(SEED)


def _wait_moment(case: Case, proc: subprocess.Popen[bytes], token: str, beat: Path,
                 target: int | None) -> int | None:
    """Wait for the case's moment; returns the pid to signal (None: the moment never came, sdu ended)."""
    alive = lambda: proc.poll() is None
    if case.moment == "random":
        time.sleep(case.delay)
        return proc.pid
    if case.moment == "fork":
        if target is None:
            st.wait_until(lambda: bool(st.children(proc.pid)) or not alive(), step=0)
        else:
            st.wait_until(lambda: st.status_fields(target).get("TracerPid") == str(proc.pid) or not alive(),
                          step=0)
        return proc.pid
    start = st.beats(beat)  # "running": the heartbeat goes on while traced
    assert st.wait_until(lambda: (st.beats(beat) >= start + 2 and (
        target is None or st.status_fields(target).get("TracerPid") == str(proc.pid))) or not alive())
    pid = proc.pid
    if case.to == "consumer":
        found: list[int] = []
        assert st.wait_until(lambda: bool(found.append(st.helper_of(proc.pid, token, None) or 0)
                                          or found[-1]) or not alive())
        pid = found[-1]
    time.sleep(case.delay)
    return pid if alive() else None


def _expected_status(case: Case, status: int, stderr: str) -> bool:
    """sdu's status after a terminating signal of the case reached it (see the module docstring)."""
    sig = case.sig
    if status == -sig and sig != signal.SIGINT:
        return True  # before sdu catches it: the default action
    if sig == signal.SIGINT and status in (-signal.SIGINT, 1) and "Traceback" in stderr:
        return not _SDU_FRAME.search(stderr)  # Python's own start-up (see the module docstring)
    return status == (0 if case.mode == "attach" else 128 + sig)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_signal_at_a_random_moment(case: Case, tmp_path: Path) -> None:
    token = st.new_token()
    beat = tmp_path / "beat"
    script = st.heartbeat_script(beat)
    target: subprocess.Popen[bytes] | None = None
    if case.mode == "attach":
        target = subprocess.Popen(["sh", "-c", script, token], start_new_session=True)
        assert st.wait_until(lambda: st.beats(beat) >= 1)
        argv = ["-p", str(target.pid)]
    else:
        argv = [*([FILTER] if case.mode == "filter" else []), "--", "sh", "-c", script, token]
    proc = st.sdu_popen(*argv, token=token)
    try:
        _run_case(case, proc, token, beat, target)
    finally:
        st.kill_run(proc, token)
        if target is not None:
            target.kill()
            target.wait()


def _run_case(case: Case, proc: subprocess.Popen[bytes], token: str, beat: Path,
              target: subprocess.Popen[bytes] | None) -> None:
    pid = _wait_moment(case, proc, token, beat, target.pid if target is not None else None)
    if pid is None:
        pytest.fail(f"sdu ended before the moment came: {proc.returncode} {st.stderr_now(proc)!r}")
    os.kill(pid, case.sig)
    if case.to == "consumer":
        _after_consumer_signal(case, proc, token, beat, target)
        return
    status = _wait(proc)
    stderr = st.stderr_now(proc)
    assert status is not None, f"sdu still runs {st.BOUND_S} s after {case.id}"
    if case.sig == signal.SIGKILL:
        assert status == -signal.SIGKILL
    else:
        assert _expected_status(case, status, stderr), (status, stderr)
    _check_leftovers(case, token, beat, target)


def _after_consumer_signal(case: Case, proc: subprocess.Popen[bytes], token: str, beat: Path,
                           target: subprocess.Popen[bytes] | None) -> None:
    if case.sig != signal.SIGKILL:
        # ignored: the capture goes on, still traced; then sdu is ended as a user would
        time.sleep(0.2)
        assert proc.poll() is None, st.stderr_now(proc)
        start = st.beats(beat)
        assert st.wait_until(lambda: st.beats(beat) >= start + 2)
        os.kill(proc.pid, signal.SIGTERM)
        status = _wait(proc)
        assert status == (0 if target is not None else 128 + signal.SIGTERM)
        _check_leftovers(case, token, beat, target)
        return
    if target is not None:  # attach: sdu detaches and exits 0
        assert _wait(proc) == 0
        _check_leftovers(case, token, beat, target)
        return
    if case.mode == "filter":  # the command under the filter is ended by the detach
        assert _wait(proc) == 128 + signal.SIGKILL
        _check_leftovers(case, token, beat, None)
        return
    # launch without a filter: detached, the command runs on and sdu waits for it
    shell = int(Path(f"{beat}.pid").read_text())
    assert st.healthy_problems(shell, beat) == []
    assert proc.poll() is None
    os.kill(shell, signal.SIGKILL)
    assert _wait(proc) == 128 + signal.SIGKILL


def _wait(proc: subprocess.Popen[bytes]) -> int | None:
    try:
        return proc.wait(timeout=st.BOUND_S)
    except subprocess.TimeoutExpired:
        return None


def _check_leftovers(case: Case, token: str, beat: Path, target: subprocess.Popen[bytes] | None) -> None:
    """After sdu ended: none of its processes is left; what still runs is the command (or the attached
    process), healthy; a launched command is gone unless SIGKILL of sdu left it running untraced."""
    assert st.wait_steady(lambda: not [p for p in st.run_processes(token, environ=True) if st.is_sdu_side(p)]), \
        {p: st.status_fields(p).get("State") for p in st.run_processes(token, environ=True)}
    if target is not None:
        assert st.healthy_problems(target.pid, beat) == []
        return
    runs_on = case.mode == "launch" and case.sig == signal.SIGKILL and case.to == "sdu"
    if not runs_on:
        assert st.wait_steady(lambda: not st.run_processes(token)), st.run_processes(token)
        return
    try:
        shell: int | None = int(Path(f"{beat}.pid").read_text())
    except (OSError, ValueError):
        shell = None  # (killed before the command ran, or while the shell wrote its pid)
    for pid in st.run_processes(token):  # the command, if it had been let go before the kill
        problems = st.healthy_problems(pid, beat)
        if problems and pid != shell and not st.status_fields(pid):
            continue  # a child the shell forked, seen before its execve (same command line), since exited
        assert problems == []
