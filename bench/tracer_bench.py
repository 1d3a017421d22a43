"""Per-syscall tracing overhead of sdu's engine vs `strace -f -o /dev/null`.

    .venv/bin/python bench/tracer_bench.py [--quick]

For each workload: untraced wall time t0, traced wall time t, syscall count n (counted by sdu's engine),
overhead per syscall = (t - t0) / n. Tracer variants: "sdu-engine" (engine, counting sink), "sdu-full"
(engine + decoders + packing each event's bytes: what sdu's tracer process pays in the CLI's default
mode, where a consumer process does state, filter and output) and strace. Each is run with tracer and tracee free to
float over all CPUs and with both pinned to CPU 0 (the affinity is set before forking, so the tracee
inherits it). Pushdown section: with the filter evt.type=openat, sdu with its seccomp-bpf filter
(tracer/pushdown.py; "fd" = default format, which keeps fd state, so close & co. also stop; "bare" =
a format without fd fields) vs `strace -f --seccomp-bpf -e trace=openat`, on a 200,000-getppid loop
(ratio to the untraced time) and an open/read/close loop (overhead per iteration).
Placements: "default" = each tool as shipped (sdu co-locates a launched command with its tracer,
tracer/placement.py; strace floats), "floating" = both float (sdu --no-colocate), "pinned" = both under
taskset -c 0. Also micro-measures the per-stop choices documented in tracer/engine.py: os.waitpid vs
ctypes wait4 and sched_getcpu vs reading /proc/TID/stat field 39. CLI section: the same filter through
the real `sdu` command line (pushdown on, and --no-seccomp) vs strace --seccomp-bpf, and the CLI default mode
(`sdu -- CMD > /dev/null`, `sdu -q -w FILE -- CMD`) vs `strace -f -o /dev/null`: everything sdu does,
consumer process included. The sdu commands run with their bytecode cached, as installed.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tracer import fastpath, pipelined, ptrace, pushdown
from tracer.engine import Engine, Thread
from tracer.events import EventBuilder

C_SOURCE = r"""
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
    long n = atol(argv[2]);
    char c;
    if (!strcmp(argv[1], "getppid-seccomp")) { /* the kernel's own cost of a filter: allow-all, no tracer */
        struct sock_filter allow[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
        struct sock_fprog prog = { 1, allow };
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
        for (long i = 0; i < n; i++) syscall(SYS_getppid);
    }
    else if (!strcmp(argv[1], "getppid")) for (long i = 0; i < n; i++) syscall(SYS_getppid);
    else if (!strcmp(argv[1], "zero")) { int fd = open("/dev/zero", O_RDONLY); for (long i = 0; i < n; i++) read(fd, &c, 1); }
    else if (!strcmp(argv[1], "orc")) for (long i = 0; i < n; i++) { int fd = open("/etc/hostname", O_RDONLY); read(fd, &c, 1); close(fd); }
    return 0;
}
"""


class _Count:
    def __init__(self) -> None:
        self.n = 0

    def syscall_enter(self, th: Thread, ts: int, cpu: int, nr: int, args: tuple[int, ...]) -> None:
        self.n += 1

    def syscall_exit(self, th: Thread, ts: int, cpu: int, nr: int, ret: int) -> None:
        pass

    def clone(self, *a: object) -> None:
        pass

    def exec(self, *a: object) -> None:
        pass

    def exit(self, *a: object) -> None:
        pass

    def signal(self, *a: object) -> None:
        pass


def _wall(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _run_plain(argv: list[str]) -> None:
    subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)


class _Batch:
    """tracer.pipelined.Link without the consumer: events appended as the CLI batches them, then dropped."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.first_ts = 0

    def ship(self, ts: int, cpu: int, raw: bytes) -> None:
        if not self.buf:
            self.first_ts = ts
        self.buf += cpu.to_bytes(2, "little")
        self.buf += raw
        if len(self.buf) >= pipelined.BATCH_BYTES:
            self.buf.clear()

    def flush(self) -> None:
        self.buf.clear()


