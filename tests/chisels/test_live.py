"""Chisels on a live capture (`sdu -c NAME -- CMD`): interval tables on the wall clock, and the same
output a capture file of the same events gives (through sdu and through sysdig).

Every test traces only a command it starts, and is bounded (the commands end by themselves; each sdu
run has a timeout)."""
from __future__ import annotations

import os
import pwd
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT, oracles_required, require_tool

pytestmark = pytest.mark.ptrace

TIMEOUT = 60
SDU = [sys.executable, "-m", "sysdig_user"]
TABLE_START = re.compile(r"^(?=CPU%)", re.MULTILINE)  # a launched command's tables, one after another


def tables_of(out: str) -> list[str]:
    """The tables a launched command's run printed: no screen codes (sysdig's endless live view clears the
    screen before each; sdu keeps that for attach mode on a terminal), each from its header line."""
    assert "\x1b[" not in out, out
    return [t for t in TABLE_START.split(out) if t.startswith("CPU%")]


def _env() -> dict[str, str]:
    return dict(os.environ, TZ="UTC", PYTHONPATH=str(ROOT))


def run(argv: list[str], stdin: bytes = b"", shell: bool = False) -> subprocess.CompletedProcess[bytes]:
    """sdu ARGV; with ``shell`` started from bash, as typed at a prompt (a shell is among the traced
    command's ancestors, which spy_users requires)."""
    cmd = [*SDU, *argv]
    if shell:
        cmd = ["bash", "-c", shlex.join(cmd) + "; exit $?"]
    return subprocess.run(cmd, input=stdin, capture_output=True, env=_env(), timeout=TIMEOUT, check=False)


def text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


@pytest.fixture(scope="module", autouse=True)
def _ptrace_usable() -> None:
    res = run(["-q", "--", "true"])
    if res.returncode != 0:
        pytest.skip(f"ptrace is not usable here: {text(res.stderr).strip()}")


BUSY = "import time\nt = time.time()\nwhile time.time() - t < 3.2:\n    pass\n"


def test_topprocs_cpu_prints_a_table_every_second() -> None:
    res = run(["-c", "topprocs_cpu", "--", sys.executable, "-c", BUSY])
    assert res.returncode == 0, text(res.stderr)
    out = text(res.stdout)
    tables = tables_of(out)
    assert len(tables) >= 2, out
    comm = os.path.basename(sys.executable)[:15]
    row = re.compile(rf"^(\d+\.\d\d)%\s+{re.escape(comm)}\s+(\d+)$", re.MULTILINE)
    named = [row.findall(t) for t in tables]
    assert sum(1 for rows in named if rows) >= 2, out
    # sysdig's layout: 20-column value and key columns under an 80-dash rule
    assert tables[0].splitlines()[:2] == ["CPU%                Process             PID                 ", "-" * 80]
    # the busy loop is the busiest traced process, and past the first table (delta 0 there, as in
    # sysdig) it shows real CPU use
    assert any(float(rows[0][0]) > 10 for rows in named[1:] if rows), out
    # the capture ends with the table of its last part-second (sysdig clears the screen: its view is
    # endless), which stays on screen
    assert out.endswith(tables[-1]) and tables[-1].splitlines()[1] == "-" * 80


def test_interval_ticks_without_events() -> None:
    """A command that makes no syscall for seconds still gets its per-second tables (wall clock)."""
    res = run(["-c", "topprocs_cpu", "--", "sleep", "2.5"])
    assert res.returncode == 0, text(res.stderr)
    tables = tables_of(text(res.stdout))
    assert len(tables) >= 2, res.stdout


def _have_sysdig() -> bool:
    """The sysdig comparison is part of the test when sysdig is installed (required with
    SDU_REQUIRE_ORACLES=1); the live/file comparison runs regardless."""
    return shutil.which("sysdig") is not None or oracles_required()


def _file_output(capture: Path, chisels: list[str], sysdig: bool = False) -> str:
    args: list[str] = []
    for c in chisels:
        args += ["-c", c]
    if sysdig:
        cmd = [require_tool("sysdig"), "-r", str(capture), *args]
        res = subprocess.run(cmd, capture_output=True, env=_env(), timeout=TIMEOUT, check=False)
    else:
        res = run(["-r", str(capture), *args])
    assert res.returncode == 0, text(res.stderr)
    return text(res.stdout)


