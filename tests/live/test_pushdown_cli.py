"""Pushdown through the CLI changes speed, never results.

For each filter and program, `sdu -p FORMAT FILTER -- PROG` prints the same lines with pushdown (the
default) as with `--no-seccomp`. The formats leave out evt.num and the times, which pushdown legitimately
changes; values that differ between any two runs (pids, ports, addresses) are normalised, and lines are
compared as sorted lists (threads and processes interleave differently from run to run).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.live.conftest import ROOT, Run, sdu
from tests.tracer.conftest import PROGRAMS

pytestmark = pytest.mark.ptrace

FULL_FORMAT = "%proc.name %evt.dir %evt.type %evt.info"  # the default line minus num/time/cpu/tid
NARROW_FORMAT = "%proc.name %evt.dir %evt.type %evt.res"  # reads no fd state: the smallest plans
CASES: list[tuple[str, str]] = [
    ("evt.type=openat", FULL_FORMAT),
    ("evt.type=openat", NARROW_FORMAT),
    ("evt.type in (open,openat,close)", FULL_FORMAT),
    ("evt.type=connect", FULL_FORMAT),
    ("evt.type=connect", NARROW_FORMAT),
    ("proc.name=calls", FULL_FORMAT),
    ("fd.name contains /etc", FULL_FORMAT),
    ("evt.type=openat and fd.name contains /etc", "%proc.name %fd.name"),
]
MODES = ["files", "pipes", "tcp", "udp", "unix", "threads", "forks", "signals", "execthread"]
PIPELINE = "cat /etc/hostname /etc/passwd | wc -l >/dev/null; ls /etc >/dev/null; (cd /etc && cat hosts >/dev/null)"
_PORT = re.compile(r":\d+")
_BIGNUM = re.compile(r"\b(?:0x)?[0-9a-fA-F]{4,}\b")
_VM = re.compile(r"\b(vm_(?:size|rss|swap)|pgft_m(?:aj|in))=\d+")  # memory use varies from run to run
# The parent's clone-family exit names the child by its comm at that moment: a forked child may already
# have exec'd, and a vfork parent is woken while its child is still inside execve, so old or new comm
# is a race between two ptrace stops (the kernel driver has the same race); run to run, with or without
# pushdown, either name can appear.
_CHILD_COMM = re.compile(r"^(\S+ < (?:clone|clone3|fork|vfork) res=N)\([^)]*\)")
# Whether pthread_join waits in futex at all, and whether that wait returns 0 (woken) or EAGAIN (the
# thread was gone before the wait began), is a race between the program's threads: seen on a loaded
# machine between two runs of `calls threads` under proc.name=calls, where pushdown does not even apply.
# These filters never choose futex, so its lines say nothing about pushdown; they are left out.
_THREAD_RACE = re.compile(r"^\S+ [<>] futex\b")


@pytest.fixture(scope="module")
def bins(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """name -> tests/tracer/programs/NAME.c compiled (skips without gcc)."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed")
    out = tmp_path_factory.mktemp("pdcli")
    out.chmod(0o755)

    def build(name: str) -> Path:
        exe = out / name
        if not exe.exists():
            subprocess.run([gcc, "-O1", "-pthread", "-o", str(exe), str(PROGRAMS / f"{name}.c")], check=True)
        return exe

    return build


def _lines(res: Run) -> list[str]:
    assert res.status == 0, res.stderr
    assert "cannot use seccomp-bpf" not in res.stderr, res.stderr
    return sorted(_CHILD_COMM.sub(r"\1(child)", _VM.sub(r"\1=N", _BIGNUM.sub("N", _PORT.sub(":P", line))))
                  for line in res.lines if not _THREAD_RACE.match(line))


def _both(*argv: str, cwd: Path | None = None) -> tuple[list[str], list[str], str]:
    pushed = sdu("-v", *argv, cwd=cwd)
    full = sdu("-v", "--no-seccomp", *argv, cwd=cwd)  # -v on both: it also lifts the 80-column cut
    return _lines(pushed), _lines(full), pushed.stderr


def test_futex_lines_are_not_compared() -> None:
    """Two runs of `calls threads` as seen under load: one join waited (futex res=0), one did not."""
    common = "calls > write fd=1(<p>pipe:[123]) size=2\ncalls < write res=2 data=a.\n"
    waited = Run(common + "calls > futex addr=7F00AA op=128(FUTEX_PRIVATE_FLAG) val=4242\n"
                 "calls < futex res=0\n", "", 0)
    raced = Run(common + "calls > futex addr=7F00BB op=128(FUTEX_PRIVATE_FLAG) val=4243\n"
                "calls < futex res=-11(EAGAIN)\n", "", 0)
    assert _lines(waited) == _lines(raced) == _lines(Run(common, "", 0))
    assert _lines(Run(common.replace("res=2", "res=1"), "", 0)) != _lines(waited)  # the rest still counts


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("flt", "fmt"), CASES)
def test_same_lines_with_pushdown(bins: Callable[[str], Path], tmp_path: Path, flt: str, fmt: str,
                                  mode: str) -> None:
    tmp_path.chmod(0o777)
    pushed, full, err = _both("-p", fmt, flt, "--", str(bins("calls")), mode, cwd=tmp_path)
    assert pushed == full
    if flt.startswith("evt.type"):
        assert "syscalls stop the command" in err  # the pushdown did apply


