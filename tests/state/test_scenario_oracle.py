"""The synthetic scenario (tests/state/scenario.py) written as a capture, read back through the state
engine, and compared with what sysdig prints for it."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.state import scenario
from tests.state.test_oracle import FMT, _sysdig_lines, sdu_lines
from tests.support import line_diff, require_tool, run_sdu

pytestmark = pytest.mark.oracle  # every test here compares with sysdig


def write_scenario(path: Path) -> None:
    writer_mod = pytest.importorskip("sysdig_user.scap.writer")
    with writer_mod.ScapWriter(str(path)) as w:
        w.write_section(interfaces=scenario.INTERFACES, procs=scenario.PROCS, fds=scenario.FDS)
        for evt in scenario.events():
            w.write_event(evt.cpu, evt.dump_flags, evt.raw)


def test_scenario_matches_sysdig(tmp_path: Path) -> None:
    sysdig = require_tool("sysdig")
    path = tmp_path / "scenario.scap"
    write_scenario(path)
    expected = [line.rstrip() for line in _sysdig_lines(sysdig, str(path))]
    got = [line.rstrip() for line in sdu_lines(str(path))]
    diffs = [(e, g) for e, g in zip(expected, got) if e != g]
    assert not diffs, "\n".join(f"sysdig: {e}\nsdu:    {g}" for e, g in diffs)
    assert len(got) == len(expected), FMT


@pytest.mark.parametrize("args", [
    [],  # sysdig's default line: args as rendered (resolved paths, fd names, flags)
    ["-p", "*%evt.num %evt.type %evt.abspath %proc.cwd %fd.name %evt.arg.name"],
    ["-t", "a"],  # absolute time: sysdig prints the nanoseconds unpadded
], ids=["default", "paths", "time-a"])
def test_scenario_lines_match_sysdig(tmp_path: Path, args: list[str]) -> None:
    sysdig = require_tool("sysdig")
    path = tmp_path / "scenario.scap"
    write_scenario(path)
    env = {**os.environ, "TZ": "UTC"}
    theirs = subprocess.run([sysdig, "-r", str(path), *args], capture_output=True, text=True, env=env,
                            check=True)
    ours = run_sdu("-r", str(path), *args, environ=env)
    assert ours.status == 0, ours.stderr
    diff = line_diff(theirs.stdout.splitlines(), ours.stdout.splitlines())
    assert not diff, diff
