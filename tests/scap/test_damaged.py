"""Damaged captures the reader must report, not crash on: param counts past an event's end, and block
lengths far larger than the file (read piecewise, never allocated up front)."""
from __future__ import annotations

import io
import os
import resource
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from sysdig_user.event import Event
from sysdig_user.scap import CaptureError, read_capture
from tests.scap.damaged import capture_bytes, open_read_events, with_nparams, write_capture
from tests.scap.scapdata import walk_blocks
from tests.support import ROOT, require_tool, run_sdu

ENV = {**os.environ, "TZ": "UTC"}


def _sysdig(path: Path, limit_as: int | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_tool("sysdig"), "-r", str(path)], env=ENV, check=False, capture_output=True,
                          text=True, errors="surrogateescape", timeout=60,
                          preexec_fn=None if limit_as is None else lambda: _limit(limit_as))


def _limit(nbytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (nbytes, nbytes))


def test_param_count_past_the_end_reads_zeros() -> None:
    """sinsp reads the lengths and values past a short event from its zeroed buffer: sdu reads zeros."""
    good = open_read_events()[2]  # read E: fd, size
    evt = Event(with_nparams(good, 200))
    assert tuple(evt.param_values()) == (0, 0)
    assert evt.param_count == 2
    assert evt.rawparam(0) == b"" and evt.rawparam(1) == b""
    # a count far past any table: only the table's params are laid out (no 4-billion-entry struct)
    assert tuple(Event(with_nparams(good, 0xFFFFFFFF)).param_values()) == (0, 0)
    # lengths cut short: the missing ones are 0
    cut = bytearray(good[:28])
    struct.pack_into("<I", cut, 16, 28)
    assert tuple(Event(bytes(cut)).param_values()) == (0, 0)


@pytest.mark.oracle
def test_param_count_past_the_end_prints_like_sysdig(tmp_path: Path) -> None:
    raws = open_read_events()
    raws[2] = with_nparams(raws[2], 200)
    path = write_capture(tmp_path / "nparams.scap", raws)
    res = run_sdu("-r", str(path), environ={**ENV})
    assert res.status == 0, res.stderr
    assert res.stderr == ""
    want = _sysdig(path)
    assert want.returncode == 0
    assert res.stdout == want.stdout
    assert "read fd=0 size=0" in res.stdout  # the damaged event is there, with zero params


class _Recording(io.BytesIO):
    """A file that remembers the largest read asked of it."""

    largest = 0

    def read(self, n: int | None = -1) -> bytes:
        self.largest = max(self.largest, n if n is not None and n >= 0 else 0)
        return super().read(n)


def _huge_length(data: bytes, index: int, block_type: int | None = None) -> bytes:
    off = walk_blocks(data)[index][0]
    out = bytearray(data)
    if block_type is not None:
        struct.pack_into("<I", out, off, block_type)
    struct.pack_into("<I", out, off + 4, 0xFFFFFFF0)
    return bytes(out)


def test_huge_block_length_is_not_allocated() -> None:
    data = capture_bytes(open_read_events())
    for index, btype in ((1, None), (4, 0x221)):  # the PL block; the second event, as EV_V2_LARGE
        f = _Recording(_huge_length(data, index, btype))
        with pytest.raises(CaptureError, match="truncated"):
            list(read_capture(f))
        assert f.largest < 64 << 20


@pytest.mark.oracle
def test_huge_block_length_under_a_memory_limit_like_sysdig(tmp_path: Path) -> None:
    """`ulimit -v 2000000`: the events before the damaged LARGE block, then one line."""
    data = capture_bytes(open_read_events())
    path = tmp_path / "huge.scap"
    path.write_bytes(_huge_length(data, 4, 0x221))
    limit = 2_000_000 * 1024
    res = subprocess.run([sys.executable, "-m", "sysdig_user", "-r", str(path)], cwd=ROOT, env=ENV, check=False,
                         capture_output=True, text=True, timeout=120, preexec_fn=lambda: _limit(limit))
    assert res.returncode == 1
    assert "internal error" not in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.splitlines()) == 1, res.stderr
    want = _sysdig(path, limit)
    assert want.returncode != 0
    assert res.stdout == want.stdout
    assert res.stdout.count("\n") == 1
