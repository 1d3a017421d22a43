"""`sdu ... | head -1`: once the reader of the output is gone, sdu ends quietly with status 141, as
sysdig does (it dies of SIGPIPE, which a shell reports as 128 + 13), in every mode that writes to
stdout: the default line, -p, a filter, a chisel, -w -, live capture, the listings.

Statuses are compared on a capture whose output is much larger than a pipe holds (64 KiB), so that
both programs write after head has exited whatever the timing.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT, record_python, require_tool

LOOPS = 20_000
PROGRAM = f"""
import os
for _ in range({LOOPS}):
    fd = os.open("/etc/hostname", os.O_RDONLY)
    os.read(fd, 64)
    os.close(fd)
"""
SDU = [sys.executable, "-m", "sysdig_user"]
MODES = {
    "line": [],
    "-p": ["-p", "%evt.num %proc.name %evt.type %fd.name"],
    "filter": ["evt.type=read"],
    "chisel": ["-c", "echo_fds"],
    "-w -": ["-w", "-"],
}
CLOSED = 128 + 13  # SIGPIPE


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record_python(tmp_path_factory.mktemp("closed") / "openreadclose.scap", PROGRAM)


def _piped(argv: list[str], tmp: Path) -> tuple[int, bytes]:
    """`argv | head -1` in bash: argv's status (PIPESTATUS) and its stderr."""
    err = tmp / "stderr"
    script = f"{shlex.join(argv)} 2>{shlex.quote(str(err))} | head -1 >/dev/null; exit ${{PIPESTATUS[0]}}"
    env = dict(os.environ, TZ="UTC", PYTHONPATH=str(ROOT))
    res = subprocess.run(["bash", "-c", script], env=env, timeout=300, check=False, stdin=subprocess.DEVNULL)
    return res.returncode, err.read_bytes()


@pytest.mark.ptrace
@pytest.mark.oracle
@pytest.mark.parametrize("mode", list(MODES))
def test_read_closed_pipe(capture: Path, tmp_path: Path, mode: str) -> None:
    sysdig = require_tool("sysdig")
    status, err = _piped([sysdig, "-r", str(capture), *MODES[mode]], tmp_path)
    assert (status, err) == (CLOSED, b"")  # (the oracle: this much output always meets a closed pipe)
    status, err = _piped([*SDU, "-r", str(capture), *MODES[mode]], tmp_path)
    assert (status, err) == (CLOSED, b"")


@pytest.mark.ptrace
@pytest.mark.parametrize("seccomp", [False, True], ids=["ptrace-only", "seccomp"])
@pytest.mark.parametrize("mode", ["line", "filter", "chisel", "-w -"])
def test_live_closed_pipe(tmp_path: Path, mode: str, seccomp: bool) -> None:
    """Live, sdu detaches when the output closes, waits for the command and ends with 141, quietly. The
    command runs to its end (it writes its mark file), unless it runs under sdu's seccomp filter
    (pushdown), which detaching kills it with (tracer/engine.py), or the output closed before it
    started: -w - writes the capture's header at once, and a command stopped before its execve is
    killed (tracer/live.py)."""
    started, mark = tmp_path / "started", tmp_path / "done"
    program = f"open({str(started)!r}, 'w').close()\n" + PROGRAM + f"open({str(mark)!r}, 'w').close()\n"
    options = [] if seccomp else ["--no-seccomp"]
    status, err = _piped([*SDU, *options, *MODES[mode], "--", sys.executable, "-S", "-c", program], tmp_path)
    assert (status, err) == (CLOSED, b"")
    if not seccomp:
        assert mark.exists() or (mode == "-w -" and not started.exists())


@pytest.mark.slow
def test_list_fields_closed_pipe(tmp_path: Path) -> None:
    """`-l` writes 37 KB in 4 KiB lots, as sysdig does: a pipe holds it all, so whether the last lot
    meets a closed pipe is a race (sysdig's too); whatever happens, stderr stays empty and the status
    is 0 or 141."""
    for _ in range(3):
        status, err = _piped([*SDU, "-l"], tmp_path)
        assert status in (0, CLOSED)
        assert err == b""
