"""State parsers on damaged events: clone and execve exits without the params their parsers read.

sinsp throws "Could not find process comm in event argument list" for such an exit of a version with
``comm`` (whatever its result and thread), and sysdig prints the events before it and that line, then
exits 1; sdu must do the same, not fail inside its parser.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from sysdig_user.event_table import event_code, event_info
from tests.scap.damaged import execve_events, first_params, with_nparams, write_capture
from tests.state.events import mk
from tests.support import SduResult, require_tool, run_sdu

ENV = {**os.environ, "TZ": "UTC"}
FORMAT = "%evt.num %evt.type %proc.name %proc.exe %evt.args"
MESSAGE = "Could not find process comm in event argument list"


def _both(path: Path) -> tuple[SduResult, subprocess.CompletedProcess[str]]:
    res = run_sdu("-r", str(path), "-p", FORMAT, environ=ENV)
    want = subprocess.run([require_tool("sysdig"), "-r", str(path), "-p", FORMAT], env=ENV, check=False,
                          capture_output=True, text=True, timeout=60)
    return res, want


def _assert_stops_like_sysdig(path: Path, events_before: int) -> None:
    res, want = _both(path)
    assert res.status == 1
    assert res.stderr.splitlines() == [MESSAGE]
    assert want.returncode == 1
    assert want.stderr.splitlines()[-1] == MESSAGE
    assert res.stdout == want.stdout
    assert res.stdout.count("\n") == events_before


@pytest.mark.parametrize(("nparams", "damage"), [(0, "count"), (1, "count"), (12, "count"),
                                                 (1, "cut"), (8, "cut"), (13, "cut")])
@pytest.mark.oracle
def test_execve_exit_without_comm_stops_like_sysdig(tmp_path: Path, nparams: int, damage: str) -> None:
    """``count``: only the header's count is smaller; ``cut``: the event holds its first params only."""
    raws = execve_events()
    raws[1] = with_nparams(raws[1], nparams) if damage == "count" else first_params(raws[1], nparams)
    _assert_stops_like_sysdig(write_capture(tmp_path / "execve.scap", raws), 1)


@pytest.mark.oracle
@pytest.mark.parametrize("name", ["execve", "execveat", "clone", "fork", "vfork", "clone3"])
@pytest.mark.parametrize("res", [0, -2])
def test_short_clone_and_execve_exits_stop_like_sysdig(tmp_path: Path, name: str, res: int) -> None:
    """Failed or not, on a known thread or not: the newest version of each, cut before ``comm``."""
    info = event_info(event_code(name, False))
    assert info is not None and info.param_index("comm") > 0
    cwd = mk("getcwd", False, 100, res=0, path="/").raw
    short = first_params(mk(name, False, 555, res=res).raw, 1)
    _assert_stops_like_sysdig(write_capture(tmp_path / "short.scap", [cwd, short, cwd]), 1)


@pytest.mark.parametrize(("name", "enter", "exit_values"), [
    ("openat", {"dirfd": -100, "name": "/etc/passwd", "flags": 1}, {"fd": 3, "dirfd": -100, "name": "/etc/passwd",
                                                                   "flags": 1}),
    ("open", {"name": "/etc/passwd", "flags": 1, "mode": 0}, {"fd": 3, "name": "/etc/passwd", "flags": 1}),
    ("socket", {"domain": 2, "type": 1, "proto": 0}, {"fd": 3}),
    ("close", {"fd": 0}, {"res": 0}),
    ("chdir", {}, {"res": 0, "path": "/tmp"}),
])
@pytest.mark.parametrize("keep", [0, 1])
def test_short_exits_change_no_state(name: str, enter: dict[str, object], exit_values: dict[str, object],
                                     keep: int) -> None:
    """An exit cut before the params its handler reads (found by the capture fuzzer: TypeError in
    open_exit, close_exit, socket_exit, dirfd_base) is shown, and leaves threads and fds as they were."""
    from sysdig_user.event import Event
    from sysdig_user.scap.records import FdList, ProcList
    from sysdig_user.state.inspector import Inspector
    from tests.scap.damaged import PROCS

    insp = Inspector()
    insp.feed_records(ProcList(list(PROCS)))
    insp.feed_records(FdList(100, []))
    th = insp.threads.get(100)
    assert th is not None
    before = (dict(th.fdtable.fds), th.cwd)
    insp.process(mk(name, True, 100, **enter))
    full = mk(name, False, 100, **exit_values)
    short = Event(first_params(full.raw, min(keep, full.param_count - 1)))
    insp.process(short)
    assert (dict(th.fdtable.fds), th.cwd) == before
    insp.process(mk(name, True, 100, **enter))
    insp.process(full)  # the same exit with its params does change the state (not a vacuous test)
    assert (dict(th.fdtable.fds), th.cwd) != before or name == "close"
