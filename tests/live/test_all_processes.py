"""Whole-namespace mode: `sdu` alone (inside a PID namespace other than the initial one) and `sdu --all`.

Each test runs in a fresh namespace made with ``unshare --pid --fork --mount-proc``, where "every process"
is the set the test made (tests/live/ns_driver.py is its init): three independent process trees (each its
own session) before sdu, one after it. What must hold (tracer/namespace.py, README):

* sdu shows the syscalls of all four trees: each tree's `cat` opens its own marker file, and the openat of
  each marker appears with the pid of a process of that tree (the late tree is found by the rescan, its
  children by following forks);
* after SIGTERM sdu exits 0 and every process of every tree runs on: not traced (TracerPid 0), not
  stopped (state neither T nor t), still making progress;
* as an unprivileged user, sdu traces the trees of its own uid and names each of the others once, on one
  line with the ptrace rule that refuses it; nothing else is named.

The oracle here is the trees themselves: which files they open and under which pid is known to the test.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.support import ROOT

pytestmark = [pytest.mark.ptrace, pytest.mark.slow]

DRIVER = Path(__file__).with_name("ns_driver.py")
SDU = [sys.executable, "-m", "sysdig_user"]
NOBODY = 65534
FILTERED = ["--all", "-p", "%proc.pid %evt.type %fd.name", "evt.type=openat and fd.name contains sdu_all_marker"]


def _need_unshare() -> None:
    if shutil.which("unshare") is None or shutil.which("setpriv") is None:
        pytest.skip("unshare and setpriv (util-linux) are needed")
    if os.geteuid() != 0:
        pytest.skip("a PID namespace needs root here")


def _run(tmp: Path, sdu: list[str], before: list[int], after: int, sdu_uid: int | None,
         traceable: list[int], **extra: object) -> dict[str, Any]:
    _need_unshare()
    tmp.chmod(0o777)
    cfg = {"dir": str(tmp), "sdu": sdu, "before": before, "after": after, "sdu_uid": sdu_uid,
           "traceable": traceable, **extra}
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1", TZ="UTC")
    res = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", sys.executable, str(DRIVER),
                          json.dumps(cfg)], capture_output=True, text=True, timeout=240, env=env, check=False)
    assert res.returncode == 0, res.stderr
    report: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    report["out"] = (tmp / "sdu.out").read_text(errors="replace")
    report["err"] = (tmp / "sdu.err").read_text(errors="replace")
    return report


def _tree_pids_seen(report: dict[str, Any], line_re: re.Pattern[str]) -> dict[int, set[int]]:
    """tree index -> the pids sdu showed opening that tree's marker."""
    seen: dict[int, set[int]] = {}
    for m in line_re.finditer(report["out"]):
        seen.setdefault(int(m.group("tree")), set()).add(int(m.group("pid")))
    return seen


def _check_left_alone(report: dict[str, Any], trees: int, statuses: tuple[int, ...] = (0,)) -> None:
    assert report["status"] in statuses, (report["status"], report["err"])
    for i in range(trees):
        tree = report["after"][str(i)]
        assert tree["alive"], (i, report["err"])
        assert tree["progress"] >= 4, (i, tree)
        for pid, (tracer, state) in tree["members"].items():
            assert tracer == "0", (i, pid, tracer, report["err"])
            assert state[:1] not in ("T", "t"), (i, pid, state)


# the default line of an openat exit: "... <proc.name> (<tid>) < openat fd=3(<f>/.../sdu_all_marker_N) ..."
_DEFAULT = re.compile(r" \S+ \((?P<pid>\d+)\) < openat fd=\d+\(<f>[^)]*sdu_all_marker_(?P<tree>\d)\)")
_FORMAT = re.compile(r"^(?P<pid>\d+) openat \S*sdu_all_marker_(?P<tree>\d)$", re.MULTILINE)


@pytest.mark.parametrize("argv", [[], FILTERED], ids=["no-arguments", "all"])
def test_whole_namespace_sees_every_tree_and_leaves_them_running(argv: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="sdu-all-") as d:
        report = _run(Path(d), [*SDU, *argv], [0, 0, 0], 0, None, [0, 1, 2])
    assert report["attached"] and report["late_attached"], report["err"]
    seen = _tree_pids_seen(report, _FORMAT if argv else _DEFAULT)
    assert sorted(seen) == [0, 1, 2, 3], (sorted(seen), report["err"], report["out"][-2000:])
    # the cats are the trees' own children (one shell each): sdu's pid and the driver's never show up
    for pids in seen.values():
        assert report["sdu_pid"] not in pids and 1 not in pids
    _check_left_alone(report, 4)
    assert "not tracing" not in report["err"]  # every process there was root's, like sdu


