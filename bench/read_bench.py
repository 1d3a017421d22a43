#!/usr/bin/env python3
"""Reading benchmark: sdu against Debian's sysdig 0.29.3 on the same large capture, in the same run.

Builds one capture by concatenating the shared samples many times (sysdig reads concatenated sections),
then times, for each tool, (a) printing every event with the default format and (b) a filter that
matches few events. Prints events/s (events read, hidden ones included, divided by wall time), lines/s,
and the sdu/sysdig ratio.

Usage: bench/read_bench.py [--copies N] [--runs R] [--sdu CMD]
"""
from __future__ import annotations

import argparse
import gzip
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SDU_SHARED", ROOT.parent / "shared"))
FILTER = "evt.type=open and fd.name contains /etc"


def build_capture(copies: int, dst: Path) -> None:
    samples = sorted((SHARED / "samples").glob("*.scap"))
    if not samples:
        sys.exit(f"no samples under {SHARED / 'samples'}")
    blobs = [gzip.decompress(p.read_bytes()) if p.read_bytes()[:2] == b"\x1f\x8b" else p.read_bytes()
             for p in samples]
    with dst.open("wb") as out:
        for _ in range(copies):
            for b in blobs:
                out.write(b)


def timed(cmd: list[str], runs: int) -> tuple[float, int]:
    """Best wall time over ``runs`` and the number of output lines."""
    best = float("inf")
    lines = 0
    env = dict(os.environ, TZ="UTC")
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, check=False)
        best = min(best, time.perf_counter() - t0)
        lines = proc.stdout.count(b"\n")
    return best, lines


def count_events(sysdig: str, path: Path) -> int:
    out = subprocess.run([sysdig, "-r", str(path), "-D", "-p", "*%evt.num"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, check=False, env=dict(os.environ, TZ="UTC")).stdout
    return out.count(b"\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=40)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sdu", default=f"{sys.executable} -m sysdig_user")
    args = ap.parse_args()
    sysdig = shutil.which("sysdig")
    with tempfile.TemporaryDirectory() as tmp:
        cap = Path(tmp) / "big.scap"
        build_capture(args.copies, cap)
        sdu = shlex.split(args.sdu)
        events = count_events(sysdig, cap) if sysdig else 0
        print(f"capture: {cap.stat().st_size / 1e6:.1f} MB, {args.copies} copies of the samples, "
              f"{events or '?'} events")
        print(f"{'case':<10} {'tool':<7} {'seconds':>8} {'lines':>8} {'events/s':>10} {'lines/s':>10}")
        for case, extra in (("print", []), ("filter", [FILTER])):
            results = {}
            for tool, base in (("sdu", sdu), ("sysdig", [sysdig] if sysdig else None)):
                if base is None:
                    continue
                secs, lines = timed([*base, "-r", str(cap), *extra], args.runs)
                results[tool] = (secs, lines)
                evps = events / secs if events else float("nan")
                print(f"{case:<10} {tool:<7} {secs:8.2f} {lines:8d} {evps:10.0f} {lines / secs:10.0f}")
            if len(results) == 2:
                ratio = results["sysdig"][0] / results["sdu"][0]
                print(f"{case:<10} sdu/sysdig throughput ratio: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