def _shipping_builder(batch: _Batch, options: dict[str, object] | None = None) -> EventBuilder:
    """Decoders and per-code packers, the events' bytes batched and dropped: what the tracer process
    itself pays in the CLI's default (pipelined) mode, where a consumer process parses, filters and prints.
    ``options``: a pushdown's cuts (Settings.builder_options), as the CLI passes them."""
    builder = EventBuilder(lambda e: None, build=True, **(options or {}))  # type: ignore[arg-type]
    builder.ship = batch.ship
    return builder


def _run_sdu(argv: list[str], full: bool, seccomp: frozenset[int] | None = None, colocate: bool = False,
             native: bool = True, settings: pushdown.Settings | None = None) -> int:
    """`full`: the tracer process's whole work (with the compiled fast path, tracer/fastpath.py, when it
    is built and `native`); else the engine alone with a counting sink. `settings`: a pushdown's cuts
    (its seccomp set, and what the decoders may skip), as the CLI derives them from filter and format."""
    batch = _Batch()
    if settings is not None:
        seccomp = settings.plan.syscalls
    sink: object = _shipping_builder(batch, settings.builder_options() if settings else None) if full else _Count()
    engine = Engine(sink, seccomp_syscalls=seccomp, colocate=colocate)  # type: ignore[arg-type]
    devnull = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(1)
    os.dup2(devnull, 1)
    try:
        engine.launch(argv)
        if full and native:
            engine.fast = fastpath.make(sink, batch, lambda: False, batch.flush,  # type: ignore[arg-type]
                                        engine.pinned_cpu)
        engine.run()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
    return engine.stats.syscalls


def _run_strace(argv: list[str], extra: tuple[str, ...] = ()) -> None:
    subprocess.run(["strace", "-f", *extra, "-o", "/dev/null", *argv], stdout=subprocess.DEVNULL, check=True)


def pushdown_figures(binary: str, scale: float) -> None:
    """sdu with seccomp pushdown (filter evt.type=openat) vs strace --seccomp-bpf -e trace=openat."""
    with_fd = pushdown.for_capture("evt.type=openat", ["evt.type", "evt.info"])
    bare = pushdown.for_capture("evt.type=openat", ["evt.type", "evt.res"])
    st_args = ("--seccomp-bpf", "-e", "trace=openat")
    n_pp, n_orc = int(200000 * scale), int(6000 * scale)
    print(f"pushdown, filter evt.type=openat: getppid x{n_pp} (traced/untraced time; pp sc: an allow-all seccomp "
          f"filter and no tracer, the kernel's share), open/read/close x{n_orc} (us overhead per iteration)")
    print(f"{'place':8} {'pp t0 ms':>8} {'pp sc':>6} {'pp fd':>6} {'pp bare':>7} {'pp st':>6} | {'orc t0':>7} "
          f"{'orc fd':>7} {'orc bare':>8} {'orc st':>7} {'bare/st':>7}")
    for place, cpus, coloc in (("default", None, True), ("floating", None, False), ("pinned", {0}, False)):
        row: list[float] = []
        for argv, n in (([binary, "getppid", str(n_pp)], 0), ([binary, "orc", str(n_orc)], n_orc)):
            t0 = _wall(_with_affinity(cpus, lambda argv=argv: _run_plain(argv)), 3)  # type: ignore[misc]
            if n == 0:
                sc_argv = [binary, "getppid-seccomp", str(n_pp)]
                floor = _wall(_with_affinity(cpus, lambda a=sc_argv: _run_plain(a)), 3)  # type: ignore[misc]
            ts = [_wall(_with_affinity(cpus, lambda argv=argv, st=st, c=coloc: _run_sdu(argv, True, None, c,  # type: ignore[misc]
                                                                                        settings=st)), 3)
                  for st in (with_fd, bare)]
            ts.append(_wall(_with_affinity(cpus, lambda argv=argv: _run_strace(argv, st_args)), 3))  # type: ignore[misc]
            row.append(t0 * 1e3)
            row += [t / t0 for t in (floor, *ts)] if n == 0 else [(t - t0) / n * 1e6 for t in ts]
        print(f"{place:8} {row[0]:8.1f} {row[1]:6.2f} {row[2]:6.2f} {row[3]:7.2f} {row[4]:6.2f} | {row[5]:7.1f} "
              f"{row[6]:7.1f} {row[7]:8.1f} {row[8]:7.1f} {row[7] / row[8]:7.2f}", flush=True)


