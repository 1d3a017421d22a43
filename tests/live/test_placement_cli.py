"""`sdu -- CMD` co-locates the command with the tracer by default; `--no-colocate` leaves both floating.

The traced program prints the kernel's allowed-CPU list for itself and the CPU count its
sched_getaffinity sees; sdu must keep the latter at the original count either way (tracer/placement.py).
"""
from __future__ import annotations

import os
import sys

import pytest

from tests.live.conftest import sdu

ORIGINAL = sorted(os.sched_getaffinity(0))
REPORT = ("import os; allowed = [ln.split()[1] for ln in open('/proc/self/status') "
          "if ln.startswith('Cpus_allowed_list')][0]; print('REPORT', allowed, len(os.sched_getaffinity(0)))")

pytestmark = pytest.mark.skipif(len(ORIGINAL) < 2, reason="co-location needs at least two allowed CPUs")


def _report(*options: str) -> tuple[str, int]:
    res = sdu("-q", *options, "--", sys.executable, "-c", REPORT)
    assert res.status == 0, res.stderr
    line = [ln for ln in res.lines if ln.startswith("REPORT ")]
    assert len(line) == 1, res.stdout
    _tag, allowed, count = line[0].split()
    return allowed, int(count)


def test_default_colocates_and_hides_it() -> None:
    allowed, count = _report()
    assert "," not in allowed and "-" not in allowed and int(allowed) in ORIGINAL  # one CPU
    assert count == len(ORIGINAL)


def test_no_colocate_keeps_every_cpu() -> None:
    allowed, count = _report("--no-colocate")
    assert allowed != str(int(allowed)) if allowed.isdigit() else True
    assert count == len(ORIGINAL) and ("," in allowed or "-" in allowed)
