#!/usr/bin/env python3
"""Memory benchmark: peak and steady RSS of every sdu process over a long run.

    .venv/bin/python bench/memory_bench.py [--events N] [--read-events N] [--quick] [--only live|read]

Live cases (``sdu -- PROG``; PROG, compiled here, makes N events: getppid in a loop, or open/close of
/etc/hostname): the tracer (the sdu process), the watchdog (sdu-guard, when a launched command is
co-located with the tracer, tracer/guard.py: the small program tracer/_guard.c, or a fork of the tracer
where that was not built) and the consumer that prints (tracer/pipelined.py). Read
cases (``sdu -r F``, F written here by ``sdu -w F -- PROG``): the one reading process, with the default
line, a -p format, a filter and a -w rewrite; sysdig 0.29.3 on the same file where installed, for
reference.

Each run is started in a process group of its own; a sampler reads VmRSS and VmHWM
(/proc/PID/status) of every process of the group every 50 ms. Per process: its peak (the kernel's
high-water mark VmHWM, so a peak between two samples counts too) and its RSS at 10%, 50% and 100%
(the last sample) of its lifetime. The events flow at a steady rate, so the lifetime is the run's
progress: a process whose memory stays flat shows three close figures, one that grows with the
events shows them rising. Output goes to /dev/null (live: sdu's consumer writes it; read: the reader).

Memory is not timing: the figures vary little with the machine's load (the tracer's batches and the
consumer's reads are sized in bytes, not time), but they do depend on the Python build and allocator.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SDU = [sys.executable, "-m", "sysdig_user"]
PERIOD = 0.05  # seconds between samples

C_SOURCE = r"""
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
    long n = atol(argv[2]);
    if (!strcmp(argv[1], "getppid")) for (long i = 0; i < n; i++) syscall(SYS_getppid);
    else for (long i = 0; i < n; i++) close(open("/etc/hostname", O_RDONLY));
    return 0;
}
"""
#: events per loop iteration of each workload (an enter and an exit per syscall)
PER_LOOP = {"getppid": 2, "openclose": 4}


class Series:
    """The samples of one process."""

    def __init__(self, pid: int, role: str) -> None:
        self.pid = pid
        self.role = role
        self.times: list[float] = []
        self.rss: list[int] = []  # kB
        self.hwm = 0  # kB

    def at(self, fraction: float) -> int:
        """RSS (kB) at `fraction` of the process's sampled lifetime."""
        if not self.times:
            return 0
        t0, t1 = self.times[0], self.times[-1]
        want = t0 + fraction * (t1 - t0)
        for t, rss in zip(self.times, self.rss):
            if t >= want:
                return rss
        return self.rss[-1]


def _status(pid: int) -> dict[str, str] | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            text = f.read()
    except OSError:
        return None
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def _pgid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return -1
    return int(stat[stat.rindex(b")") + 2:].split()[2])


def _role(pid: int, leader: int, status: dict[str, str], tracee: str | None) -> str | None:
    if pid == leader:
        return "reader" if tracee is None else "tracer"
    if status.get("Name") == "sdu-guard":
        return "watchdog"
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None
    if tracee is not None and exe == tracee:
        return None  # the traced command: not sdu's memory
    return "consumer" if exe == os.path.realpath(sys.executable) else "other"


def sample(proc: subprocess.Popen[bytes], tracee: str | None) -> dict[int, Series]:
    """Sample the process group of `proc` until it exits."""
    series: dict[int, Series] = {}
    gone: set[int] = set()  # the tracee's pid, once seen
    leader = proc.pid
    while proc.poll() is None:
        now = time.monotonic()
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            pid = int(name)
            if _pgid(pid) != leader:
                continue
            status = _status(pid)
            if status is None or "VmRSS" not in status:
                continue
            role = _role(pid, leader, status, tracee)  # (again each time: the tracee runs sdu until its exec)
            if role is None or pid in gone:
                gone.add(pid)
                series.pop(pid, None)
                continue
            s = series.get(pid)
            if s is None:
                s = series[pid] = Series(pid, role)
            s.role = role  # (the watchdog takes its name sdu-guard just after its fork)
            s.times.append(now)
            s.rss.append(int(status["VmRSS"].split()[0]))
            s.hwm = max(s.hwm, int(status["VmHWM"].split()[0]))
        time.sleep(PERIOD)
    return series


