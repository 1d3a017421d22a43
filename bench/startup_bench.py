#!/usr/bin/env python3
"""Start-up benchmark: short sdu runs against the start-up of Python itself and of strace, same run.

Cases (each timed as wall time, the runs of every case interleaved round by round, medians):

* ``sdu -- /bin/true``: plain, with a filter (``evt.type=openat``), with a ``-p`` format;
* ``sdu -r`` of a 10-event capture, made first with ``sdu -n 10 -w`` (``-r`` with its default line);

and the peers ``python3 -c pass`` (the interpreter sdu's entry point runs on, with the same site
packages, so the same ``.pth`` start-up work) and ``taskset -c 0 strace -f -o /dev/null /bin/true``.
Each case is printed with its ratio to both peers (lower is better; issue 14's target: at most 2.0x
``python3 -c pass``), and with its CPU time, which a busy machine moves less than wall time.

sdu runs through the console script a user runs (``.venv/bin/sdu`` by default) with its bytecode
cached, as an installed package would be: a warm-up run of every case fills a private
``__pycache__`` prefix (PYTHONPYCACHEPREFIX), which the peers use too, and sdu's own caches (the
filter parser, the event table; under ``XDG_CACHE_HOME``) are filled by the same warm-up.

``--against PATH`` adds every sdu case once more, run by another sdu script (an older checkout's, say),
interleaved with the rest: a before/after comparison from one run on one machine state.

Usage: bench/startup_bench.py [--runs N] [--sdu PATH] [--python PATH] [--against PATH]
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and the children it waited for)."""
    cpu = _cpu()
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(argv)}\n{proc.stderr.decode(errors='replace')}")
    return took, _cpu() - cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=11, help="rounds (each runs every case once)")
    ap.add_argument("--sdu", default=str(ROOT / ".venv" / "bin" / "sdu"), help="the sdu entry point")
    ap.add_argument("--python", default=None,
                    help="the interpreter of 'python3 -c pass' (default: the one the sdu script runs on)")
    ap.add_argument("--against", default=None, help="another sdu script whose cases run interleaved too")
    args = ap.parse_args()
    sdu = args.sdu
    python = args.python
    if python is None:
        with open(sdu) as f:
            first = f.readline()
        python = first[2:].strip() if first.startswith("#!") else sys.executable
    strace = shutil.which("strace")
    taskset = shutil.which("taskset")

    with tempfile.TemporaryDirectory(prefix="sdu-startup-") as tmp:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"), XDG_CACHE_HOME=str(Path(tmp) / "cache"))
        capture = str(Path(tmp) / "ten.scap")
        subprocess.run([sdu, "-n", "10", "-w", capture, "--", "/bin/true"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        cases: dict[str, list[str]] = {
            "python3 -c pass": [python, "-c", "pass"],
            "sdu -- /bin/true": [sdu, "--", "/bin/true"],
            "sdu evt.type=openat -- /bin/true": [sdu, "evt.type=openat", "--", "/bin/true"],
            "sdu -p '%proc.name %fd.name' -- /bin/true": [sdu, "-p", "%proc.name %fd.name", "--", "/bin/true"],
            "sdu -r (10 events)": [sdu, "-r", capture],
        }
        if args.against is not None:
            for name, argv in list(cases.items()):
                if argv[0] == sdu:
                    cases[f"(against) {name}"] = [args.against, *argv[1:]]
        if strace is not None:
            pinned = [taskset, "-c", "0"] if taskset is not None else []
            cases["strace -f /bin/true"] = [*pinned, strace, "-f", "-o", "/dev/null", "/bin/true"]
        for argv in cases.values():  # warm-up: bytecode and sdu's caches
            _timed(argv, env)
        times: dict[str, list[float]] = {name: [] for name in cases}
        cpus: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.runs):
            for name, argv in cases.items():
                wall, cpu = _timed(argv, env)
                times[name].append(wall)
                cpus[name].append(cpu)

    med = {name: statistics.median(t) for name, t in times.items()}
    cpu_med = {name: statistics.median(t) for name, t in cpus.items()}
    base, cpu_base = med["python3 -c pass"], cpu_med["python3 -c pass"]
    st = med.get("strace -f /bin/true")
    print(f"start-up, medians of {args.runs} interleaved runs; python3 = {python}; load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"{'case':56} {'wall ms':>8} {'/python3':>9} {'/strace':>9} {'CPU ms':>8} {'/python3':>9}")
    for name, value in med.items():
        vs_strace = f"{value / st:8.2f}x" if st else "       -"
        cpu = cpu_med[name]
        print(f"{name:56} {value * 1000:8.1f} {value / base:8.2f}x {vs_strace} {cpu * 1000:8.1f} "
              f"{cpu / cpu_base:8.2f}x")
    print("(CPU: user+system of the process and the children it waited for; sdu's printing process and its\n"
          " watchdog are forked twice over, so theirs is not counted: wall time is the figure that counts)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
