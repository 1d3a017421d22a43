"""-d (sysdig's display filter): the filter runs after the state engine has parsed every event.

Without -d sinsp filters inside the parser, so an event that fails the filter is not parsed and the
exit that follows it is unpaired (its fd unknown: ``evt.category`` unknown for a read); with -d every
event is parsed first. Compared with sysdig 0.29.3 on the shared samples: every golden case with -d
added, and filters chosen because -d changes what they print.
"""
from __future__ import annotations

import os
import subprocess

import pytest

from tests.support import require_tool, run_sdu, shared_path
from tests.test_golden import _CASES, ENV, _compare

FMT = "%evt.num %evt.type %evt.category %fd.name %evt.args"
# filters whose output -d changes on these samples (the test checks that it does)
CHANGED_BY_D = ("evt.dir=< and evt.is_io=true", "evt.dir=< and fd.type=file")
SAMPLES = ("libs_curl_google", "falco_cat_write", "libs_single_ipv6_conn")


def _sysdig(*argv: str) -> tuple[str, int]:
    sysdig = require_tool("sysdig")
    res = subprocess.run([sysdig, *argv], capture_output=True, text=True, errors="surrogateescape",
                         env={**os.environ, **ENV}, timeout=120, check=False)
    return res.stdout + res.stderr, res.returncode


@pytest.mark.oracle
@pytest.mark.parametrize("sample", SAMPLES)
@pytest.mark.parametrize("flt", CHANGED_BY_D)
def test_display_filter_parses_before_filtering(sample: str, flt: str) -> None:
    path = str(shared_path("samples", f"{sample}.scap"))
    want, _ = _sysdig("-d", "-r", path, flt, "-p", FMT)
    got = run_sdu("-d", "-r", path, flt, "-p", FMT, environ=ENV)
    assert got.status == 0
    assert got.output == want
    without = run_sdu("-r", path, flt, "-p", FMT, environ=ENV)
    if sample == "libs_curl_google":  # the sample where both filters meet unpaired exits
        assert without.output != got.output


@pytest.mark.oracle
@pytest.mark.skipif(not _CASES, reason="shared golden cases not found (../shared/samples/golden)")
@pytest.mark.parametrize(("case_id", "sample", "argv", "compare"), _CASES, ids=[c[0] for c in _CASES])
def test_golden_case_with_display_filter(case_id: str, sample: str, argv: list[str], compare: str) -> None:
    path = str(shared_path("samples", sample))
    want, want_rc = _sysdig("-d", "-r", path, *argv)
    got = run_sdu("-d", "-r", path, *argv, environ=ENV)
    exp, act = _compare(want, got.output, compare)
    assert act == exp
    assert got.status == want_rc
