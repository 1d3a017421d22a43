"""-o FILE: sdu's own output (event lines, chisel output, the -S summary) goes to FILE, so a launched
command's stdout stays apart from the event stream (strace's -o habit; sysdig has no -o)."""
from __future__ import annotations

import json
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
