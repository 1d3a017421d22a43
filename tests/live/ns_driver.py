"""Runs as init of a fresh PID namespace (``unshare --pid --fork --mount-proc python ns_driver.py CONFIG``)
for tests/live/test_all_processes.py: starts process trees, sdu, one more tree, stops sdu with SIGTERM
and reports, as one JSON object on stdout, what every tree looked like afterwards.

CONFIG (JSON): ``dir`` (a scratch directory), ``sdu`` (sdu's argv), ``before`` (uids of the trees started
before sdu), ``after`` (uid of the tree started after it), ``sdu_uid`` (run sdu as this uid, None: root),
``traceable`` (indexes of the trees sdu must attach to before the late tree starts); optionally
``pipe_reader`` (sdu's stdout goes through a pipe to a `cat` of the namespace), ``signal``
(what ends sdu, default SIGTERM) and ``moment``: "running" (default: once every tree is traced), "attach"
(as soon as sdu has seized its first tree) or a number of seconds after sdu's start (the late tree is then
started at once, and what sdu shows is not checked).

Each tree is a shell of its own session that, every 50 ms, forks ``cat`` on its marker file (an openat sdu
must show) and appends a line to its beat file (progress, checked after sdu is gone).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

LOOP = 'while :; do cat "$1" > /dev/null; echo x >> "$2"; sleep 0.05; done'


def _as(uid: int | None) -> list[str]:
    if not uid:
        return []
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]


def start_tree(base: Path, index: int, uid: int | None) -> subprocess.Popen[bytes]:
    marker = base / f"sdu_all_marker_{index}"
    marker.write_text("m\n")
    beat = base / f"beat_{index}"
    beat.write_text("")
    beat.chmod(0o666)
    return subprocess.Popen([*_as(uid), "sh", "-c", LOOP, "tree", str(marker), str(beat)], start_new_session=True)


def _status(pid: int) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, val = line.partition(":")
                out[key] = val.strip()
    except OSError:
        pass
    return out


def _session_members(sid: int) -> list[int]:
    """Every process of the tree's session (the shell and whatever it has forked right now)."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.getsid(int(name)) == sid:
                    out.append(int(name))
            except OSError:
                continue
    return out


def _wait(cond: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def main() -> None:
    cfg = json.loads(sys.argv[1])
    base = Path(cfg["dir"])
    trees = [start_tree(base, i, uid) for i, uid in enumerate(cfg["before"])]
    time.sleep(0.2)
    reader = None
    with open(base / "sdu.out", "wb") as out, open(base / "sdu.err", "wb") as err:
        if cfg.get("pipe_reader"):  # sdu | cat > sdu.out, the reader started first (a candidate for sdu)
            r, w = os.pipe()
            reader = subprocess.Popen(["cat"], stdin=r, stdout=out, start_new_session=True)
            sdu = subprocess.Popen([*_as(cfg.get("sdu_uid")), *cfg["sdu"]], stdout=w, stderr=err, cwd="/tmp")
            os.close(r)
            os.close(w)
        else:
            sdu = subprocess.Popen([*_as(cfg.get("sdu_uid")), *cfg["sdu"]], stdout=out, stderr=err, cwd="/tmp")
    report: dict[str, object] = {"sdu_pid": sdu.pid, "trees": [t.pid for t in trees],
                                 "reader": reader.pid if reader is not None else 0}
    traced = lambda i: _status(trees[i].pid).get("TracerPid") == str(sdu.pid)
    moment = cfg.get("moment", "running")
    if moment == "running":
        report["attached"] = _wait(lambda: all(traced(i) for i in cfg["traceable"]) or sdu.poll() is not None, 30)
    elif moment == "attach":
        report["attached"] = _wait(lambda: any(traced(i) for i in cfg["traceable"]) or sdu.poll() is not None, 30)
    late = start_tree(base, len(trees), cfg["after"])
    trees.append(late)
    report["late"] = late.pid
    if moment == "running":
        report["late_attached"] = _wait(
            lambda: _status(late.pid).get("TracerPid") == str(sdu.pid) or sdu.poll() is not None, 30)
        # three more loops of every tree (a beat is 2 bytes), all traced by now
        beats = [base / f"beat_{i}" for i in range(len(trees))]
        starts = [len(b.read_text()) for b in beats]
        _wait(lambda: all(len(b.read_text()) >= n + 6 for b, n in zip(beats, starts)), 20)
    elif isinstance(moment, (int, float)):
        time.sleep(moment)
    sdu.send_signal(getattr(signal, cfg.get("signal", "SIGTERM")))
    try:
        report["status"] = sdu.wait(timeout=60)
    except subprocess.TimeoutExpired:
        report["status"] = None
    time.sleep(0.3)
    after = {}
    for i, tree in enumerate(trees):
        beat = base / f"beat_{i}"
        before_beats = len(beat.read_text())
        # (a member that ended between the listing and its status, a tree's short-lived cat or sleep,
        # has no status to read: it is gone, not held; the tree's own liveness and beats are checked)
        members = {pid: st for pid in _session_members(tree.pid) if (st := _status(pid))}
        _wait(lambda b=beat, n=before_beats: len(b.read_text()) >= n + 4, 10)
        after[str(i)] = {
            "alive": tree.poll() is None,
            "progress": len(beat.read_text()) - before_beats,
            "members": {str(pid): [st.get("TracerPid", "?"), st.get("State", "?")] for pid, st in members.items()},
        }
    report["after"] = after
    if reader is not None:
        report["reader_status"] = _status(reader.pid).get("TracerPid", "gone")
        report["reader_exit"] = reader.wait(timeout=30)  # EOF once sdu is gone
    for tree in trees:
        tree.kill()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
