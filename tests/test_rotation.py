"""`sdu -r IN -w OUT` with -C/-G/-e/-W/-F: the files written and their split points are sysdig 0.29.3's
(checked by having sysdig print each file of both runs)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support import require_tool, run_sdu, shared_path

pytestmark = pytest.mark.oracle  # every test here compares with sysdig

ENV = {**os.environ, "TZ": "UTC"}
CASES = [
    ("sub/o", ["-e", "100"]),
    ("sub/o", ["-e", "100", "-W", "10"]),
    ("sub/o", ["-G", "3"]),
    ("sub/o", ["-G", "1", "-W", "10"]),
    ("sub/o", ["-C", "1", "-G", "5", "-W", "10"]),
    ("sub/o", ["-G", "5", "-W", "10", "-e", "300"]),
    ("sub/o_%S", ["-G", "3", "-W", "2"]),
    ("sub/o_%S", ["-G", "5", "-W", "10", "-C", "1"]),
    ("sub/o_%S", ["-e", "400", "-G", "5"]),
]


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize(("name", "args"), CASES)
def test_rotation_matches_sysdig(name: str, args: list[str], tmp_path: Path) -> None:
    sysdig = require_tool("sysdig")
    src = str(shared_path("samples", "libs_single_ipv6_conn.scap"))
    want_dir, got_dir = tmp_path / "sysdig", tmp_path / "sdu"
    for d in (want_dir, got_dir):
        (d / "sub").mkdir(parents=True)
    subprocess.run([sysdig, "-r", src, "-w", name, *args], cwd=want_dir, env=ENV, capture_output=True,
                   check=True)
    cwd = os.getcwd()
    os.chdir(got_dir)
    try:
        res = run_sdu("-r", src, "-w", name, *args, environ=ENV)
    finally:
        os.chdir(cwd)
    assert res.status == 0, res.stderr
    files = _files(want_dir)
    assert _files(got_dir) == files
    assert len(files) > 1
    for f in files:
        want = subprocess.run([sysdig, "-r", str(want_dir / f)], env=ENV, capture_output=True, check=True).stdout
        got = subprocess.run([sysdig, "-r", str(got_dir / f)], env=ENV, capture_output=True, check=True).stdout
        assert got == want, f


def test_fatfile_writes_hidden_state_events(tmp_path: Path) -> None:
    sysdig = require_tool("sysdig")
    from sysdig_user.scap import read_capture

    src = str(shared_path("samples", "libs_single_ipv6_conn.scap"))
    out, theirs = tmp_path / "fat.scap", tmp_path / "sysdig-fat.scap"
    subprocess.run([sysdig, "-r", src, "-w", str(theirs), "-F", "evt.type=read"], env=ENV, capture_output=True,
                   check=True)
    res = run_sdu("-r", src, "-w", str(out), "-F", "evt.type=read", environ=ENV)
    assert res.status == 0, res.stderr
    flags = [item[1] for item in read_capture(str(out)) if type(item) is tuple]
    want = [item[1] for item in read_capture(str(theirs)) if type(item) is tuple]
    assert flags.count(1) == want.count(1) == 20  # the STATE_ONLY events
    assert flags == want  # and the rest: the 4 reads, and the 1700 procinfo events the filter drops
    assert out.read_bytes() == theirs.read_bytes()  # (this sample's interface list is v2: sysdig's is sound)
