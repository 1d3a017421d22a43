"""The state engine against sysdig itself: for every event of each shared sample, proc.name,
thread.tid, fd.num and fd.name computed from sdu's state equal what sysdig 0.29.3 prints.

The real formatter lives elsewhere; ``_fields`` below is the minimal local rendering of those four
fields (including sysdig's fallbacks for events without fd info, e.g. a failed open's path).
"""
from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest

from sysdig_user.event import Event
from sysdig_user.event_table import EF
from sysdig_user.state.inspector import Inspector
from sysdig_user.state.parsers_files import resolve_at
from sysdig_user.state.parsers_net import socktuple_str
from tests.support import require_tool, shared_path

pytestmark = pytest.mark.oracle  # every test here compares with sysdig

FMT = "*%evt.num %proc.name %thread.tid %fd.num %fd.name"
SAMPLES = ["falco_cat_write.scap", "libs_curl_google.scap", "libs_single_ipv6_conn.scap"]
FD_EVENT = EF.USES_FD | EF.CREATES_FD | EF.DESTROYS_FD
_NAME_FROM_PARAM1 = frozenset({3, 59, 27, 57, 247, 249})  # open, creat, accept (all versions) exits
OPENAT_2_X, OPENAT2_X, CONNECT_X = 307, 327, 23


def _read_capture() -> Any:
    reader = pytest.importorskip("sysdig_user.scap.reader")
    return reader.read_capture


def _null_fd_name(insp: Inspector, evt: Event) -> str:
    """sinsp extract_fdname_from_creator: what fd.name shows when the event has no fd info."""
    if evt.is_enter:
        return "<NA>"
    if evt.type in _NAME_FROM_PARAM1:
        val = evt.param(1)
        return val if isinstance(val, str) else socktuple_str(val)
    if evt.type == CONNECT_X:
        return socktuple_str(evt.param(1))
    if evt.type in (OPENAT_2_X, OPENAT2_X) and evt.thread is not None:
        return resolve_at(insp.state, evt.thread, evt.param(1), evt.param(2))
    return ""


def _fields(insp: Inspector, evt: Event) -> str:
    th = evt.thread
    name = th.comm if th is not None else "<NA>"
    fdnum, fdname = "<NA>", "<NA>"
    if evt.info is not None and evt.info.flags & FD_EVENT and th is not None:
        fdnum = str(evt.fdnum)
        info = evt.fdinfo
        failed_connect = evt.type == CONNECT_X and evt.param(0) < 0
        fdname = _null_fd_name(insp, evt) if info is None or failed_connect else info.name
    return f"{evt.num} {name} {evt.tid} {fdnum} {fdname}"


def _sysdig_lines(sysdig: str, path: str) -> list[str]:
    out = subprocess.run([sysdig, "-r", path, "-p", FMT], capture_output=True, check=True,
                         env={**os.environ, "TZ": "UTC"})
    return out.stdout.decode("utf-8", "surrogateescape").splitlines()


def sdu_lines(path: str) -> list[str]:
    insp = Inspector()
    lines = []
    for evt in insp.events(_read_capture()(path)):
        if not insp.is_hidden(evt):
            lines.append(_fields(insp, evt))
    return lines


@pytest.mark.parametrize("sample", SAMPLES)
def test_state_matches_sysdig(sample: str) -> None:
    sysdig = require_tool("sysdig")
    path = str(shared_path("samples", sample))
    expected = [line.rstrip() for line in _sysdig_lines(sysdig, path)]
    got = [line.rstrip() for line in sdu_lines(path)]
    diffs = [(e, g) for e, g in zip(expected, got) if e != g]
    assert not diffs[:20], "\n".join(f"sysdig: {e}\nsdu:    {g}" for e, g in diffs[:20])
    assert len(got) == len(expected)