#: the environment of the sdu commands run: bytecode cached in a private prefix (filled by a warm-up run
#: in main), as an installed package has it, even where PYTHONDONTWRITEBYTECODE is set
_SDU_ENV: dict[str, str] = dict(os.environ)


def _use_cached_bytecode(prefix: Path) -> None:
    _SDU_ENV.pop("PYTHONDONTWRITEBYTECODE", None)
    _SDU_ENV["PYTHONPYCACHEPREFIX"] = str(prefix)
    _run_cli_default(["/bin/true"])


def _run_cli(argv: list[str], extra: tuple[str, ...] = ()) -> None:
    fmt = "%proc.name %fd.name"
    subprocess.run([sys.executable, "-m", "sysdig_user", *extra, "-p", fmt, "evt.type=openat", "--", *argv],
                   stdout=subprocess.DEVNULL, check=True, cwd=ROOT, env=_SDU_ENV)


def cli_figures(binary: str, scale: float) -> None:
    """The real CLI path (`sdu -p FMT evt.type=openat -- CMD`, output to /dev/null; includes sdu's ~0.2 s
    start-up), pushdown on (the default) and --no-seccomp, vs `strace -f --seccomp-bpf -e trace=openat`."""
    st_args = ("--seccomp-bpf", "-e", "trace=openat")
    print("CLI: sdu -p '%proc.name %fd.name' evt.type=openat -- CMD (wall s)")
    print(f"{'workload':22} {'untraced':>8} {'sdu':>8} {'no-secc':>8} {'strace':>8} {'sdu/st':>7}")
    n_pp, n_orc = int(200000 * scale), int(6000 * scale)
    for name, argv in ((f"getppid x{n_pp}", [binary, "getppid", str(n_pp)]),
                       (f"open/read/close x{n_orc}", [binary, "orc", str(n_orc)])):
        t0 = _wall(lambda argv=argv: _run_plain(argv), 3)  # type: ignore[misc]
        tp = _wall(lambda argv=argv: _run_cli(argv), 3)  # type: ignore[misc]
        tn = _wall(lambda argv=argv: _run_cli(argv, ("--no-seccomp",)), 1)  # type: ignore[misc]
        ts = _wall(lambda argv=argv: _run_strace(argv, st_args), 3)  # type: ignore[misc]
        print(f"{name:22} {t0:8.3f} {tp:8.3f} {tn:8.3f} {ts:8.3f} {tp / ts:7.2f}", flush=True)


def _run_cli_default(argv: list[str], extra: tuple[str, ...] = ()) -> None:
    subprocess.run([sys.executable, "-m", "sysdig_user", *extra, "--", *argv], stdout=subprocess.DEVNULL,
                   check=True, cwd=ROOT, env=_SDU_ENV)


