#!/usr/bin/env python3
"""Issue 14: ``sdu -r`` on a capture of many distinct sections, with and without the compiled section
loader (sysdig_user/_sections.c), interleaved in the same run.

    .venv/bin/python bench/sections_bench.py [--copies N] [--runs N] [-- sdu args...]

The capture is libs_curl_google.scap of the shared samples, ``--copies`` sections made distinct
(issue14_table.distinct_sections). Each run is a fresh process (bytecode cached); "python" runs the
same sdu with the extension's hooks set to None before the CLI starts. Reports the median wall and
CPU (user+sys of the child) time of each, and checks both print the same bytes.
"""
from __future__ import annotations

import argparse
import gzip
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.issue14_table import SAMPLE, SHARED, distinct_sections

_PURE = ("import sys, runpy; import sysdig_user.scap.metadata as m, sysdig_user.state.inspector as i; "
         "m.NATIVE = None; i._NATIVE = None; sys.argv = ['sdu', *sys.argv[1:]]; "
         "runpy.run_module('sysdig_user', run_name='__main__', alter_sys=True)")


def _run(cmd: list[str], env: dict[str, str], out: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with out.open("wb") as f:
        subprocess.run(cmd, stdout=f, stderr=subprocess.DEVNULL, env=env, check=False, cwd=ROOT)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--copies", type=int, default=50)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("args", nargs="*", help="extra sdu arguments (after --)")
    a = ap.parse_args()
    data = (SHARED / "samples" / SAMPLE).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        capture = tmp / "sections.scap"
        capture.write_bytes(b"".join(distinct_sections(data, i) for i in range(a.copies)))
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(TZ="UTC", PYTHONPYCACHEPREFIX=str(tmp / "pycache"))
        cmds = {"C loader": [sys.executable, "-m", "sysdig_user", "-r", str(capture), *a.args],
                "python": [sys.executable, "-c", _PURE, "-r", str(capture), *a.args]}
        outs = {name: tmp / f"{i}.out" for i, name in enumerate(cmds)}
        for name, cmd in cmds.items():  # warm-up: bytecode cache, and the outputs compared
            _run(cmd, env, outs[name])
        same = outs["C loader"].read_bytes() == outs["python"].read_bytes()
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in cmds}
        for _ in range(a.runs):
            for name, cmd in cmds.items():
                times[name].append(_run(cmd, env, outs[name]))
    print(f"{a.copies} sections of {SAMPLE}, {a.runs} runs each, same output: {same}")
    for name, got in times.items():
        wall = statistics.median(t[0] for t in got)
        cpu = statistics.median(t[1] for t in got)
        print(f"  {name:9}: wall {wall:.3f} s, cpu {cpu:.3f} s")


if __name__ == "__main__":
    main()
