"""Whole-namespace mode's rules (tracer/namespace.py) and its command line, without tracing anything."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from sysdig_user.cli_options import help_text
from tests.support import run_sdu
from tracer import namespace
from tracer.namespace import Census


def test_lineage_is_sdu_and_its_ancestors() -> None:
    mine = namespace.lineage(os.getpid())
    assert os.getpid() in mine and os.getppid() in mine
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"]) as child:
        try:
            assert child.pid not in mine  # a child is not an ancestor: a candidate
            census = Census(lambda text: None)
            assert child.pid in census.candidates(lambda pid: False)
            assert os.getpid() not in census.candidates(lambda pid: False)
            assert child.pid not in census.candidates(lambda pid: pid == child.pid)  # already ours
        finally:
            child.kill()


def test_an_untraceable_process_is_named_once_and_its_children_not_at_all() -> None:
    lines: list[str] = []
    census = Census(lines.append)
    with subprocess.Popen(["sh", "-c", "sleep 5 & wait"]) as parent:
        try:
            for _ in range(50):
                kids = [int(p) for p in os.listdir("/proc") if p.isdigit() and namespace._ppid(int(p)) == parent.pid]
                if kids:
                    break
                os.sched_yield()
            census.name(parent.pid, "some rule")
            census.name(parent.pid, "some rule")
            for kid in kids:
                census.name(kid, "some rule")
        finally:
            parent.kill()
    assert lines == [f"sdu: not tracing pid {parent.pid} (sh): some rule"]


def test_rescan_backs_off_and_resets() -> None:
    census = Census(lambda text: None)
    delays = []
    for found in (0, 0, 0, 0, 0, 0, 0, 1, 0):
        census.scanned(found)
        delays.append(census.delay)
    assert delays[:6] == sorted(delays[:6]) and max(delays) == namespace.MAX_DELAY_S
    assert delays[7] == namespace.MIN_DELAY_S
    assert census.scans == 9 and census.picked == 1
    assert "9 rescans" in census.report()


def test_help_states_the_rule_and_why() -> None:
    text = help_text("x")
    assert "--all" in text and "ancestors" in text and "reap" in text


@pytest.mark.skipif(not namespace.in_initial_pid_namespace(), reason="only the host's namespace refuses")
def test_no_capture_source_on_the_host_asks_for_all() -> None:
    res = run_sdu()
    assert res.status != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "--all" in lines[0] and "Traceback" not in res.stderr


@pytest.mark.parametrize(("argv", "text"), [
    (["--all", "-r", "x.scap"], "cannot be combined with --all"),
    (["--all", "-p", "1"], "cannot be combined with -p PID"),
    (["--all", "--", "true"], "cannot be combined with -- COMMAND"),
    (["--all", "--cri-timeout", "soon"], "invalid --cri-timeout soon"),
])
def test_bad_combinations_are_one_line(argv: list[str], text: str) -> None:
    res = run_sdu(*argv)
    assert res.status != 0
    assert text in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr


@pytest.mark.oracle
def test_a_process_traced_by_another_tracer_is_named_with_its_tracer() -> None:
    from tests.support import require_tool

    strace = require_tool("strace")
    lines: list[str] = []
    with subprocess.Popen([strace, "-f", "-o", "/dev/null", "sleep", "5"]) as tracer:
        try:
            traced = 0
            for _ in range(500):
                kids = [int(p) for p in os.listdir("/proc") if p.isdigit() and namespace._ppid(int(p)) == tracer.pid]
                if kids and namespace._tracer_pid(kids[0]) == tracer.pid and namespace._stat(kids[0])[3] == "sleep":
                    traced = kids[0]
                    break
                time.sleep(0.01)
            assert traced
            census = Census(lines.append)
            assert traced not in census.candidates(lambda pid: False)
        finally:
            tracer.kill()
    assert f"sdu: not tracing pid {traced} (sleep): already traced by pid {tracer.pid} (one tracer per process)" \
        in lines


@pytest.mark.skipif(not namespace.in_initial_pid_namespace(), reason="kernel threads show in the host's namespace")
def test_kernel_threads_make_one_count_line_and_are_never_candidates() -> None:
    import errno

    from tracer import attach

    lines: list[str] = []
    census = Census(lines.append)
    candidates = census.candidates(lambda pid: False)
    assert 2 not in candidates  # kthreadd
    assert len([line for line in lines if "kernel threads" in line]) == 1
    census.candidates(lambda pid: False)
    assert len([line for line in lines if "kernel threads" in line]) == 1  # not again on a rescan
    assert "kernel thread" in attach.why(2, errno.EPERM)


def test_only_the_readers_of_an_output_pipe_count() -> None:
    r, w = os.pipe()
    try:
        link = frozenset({os.readlink(f"/proc/self/fd/{r}")})
        with subprocess.Popen(["cat"], stdin=r, stdout=subprocess.DEVNULL) as reader, \
                subprocess.Popen(["sleep", "5"], stdout=w) as writer:
            try:
                assert namespace._holds(reader.pid, link)
                assert not namespace._holds(writer.pid, link)
            finally:
                writer.kill()
                os.close(w)
                w = -1
                reader.wait(timeout=10)
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
