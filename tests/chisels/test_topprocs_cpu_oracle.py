"""topprocs_cpu's percentages against Debian's sysdig 0.29.3, on captures the test writes: the shared
curl sample with procinfo events appended (sysdig's thread CPU accounting, sinsp extract_thread_cpu:
per thread, the difference from this field's last reading on that thread, unsigned, capped at 100
ticks, 0 where there was no earlier reading or the earlier one was 0).

Only the rows above 0.00% are compared in order: which of the tied 0.00% rows make the top-10 cut is
random in sysdig itself (README, "Where sdu differs"); their number is compared."""
from __future__ import annotations

import gzip
import os
import subprocess
from pathlib import Path

import pytest

from sysdig_user.event import Event
from sysdig_user.event_table import event_code
from sysdig_user.scap import read_capture
from sysdig_user.scap.writer import ScapWriter
from tests.support import require_tool, run_sdu, shared_path

PROCINFO = event_code("procinfo", True)

# (tid, user ticks, system ticks) appended in this order; 1338 and 1339 are iscsid processes of the
# sample, each with earlier procinfo events (6 and 29 ticks)
SCENARIOS = {
    "ticks going down count as the cap": [(1338, 1000, 0), (1338, 500, 0), (1338, 600, 0)],
    "a zero reading starts over": [(1338, 0, 0), (1338, 40, 0), (1338, 0, 0), (1338, 30, 0)],
    "u64 wrap and system ticks": [(1338, 5, 0), (1338, 5, 0), (1338, 7, 3), (1338, 2**64 - 1, 0), (1338, 3, 0)],
    "two processes interleaved": [(1338, 10, 0), (1339, 20, 0), (1338, 30, 0), (1339, 45, 0)],
    "an unknown thread": [(99999, 50, 0), (99999, 80, 0)],
}


def _capture(tmp: Path, events: list[tuple[int, int, int]]) -> Path:
    src = shared_path("samples", "libs_curl_google.scap")
    data = src.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    last = max(Event(it[2], it[0], it[1]).ts for it in read_capture(str(src)) if type(it) is tuple)
    out = tmp / "cpu.scap"
    with out.open("wb") as f:
        f.write(data)  # the sample's section; the events below continue it
        w = ScapWriter(f)
        w._in_section = True
        for i, (tid, user, system) in enumerate(events, 1):
            w.write_event(0, 0, Event.build(PROCINFO, last + 1000 * i, tid, 0, [user, system]).raw)
    return out


def _split(text: str) -> tuple[list[str], int]:
    rows = text.splitlines()[2:]
    return [r for r in rows if not r.startswith("0.00%")], len(rows)


@pytest.mark.oracle
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_percentages_as_sysdig(tmp_path: Path, name: str) -> None:
    cap = _capture(tmp_path, SCENARIOS[name])
    want = subprocess.run([require_tool("sysdig"), "-r", str(cap), "-c", "topprocs_cpu"], capture_output=True,
                          env=dict(os.environ, TZ="UTC"), timeout=120, check=True).stdout.decode()
    res = run_sdu("-r", str(cap), "-c", "topprocs_cpu", environ={**os.environ, "TZ": "UTC"})
    assert res.status == 0, res.stderr
    assert res.stdout.splitlines()[:2] == want.splitlines()[:2]
    assert _split(res.stdout) == _split(want)
    assert len(_split(want)[0]) >= (1 if name == "an unknown thread" else 2)
