"""-S table layout and libstdc++ std::sort tie order."""
from __future__ import annotations

import random

from sysdig_user.event_table import event_code
from sysdig_user.output.summary import SummaryEntry, SummaryTable, introsort


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
