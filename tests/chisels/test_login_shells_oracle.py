"""list_login_shells against sysdig on a capture with repeated login shells (issue 16 item 8).

sysdig's chisel keeps, over every execve event that has both proc.loginshellid (the pid of the eldest
process among the thread's main thread and its ancestors whose comm ends in "sh") and evt.arg.exe, only the
last match's id, container name and container id, and prints the id once per one of those three that is
not nil. The capture is recorded by a whole-namespace `sdu -w` in a fresh PID namespace (so no
shell of the test runner is an ancestor, which would make every id the same) and holds: a login shell
started before the capture that runs commands during it; the same kind of login shell started three times;
a login shell whose parent is a login shell; login shells in new sessions (setsid); a shell that
re-execs itself; scripts run by path (comm "x.sh", and a name the kernel truncates to 15 characters);
`su -l` when it works here. Each chisel argument is read by sysdig and by sdu and must print the same.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT, line_diff, require_tool, run_sdu

pytestmark = [pytest.mark.ptrace, pytest.mark.oracle]

# The commands run during the capture, by a python process started before sdu (so that sdu follows every
# fork from the start; its children are not shells); argv = scratch dir, "su" to also try `su -l`
RUNNER = r'''
import os, subprocess, sys, time
d = sys.argv[1]
while not os.path.exists(os.path.join(d, "go")):
    time.sleep(0.05)
run = lambda *argv: subprocess.run(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, check=False)
for _ in range(3):
    run("bash", "-c", 'exec -a -bash bash -c "id >/dev/null; id -u >/dev/null"')
run("bash", "-c", 'exec -a -bash bash -c "bash --noprofile -l -c \'exec -a -zsh bash -c ls\'"')
for _ in range(2):
    run("setsid", "-w", "bash", "--noprofile", "-l", "-c", "cat /dev/null")
run("bash", "-c", 'exec -a -bash bash -c "exec bash -c \'hostname; hostname\'"')
run(os.path.join(d, "short.sh"))
run(os.path.join(d, "a_rather_long_script_name.sh"))
if len(sys.argv) > 2:
    run("su", "-l", "-s", "/bin/sh", "root", "-c", "whoami")
'''

# Runs as pid 1 of the namespace: a login shell and the runner, then a whole-namespace sdu; once sdu traces
# both, they go on; argv = scratch dir, capture path, then the runner's extra argument
DRIVER = r'''
import os, signal, subprocess, sys, time
d, cap = sys.argv[1], sys.argv[2]
go = os.path.join(d, "go")
pre = subprocess.Popen(["bash", "-c", 'exec -a -bash bash -c "while [ ! -e %s ]; do sleep 0.05; done; '
                        'uname >/dev/null; uname -r >/dev/null"' % go])
runner = subprocess.Popen([sys.executable, "-S", "-c", sys.argv[3], d, *sys.argv[4:]])
time.sleep(0.3)
sdu = subprocess.Popen([sys.executable, "-m", "sysdig_user", "-q", "-w", cap])

def traced(pid):
    with open("/proc/%d/status" % pid) as f:
        return any(line.startswith("TracerPid:") and line.split()[1] != "0" for line in f)

end = time.monotonic() + 30
while not (traced(pre.pid) and traced(runner.pid)) and time.monotonic() < end:
    time.sleep(0.05)
open(go, "w").close()
pre.wait()
runner.wait()
time.sleep(0.2)
sdu.send_signal(signal.SIGINT)
sys.exit(sdu.wait(timeout=60))
'''

ARGS = [(), ("*",), ("id",), ("uname",), ("ls",), ("cat",), ("hostname",), ("whoami",), ("bash",), ("sh",),
        ("z",), ("* -u",), ("id -u",)]


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("unshare") is None or shutil.which("setsid") is None:
        pytest.skip("unshare and setsid (util-linux) are needed")
    if os.geteuid() != 0:
        pytest.skip("a PID namespace needs root here")
    tmp = tmp_path_factory.mktemp("loginsh")
    (tmp / "short.sh").write_text("#!/bin/sh\nid >/dev/null\n")
    (tmp / "a_rather_long_script_name.sh").write_text("#!/bin/sh\ncat /dev/null\n")
    for script in ("short.sh", "a_rather_long_script_name.sh"):
        (tmp / script).chmod(0o755)
    cap = tmp / "loginsh.scap"
    su = ["su"] if shutil.which("su") else []
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1", TZ="UTC")
    res = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", DRIVER, str(tmp),
                          str(cap), RUNNER, *su], capture_output=True, text=True, timeout=180, env=env, check=False)
    assert res.returncode == 0, res.stderr
    return cap


def _sysdig(cap: Path, *argv: str) -> str:
    sysdig = require_tool("sysdig")
    res = subprocess.run([sysdig, "-r", str(cap), *argv], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, TZ="UTC"), check=False)
    return res.stdout + res.stderr


@pytest.mark.parametrize("args", ARGS, ids=lambda a: "-".join(a) or "none")
def test_list_login_shells_matches_sysdig(capture: Path, args: tuple[str, ...]) -> None:
    argv = ["-c", "list_login_shells", *([" ".join(args)] if args else [])]
    want = _sysdig(capture, *argv).splitlines()
    got = run_sdu("-r", str(capture), *argv).output.splitlines()
    assert not line_diff(want, got), line_diff(want, got)


def test_container_columns_match_sysdig(capture: Path) -> None:
    argv = ["-pc", "-c", "list_login_shells", "id"]
    want = _sysdig(capture, *argv).splitlines()
    got = run_sdu("-r", str(capture), *argv).output.splitlines()
    assert not line_diff(want, got), line_diff(want, got)


def test_the_capture_holds_distinct_repeated_login_shells(capture: Path) -> None:
    """The comparison above is not vacuous: the login shell ids sysdig computes for the `id` commands name
    several sessions (one per repeated shell, short.sh, su), and sdu computes the same id for every
    execve."""
    out = _sysdig(capture, "-p", "%proc.loginshellid", "evt.type=execve and evt.dir=< and proc.name=id")
    assert len(set(out.split())) >= 4, out
    every = _sysdig(capture, "-p", "%proc.loginshellid", "evt.type=execve and evt.dir=<")
    got = run_sdu("-r", str(capture), "-p", "%proc.loginshellid", "evt.type=execve and evt.dir=<").output
    assert not line_diff(every.splitlines(), got.splitlines()), line_diff(every.splitlines(), got.splitlines())
