#!/usr/bin/env python3
"""Reading benchmark: sdu against Debian's sysdig 0.29.3 on the same large captures, in the same run.

Each capture is read by each tool in the cases of `CASES` (issue 14's read rows): the default format
printing every event, a four-field `-p` format, and two filters that match few events. The captures:

* ``concat`` (the main figure): the shared samples concatenated ``--copies`` times. sysdig reads
  concatenated sections, merging each section's metadata into its state, so this capture is
  dominated by metadata (process and fd lists) and by the hidden procinfo events of each section.
* ``events``: each sample's section once, its event blocks repeated ``--copies`` times. Timestamps of
  each round are shifted past the previous round so time keeps going forward, and the procinfo events
  (the capture-start snapshot) are kept in the first round only. The state stays consistent the way
  a long capture's does: what the events create (clones, execs, opens) is recreated by every round,
  a thread that exits is gone for the next rounds (both tools then show sinsp's placeholder thread).
  The bench checks that both tools print the same number of lines.
* ``curl`` (``--capture curl``, issue 14's table with ``--copies 200``): libs_curl_google.scap alone,
  concatenated.

Time is measured as wall time and as user CPU time (the children's rusage): the machine may be busy
with other work, and user CPU is what moves least with it. Throughput is events read per second
(hidden ones included) and printed lines per second; the sdu/sysdig ratios are computed from both
clocks. sdu runs with its bytecode cached (a warm-up run fills a private ``__pycache__`` prefix), as
an installed package would.

Usage: bench/read_bench.py [--copies N] [--runs R] [--sdu CMD] [--capture concat|events|both|curl]
"""
from __future__ import annotations

import argparse
import gzip
import os
import resource
import shlex
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SDU_SHARED", ROOT.parent / "shared"))
FILTER = "evt.type=open and fd.name contains /etc"
#: the read rows of issue 14's table: (case, extra arguments)
CASES: tuple[tuple[str, list[str]], ...] = (
    ("print", []),
    ("format", ["-p", "%evt.num %proc.name %evt.type %fd.name"]),
    ("filter", [FILTER]),
    ("filter2", ["proc.name=curl and fd.type=ipv4"]),
)
CURL = "libs_curl_google.scap"

# scap block types (sysdig_user/scap/blocks.py), kept here so the bench needs nothing from sdu
_SHB = 0x0A0D0D0A
_EVENT_BLOCKS = {0x204: 10, 0x8010ABCD: 10, 0x216: 10, 0x221: 10,  # block type -> event offset
                 0x208: 14, 0x217: 14, 0x222: 14}
_PROCINFO_E = 234
_BLOCK_HEAD = struct.Struct("<II")
_U64 = struct.Struct("<Q")
_U16 = struct.Struct("<H")


def _samples(only: str | None = None) -> list[bytes]:
    paths = sorted((SHARED / "samples").glob(only or "*.scap"))
    if not paths:
        sys.exit(f"no samples under {SHARED / 'samples'}")
    out = []
    for p in paths:
        data = p.read_bytes()
        out.append(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
    return out


def build_capture(copies: int, dst: Path, only: str | None = None) -> None:
    """The samples (or the one named ``only``), whole, concatenated ``copies`` times."""
    blobs = _samples(only)
    with dst.open("wb") as out:
        for _ in range(copies):
            for b in blobs:
                out.write(b)


def _split_blocks(data: bytes) -> tuple[bytes, list[tuple[int, int, int]]]:
    """(the bytes before the first event block, [(start, end, event offset) of each event block]).
    One section per sample: a second SHB ends the scan."""
    pos = 0
    first_event = -1
    events: list[tuple[int, int, int]] = []
    while pos + 8 <= len(data):
        btype, blen = _BLOCK_HEAD.unpack_from(data, pos)
        if blen < 12 or pos + blen > len(data) or (btype == _SHB and pos):
            break
        off = _EVENT_BLOCKS.get(btype)
        if off is not None:
            if first_event < 0:
                first_event = pos
            events.append((pos, pos + blen, off))
        pos += blen
    return data[:first_event if first_event >= 0 else pos], events


def build_event_capture(copies: int, dst: Path) -> None:
    """Each sample's metadata once, then its event blocks ``copies`` times (see the module doc)."""
    with dst.open("wb") as out:
        for data in _samples():
            head, blocks = _split_blocks(data)
            if not blocks:
                continue
            out.write(head)
            stamps = [_U64.unpack_from(data, s + off)[0] for s, _, off in blocks]
            span = max(stamps) - min(stamps) + 1000
            for round_no in range(copies):
                shift = span * round_no
                for (start, end, off), ts in zip(blocks, stamps):
                    if round_no and _U16.unpack_from(data, start + off + 20)[0] == _PROCINFO_E:
                        continue
                    block = bytearray(data[start:end])
                    _U64.pack_into(block, off, ts + shift)
                    out.write(block)


def timed(cmd: list[str], runs: int, env: dict[str, str]) -> tuple[float, float, int]:
    """Best wall time and best user CPU time over ``runs``, and the number of output lines."""
    best_wall = best_user = float("inf")
    lines = 0
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, check=False)
        best_wall = min(best_wall, time.perf_counter() - t0)
        best_user = min(best_user, resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - before)
        lines = proc.stdout.count(b"\n")
    return best_wall, best_user, lines


