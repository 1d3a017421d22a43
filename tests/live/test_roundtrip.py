"""`sdu -w` captures: Debian's sysdig 0.29.3 reads them as sdu does, and sdu prints live what it
later reads from the file."""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.live.conftest import TCP_PAIR, sdu
from tests.support import line_diff, require_tool

# socket options of each kind the driver encodes differently (u32, errno, relative time, raw bytes,
# another level) and a non-blocking connect refused by a bound socket that does not listen
SOCKOPTS = """
import socket, struct, time
closed = socket.socket(); closed.bind(("127.0.0.1", 0))
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 2, 500000))
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 3))
s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE)
s.setblocking(False)
try:
    s.connect(closed.getsockname())
except BlockingIOError:
    pass
time.sleep(0.05)
s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
"""

PROGRAMS = {
    "file_io": ["sh", "-c", "echo some-data > out.txt; cat out.txt > copy.txt; rm out.txt copy.txt"],
    "pipe": ["sh", "-c", "echo through-a-pipe | wc -c > n.txt"],
    "tcp_pair": [sys.executable, "-S", "-c", TCP_PAIR],
    "sockopts": [sys.executable, "-S", "-c", SOCKOPTS],
}


def _sysdig(path: Path) -> str:
    exe = require_tool("sysdig")
    res = subprocess.run([exe, "-r", str(path)], check=False, capture_output=True, env=dict(os.environ, TZ="UTC"),
                         timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout.decode("utf-8", "surrogateescape")


@pytest.mark.ptrace
@pytest.mark.oracle
@pytest.mark.parametrize("name", sorted(PROGRAMS))
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_sysdig_reads_what_sdu_writes(name: str, compress: bool, tmp_path: Path) -> None:
    if compress and name != "pipe":
        pytest.skip("one gzip case is enough")
    capture = tmp_path / "live.scap"
    res = sdu(*(["-z"] if compress else []), "-w", str(capture), "--", *PROGRAMS[name], cwd=tmp_path)
    assert res.status == 0, res.stderr
    assert res.stdout == ""  # -w prints nothing, as sysdig
    expected = _sysdig(capture)
    got = sdu("-r", str(capture))
    assert got.status == 0, got.stderr
    assert expected.count("\n") > 10
    diff = line_diff(expected.splitlines(), got.stdout.splitlines())
    assert not diff and got.stdout == expected, diff


@pytest.mark.ptrace
@pytest.mark.oracle
def test_sockopt_values_as_the_driver_writes_them(tmp_path: Path) -> None:
    """sysdig renders each val form from sdu's file: u32, the errno of SO_ERROR, SO_RCVTIMEO as a
    time, a struct as bytes, and a TCP-level option with the UNKNOWN optname; the successful
    getsockopt exit names its fd (sinsp takes it from the exit)."""
    capture = tmp_path / "so.scap"
    res = sdu("-w", str(capture), "--", *PROGRAMS["sockopts"], cwd=tmp_path)
    assert res.status == 0, res.stderr
    lines = [ln.split(") ", 1)[1] for ln in _sysdig(capture).splitlines() if "sockopt res=" in ln]
    assert any("level=1(SOL_SOCKET) optname=2(SO_REUSEADDR) val=1 optlen=4" in ln for ln in lines), lines
    assert any("level=2(SOL_TCP) optname=0(UNKNOWN) val=" in ln for ln in lines), lines
    assert any("optname=20(SO_RCVTIMEO) val=2500000000(2.5s) optlen=16" in ln for ln in lines), lines
    assert any("optname=13(SO_LINGER) val=" in ln and "val=1 " not in ln for ln in lines), lines
    refused = [ln for ln in lines if "optname=4(SO_ERROR)" in ln]
    assert refused and re.match(r"< getsockopt res=0 fd=\d+\(<4t>127\.0\.0\.1:\d+->127", refused[-1]), lines
    assert "val=-111(ECONNREFUSED)" in refused[-1]


@pytest.mark.ptrace
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_live_output_equals_file_output(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One run printed live and written at once (library API: sysdig's CLI cannot do both), then the
    file read back: the same lines."""
    from sysdig_user.cli import CaptureWriter, Environment, EventPipeline, Output, main
    from sysdig_user.cli_options import parse_argv
    from tracer.live import LiveCapture

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    live = io.BytesIO()
    env = Environment(live, io.StringIO(), dict(os.environ))
    pipeline = EventPipeline(parse_argv(["--", *PROGRAMS[name]]), env, Output(live))
    writer = CaptureWriter(str(tmp_path / "f.scap"), False)
    try:
        assert LiveCapture(pipeline, writer).run(command=PROGRAMS[name]) == 0
    finally:
        writer.close()
    out = io.BytesIO()
    assert main(["-r", str(tmp_path / "f.scap")], Environment(out, io.StringIO(), dict(os.environ))) == 0
    assert live.getvalue().count(b"\n") > 10
    assert live.getvalue() == out.getvalue()


def test_rotation_names_and_wraps(tmp_path: Path) -> None:
    """-C/-W: FILE0, FILE1 (zero-padded to -W's digits), wrapping to FILE0; each file a full section."""
    from sysdig_user.cli import CaptureWriter
    from sysdig_user.event import Event
    from sysdig_user.event_table import event_code
    from sysdig_user.scap import read_capture

    base = tmp_path / "rot.scap"
    w = CaptureWriter(str(base), False, rollover_mb=1, file_limit=2)
    w.section_source = dict
    w.start({})
    code = event_code("write", True)
    evt = Event.build(code, 1, 1, 0, [1, 10])
    for _ in range(int(2.5e6) // len(evt.raw)):
        w.write(evt)
    w.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rot.scap0", "rot.scap1"]
    events = [i for i in read_capture(str(tmp_path / "rot.scap0")) if isinstance(i, tuple)]
    assert 0 < len(events) < 2e6 // len(evt.raw)