@pytest.mark.oracle
def test_spy_users_live_matches_the_file(tmp_path: Path) -> None:
    capture = tmp_path / "spy.scap"
    res = run(["-c", "spy_users", "-w", str(capture), "--", "bash", "-c", "cd /tmp; ls"], shell=True)
    assert res.returncode == 0, text(res.stderr)
    user = pwd.getpwuid(os.getuid()).pw_name
    # ls's own listing goes to the same stdout: keep spy_users' lines ("PID HH:MM:SS USER) ...")
    spy = re.compile(rf"^ *\d+ \d\d:\d\d:\d\d {re.escape(user)}\) ")
    live = [ln for ln in text(res.stdout).splitlines() if spy.match(ln)]
    assert any(ln.endswith(") cd /tmp") for ln in live), live
    assert any(ln.endswith(") ls ") for ln in live), live
    from_file = _file_output(capture, ["spy_users"])
    assert live == [ln for ln in from_file.splitlines() if spy.match(ln)]
    if _have_sysdig():
        assert from_file == _file_output(capture, ["spy_users"], sysdig=True)


def test_spy_users_as_typed() -> None:
    """The brief's command line, nothing else: the directory change and the commands are shown."""
    res = run(["-c", "spy_users", "--", "bash", "-c", "cd /tmp; ls"], shell=True)
    assert res.returncode == 0, text(res.stderr)
    out = text(res.stdout)
    assert re.search(r"\) cd /tmp$", out, re.MULTILINE), out
    assert re.search(r"\) ls $", out, re.MULTILINE), out


@pytest.mark.oracle
def test_stdin_and_stdout_echo(tmp_path: Path) -> None:
    capture = tmp_path / "io.scap"
    res = run(["-c", "stdin", "-c", "stdout", "-w", str(capture), "--", "cat"], stdin=b"hello\nworld\n")
    assert res.returncode == 0, text(res.stderr)
    out = text(res.stdout)
    # cat's own output shares sdu's stdout: once from cat, once from each chisel
    assert out.count("hello\n") == 3 and out.count("world\n") == 3, out
    from_file = _file_output(capture, ["stdin", "stdout"])
    assert sorted(out.splitlines()) == sorted(from_file.splitlines() + ["hello", "world"])
    if _have_sysdig():
        assert from_file == _file_output(capture, ["stdin", "stdout"], sysdig=True)


def test_stdin_and_stdout_plain() -> None:
    res = run(["-c", "stdin", "-c", "stdout", "--", "cat"], stdin=b"hello\nworld\n")
    assert res.returncode == 0, text(res.stderr)
    assert text(res.stdout).count("hello\nworld\n") == 3, res.stdout


APP = """import socket
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
c = socket.create_connection(srv.getsockname()); conn, _ = srv.accept()
c.sendall(b"hello"); conn.recv(10)
open("/etc/hostname").read()
"""


@pytest.mark.oracle
def test_chisel_filter_before_the_command(tmp_path: Path) -> None:
    """`sdu -X -c echo_fds fd.cip=127.0.0.1 -- CMD`: the filter is the capture's filter (file reads are not
    shown), and the lines are what sysdig's echo_fds prints with that filter on a capture of the run."""
    capture = tmp_path / "app.scap"
    res = run(["-w", str(capture), "-X", "-c", "echo_fds", "fd.cip=127.0.0.1", "--", sys.executable, "-c", APP])
    assert res.returncode == 0, text(res.stderr)
    out = text(res.stdout)
    assert "127.0.0.1" in out and "hello" not in out.split("127.0.0.1", 1)[0]
    assert "/etc/hostname" not in out
    args = ["-r", str(capture), "-X", "-c", "echo_fds", "fd.cip=127.0.0.1"]
    from_file = run(args)
    assert from_file.returncode == 0 and text(from_file.stdout) == out
    if _have_sysdig():
        oracle = subprocess.run([require_tool("sysdig"), *args], capture_output=True, env=_env(),
                                timeout=TIMEOUT, check=False)
        assert text(oracle.stdout) == out
    both = run(["-c", "echo_fds", "fd.type=ipv4 or fd.type=ipv6", "--", sys.executable, "-c", APP])
    assert both.returncode == 0, text(both.stderr)
    assert "hello" in text(both.stdout) and "/etc/hostname" not in text(both.stdout)
