#!/usr/bin/env python3
"""Every row of issue 14's table, each as a same-run ratio: sdu's wall time over its peer's.

    .venv/bin/python bench/issue14_table.py [--runs N] [--copies N] [--only startup|read|live] [--cpu]

For each row, sdu and the peer (sysdig, strace, the untraced command, ``python3 -c pass``) run
interleaved, ``--runs`` times each (default 5); the row shows each one's median wall time and the
ratio of the medians (lower is better; the issue's targets are <= 1.0 for the read and live rows,
<= 2.0 x ``python3 -c pass`` for start-up, <= 1.5 x the untraced loop for the pushdown row).
strace runs pinned to one CPU (``taskset -c 0``), its best placement on this VM (issue 14).

The read rows use ``libs_curl_google.scap`` of the shared samples repeated ``--copies`` times (200:
460,800 events; each copy's PL and FDL blocks made distinct, see distinct_sections), built in a
temporary directory, each row first checked for the same output from both; the live rows a small C
program (tracer_bench.py's) doing 20,000 open/read/close or 2,000,000 getppid. sdu runs with its
bytecode cached, as installed, and a cache directory of its own (XDG_CACHE_HOME), warmed by a first run.
``--cpu`` measures each command's CPU time (user + sys of the child and its children) instead of its
wall time: steadier on a loaded machine.
"""
from __future__ import annotations

import argparse
import filecmp
import gzip
import os
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tracer_bench import C_SOURCE  # (the workloads C program)

SHARED = Path(os.environ.get("SDU_SHARED", ROOT.parent / "shared"))
SAMPLE = "libs_curl_google.scap"
FMT4 = "%evt.num %proc.name %evt.type %fd.name"