def cli_default_figures(binary: str, scale: float) -> None:
    """The real CLI in its default mode: `sdu -- CMD > /dev/null` (every event, default format) and
    `sdu -q -w FILE -- CMD`, vs `strace -f -o /dev/null`; us per syscall, (traced - untraced) / n, both
    raw and with sdu's start-up (`sdu -- /bin/true`) taken off."""
    n_orc = int(6000 * scale)
    print(f"CLI default mode, open/read/close x{n_orc} + getppid x{int(20000 * scale)}: us per syscall "
          "(sdu-st: start-up subtracted)")
    print(f"{'workload':10} {'place':8} {'n':>6} {'sdu':>7} {'sdu-st':>7} {'-q -w':>7} {'-qw-st':>7} "
          f"{'strace':>7} {'sdu/st':>7} {'qw/st':>7}")
    scap = os.path.join(tempfile.gettempdir(), f"sdu-bench-{os.getpid()}.scap")
    for name, argv in (("orc", [binary, "orc", str(n_orc)]), ("getppid", [binary, "getppid", str(int(20000 * scale))])):
        # default: sdu as shipped (co-located with the command, tracer/placement.py) vs strace as shipped
        # (floating); floating: sdu --no-colocate; pinned: both under taskset -c 0
        for place, cpus, extra in (("default", None, ()), ("floating", None, ("--no-colocate",)),
                                   ("pinned", {0}, ())):
            n = _run_sdu(argv, False)
            t0 = _wall(_with_affinity(cpus, lambda argv=argv: _run_plain(argv)), 3)  # type: ignore[misc]
            tup = _wall(_with_affinity(cpus, lambda extra=extra: _run_cli_default(["/bin/true"], extra)), 3)  # type: ignore[misc]
            tc = _wall(_with_affinity(cpus, lambda argv=argv, extra=extra: _run_cli_default(argv, extra)), 3)  # type: ignore[misc]
            tq = _wall(_with_affinity(cpus, lambda argv=argv, extra=extra: _run_cli_default(argv, (*extra, "-q", "-w", scap))), 3)  # type: ignore[misc]
            ts = _wall(_with_affinity(cpus, lambda argv=argv: _run_strace(argv)), 3)  # type: ignore[misc]
            per = [(t - t0) / n * 1e6 for t in (tc, tc - tup, tq, tq - tup, ts)]
            print(f"{name:10} {place:8} {n:>6} {per[0]:7.1f} {per[1]:7.1f} {per[2]:7.1f} {per[3]:7.1f} {per[4]:7.1f} "
                  f"{per[0] / per[4]:7.2f} {per[2] / per[4]:7.2f}", flush=True)
    if os.path.exists(scap):
        os.unlink(scap)
    # sdu's start-up (~0.2 s, strace's ~2 ms) is a fixed cost that the rows above spread over ~20k
    # syscalls; a run 5x longer, start-up included, shows the per-syscall ratio it tends to
    n_long = int(30000 * scale)
    argv = [binary, "orc", str(n_long)]
    n = _run_sdu(argv, False)
    t0 = _wall(_with_affinity({0}, lambda: _run_plain(argv)), 3)
    tc = _wall(_with_affinity({0}, lambda: _run_cli_default(argv)), 3)
    ts = _wall(_with_affinity({0}, lambda: _run_strace(argv)), 3)
    per = [(t - t0) / n * 1e6 for t in (tc, ts)]
    print(f"orc x{n_long} pinned, start-up included: sdu {per[0]:.1f} us, strace {per[1]:.1f} us per syscall "
          f"({n} syscalls): {per[0] / per[1]:.2f}x", flush=True)


def _with_affinity(cpus: set[int] | None, fn: Callable[[], object]) -> Callable[[], object]:
    def run() -> object:
        if cpus is None:
            return fn()
        old = os.sched_getaffinity(0)
        os.sched_setaffinity(0, cpus)
        try:
            return fn()
        finally:
            os.sched_setaffinity(0, old)
    return run


def micro() -> None:
    """Cost of the per-stop building blocks, in microseconds per call."""
    n = 20000
    import ctypes
    getcpu = ctypes.CDLL(None).sched_getcpu
    t = time.perf_counter()
    for _ in range(n):
        getcpu()
    getcpu_us = (time.perf_counter() - t) / n * 1e6
    pid = os.getpid()
    t = time.perf_counter()
    for _ in range(n):
        with open(f"/proc/{pid}/stat", "rb") as f:
            int(f.read().rsplit(b")", 1)[1].split()[36])
    stat_us = (time.perf_counter() - t) / n * 1e6
    t = time.perf_counter()
    for _ in range(n):
        time.time_ns()
    ts_us = (time.perf_counter() - t) / n * 1e6
    print(f"micro: sched_getcpu {getcpu_us:.2f} us, /proc/TID/stat field 39 {stat_us:.2f} us, "
          f"time_ns {ts_us:.3f} us")


