"""`sdu -r F -c CHISEL | head -1`: a reader that goes away is not a chisel error.

A chisel writes from its callbacks, so EPIPE on stdout surfaces inside on_init / on_event / on_interval /
on_capture_end. It has to reach the CLI as the BrokenPipeError it is (the CLI then quiets stdout and exits
141, as `sdu -r F | head -1` does without a chisel), not as "CHISEL chisel error: ...: [Errno 32] Broken
pipe" and status 1. sysdig prints nothing either: SIGPIPE kills it at its first write to a closed pipe
(test_sysdig_dies_quietly_of_sigpipe), which a shell reports as 141.

Two ways to close the pipe: `head -1` (the case users hit; whether sdu still writes after head exits
depends on timing) and a pipe whose read end is closed before sdu starts (the first write fails, always).
"""
from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support import ROOT, oracles_required, require_tool, shared_path

SAMPLE = "libs_curl_google.scap"
CLOSED = 128 + signal.SIGPIPE  # sdu's status when its output's reader is gone (a shell's for sysdig)
LUA_DIR = Path("/usr/share/sysdig/chisels")

# the chisels of issue 12, each with arguments that make it print on this sample (spy_port 53: the DNS
# exchange; fileslower 0: every file I/O)
CHISELS = [
    ["echo_fds"], ["spy_file"], ["spy_users"], ["spy_port", "53"], ["stdout"], ["lsof"], ["netstat"],
    ["iobytes"], ["fileslower", "0"], ["proc_exec_time"],
]
IDS = [c[0] for c in CHISELS]


def _env(engine: str) -> dict[str, str]:
    env = dict(os.environ, TZ="UTC", PYTHONPATH=str(ROOT))
    env.pop("SDU_DEBUG", None)
    if engine == "lua":
        try:
            import lupa  # noqa: F401
        except ImportError:
            if oracles_required():
                pytest.fail("the Lua engine needs lupa (SDU_REQUIRE_ORACLES=1)")
            pytest.skip("the Lua engine needs lupa")
        if not LUA_DIR.is_dir():
            if oracles_required():
                pytest.fail(f"sysdig's Lua chisels are required (SDU_REQUIRE_ORACLES=1): no {LUA_DIR}")
            pytest.skip(f"sysdig's Lua chisels are not installed ({LUA_DIR})")
        env["SDU_CHISEL_ENGINE"] = "lua"
    else:
        env.pop("SDU_CHISEL_ENGINE", None)
    return env


def _argv(chisel: list[str]) -> list[str]:
    capture = shared_path("samples", SAMPLE)
    return ["-r", str(capture), "-c", *chisel]


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["python", "lua"])
@pytest.mark.parametrize("chisel", CHISELS, ids=IDS)
def test_piped_into_head(chisel: list[str], engine: str) -> None:
    """`sdu -r F -c CHISEL | head -1`: head prints a line, sdu prints nothing and exits 141 if it wrote
    after head exited, else 0 (a race on output this small)."""
    env = _env(engine)
    sdu = subprocess.Popen([sys.executable, "-m", "sysdig_user", *_argv(chisel)], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert sdu.stdout is not None and sdu.stderr is not None
    head = subprocess.Popen(["head", "-1"], stdin=sdu.stdout, stdout=subprocess.PIPE)
    sdu.stdout.close()  # head holds the only read end: when it exits, sdu's writes fail with EPIPE
    try:
        first, _ = head.communicate(timeout=60)
        err = sdu.stderr.read()
        status = sdu.wait(timeout=60)
    finally:
        for proc in (sdu, head):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        sdu.stderr.close()
    assert err.decode(errors="replace") == ""
    assert status in (0, CLOSED)
    assert first.endswith(b"\n") and first.count(b"\n") == 1


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["python", "lua"])
@pytest.mark.parametrize("chisel", CHISELS, ids=IDS)
def test_reader_gone_before_the_first_write(chisel: list[str], engine: str) -> None:
    """stdout a pipe nobody reads any more: the chisel's first write fails; still silent, status 141."""
    env = _env(engine)
    rfd, wfd = os.pipe()
    os.close(rfd)
    try:
        res = subprocess.run([sys.executable, "-m", "sysdig_user", *_argv(chisel)], env=env, stdout=wfd,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=60, check=False)
    finally:
        os.close(wfd)
    assert res.stderr.decode(errors="replace") == ""
    assert res.returncode == CLOSED


@pytest.mark.oracle
@pytest.mark.parametrize("chisel", CHISELS, ids=IDS)
def test_sysdig_dies_quietly_of_sigpipe(chisel: list[str]) -> None:
    """What sysdig does with the same closed pipe: no error text; SIGPIPE ends it (the shell's 141)."""
    sysdig = require_tool("sysdig")
    rfd, wfd = os.pipe()
    os.close(rfd)
    try:
        res = subprocess.run([sysdig, *_argv(chisel)], stdout=wfd, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, timeout=60, check=False,
                             env=dict(os.environ, TZ="UTC"))
    finally:
        os.close(wfd)
    assert res.stderr.decode(errors="replace") == ""
    assert res.returncode == -signal.SIGPIPE


class _Stdout:
    """A stdout whose reader is gone (EPIPE), or that fails some other way."""

    def __init__(self, exc: OSError) -> None:
        self.exc = exc

    def write(self, data: str) -> int:
        raise self.exc


def _writer_at_end() -> Any:
    from sysdig_user.chisels.api import Chisel, ChiselInfo

    class WriterAtEnd(Chisel):
        info = ChiselInfo("writer_at_end", "writes in on_capture_end", "test", "")

        def on_capture_end(self, ts: int, delta: int) -> None:
            self.ctx.write("total 1\n")

    return WriterAtEnd


def test_runner_lets_epipe_through() -> None:
    """In process: the runner re-raises the write's BrokenPipeError, not a ChiselError around it."""
    from sysdig_user.chisels.runner import ChiselRunner, new_context

    cls = _writer_at_end()
    runner = ChiselRunner([cls(new_context(cls.info.name))], out=_Stdout(BrokenPipeError(errno.EPIPE, "x")))
    with pytest.raises(BrokenPipeError):
        runner.end()


def test_runner_still_wraps_other_write_errors() -> None:
    """Any other failure in a callback stays a one-line chisel error (EIO is not a closed pipe)."""
    from sysdig_user.chisels.runner import ChiselError, ChiselRunner, new_context

    cls = _writer_at_end()
    runner = ChiselRunner([cls(new_context(cls.info.name))], out=_Stdout(OSError(errno.EIO, "I/O error")))
    with pytest.raises(ChiselError, match=r"^writer_at_end chisel error: on_capture_end: \[Errno 5\] I/O error$"):
        runner.end()
