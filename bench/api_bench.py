"""The Python API's cost against the command line's, same run (issue 13's targets).

    .venv/bin/python bench/api_bench.py [--loops 20000] [--runs 5] [--events 1000000]

1. An open/read/close loop (a small C program, LOOPS iterations): wall time of a fresh process running
   ``sysdig_user.trace([...])`` vs ``sdu -q -- ...``, start-up included in both (alternating, medians).
   ``trace`` records without parsing and parses when first asked, so a second row adds ``len(run)``
   (one read of the recording) and a third asks one field of every event.
2. Memory: a run of about EVENTS events (a getppid loop) kept and asked ``len()`` and one field of every
   event: the peak RSS of that process (ru_maxrss), and of the CLI's consumer-side work for contrast.
Bytecode is cached for every command (PYTHONPYCACHEPREFIX), as an installed package has it.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
C_SOURCE = r"""
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
    long n = atol(argv[2]);
    char c;
    if (!strcmp(argv[1], "orc")) for (long i = 0; i < n; i++) { int fd = open("/etc/hostname", O_RDONLY); read(fd, &c, 1); close(fd); }
    else for (long i = 0; i < n; i++) syscall(SYS_getppid);
    return 0;
}
"""
API = """
import resource, sys, sysdig_user
run = sysdig_user.trace(sys.argv[2:])
assert run.returncode == 0
if sys.argv[1] in ("len", "field"):
    n = len(run)
if sys.argv[1] == "field":
    values = run.events.values("evt.type")
    assert len(values) == n
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    t = time.perf_counter()
    res = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return time.perf_counter() - t, res.stdout


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--loops", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--events", type=int, default=1_000_000)
    args = ap.parse_args()
    if shutil.which("gcc") is None:
        print("needs gcc", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "w.c"
        src.write_text(C_SOURCE)
        binary = str(Path(tmp) / "w")
        subprocess.run(["gcc", "-O2", "-o", binary, str(src)], check=True)
        env = dict(os.environ, PYTHONPYCACHEPREFIX=str(Path(tmp) / "pyc"))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        py = sys.executable
        cli = [py, "-m", "sysdig_user", "-q", "--", binary, "orc", str(args.loops)]
        api = {what: [py, "-c", API, what, binary, "orc", str(args.loops)] for what in ("trace", "len", "field")}
        for cmd in (cli, *api.values()):  # warm the bytecode cache
            _timed(cmd, env)
        times: dict[str, list[float]] = {"cli": [], "trace": [], "len": [], "field": []}
        for _ in range(args.runs):
            times["cli"].append(_timed(cli, env)[0])
            for what, cmd in api.items():
                times[what].append(_timed(cmd, env)[0])
        base = statistics.median(times["cli"])
        print(f"open/read/close x{args.loops}, wall s, median of {args.runs} (alternating), start-up included")
        print(f"  sdu -q -- CMD                     {base:.3f}")
        for what, label in (("trace", "sysdig_user.trace(CMD)"), ("len", "  + len(run)"),
                            ("field", "  + one field of every event")):
            med = statistics.median(times[what])
            print(f"  {label:<33} {med:.3f}   {med / base:.2f}x the CLI")
        n = args.events // 2  # a getppid is an enter and an exit event
        wall, out = _timed([py, "-c", API, "field", binary, "getppid", str(n)], env)
        rss_mb = int(out.split()[-1]) / 1024
        print(f"memory: {n} getppid (~{args.events} events) kept, len() and evt.type of each: "
              f"peak RSS {rss_mb:.0f} MB ({wall:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
