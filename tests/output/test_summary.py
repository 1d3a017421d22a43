"""-S table layout and libstdc++ std::sort tie order."""
from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

from sysdig_user.event_table import PPM_SC, event_code
from sysdig_user.output.summary import SummaryEntry, SummaryTable, introsort
from tests.scap.damaged import TID, write_capture
from tests.state.events import mk
from tests.support import require_tool, run_sdu


def test_introsort_sorts_by_descending_count() -> None:
    rng = random.Random(7)
    entries = [SummaryEntry(i, False, rng.randrange(5)) for i in range(994)]
    introsort(entries, lambda a, b: a.ncalls > b.ncalls)
    counts = [e.ncalls for e in entries]
    assert counts == sorted(counts, reverse=True)
    assert sorted(e.id for e in entries) == list(range(994))


def test_table_lines() -> None:
    table = SummaryTable()
    for _ in range(3):
        table.count(event_code("open", True))
    table.count(event_code("open", False))
    table.count(1, 5)  # a generic exit event of ppm_sc 5
    lines = table.lines()
    assert lines[:3] == ["----------------------", "Event           #Calls", "----------------------"]
    assert lines[3] == "> open            3"
    assert len(lines) == 6


def test_long_names_are_cut_at_16_characters() -> None:
    table = SummaryTable()
    table.count(0, 195)  # inotify_add_watch, 17 characters
    assert table.lines()[3] == "> inotify_add_watc1"


@pytest.mark.oracle
def test_long_names_like_sysdig(tmp_path: Path) -> None:
    """Generic events of every syscall whose name is 15 characters or more, each a different number of
    times (so no ties), written with the scap writer; ``-S -q`` compared with sysdig's."""
    sysdig = require_tool("sysdig")
    ids = [i for i, sc in enumerate(PPM_SC) if len(sc.name) >= 15]
    raws = []
    for n, sc_id in enumerate(ids, 1):
        for _ in range(n):
            raws.append(mk("syscall", True, TID, ID=sc_id, nativeID=sc_id).raw)
            raws.append(mk("syscall", False, TID, ID=sc_id).raw)
    path = write_capture(tmp_path / "long.scap", raws)
    want = subprocess.run([sysdig, "-r", str(path), "-S", "-q"], capture_output=True, text=True, check=True)
    got = run_sdu("-r", str(path), "-S", "-q")
    assert got.stdout == want.stdout
    assert "inotify_add_watc" in got.stdout and "inotify_add_watch" not in got.stdout
