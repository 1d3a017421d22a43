"""-P: progress on stderr, framed as sysdig 0.29.3 frames it."""
from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT, require_tool, shared_path

ENV = {**os.environ, "TZ": "UTC"}
FRAMING = re.compile(r"(\r(     )?\r\d{1,3}\.\d\d)*\r(     )?\r(     )?\r100\.00\n")


def _stderr(cmd: list[str]) -> str:
    # bytes, decoded by hand: text mode would turn every \r into \n
    return subprocess.run(cmd, env=ENV, cwd=ROOT, capture_output=True, check=True).stderr.decode()


@pytest.mark.oracle
def test_small_file_progress_is_sysdigs() -> None:
    sysdig = require_tool("sysdig")
    sample = str(shared_path("samples", "libs_curl_google.scap"))
    want = _stderr([sysdig, "-r", sample, "-P", "-q"])
    got = _stderr([sys.executable, "-m", "sysdig_user", "-r", sample, "-P", "-q"])
    assert FRAMING.fullmatch(want) and FRAMING.fullmatch(got)
    # redraws depend on the clock (a loaded machine may draw one even for a small file): with none,
    # the bytes are sysdig's exactly
    if "." not in want[:-8] and "." not in got[:-8]:
        assert got == want == "\r\r\r100.00\n"


@pytest.mark.slow
def test_large_file_redraws_increasing_percentages(tmp_path: Path) -> None:
    blob = gzip.decompress(shared_path("samples", "libs_curl_google.scap").read_bytes())
    big = tmp_path / "big.scap"
    big.write_bytes(blob * 150)
    err = _stderr([sys.executable, "-m", "sysdig_user", "-r", str(big), "-P", "-q"])
    assert FRAMING.fullmatch(err), repr(err[:200])
    values = [float(v) for v in re.findall(r"\r(\d{1,3}\.\d\d)", err)]
    assert len(values) >= 3 and values == sorted(values) and values[-1] == 100.0