class Env:
    """Where the commands come from: sdu with cached bytecode, the peers, the workload binary."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.sdu_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        # its own cache directory too (sysdig_user/cache.py): ~/.cache/sdu is shared by every sdu checkout
        # of the user, and an entry written from other sources is stale here and built again (seen in
        # session 12: 1,662M -> 1,733M instructions for the same read row, callgrind)
        self.sdu_env.update(TZ="UTC", PYTHONPYCACHEPREFIX=str(tmp / "pycache"), XDG_CACHE_HOME=str(tmp / "cache"))
        script = Path(sys.executable).parent / "sdu"  # what a user runs (python -m adds runpy's imports)
        self.sdu = [str(script)] if script.exists() else [sys.executable, "-m", "sysdig_user"]
        self.sysdig = shutil.which("sysdig")
        self.strace = shutil.which("strace")
        self.taskset = shutil.which("taskset")
        self.binary = str(tmp / "work")
        src = tmp / "work.c"
        src.write_text(C_SOURCE)
        subprocess.run(["gcc", "-O2", "-o", self.binary, str(src)], check=True)
        self.capture = tmp / "big.scap"
        data = (SHARED / "samples" / SAMPLE).read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        self.data = data

    def build_capture(self, copies: int, repeat: bool = False) -> None:
        """``copies`` sections; unless ``repeat``, no two of them byte-identical (distinct_sections)."""
        with self.capture.open("wb") as out:
            for i in range(copies):
                out.write(self.data if repeat else distinct_sections(self.data, i))

    def strace_cmd(self, *args: str) -> list[str]:
        assert self.strace is not None
        pin = [self.taskset, "-c", "0"] if self.taskset else []
        return [*pin, self.strace, *args]


def _u16_string_end(data: bytes | bytearray, off: int) -> int:
    return off + 2 + struct.unpack_from("<H", data, off)[0]


def distinct_sections(data: bytes, n: int) -> bytes:
    """The sample with its first PL entry's pfminor and its first FDL entry's inode raised by ``n``.

    A capture made of one section repeated byte for byte lets a reader reuse what it parsed for the
    first copy; a real long capture never repeats a section. These two fields show in none of the
    read rows (sdu and sysdig print the same lines either way), so only the reader's work changes.
    Knows the sample's layout: PL_V5 (0x211) and FDL v1 (0x203) blocks (scap-format.md section 8).
    """
    out = bytearray(data)
    off, pl_done, fdl_done = 0, False, False
    while off + 8 <= len(out) and not (pl_done and fdl_done):
        btype, blen = struct.unpack_from("<II", out, off)
        if blen < 12:
            raise SystemExit(f"{SAMPLE}: not a scap block at offset {off} (still compressed?)")
        body = off + 8
        if btype == 0x211 and not pl_done:  # tid, pid, ptid; comm, exe, args, cwd; fdlimit; 6 u32; pfmajor
            pos = body + 24
            for _ in range(4):
                pos = _u16_string_end(out, pos)
            pos += 8 + 6 * 4 + 8
            struct.pack_into("<Q", out, pos, struct.unpack_from("<Q", out, pos)[0] + n)
            pl_done = True
        elif btype == 0x203 and not fdl_done:  # tid, then entries: fd, ino, ...
            pos = body + 16
            struct.pack_into("<Q", out, pos, struct.unpack_from("<Q", out, pos)[0] + n)
            fdl_done = True
        off += blen
    if not (pl_done and fdl_done):
        raise SystemExit(f"{SAMPLE}: no PL_V5 or FDL v1 block where expected")
    return bytes(out)
CPU = False  # --cpu: _wall measures the children's CPU time


def _cpu_now() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _wall(cmd: list[str], env: dict[str, str] | None, out: Path | None) -> float:
    if out is not None:  # the previous run's output (19 MB for a live row) is freed before the clock starts:
        out.unlink(missing_ok=True)  # truncating it on open cost the timed run 9-15 ms of sdu's time
    if CPU:
        c0 = _cpu_now()
        _run_cmd(cmd, env, out)
        return _cpu_now() - c0
    t0 = time.perf_counter()
    _run_cmd(cmd, env, out)
    return time.perf_counter() - t0


def _run_cmd(cmd: list[str], env: dict[str, str] | None, out: Path | None) -> None:
    if out is not None:
        with out.open("wb") as f:
            subprocess.run(cmd, stdout=f, stderr=subprocess.DEVNULL, env=env, check=False, cwd=ROOT)
    else:
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False, cwd=ROOT)


def _same_output(mine: Path, theirs: Path) -> str:
    """How sdu's output compares with sysdig's. sysdig's Lua chisels order equal values by Lua's table
    walk, which changes from run to run (topfiles_bytes' 40.63KB files), so the same lines in another
    order count as a match of their own kind, and so do the same first column's values line for line
    where a top-N table cuts through a tie and names other files."""
    if filecmp.cmp(mine, theirs, shallow=False):
        return "same output"
    a, b = mine.read_bytes().splitlines(), theirs.read_bytes().splitlines()
    if sorted(a) == sorted(b):
        return "same lines; ties in another order"
    if [line.split()[:1] for line in a] == [line.split()[:1] for line in b]:  # a top-N cut among ties
        return "same values in order; tied names differ"
    return "OUTPUT DIFFERS"


def interleaved(runs: int, *cmds: Callable[[], float]) -> list[float]:
    """Each command once per round, ``runs`` rounds; the median of each."""
    times: list[list[float]] = [[] for _ in cmds]
    for _ in range(runs):
        for i, cmd in enumerate(cmds):
            times[i].append(cmd())
    return [statistics.median(t) for t in times]


def row(name: str, sdu_s: float, peer: str, peer_s: float, note: str = "") -> None:
    ratio = sdu_s / peer_s if peer_s > 0 else float("inf")
    print(f"| {name} | {sdu_s:.3f} s | {peer} {peer_s:.3f} s | {ratio:.2f}x |{(' ' + note) if note else ''}",
          flush=True)


def startup_rows(e: Env, runs: int) -> None:
    sdu, env = e.sdu, e.sdu_env
    py = [sys.executable, "-c", "pass"]
    for label, extra in (("`sdu -- /bin/true`", []), ("same with a filter `evt.type=openat`", ["evt.type=openat"]),
                         ("same with `-p '%proc.name %fd.name'`", ["-p", "%proc.name %fd.name"])):
        _wall([*sdu, *extra, "--", "/bin/true"], env, None)  # (its filter or format cached first)
        s, p, st = interleaved(runs, lambda x=extra: _wall([*sdu, *x, "--", "/bin/true"], env, None),  # type: ignore[misc]
                               lambda: _wall(py, None, None),
                               lambda: _wall(e.strace_cmd("-f", "-o", "/dev/null", "/bin/true"), None, None))
        row(label, s, "`python3 -c pass`", p, f"(strace -f: {st:.3f} s)")
    tiny = e.tmp / "tiny.scap"
    subprocess.run([*sdu, "-q", "-w", str(tiny), "-n", "10", "--", "/bin/true"], env=env, check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    if tiny.exists():
        s, p = interleaved(runs, lambda: _wall([*sdu, "-r", str(tiny)], env, None), lambda: _wall(py, None, None))
        row("`sdu -r` of a 10-event capture", s, "`python3 -c pass`", p)


def read_rows(e: Env, runs: int) -> None:
    if e.sysdig is None:
        print("| read rows | - | sysdig not found | - |")
        return
    cap = str(e.capture)
    sysdig_env = dict(os.environ, TZ="UTC")
    for label, args in (("read, default line", []),
                        (f"read, `-p '{FMT4}'`", ["-p", FMT4]),
                        ("read, `evt.type=open and fd.name contains /etc`", ["evt.type=open and fd.name contains /etc"]),
                        ("read, `proc.name=curl and fd.type=ipv4`", ["proc.name=curl and fd.type=ipv4"]),
                        ("read, `-c topfiles_bytes`", ["-c", "topfiles_bytes"]),
                        ("read, `-c topfiles_bytes 'evt.type=open'`", ["-c", "topfiles_bytes", "evt.type=open"])):
        mine, theirs = e.tmp / "sdu.out", e.tmp / "sysdig.out"
        _wall([*e.sdu, "-r", cap, *args], e.sdu_env, mine)
        _wall([e.sysdig, "-r", cap, *args], sysdig_env, theirs)
        same = _same_output(mine, theirs)
        s, p = interleaved(runs, lambda a=args: _wall([*e.sdu, "-r", cap, *a], e.sdu_env, None),  # type: ignore[misc]
                           lambda a=args: _wall([e.sysdig, "-r", cap, *a], sysdig_env, None))  # type: ignore[misc,list-item]
        row(label, s, "sysdig", p, f"({same})")


def live_rows(e: Env, runs: int) -> None:
    if e.strace is None:
        print("| live rows | - | strace not found | - |")
        return
    orc = [e.binary, "orc", "20000"]
    out = e.tmp / "lines.txt"
    cases = (("live, 20,000 x open/read/close, default line to a file", [], ("-f", "-o", "/dev/null")),
             ("live, same, `-p '%proc.name %fd.name' evt.type=openat`", ["-p", "%proc.name %fd.name", "evt.type=openat"],
              ("-f", "-e", "trace=openat", "-o", "/dev/null")),
             ("live, same, a 4-field `-p` over every event", ["-p", FMT4], ("-f", "-o", "/dev/null")))
    for label, args, st_args in cases:
        s, p = interleaved(runs, lambda a=args: _wall([*e.sdu, *a, "--", *orc], e.sdu_env, out),  # type: ignore[misc]
                           lambda a=st_args: _wall(e.strace_cmd(*a, *orc), None, None))  # type: ignore[misc]
        row(label, s, "`taskset -c 0 strace " + " ".join(st_args[:-2] if st_args[-2] == "-o" else st_args) + "`", p)
    loop = [e.binary, "getppid", "2000000"]
    s, u, st = interleaved(runs, lambda: _wall([*e.sdu, "evt.type=openat", "--", *loop], e.sdu_env, None),
                           lambda: _wall(loop, None, None),
                           lambda: _wall(e.strace_cmd("-f", "--seccomp-bpf", "-e", "trace=openat", "-o", "/dev/null",
                                                      *loop), None, None))
    row("live, 2,000,000 getppid with `evt.type=openat` (pushdown)", s, "untraced loop", u,
        f"(`strace --seccomp-bpf -e trace=openat`: {st:.3f} s, {st / u:.2f}x the loop)")


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--copies", type=int, default=200)
    ap.add_argument("--only", choices=("startup", "read", "live"), default=None)
    ap.add_argument("--repeat-sections", action="store_true",
                    help="read rows on the sample repeated byte for byte (see distinct_sections)")
    ap.add_argument("--cpu", action="store_true", help="CPU time (user+sys) instead of wall time")
    args = ap.parse_args()
    global CPU
    CPU = args.cpu
    if shutil.which("gcc") is None:
        print("needs gcc", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        e = Env(Path(tmp))
        subprocess.run([*e.sdu, "--", "/bin/true"], env=e.sdu_env, stdout=subprocess.DEVNULL, check=False, cwd=ROOT)
        what = "CPU time (user+sys)" if CPU else "wall time"
        print(f"issue 14's table: sdu / peer {what}, medians of {args.runs} interleaved runs")
        print("| case | sdu | peer | sdu / peer |")
        print("|---|---|---|---|")
        if args.only in (None, "startup"):
            startup_rows(e, args.runs)
        if args.only in (None, "read"):
            e.build_capture(args.copies, args.repeat_sections)
            subprocess.run([*e.sdu, "-r", str(e.capture), "-n", "1", "-c", "topfiles_bytes"], env=e.sdu_env,
                           stdout=subprocess.DEVNULL, check=False, cwd=ROOT)
            read_rows(e, args.runs)
        if args.only in (None, "live"):
            live_rows(e, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