def count_events(sysdig: str, path: Path) -> int:
    out = subprocess.run([sysdig, "-r", str(path), "-D", "-p", "*%evt.num"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, check=False, env=dict(os.environ, TZ="UTC")).stdout
    return out.count(b"\n")


def _rate(n: int, secs: float) -> str:
    return f"{n / secs:10.0f}" if n and secs > 0 else f"{'?':>10}"


def bench_capture(name: str, cap: Path, tools: dict[str, tuple[list[str], dict[str, str]]], runs: int,
                  sysdig: str | None) -> None:
    events = count_events(sysdig, cap) if sysdig else 0
    print(f"\n[{name}] {cap.stat().st_size / 1e6:.1f} MB, {events or '?'} events")
    print(f"{'case':<7} {'tool':<7} {'wall s':>7} {'user s':>7} {'lines':>7} "
          f"{'ev/s wall':>10} {'ev/s user':>10} {'lines/s wall':>12} {'lines/s user':>12}")
    for case, extra in CASES:
        results: dict[str, tuple[float, float, int]] = {}
        walls: dict[str, list[float]] = {tool: [] for tool in tools}
        for _ in range(runs):  # interleaved: each run of sdu next to one of sysdig
            for tool, (base, env) in tools.items():
                wall, user, lines = timed([*base, "-r", str(cap), *extra], 1, env)
                walls[tool].append(wall)
                best = results.get(tool)
                results[tool] = (min(wall, best[0]), min(user, best[1]), lines) if best else (wall, user, lines)
        for tool, (wall, user, lines) in results.items():
            print(f"{case:<7} {tool:<7} {wall:7.2f} {user:7.2f} {lines:7d} {_rate(events, wall)} "
                  f"{_rate(events, user)} {_rate(lines, wall):>12} {_rate(lines, user):>12}")
        if len(results) == 2:
            (sw, su, sl), (dw, du, dl) = results["sdu"], results["sysdig"]
            same = "" if sl == dl else f"  (LINE COUNTS DIFFER: sdu {sl}, sysdig {dl})"
            ratio = statistics.median(walls["sdu"]) / statistics.median(walls["sysdig"])
            print(f"{case:<7} sdu/sysdig throughput: wall {dw / sw:.2f}, user CPU {du / max(su, 1e-9):.2f}; "
                  f"wall time sdu/sysdig (medians, same runs) {ratio:.2f}{same}")


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--copies", type=int, default=40)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sdu", default=f"{sys.executable} -m sysdig_user")
    ap.add_argument("--capture", choices=("concat", "events", "both", "curl"), default="both",
                    help=f"curl: {CURL} alone, concatenated --copies times (issue 14's read rows, with 200)")
    args = ap.parse_args()
    sysdig = shutil.which("sysdig")
    with tempfile.TemporaryDirectory() as tmp:
        sdu_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        sdu_env.update(TZ="UTC", PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"))
        tools: dict[str, tuple[list[str], dict[str, str]]] = {"sdu": (shlex.split(args.sdu), sdu_env)}
        if sysdig:
            tools["sysdig"] = ([sysdig], dict(os.environ, TZ="UTC"))
        else:
            print("sysdig not found: sdu figures only")
        captures = []
        if args.capture == "curl":
            cap = Path(tmp) / "curl.scap"
            build_capture(args.copies, cap, CURL)
            captures.append((f"curl: {CURL} x{args.copies}", cap))
        if args.capture in ("concat", "both"):
            cap = Path(tmp) / "concat.scap"
            build_capture(args.copies, cap)
            captures.append((f"concat: the samples x{args.copies} (main figure)", cap))
        if args.capture in ("events", "both"):
            cap = Path(tmp) / "events.scap"
            build_event_capture(args.copies, cap)
            captures.append((f"events: each sample's metadata once, its events x{args.copies}", cap))
        # warm-up: compile sdu's bytecode into the private cache
        subprocess.run([*tools["sdu"][0], "-r", str(captures[0][1]), "-n", "1"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, env=sdu_env, check=False)
        subprocess.run([*tools["sdu"][0], "-r", str(captures[0][1]), "-n", "1", FILTER],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=sdu_env, check=False)
        for name, cap in captures:
            bench_capture(name, cap, tools, args.runs, sysdig)
    return 0


if __name__ == "__main__":
    sys.exit(main())
