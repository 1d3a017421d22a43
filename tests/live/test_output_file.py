"""-o FILE: sdu's own output (event lines, chisel output, the -S summary) goes to FILE, so a launched
command's stdout stays apart from the event stream (strace's -o habit; sysdig has no -o)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.live.conftest import sdu
from tests.support import run_sdu, shared_path


@pytest.mark.ptrace
@pytest.mark.parametrize("single", [False, True])
def test_json_events_apart_from_the_command_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   single: bool) -> None:
    if single:  # the same through the one-process pipeline
        monkeypatch.setenv("SDU_SINGLE_PROCESS", "1")
    events = tmp_path / "ev.txt"
    res = sdu("-o", str(events), "-j", "evt.type=openat", "--", "cat", "/etc/hosts")
    assert res.status == 0, res.stderr
    assert res.stdout == Path("/etc/hosts").read_text()  # cat's lines only
    rows = [json.loads(line) for line in events.read_text().splitlines()]
    assert rows and all(r["evt.type"] == "openat" for r in rows)
    assert any("/etc/hosts" in r["evt.info"] for r in rows)


@pytest.mark.ptrace
def test_summary_goes_to_the_file(tmp_path: Path) -> None:
    out = tmp_path / "s.txt"
    res = sdu("-o", str(out), "-q", "-S", "--", "ls", "/")
    assert res.status == 0, res.stderr
    assert "Event" not in res.stdout and "bin" in res.stdout.split()
    assert out.read_text().startswith("-" * 22 + "\nEvent")


def test_reading_writes_the_same_lines_to_the_file(tmp_path: Path) -> None:
    sample = str(shared_path("samples", "falco_cat_write.scap"))
    out = tmp_path / "lines.txt"
    to_file = run_sdu("-r", sample, "-o", str(out), environ={"TZ": "UTC"})
    assert to_file.status == 0 and to_file.stdout == ""
    assert out.read_text(errors="surrogateescape") == run_sdu("-r", sample, environ={"TZ": "UTC"}).stdout


def test_unwritable_output_file_is_one_line(tmp_path: Path) -> None:
    sample = str(shared_path("samples", "falco_cat_write.scap"))
    res = run_sdu("-r", sample, "-o", str(tmp_path / "no" / "such" / "dir"))
    assert res.status == 1 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and "can't open file" in res.stderr


def _bash(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A pipeline as typed at a prompt, with this checkout's sdu first on PATH."""
    import os
    import sys

    from tests.live.conftest import ROOT

    bindir = cwd / "bin"
    bindir.mkdir(exist_ok=True)
    (bindir / "sdu").write_text(f"#!/bin/sh\nexec {sys.executable} -m sysdig_user \"$@\"\n")
    (bindir / "sdu").chmod(0o755)
    env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}", PYTHONPATH=str(ROOT), TZ="UTC")
    return subprocess.run(["bash", "-c", "set -o pipefail; " + script], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.mark.ptrace
def test_the_issue_pipeline_counts_cats_lines_only(tmp_path: Path) -> None:
    """`sdu -o ev.txt -j evt.type=openat -- cat /etc/hosts | wc -l` counts cat's lines, and every line of
    ev.txt is one JSON object (jq where installed, else Python's json)."""
    import shutil

    res = _bash("sdu -o ev.txt -j evt.type=openat -- cat /etc/hosts | wc -l", tmp_path)
    assert res.returncode == 0, res.stderr
    assert int(res.stdout) == len(Path("/etc/hosts").read_text().splitlines())
    lines = (tmp_path / "ev.txt").read_text().splitlines()
    assert lines and all(isinstance(json.loads(line), dict) for line in lines)
    if shutil.which("jq"):
        parsed = _bash("jq -c . ev.txt", tmp_path)
        assert parsed.returncode == 0 and len(parsed.stdout.splitlines()) == len(lines)


@pytest.mark.ptrace
def test_events_down_their_own_pipe_with_fd_3(tmp_path: Path) -> None:
    """The README's way when both go to pipes: `-o /dev/fd/3 ... 3>&1 >app.log 2>&1 | reader`: the
    reader gets the events only, the command's stdout and stderr go to the log, and the command does
    not inherit the event pipe (fd 3 is closed on exec)."""
    script = ("sdu -o /dev/fd/3 -p '%evt.type %fd.name' 'evt.type=openat and evt.dir=<' -- "
              "sh -c 'cat /etc/hostname; readlink /proc/$$/fd/3 || echo fd3-closed' 3>&1 >app.log 2>&1 "
              "| sort -u > events.txt")
    res = _bash(script, tmp_path)
    assert res.returncode == 0, res.stderr
    events = (tmp_path / "events.txt").read_text().splitlines()
    assert "openat /etc/hostname" in events and all(e.startswith("openat ") for e in events)
    log = (tmp_path / "app.log").read_text().split()
    assert Path("/etc/hostname").read_text().strip() in log
    assert "fd3-closed" in log and not any(word.startswith("pipe:") for word in log)


@pytest.mark.ptrace
def test_kill_on_exit_ends_the_command_when_the_capture_ends() -> None:
    """Default: -M ends the capture, the command runs on untraced and sdu returns its status when it
    ends. --kill-on-exit: the command is killed (128+9) as soon as the capture ends."""
    import time

    start = time.monotonic()
    res = sdu("-q", "-M", "1", "--kill-on-exit", "--", "sleep", "30")
    assert res.status == 128 + 9 and time.monotonic() - start < 20, res.stderr
    start = time.monotonic()
    res = sdu("-q", "-n", "3", "--", "sh", "-c", "sleep 2; exit 7")
    assert res.status == 7 and time.monotonic() - start >= 2
