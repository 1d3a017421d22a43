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


def _report(*options: str) -> tuple[str, int, str]:
    res = sdu("-q", "-v", *options, "--", sys.executable, "-c", REPORT)
    assert res.status == 0, res.stderr
    line = [ln for ln in res.lines if ln.startswith("REPORT ")]
    assert len(line) == 1, res.stdout
    _tag, allowed, count = line[0].split()
    return allowed, int(count), res.stderr


def test_default_colocates_and_hides_it() -> None:
    allowed, count, stderr = _report()
    assert count == len(ORIGINAL)
    noted = [ln for ln in stderr.splitlines() if ln.startswith("sdu: the command shared CPU ")]
    assert len(noted) == 1, stderr
    if noted[0].endswith(" until traced threads waited for the shared CPU"):
        return  # something else queued on that CPU (a loaded machine): released, as designed
    assert noted[0].endswith(" until tracing ended"), noted
    assert noted[0].split()[5] == allowed and int(allowed) in ORIGINAL  # the one CPU it ran on


def test_no_colocate_keeps_every_cpu() -> None:
    allowed, count, stderr = _report("--no-colocate")
    assert count == len(ORIGINAL) and ("," in allowed or "-" in allowed)
    assert "shared CPU" not in stderr
