"""The compiled default line on a damaged capture whose timestamps pass 2^63 (found by the capture fuzzer:
OverflowError in _fastline.c reading back a u64 timestamp the Python side had stored)."""
from __future__ import annotations

import os
import struct
import subprocess
from pathlib import Path

import pytest

from tests.scap.damaged import open_read_events, write_capture
from tests.support import require_tool, run_sdu


def _with_ts(raw: bytes, ts: int) -> bytes:
    return struct.pack("<Q", ts) + raw[8:]


@pytest.mark.oracle
def test_timestamps_past_int64_print_like_sysdig(tmp_path: Path) -> None:
    raws = open_read_events()
    huge = (1 << 63) + 12345
    raws[2], raws[3] = _with_ts(raws[2], huge), _with_ts(raws[3], huge + 1000)
    path = write_capture(tmp_path / "huge_ts.scap", raws + open_read_events())
    env = {**os.environ, "TZ": "UTC"}
    res = run_sdu("-r", str(path), environ=env)
    assert res.stderr == ""
    assert res.status == 0
    want = subprocess.run([require_tool("sysdig"), "-r", str(path)], env=env, check=False, capture_output=True,
                          text=True, timeout=60)
    assert want.returncode == 0
    assert res.stdout == want.stdout
    assert res.stdout.count("\n") == 8