def wait_variants(binary: str, n: int) -> None:
    """getppid loop traced with ctypes wait4 (engine default) vs os.waitpid."""
    argv = [binary, "getppid", str(n)]
    base = _wall(lambda: _run_plain(argv), 3)
    t_ctypes = _wall(lambda: _run_sdu(argv, False), 3)
    orig = ptrace.wait

    def os_wait(pid: int = -1, options: int = 0) -> tuple[int, int, int]:
        try:
            got, status = os.waitpid(pid, options | 0x40000000)
        except ChildProcessError:
            return -1, 0, 10
        return got, status, 0

    ptrace.wait = os_wait  # type: ignore[assignment]
    try:
        t_os = _wall(lambda: _run_sdu(argv, False), 3)
    finally:
        ptrace.wait = orig  # type: ignore[assignment]
    print(f"wait: ctypes wait4 {(t_ctypes - base) / n * 1e6:.1f} us/syscall, "
          f"os.waitpid {(t_os - base) / n * 1e6:.1f} us/syscall")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller loops")
    parser.add_argument("--only", choices=("micro", "wait", "pushdown", "cli", "cli-default", "workloads"),
                        help="run one section")
    opts = parser.parse_args()
    if shutil.which("gcc") is None or shutil.which("strace") is None:
        print("needs gcc and strace", file=sys.stderr)
        return 1
    scale = 0.25 if opts.quick else 1.0
    tmp = Path(tempfile.mkdtemp(prefix="sdu-bench-"))
    try:
        src = tmp / "b.c"
        src.write_text(C_SOURCE)
        binary = str(tmp / "b")
        subprocess.run(["gcc", "-O2", "-o", binary, str(src)], check=True)
        _use_cached_bytecode(tmp / "pycache")
        tree = "usr/include/linux" if os.path.isdir("/usr/include/linux") else str(ROOT)[1:]
        workloads: list[tuple[str, list[str], int]] = [
            ("getppid loop", [binary, "getppid", str(int(20000 * scale))], 3),
            ("1-byte reads /dev/zero", [binary, "zero", str(int(20000 * scale))], 3),
            ("open/read/close loop", [binary, "orc", str(int(6000 * scale))], 3),
            ("python3 -c pass", [sys.executable, "-c", "pass"], 3),
            ("tar of a tree", ["tar", "-C", "/", "-cf", str(tmp / "t.tar"), tree], 2),
        ]
        sections: dict[str, Callable[[], object]] = {
            "micro": micro, "wait": lambda: wait_variants(binary, int(20000 * scale)),
            "pushdown": lambda: pushdown_figures(binary, scale), "cli": lambda: cli_figures(binary, scale),
            "cli-default": lambda: cli_default_figures(binary, scale)}
        for name, run in sections.items():
            if opts.only in (None, name):
                run()
        if opts.only not in (None, "workloads"):
            return 0
        header = f"{'workload':24} {'place':8} {'n':>7} {'t0 ms':>8} {'engine':>8} {'full-py':>8} {'full':>8} " \
                 f"{'strace':>8} {'eng/st':>7} {'py/st':>7} {'full/st':>7}"
        print("per-syscall overhead in us (traced - untraced) / n; full-py: without the compiled fast path "
              f"({'built' if fastpath._fastpath is not None else 'not built: full = full-py'})")
        print(header)
        for name, argv, rep in workloads:
            for place, cpus, coloc in (("default", None, True), ("floating", None, False), ("pinned", {0}, False)):
                got = _with_affinity(cpus, lambda argv=argv: _run_sdu(argv, False))()  # type: ignore[misc]
                n = got if isinstance(got, int) else 1
                t0 = _wall(_with_affinity(cpus, lambda argv=argv: _run_plain(argv)), rep)  # type: ignore[misc]
                te = _wall(_with_affinity(cpus, lambda argv=argv, c=coloc: _run_sdu(argv, False, None, c)), rep)  # type: ignore[misc]
                tp = _wall(_with_affinity(cpus, lambda argv=argv, c=coloc: _run_sdu(argv, True, None, c, False)), rep)  # type: ignore[misc]
                tf = _wall(_with_affinity(cpus, lambda argv=argv, c=coloc: _run_sdu(argv, True, None, c)), rep)  # type: ignore[misc]
                ts = _wall(_with_affinity(cpus, lambda argv=argv: _run_strace(argv)), rep)  # type: ignore[misc]
                per = [(t - t0) / max(n, 1) * 1e6 for t in (te, tp, tf, ts)]
                print(f"{name:24} {place:8} {n:>7} {t0 * 1e3:8.1f} {per[0]:8.1f} {per[1]:8.1f} {per[2]:8.1f} "
                      f"{per[3]:8.1f} {per[0] / per[3]:7.2f} {per[1] / per[3]:7.2f} {per[2] / per[3]:7.2f}",
                      flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