@pytest.mark.parametrize(("flt", "fmt"), CASES)
def test_same_lines_for_a_shell_pipeline(tmp_path: Path, flt: str, fmt: str) -> None:
    flt = flt.replace("proc.name=calls", "proc.name=cat")
    pushed, full, _ = _both("-p", fmt, flt, "--", "sh", "-c", PIPELINE, cwd=tmp_path)
    assert pushed == full
    assert pushed or flt == "evt.type=connect"


def test_no_seccomp_and_attach_are_reported(bins: Callable[[str], Path]) -> None:
    res = sdu("-v", "--no-seccomp", "-q", "evt.type=openat", "--", "true")
    assert "seccomp-bpf: off (--no-seccomp)" in res.stderr
    res = sdu("-v", "-q", "--", "true")
    assert "seccomp-bpf: off, every syscall is traced" in res.stderr  # no filter: nothing to push down
    res = sdu("-v", "-q", "-w", os.devnull, "--", "true")
    assert "seccomp-bpf: off, every syscall is traced" in res.stderr  # -w without a filter: everything


def test_own_seccomp_program_under_pushdown(bins: Callable[[str], Path]) -> None:
    pushed, full, err = _both("-p", "%proc.name %evt.type %fd.name", "evt.type=openat", "--",
                              str(bins("own_seccomp")))
    assert pushed == full
    assert "own_seccomp openat /etc/hostname" in pushed
    assert "syscalls stop the command" in err


def test_threads_under_pushdown(bins: Callable[[str], Path]) -> None:
    fmt = "*%proc.name %thread.tid %evt.type %evt.res"
    res = sdu("-v", "-p", fmt, "evt.type in (write,getppid)", "--", str(bins("calls")), "threads")
    assert res.status == 0 and "syscalls stop the command" in res.stderr, res.stderr
    events = [line.split() for line in res.lines if line.startswith("calls ")]
    assert len({e[1] for e in events}) == 2  # both workers' getppid and write, from two threads
    assert sorted(e[2] for e in events) == ["getppid"] * 4 + ["write"] * 4  # enter and exit each
    assert _lines(res) == _lines(sdu("-v", "--no-seccomp", "-p", fmt, "evt.type in (write,getppid)", "--",
                                     str(bins("calls")), "threads"))


@pytest.mark.skipif(os.geteuid() != 0, reason="installing a setuid-root program needs root")
def test_setuid_program_under_pushdown(bins: Callable[[str], Path]) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="sdu-setuid-"))
    try:
        tmp.chmod(0o755)
        prog = tmp / "whoami"
        shutil.copy(bins("whoami"), prog)
        os.chown(prog, 0, 0)
        prog.chmod(0o4755)
        argv = ["-p", "%proc.name %evt.type %fd.name", "evt.type=openat and fd.name contains /etc", "--",
                str(prog)]
        pushed, full, err = _both(*argv)  # as root
        assert pushed == full and "whoami openat /etc/hostname" in pushed
        assert "syscalls stop the command" in err
        _setuid_as_nobody(argv, pushed)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _setuid_as_nobody(argv: list[str], expected: list[str]) -> None:
    """The same run by an unprivileged user (setpriv; needs a system python able to import sdu)."""
    py = shutil.which("python3", path="/usr/bin:/usr/local/bin")
    if py is None or shutil.which("setpriv") is None:
        return
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": "/tmp", "TZ": "UTC"}
    outs = []
    for extra in ([], ["--no-seccomp"]):
        res = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                              py, "-m", "sysdig_user", *extra, *argv], cwd="/tmp", env=env, capture_output=True,
                             text=True, timeout=60, check=False)
        if "No module named" in res.stderr or "Permission denied" in res.stderr:
            return  # the checkout or its dependencies are not readable by that user
        assert res.returncode == 0, res.stderr
        outs.append(sorted(res.stdout.splitlines()))
    assert outs[0] == outs[1] == expected


def test_sdu_itself_is_left_alone() -> None:
    """sdu's own interpreter never runs under the filter: a second run in the same shell is unaffected."""
    res = sdu("-q", "evt.type=openat", "--", sys.executable, "-c", "import os; os.getppid()")
    assert res.status == 0, res.stderr
