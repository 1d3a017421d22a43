"""What chisels write to a screen: colours (--color, NO_COLOR) and the live view's screen codes.

Colours are sysdig's own by default (its chisels colour pipes too; the golden outputs hold them), and
--color never / NO_COLOR remove exactly the escape codes: the text left is sysdig's, code for code
stripped. Screen codes (clear, move, cursor) belong to the endless view of processes sdu attaches to on
a terminal; a launched command's table chisel leaves its tables and the command's output on screen.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import ROOT, require_tool, run_sdu, shared_path

ESC = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
CURL = ("samples", "libs_curl_google.scap")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    return dict(env, TZ="UTC", PYTHONPATH=str(ROOT), **extra)


@pytest.mark.parametrize("chisel", [("echo_fds",), ("proc_exec_time",), ("spy_users",)])
def test_default_colours_are_sysdigs_and_never_removes_only_them(chisel: tuple[str, ...]) -> None:
    sample = str(shared_path(*CURL))
    coloured = run_sdu("-r", sample, "-c", *chisel, environ=_env())
    plain = run_sdu("--color", "never", "-r", sample, "-c", *chisel, environ=_env())
    no_color = run_sdu("-r", sample, "-c", *chisel, environ=_env(NO_COLOR="1"))
    assert not ESC.search(plain.stdout) and not ESC.search(no_color.stdout)
    assert plain.stdout == no_color.stdout == ESC.sub("", coloured.stdout)
    always = run_sdu("--color", "always", "-r", sample, "-c", *chisel, environ=_env(NO_COLOR="1"))
    assert always.stdout == coloured.stdout


@pytest.mark.oracle
def test_plain_text_is_sysdigs_without_its_codes() -> None:
    sample = str(shared_path(*CURL))
    want = subprocess.run([require_tool("sysdig"), "-r", sample, "-c", "echo_fds"], capture_output=True,
                          text=True, timeout=120, check=False, env={"TZ": "UTC"}).stdout
    assert ESC.search(want)
    got = run_sdu("--color=never", "-r", sample, "-c", "echo_fds", environ=_env()).stdout
    assert got == ESC.sub("", want)


def test_bad_color_value() -> None:
    res = run_sdu("--color", "sometimes", "-r", str(shared_path(*CURL)))
    assert res.status == 1 and res.stderr.strip() == "sdu: --color takes auto, always or never, not 'sometimes'"


@pytest.mark.ptrace
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (scripts/install-test-deps.sh)")
def test_a_launched_commands_table_and_output_stay_on_screen(tmp_path: Path) -> None:
    """In a terminal (tmux), `sdu -c topfiles_bytes -- python3 app.py`: once it ends, the program's own
    line and the final table (with the file the program read) are both on the screen."""
    app = tmp_path / "app.py"
    data = tmp_path / "data.txt"
    data.write_text("x" * 5000)
    app.write_text(f"print('hello from app')\nopen({str(data)!r}).read()\n")
    done = tmp_path / "done"
    sdu = f"{sys.executable} -m sysdig_user"
    command = (f"cd {ROOT} && TZ=UTC {sdu} -c topfiles_bytes -- {sys.executable} -S {app}; "
               f"touch {done}; sleep 60")
    session = f"sdu-screen-{os.getpid()}"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "200", "-y", "50", command], check=True)
    try:
        deadline = time.monotonic() + 60
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert done.exists()
        screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True,
                                check=True).stdout
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
    assert "hello from app" in screen, screen
    assert re.search(r"^Bytes\s+Filename$", screen, re.MULTILINE), screen
    assert re.search(rf"^4\.88KB\s+{re.escape(str(data))}$", screen, re.MULTILINE), screen


@pytest.mark.ptrace
def test_a_launched_commands_table_in_a_pipe_has_no_screen_codes() -> None:
    """A 0.2 s command: its one table comes at the end (sysdig's view would clear it away)."""
    res = subprocess.run([sys.executable, "-m", "sysdig_user", "-c", "topfiles_bytes", "--", "cat", "/etc/hosts"],
                         capture_output=True, env=_env(), timeout=120, check=False)
    out = res.stdout.decode()
    assert res.returncode == 0 and "\x1b" not in out
    assert re.search(r"^\S+\s+/etc/hosts$", out, re.MULTILINE), out


@pytest.mark.ptrace
def test_attached_on_a_terminal_keeps_sysdigs_live_view() -> None:
    """sdu -p PID on a terminal (a pty here) clears and redraws as sysdig's endless view does, and ends
    by restoring the cursor; the same run into a pipe has no screen code."""
    import pty

    target = subprocess.Popen([sys.executable, "-c", ("import time\nwhile True:\n    open('/etc/hosts').read()\n"
                               "    time.sleep(0.05)\n")])
    try:
        argv = [sys.executable, "-m", "sysdig_user", "-p", str(target.pid), "-M", "2", "-c", "topfiles_bytes"]
        leader, follower = pty.openpty()
        proc = subprocess.Popen(argv, stdout=follower, stderr=subprocess.PIPE, env=_env())
        os.close(follower)
        chunks = []
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not data:
                break
            chunks.append(data)
        assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
        os.close(leader)
        screen = b"".join(chunks).decode(errors="replace")
        assert "\x1b[2J" in screen and screen.endswith("\x1b[?25h"), screen[-200:]
        piped = subprocess.run(argv, capture_output=True, env=_env(), timeout=60, check=False)
        assert piped.returncode == 0 and b"\x1b" not in piped.stdout and b"/etc/hosts" in piped.stdout
    finally:
        target.kill()
        target.wait()
