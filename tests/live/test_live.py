"""Live capture end to end: `sdu [options] [filter] -- CMD` and `sdu -p PID` (tracer.live)."""
from __future__ import annotations

import io
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.live.conftest import TCP_PAIR, free_port, sdu
from tests.support import require_tool

pytestmark = pytest.mark.ptrace


def test_openat_of_a_launched_command() -> None:
    res = sdu("-p", "%proc.name %fd.name", "evt.type=openat and fd.name contains /etc",
              "--", "cat", "/etc/hostname")
    assert res.status == 0, res.stderr
    assert "cat /etc/hostname" in res.lines


def test_user_and_chdir_paths() -> None:
    res = sdu("-p", "user:%user.name dir:%evt.arg.path", "evt.type=chdir",
              "--", "bash", "-c", "cd /tmp; cd /")
    assert res.status == 0, res.stderr
    import pwd

    me = pwd.getpwuid(os.getuid()).pw_name
    assert f"user:{me} dir:/tmp" in res.lines
    assert f"user:{me} dir:/" in res.lines


def test_http_both_sides_under_one_sdu() -> None:
    require_tool("nc")
    require_tool("curl")
    port = free_port()
    script = (f"printf 'HTTP/1.0 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nhi' | nc -l 127.0.0.1 {port} >/dev/null &"
              f" for i in $(seq 100); do curl -s 127.0.0.1:{port} && break; sleep 0.05; done; wait")
    res = sdu("-p", "%proc.name %fd.name", "fd.type=ipv4 and (proc.name=curl or proc.name=nc)",
              "--", "bash", "-c", script)
    assert res.status == 0, res.stderr
    tuple_re = re.compile(rf"127\.0\.0\.1:\d+->127\.0\.0\.1:{port}$")
    assert any(line.startswith("curl ") and tuple_re.search(line) for line in res.lines), res.stdout
    assert any(line.startswith("nc ") and tuple_re.search(line) for line in res.lines), res.stdout


def test_accept_on_a_tcp_pair() -> None:
    res = sdu("-p", "%proc.name %fd.name", "evt.type=accept and proc.name!=httpd",
              "--", sys.executable, "-c", TCP_PAIR)
    assert res.status == 0, res.stderr
    assert any(re.fullmatch(r"python\S* 127\.0\.0\.1:\d+->127\.0\.0\.1:\d+", line) for line in res.lines), \
        res.stdout


def test_echo_fds_chisel_with_filter() -> None:
    res = sdu("-A", "-c", "echo_fds", "fd.cip=127.0.0.1", "--", sys.executable, "-c", TCP_PAIR)
    assert res.status == 0, res.stderr
    assert "hello-sdu" in res.stdout
    assert "reply-hello-sdu" in res.stdout


def test_two_chisels_at_once() -> None:
    # live, the top* tables print on each wall-clock second (as sysdig's), none at the end: run > 1 s
    res = sdu("-c", "topfiles_bytes", "-c", "topprocs_file", "--", "sh", "-c",
              "cat /etc/hostname >/dev/null; sleep 1.5")
    assert res.status == 0, res.stderr
    assert any(line.rstrip().endswith("/etc/hostname") for line in res.lines), res.stdout
    assert any(line.split()[1:2] == ["cat"] for line in res.lines if len(line.split()) == 3), res.stdout


def test_count_limit_detaches_and_keeps_status() -> None:
    res = sdu("-n", "4", "--", "sh", "-c", "exit 4")
    assert res.status == 4
    assert len(res.lines) == 4
    res = sdu("-n", "5", "-q", "-S", "--", "sh", "-c", "exit 3")
    assert res.status == 3 and res.stdout  # -q hides events, -S still prints the summary


def test_exit_status_pass_through() -> None:
    assert sdu("-q", "--", "sh", "-c", "exit 7").status == 7
    assert sdu("-q", "--", "sh", "-c", "kill -TERM $$").status == 128 + signal.SIGTERM


