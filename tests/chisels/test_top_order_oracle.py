"""The top* chisels' rows with equal values, against Debian's sysdig 0.29.3 (chisels/luaorder.py).

The capture is made at test time by ``sdu -w`` of a program the test starts that makes many ties:
files of one size read whole by each of six children in turn, two failing writes per file and child,
five TCP servers that each receive as many bytes. Also the shared samples.

A table keyed by numbers (one numeric key field: ``fdbytes_by proc.pid``, ``topports_server``,
``fdcount_by proc.pid``) comes out in the order LuaJIT's pairs() and table.sort give, the same in every
run of sysdig: compared byte for byte. A table keyed by strings lands its keys by LuaJIT's string IDs,
which are seeded from the OS per run, so sysdig prints rows with equal values in a different order from
one run to the next: those are compared with the rows of each run of equal values as a set (the last
run, when the top-N cut falls inside it, by its value and length only)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support import line_diff, record_python, require_tool, run_sdu, shared_path

TIMEOUT = 120

PROGRAM = r"""
import os, socket, sys
names = [os.path.join(sys.argv[1], f"tie{i:02d}.dat") for i in range(16)]
for n in names:
    with open(n, "wb") as f:
        f.write(b"x" * 20000)
def work():
    for n in names:
        fd = os.open(n, os.O_RDONLY)
        while os.read(fd, 8192):
            pass
        for _ in range(2):
            try:
                os.write(fd, b"no")
            except OSError:
                pass
        os.close(fd)
for _ in range(6):
    pid = os.fork()
    if pid == 0:
        work()
        os._exit(0)
    os.waitpid(pid, 0)
servers = []
for _ in range(5):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1); servers.append(s)
for s in servers:
    c = socket.create_connection(s.getsockname())
    a, _ = s.accept()
    c.sendall(b"y" * 1500)
    got = 0
    while got < 1500:
        got += len(a.recv(4096))
    c.close(); a.close()
"""

# chisel args -> (top number, numeric keys): the rows' order is sysdig's exactly for number keys
CHISELS: dict[tuple[str, ...], tuple[int, bool]] = {
    ("fdbytes_by", "proc.pid"): (30, True),
    ("fdbytes_by", "fd.num"): (30, True),
    ("fdtime_by", "proc.pid"): (10, True),
    ("fdcount_by", "proc.pid"): (0, True),
    ("fdcount_by", "fd.num"): (0, True),
    ("topports_server",): (100, True),
    ("topfiles_bytes",): (10, False),
    ("topfiles_errors",): (100, False),
    ("topprocs_file",): (10, False),
    ("topprocs_errors",): (100, False),
    ("topprocs_net",): (100, False),
    ("topconns",): (30, False),
    ("topscalls",): (30, False),
    ("topscalls_time",): (30, False),
    ("fdbytes_by", "fd.name"): (30, False),
    ("fdcount_by", "proc.name"): (0, False),
}
# the capture is made to give these ties (value text, rows with it at least)
TIES = {("fdbytes_by", "proc.pid"): 6, ("fdcount_by", "proc.pid"): 6, ("topports_server",): 5,
        ("topconns",): 5, ("topfiles_bytes",): 10, ("topfiles_errors",): 16, ("topprocs_file",): 6,
        ("topprocs_errors",): 6, ("fdbytes_by", "fd.name"): 16}


def _sysdig(capture: Path, argv: tuple[str, ...]) -> str:
    res = subprocess.run([require_tool("sysdig"), "-r", str(capture), "-c", *argv], capture_output=True,
                         env=dict(os.environ, TZ="UTC"), timeout=TIMEOUT, check=False)
    assert res.returncode == 0, res.stderr
    return res.stdout.decode("utf-8", "surrogateescape")


def _sdu(capture: Path, argv: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("SDU_CHISEL_ENGINE", raising=False)
    res = run_sdu("-r", str(capture), "-c", *argv, environ={**os.environ, "TZ": "UTC"})
    assert res.status == 0, res.stderr
    return res.stdout


def _runs(text: str, fdcount: bool) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The header lines, then the rows as runs of equal value text: (value, keys)."""
    lines = text.splitlines()
    head, rows = ([], lines) if fdcount else (lines[:2], lines[2:])
    runs: list[tuple[str, list[str]]] = []
    for line in rows:
        key, value = line.rsplit("\t", 1) if fdcount else (line[20:], line[:20])
        if runs and runs[-1][0] == value:
            runs[-1][1].append(key)
        else:
            runs.append((value, [key]))
    return head, runs


def _compare(argv: tuple[str, ...], want: str, got: str) -> None:
    top, numeric = CHISELS[argv]
    if numeric:
        diff = line_diff(want.splitlines(), got.splitlines())
        assert not diff and got == want, diff
        return
    fdcount = argv[0] == "fdcount_by"
    want_head, want_runs = _runs(want, fdcount)
    got_head, got_runs = _runs(got, fdcount)
    assert got_head == want_head
    assert [(v, len(k)) for v, k in got_runs] == [(v, len(k)) for v, k in want_runs], line_diff(
        want.splitlines(), got.splitlines())
    cut = bool(top) and sum(len(k) for _, k in want_runs) == top
    whole = want_runs[:-1] if cut else want_runs
    for (value, want_keys), (_, got_keys) in zip(whole, got_runs):
        assert sorted(got_keys) == sorted(want_keys), value


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tool("sysdig")
    base = tmp_path_factory.mktemp("ties")
    return record_python(base / "ties.scap", PROGRAM, str(base), timeout=TIMEOUT)


@pytest.mark.ptrace
@pytest.mark.oracle
@pytest.mark.parametrize("argv", list(CHISELS), ids=" ".join)
def test_live_capture_ties_as_sysdig(capture: Path, argv: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    want = _sysdig(capture, argv)
    if argv in TIES:  # the case is meant to exercise ties
        _, runs = _runs(want, argv[0] == "fdcount_by")
        assert max(len(keys) for _, keys in runs) >= TIES[argv], want
    _compare(argv, want, _sdu(capture, argv, monkeypatch))


SAMPLES = ["falco_cat_write.scap", "libs_curl_google.scap", "libs_single_ipv6_conn.scap"]


@pytest.mark.oracle
@pytest.mark.parametrize("argv", list(CHISELS), ids=" ".join)
@pytest.mark.parametrize("sample", SAMPLES)
def test_samples_ties_as_sysdig(sample: str, argv: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    path = shared_path("samples", sample)
    _compare(argv, _sysdig(path, argv), _sdu(path, argv, monkeypatch))