def run(argv: list[str], env: dict[str, str], tracee: str | None = None,
        quiet: bool = False) -> tuple[dict[int, Series], float, int]:
    """Run `argv` (stdout to /dev/null, stderr too if `quiet`), sampled; (series, wall seconds, status)."""
    t0 = time.monotonic()
    with open(os.devnull, "wb") as null:
        proc = subprocess.Popen(argv, stdout=null, stderr=null if quiet else None, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
        series: dict[int, Series] = {}
        box: list[dict[int, Series]] = []
        sampler = threading.Thread(target=lambda: box.append(sample(proc, tracee)))
        sampler.start()
        status = proc.wait()
        sampler.join()
        series = box[0] if box else {}
    return series, time.monotonic() - t0, status


def _mb(kb: int) -> str:
    return f"{kb / 1024:6.1f}"


def report(case: str, series: dict[int, Series], wall: float, status: int, events: int) -> None:
    print(f"{case}: {events:,} events, {wall:.1f} s, status {status}")
    rows = sorted((s for s in series.values() if len(s.times) > 1), key=lambda s: ("tracer reader watchdog "
                                                                                    "consumer other").find(s.role))
    for s in rows:
        print(f"  {s.role:9} peak {_mb(s.hwm)} MB   RSS at 10% {_mb(s.at(0.1))}  50% {_mb(s.at(0.5))}"
              f"  100% {_mb(s.rss[-1])} MB   ({len(s.times)} samples)")
    if not rows:
        print("  (no process lived long enough to be sampled)")
    sys.stdout.flush()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=10_000_000, help="events of each live run")
    ap.add_argument("--read-events", type=int, default=800_000, help="events of the capture read back")
    ap.add_argument("--quick", action="store_true", help="a tenth of both")
    ap.add_argument("--only", choices=("live", "read"))
    args = ap.parse_args()
    if args.quick:
        args.events //= 10
        args.read_events //= 10
    env = dict(os.environ, PYTHONPATH=str(ROOT), TZ="UTC")
    with tempfile.TemporaryDirectory(prefix="sdu-membench-") as tmp_name:
        tmp = Path(tmp_name)
        env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")  # bytecode cached, as installed
        (tmp / "prog.c").write_text(C_SOURCE)
        prog = tmp / "prog"
        subprocess.run(["cc", "-O2", "-o", str(prog), str(tmp / "prog.c")], check=True)
        subprocess.run([*SDU, "-r", "/dev/null"], env=env, capture_output=True, check=False)  # warm the cache
        if args.only != "read":
            for workload in ("getppid", "openclose"):
                loops = args.events // PER_LOOP[workload]
                series, wall, status = run([*SDU, "--", str(prog), workload, str(loops)], env, str(prog))
                report(f"live `sdu -- prog {workload} {loops}`", series, wall, status, loops * PER_LOOP[workload])
            loops = args.events // PER_LOOP["openclose"]
            series, wall, status = run([*SDU, "-q", "-w", str(tmp / "live.scap"), "--", str(prog), "openclose",
                                        str(loops)], env, str(prog))
            report(f"live `sdu -q -w F -- prog openclose {loops}`", series, wall, status,
                   loops * PER_LOOP["openclose"])
            (tmp / "live.scap").unlink(missing_ok=True)
        if args.only != "live":
            cap = tmp / "read.scap"
            loops = args.read_events // PER_LOOP["openclose"]
            subprocess.run([*SDU, "-q", "-w", str(cap), "--", str(prog), "openclose", str(loops)], env=env,
                           check=True)
            print(f"capture: {cap.stat().st_size / 1e6:.1f} MB, open/close x {loops:,}")
            cases = (("default line", []), ("-p", ["-p", "%evt.num %proc.name %evt.type %fd.name"]),
                     ("filter", ["evt.type=close"]), ("-w rewrite", ["-w", str(tmp / "out.scap")]))
            sysdig = shutil.which("sysdig")
            for name, extra in cases:
                series, wall, status = run([*SDU, "-r", str(cap), *extra], env)
                report(f"read {name}: `sdu -r F {' '.join(extra)}`", series, wall, status, args.read_events)
                if sysdig is not None:
                    series, wall, status = run([sysdig, "-r", str(cap), *extra], env, quiet=True)
                    peak = max((s.hwm for s in series.values()), default=0)
                    print(f"  (sysdig: peak {_mb(peak)} MB, {wall:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
