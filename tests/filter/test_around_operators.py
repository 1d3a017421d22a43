"""evt.around compares with `=` (and `in`) only: sysdig 0.29.3 rejects any other operator when it
compiles the filter (found by the filter fuzzer: sdu raised a TypeError per event for `>=`)."""
from __future__ import annotations

import os
import subprocess

import pytest

from tests.support import require_tool, run_sdu, shared_path

FILTERS = ("evt.around[1] >= 80", "evt.around[1] != 3", "evt.around[1] contains 8", "evt.around[1] < 5",
           "evt.around[1] glob 8 and evt.bogus=1", "evt.around[1] >= abc", "evt.around[1] pmatch (3)",
           "evt.around[1] in (80)", "evt.around[1] = 80", "not evt.around[1] > 1")
# Not compared: `exists` (sysdig matches the events at exactly T, sdu every event) and `in` with a delta
# (sysdig matches nothing): what the operators match, not whether they compile.


@pytest.mark.oracle
@pytest.mark.parametrize("flt", FILTERS)
def test_around_operators_like_sysdig(flt: str) -> None:
    sample = str(shared_path("samples", "falco_cat_write.scap"))
    env = {**os.environ, "TZ": "UTC"}
    res = run_sdu("-r", sample, "-p", "%evt.num", flt, environ=env)
    assert "internal error" not in res.stderr
    want = subprocess.run([require_tool("sysdig"), "-r", sample, "-p", "%evt.num", flt], env=env, check=False,
                          capture_output=True, text=True, timeout=60)
    assert (res.status == 0) == (want.returncode == 0), res.stderr
    if want.returncode:
        assert res.stderr.strip() == (want.stdout + want.stderr).strip().splitlines()[0]
    else:
        assert res.stdout.split() == want.stdout.split()