def test_bad_filter_does_not_launch(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    res = sdu("proc.nme=x", "--", "touch", str(marker))
    assert res.status == 1
    # sysdig 0.29.3's message, word for word (it prints it without a newline)
    assert res.stderr.strip() == "filter error at position 8: filter error: unrecognized field proc.nme at pos 0"
    assert not marker.exists()
    res = sdu("evt.type=open and", "--", "touch", str(marker))
    assert res.status == 1 and "unexpected end of filter" in res.stderr
    assert not marker.exists()


def test_missing_command_is_one_line() -> None:
    res = sdu("--", "/nonexistent/cmd")
    assert res.status == 1
    assert res.stderr.strip().count("\n") == 0 and "Traceback" not in res.stderr


def _state(pid: int) -> tuple[str, int]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return fields["State"].split()[0], int(fields["TracerPid"])


def _popen_sdu(*argv: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, TZ="UTC", PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    return subprocess.Popen([sys.executable, "-m", "sysdig_user", *argv], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_traced(pid: int, tracer: int) -> None:
    deadline = time.monotonic() + 20
    while _state(pid)[1] != tracer:
        assert time.monotonic() < deadline, "sdu did not attach"
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_attach_then_signal_detaches(sig: int) -> None:
    target = subprocess.Popen(["sleep", "30"])
    try:
        tracer = _popen_sdu("-p", str(target.pid), "-q")
        try:
            _wait_traced(target.pid, tracer.pid)
            tracer.send_signal(sig)
            assert tracer.wait(timeout=20) == 0
        finally:
            if tracer.poll() is None:
                tracer.kill()
                tracer.wait()
        state, tracer_pid = _state(target.pid)
        assert tracer_pid == 0 and state in ("S", "R"), state
    finally:
        target.kill()
        target.wait()


def test_launch_forwards_sigterm() -> None:
    proc = _popen_sdu("-q", "--", "sleep", "30")
    try:
        deadline = time.monotonic() + 20
        while not any(Path(f"/proc/{t}/comm").read_text().strip() == "sleep"
                      for t in _children(proc.pid)):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


def _break_formatter(monkeypatch: pytest.MonkeyPatch, formatter: type, boom: Callable[..., str]) -> None:
    """Make every way the pipeline formats a line raise (the hot loop binds ``line_function`` once)."""
    monkeypatch.setattr(formatter, "format", boom)
    monkeypatch.setattr(formatter, "line_function", property(lambda self: lambda evt: boom(self, evt)))


def test_formatter_exception_detaches_attached_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process: a formatter bug propagates only after every tracee has been released."""
    from sysdig_user.cli import Environment, EventPipeline, Output
    from sysdig_user.cli_options import parse_argv
    from sysdig_user.output.formatter import Formatter
    from tracer.live import LiveCapture

    def boom(self: object, evt: object) -> str:
        raise RuntimeError("formatter bug")

    target = subprocess.Popen(["sh", "-c", "while :; do sleep 0.01; done"])
    try:
        _break_formatter(monkeypatch, Formatter, boom)
        buf = io.BytesIO()
        pipe = EventPipeline(parse_argv([]), Environment(buf, io.StringIO()), Output(buf))
        with pytest.raises(RuntimeError, match="formatter bug"):
            LiveCapture(pipe).run(pids=[target.pid])
        state, tracer_pid = _state(target.pid)
        assert tracer_pid == 0 and state != "t"
        assert target.poll() is None
    finally:
        target.kill()
        target.wait()


def test_formatter_exception_in_launch_mode_reaps_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from sysdig_user.cli import Environment, EventPipeline, Output
    from sysdig_user.cli_options import parse_argv
    from sysdig_user.output.formatter import Formatter
    from tracer.live import LiveCapture

    def boom(self: object, evt: object) -> str:
        raise RuntimeError("formatter bug")

    _break_formatter(monkeypatch, Formatter, boom)
    buf = io.BytesIO()
    pipe = EventPipeline(parse_argv([]), Environment(buf, io.StringIO()), Output(buf))
    capture = LiveCapture(pipe)
    with pytest.raises(RuntimeError):
        capture.run(command=["sh", "-c", "exit 0"])
    assert capture.engine is not None and capture.engine.root is not None
    with pytest.raises(ChildProcessError):
        os.waitpid(capture.engine.root, os.WNOHANG)  # already reaped: no zombie, no tracee


def test_duration_stops_the_capture() -> None:
    start = time.monotonic()
    res = sdu("-M", "1", "-q", "--", "sh", "-c", "sleep 0.2; sleep 2; exit 2")
    assert res.status == 2  # detached after 1 s; the command still ran to its end
    assert time.monotonic() - start < 20


@pytest.mark.parametrize("single", ["0", "1"])
def test_closed_pipe_ends_with_141(single: str) -> None:
    """`sdu -- CMD | head -1`: the reader goes away, the capture ends as with -n (the command runs on
    untraced), no error is printed and sdu's status is 141, what a shell reports for sysdig (killed by
    SIGPIPE), not the command's."""
    from tests.live.conftest import ROOT

    script = "for i in $(seq 300); do ls / >/dev/null; done; exit 3"
    cmd = f"{shlex.quote(sys.executable)} -m sysdig_user -- sh -c {shlex.quote(script)} | head -1; " \
          "exit ${PIPESTATUS[0]}"
    res = subprocess.run(["bash", "-c", cmd], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "SDU_SINGLE_PROCESS": single}, check=False)
    assert res.returncode == 128 + 13, res.stderr
    assert res.stderr == ""
    assert len(res.stdout.splitlines()) == 1