def test_unprivileged_traces_what_it_may_and_names_the_rest() -> None:
    probe = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *SDU,
                            "--version"], capture_output=True, text=True, cwd="/tmp", check=False,
                           env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if probe.returncode != 0:
        pytest.skip(f"sdu cannot run as uid {NOBODY} from here: {probe.stderr.strip()[:200]}")
    with tempfile.TemporaryDirectory(prefix="sdu-all-") as d:
        # trees 0 and 2 and the late tree 3 run as nobody, tree 1 as root
        report = _run(Path(d), [*SDU, *FILTERED], [NOBODY, 0, NOBODY], NOBODY, NOBODY, [0, 2])
    assert report["attached"] and report["late_attached"], report["err"]
    seen = _tree_pids_seen(report, _FORMAT)
    assert sorted(seen) == [0, 2, 3], (sorted(seen), report["err"])
    named = [line for line in report["err"].splitlines() if line.startswith("sdu: not tracing")]
    root_tree = report["trees"][1]
    # one line, for the root tree's shell (its cats are its children: covered by that line)
    assert len(named) == 1, named
    assert re.fullmatch(rf"sdu: not tracing pid {root_tree} \(sh\): it runs as uid 0 and you are uid {NOBODY}; "
                        r"tracing another user's process needs CAP_SYS_PTRACE \(run as root\)", named[0]), named
    _check_left_alone(report, 4)


_SDU_FRAME = re.compile(r'File "[^"]*/(sysdig_user|tracer|netcap)/(?!__main__\.py|entry\.py)')
_SIGNAL_CASES = [(sig, moment) for sig in ("SIGINT", "SIGTERM", "SIGHUP", "SIGKILL")
                 for moment in ("attach", 0.3)]


@pytest.mark.signals
@pytest.mark.parametrize(("sig", "moment"), _SIGNAL_CASES, ids=[f"{s}-{m}" for s, m in _SIGNAL_CASES])
def test_a_signal_at_any_moment_leaves_every_tree_running(sig: str, moment: object) -> None:
    """The -p guarantees for the whole namespace (tests/live/test_signal_safety.py's rules): SIGINT,
    SIGTERM and SIGHUP detach everything (status 0; before sdu catches them, their default action or
    Python's own start-up), SIGKILL ends sdu and the kernel lets its tracees go; either way every
    process of every tree runs on, untraced and not stopped."""
    with tempfile.TemporaryDirectory(prefix="sdu-all-") as d:
        report = _run(Path(d), [*SDU, *FILTERED], [0, 0, 0], 0, None, [0, 1, 2], signal=sig, moment=moment)
    number = int(getattr(signal, sig))
    allowed = (-number,) if sig == "SIGKILL" else (0, -number, 1) if sig == "SIGINT" else (0, -number)
    assert not _SDU_FRAME.search(report["err"]), report["err"]
    _check_left_alone(report, 4, allowed)


def test_the_reader_of_sdus_output_pipe_is_left_alone() -> None:
    """`sdu --all | cat`: the reader is a process of the namespace, but tracing it would stall both (each
    line sdu writes makes it read; it cannot drain the pipe while stopped for sdu), so it is named once and
    left alone; the trees are traced and their lines come through the pipe."""
    with tempfile.TemporaryDirectory(prefix="sdu-all-") as d:
        report = _run(Path(d), [*SDU, *FILTERED], [0, 0, 0], 0, None, [0, 1, 2], pipe_reader=True)
    assert report["attached"] and report["late_attached"], report["err"]
    assert sorted(_tree_pids_seen(report, _FORMAT)) == [0, 1, 2, 3], report["err"]
    named = [line for line in report["err"].splitlines() if line.startswith("sdu: not tracing")]
    line = (f"sdu: not tracing pid {report['reader']} (cat): it reads the pipe sdu's output goes to "
            "(tracing it would stall both)")
    assert named == [line], named
    assert report["reader_exit"] == 0
    _check_left_alone(report, 4)
