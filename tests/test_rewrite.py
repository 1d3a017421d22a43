"""`sdu -r IN -w OUT`: the written file carries the input's state (processes, fds, users), so sysdig
0.29.3 and sdu print from OUT exactly what sysdig prints from IN."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support import require_tool, run_sdu, shared_path

pytestmark = pytest.mark.oracle  # every test here compares with sysdig

SAMPLES = ["falco_cat_write", "libs_curl_google", "libs_single_ipv6_conn"]
ENV = {**os.environ, "TZ": "UTC"}


@pytest.mark.parametrize("name", SAMPLES)
def test_rewritten_capture_prints_the_same(name: str, tmp_path: Path) -> None:
    sysdig = require_tool("sysdig")
    src = shared_path("samples", f"{name}.scap")
    out = tmp_path / "out.scap"
    res = run_sdu("-r", str(src), "-w", str(out), environ=ENV)
    assert res.status == 0, res.stderr
    want = subprocess.run([sysdig, "-r", str(src)], env=ENV, capture_output=True, check=True).stdout
    got = subprocess.run([sysdig, "-r", str(out)], env=ENV, capture_output=True, check=True).stdout
    assert got == want
    assert run_sdu("-r", str(out), environ=ENV).stdout.encode("utf-8", "surrogateescape") == want
