"""CPU placement for a launched command: tracer and tracee share one CPU while the command runs serially.

Why. Every traced syscall is two hand-offs between the tracee and the tracer (stop, wake the tracer;
resume, wake the tracee). When the two sit on different CPUs each hand-off is a cross-CPU wake-up of a
CPU that has just gone idle, which on a virtual machine means an IPI into a halted vCPU: measured here
(bench/tracer_bench.py), `strace -f` costs 180-490 µs per syscall floating and ~30 µs with tracer and
tracee pinned to one CPU, and sdu's own engine shows the same 5-10x. A tracee that is stopped half of
the time gains nothing from a second CPU, so co-locating them is pure gain for a command that runs one
thread at a time, which is what most traced trees do (a shell waiting for its child, make without -j,
a compiler, a test binary).

What. At launch the tracer starts a watchdog (tracer/guard.py: it gives the command its CPUs back if
the tracer dies without doing it, e.g. by SIGKILL), forks the command, then pins itself and the command
to the CPU it is running on; every thread the command creates inherits that affinity and is reported to
the watchdog. No watchdog (no pidfds), no co-location. Under the seccomp filter no watchdog is needed
(``start(watchdog=False)``): the command is traced with PTRACE_O_EXITKILL, so a tracer that dies takes
every tracee with it, and no pinned process can outlive it. Co-location is released, for good, as soon as the tree wants more CPU than
one: every SAMPLE_NS (timed by the stops) the run-queue wait of every traced thread and of the tracer
is read from /proc/TID/schedstat, and if together they waited for the CPU more than WAIT_SHARE of the
elapsed time, threads were ready to run in parallel (`make -j2`, a pipeline of busy filters). It is
released too when the command sets its own affinity. Release restores the original mask on every
traced thread (except one that chose its own), on the tracer and on sdu's helper processes moved off the
shared CPU (`add_helper`: the pipelined consumer, tracer/pipelined.py); so does detaching early (a
command sdu stops tracing runs on with the affinity it started with), and so does the end of tracing,
while the consumer may still be printing what it was sent. A count of "threads outside a syscall" was
tried first and rejected: on one CPU two busy processes alternate, so the count rarely reaches two,
while a shell's fork-then-wait4 reaches it for a moment. Sampling runs at syscall-exit stops, so
threads that make no syscall at all are not noticed until one does.

What the command can see. sched_getaffinity(2) reports the original mask: its exit is rewritten in the
tracee's buffer while co-located, so `nproc`, make's and runtimes' CPU counts are unchanged. What is not
hidden: /proc/PID/status Cpus_allowed and `taskset -p PID` from outside show the single CPU while it
lasts. Attach mode never moves anything (sdu does not touch a running process's affinity), nor does a
run whose allowed CPUs are already one (`taskset -c 0 sdu ...`), nor `--no-colocate`.

A child cloned with CLONE_UNTRACED is one ptrace does not follow: neither a release nor the watchdog
would ever know it, so it is given the original mask at its parent's clone exit (pinned from its
first instruction to then; a tracer killed inside that window leaves it pinned).

Under seccomp pushdown threads stop only at the chosen syscalls, so one blocked in an unchosen syscall
looks "running": release can come earlier than needed, never later. sched_setaffinity,
sched_getaffinity, clone and clone3 are added to the stopping set so the rules above still hold.
"""
from __future__ import annotations

import os
from _collections_abc import Callable, Iterable, Mapping  # (collections.abc without collections)

from tracer import libc, memory
from tracer.decoders.native import CLONE_UNTRACED, NR_CLONE, NR_CLONE3, requested_clone_flags

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    from typing import Any, Protocol
else:
    Protocol = object  # (the protocols are mypy's: plain classes at run time)

NR_SCHED_SETAFFINITY = 203
NR_SCHED_GETAFFINITY = 204
#: the exits on_exit acts on whenever they come (it samples at any other exit only when a sample is due)
SYSCALLS = frozenset({NR_SCHED_SETAFFINITY, NR_SCHED_GETAFFINITY, NR_CLONE, NR_CLONE3})
SAMPLE_NS = 100_000_000
WAIT_SHARE = 0.25

_sched_getcpu = libc.sched_getcpu


class _ThreadLike(Protocol):
    in_syscall: bool
    args: tuple[int, ...]


def mask_bytes(cpus: Iterable[int], size: int) -> bytes:
    """`cpus` as the kernel's cpumask layout (bit N of byte N // 8), `size` bytes long."""
    out = bytearray(size)
    for cpu in cpus:
        if cpu // 8 < size:
            out[cpu // 8] |= 1 << (cpu % 8)
    return bytes(out)


def _runqueue_wait(tid: int) -> int:
    """Nanoseconds thread `tid` (0: the calling thread) has spent runnable but waiting for a CPU."""
    path = "/proc/thread-self/schedstat" if tid == 0 else f"/proc/{tid}/schedstat"
    try:
        with open(path, "rb") as f:
            return int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0


class Placement:
    """Co-location state of one launched run. `active` is read by the engine's loop on every exit stop."""

    def __init__(self) -> None:
        self.original: frozenset[int] = frozenset(os.sched_getaffinity(0))
        self.cpu: int | None = None
        self.active = False
        self.released_reason = ""
        self.next_sample = 0  # stop timestamp of the next run-queue sample (the engine reads it too)
        self._sampled_at = 0
        self._waits: dict[int, int] = {}  # tid (0: the tracer) -> run-queue wait ns at the last sample
        self._grace = False  # the next sample only starts a new window (rebase)
        self.guard: Any = None  # tracer.guard.Guard while the watchdog runs
        self.helpers: set[int | Callable[[], int]] = set()  # sdu's own processes on other_cpus() (add_helper)

    def start(self, watchdog: bool = True) -> bool:
        """Before the command is forked: can co-location be used, and can it be undone whatever happens to
        the tracer? Starts the watchdog (tracer/guard.py); False (nothing changed) if it cannot be.
        `watchdog=False`: the command is traced with PTRACE_O_EXITKILL (the seccomp filter), nothing
        can outlive the tracer pinned, and no watchdog is started."""
        if len(self.original) < 2:
            return False
        cpu = _sched_getcpu()
        if cpu not in self.original:
            cpu = min(self.original)
        if watchdog:
            from tracer import guard

            self.guard = guard.start(self.original, cpu)
            if self.guard is None:
                return False
        self.cpu = cpu
        return True

    def pin(self, child: int) -> bool:
        """After the fork: the tracer and the command's first thread onto the one CPU (the watchdog knows
        the child first). False, and nothing pinned, if the tracer cannot be moved."""
        if self.cpu is None:
            return False
        try:
            os.sched_setaffinity(0, {self.cpu})
        except OSError:
            self._end_guard()
            return False
        self.active = True
        self.add(child)
        try:
            os.sched_setaffinity(child, {self.cpu})
        except OSError:
            pass
        return True

    def add(self, tid: int) -> None:
        """A thread created by a co-located one (it inherited the one CPU): the watchdog must know it."""
        if self.guard is not None:
            self.guard.add(tid)

    def add_helper(self, pid: int | Callable[[], int]) -> None:
        """A process of sdu's own placed on other_cpus() while co-located: given the original mask back
        at release, with the tracer (gone by then: nothing to do). A callable gives the pid at release
        (the consumer's pid is read only when needed, tracer/pipelined.py Link.pid)."""
        self.helpers.add(pid)

    def drop(self, tid: int) -> None:
        """A traced thread is gone."""
        if self.guard is not None:
            self.guard.drop(tid)

    def _end_guard(self) -> None:
        if self.guard is not None:
            self.guard.release()
            self.guard = None

    def other_cpus(self) -> frozenset[int] | None:
        """The CPUs a helper process of sdu (not the tracer) should use while co-located, else None."""
        if not self.active or self.cpu is None:
            return None
        rest = self.original - {self.cpu}
        return rest or None

    def on_exit(self, tid: int, th: _ThreadLike, threads: Mapping[int, Any], nr: int, ret: int,
                ts: int) -> None:
        """Called at a syscall-exit stop while active (the thread is about to run user code again), when
        `ts >= next_sample` or `nr` is in SYSCALLS: the engine skips the exits where it has nothing to do."""
        if nr == NR_SCHED_GETAFFINITY and ret > 0:
            self._hide_mask(tid, th.args, ret)
        elif nr == NR_SCHED_SETAFFINITY and ret == 0:
            target = th.args[0] if th.args and th.args[0] > 0 else tid
            self.release(threads, "the command set its own CPU affinity", skip={target})
            return
        elif nr in (NR_CLONE, NR_CLONE3) and ret > 0 and requested_clone_flags(tid, nr, th.args) & CLONE_UNTRACED:
            # a child ptrace does not follow: no release or watchdog would ever reach it, so it gets its
            # CPUs back now, as it runs on its own (it was pinned only from the clone to this exit)
            try:
                os.sched_setaffinity(ret, self.original)
            except OSError:  # already gone
                pass
        if ts >= self.next_sample:
            self._sample(threads, ts)

    def rebase(self, threads: Mapping[int, Any], ts: int) -> None:
        """Sdu forked its consumer mid-run (tracer/live.py): what the threads wait from `ts` to the end of
        the next window is not counted. Measured here, the window right after that fork always showed
        the tracer queueing for 30-60% of it (a window before or after it, under 2%): the fork and the
        new process's busy start are sdu's own doing, once, not the command wanting more CPU."""
        if self.active:
            self._waits = {tid: _runqueue_wait(tid) for tid in (*threads, 0)}
            self._sampled_at = ts
            self.next_sample = ts + SAMPLE_NS
            self._grace = True

    def _sample(self, threads: Mapping[int, Any], ts: int) -> None:
        """Release if the traced threads and the tracer queued for the shared CPU too long since last time."""
        waits = {tid: _runqueue_wait(tid) for tid in (*threads, 0)}
        if self._grace:  # (see rebase)
            self._grace = False
            self._waits = waits
            self._sampled_at = ts
            self.next_sample = ts + SAMPLE_NS
            return
        waited = sum(w - self._waits.get(tid, w) for tid, w in waits.items())
        elapsed = ts - self._sampled_at
        self._waits = waits
        self._sampled_at = ts
        self.next_sample = ts + SAMPLE_NS
        if elapsed > 0 and waited > WAIT_SHARE * elapsed:
            self.release(threads, "traced threads waited for the shared CPU")

    def _hide_mask(self, tid: int, args: tuple[int, ...], size: int) -> None:
        """Rewrite sched_getaffinity's result so the command sees the mask it would have had untraced."""
        if len(args) < 3 or not args[2]:
            return
        try:
            memory.write(tid, args[2], mask_bytes(self.original, size))
        except OSError:
            pass

    def release(self, threads: Iterable[int], reason: str, skip: Iterable[int] = ()) -> None:
        """Give every traced thread (but `skip`) and the tracer their original CPUs; idempotent."""
        if not self.active:
            self._end_guard()
            return
        self.active = False
        self.released_reason = reason
        keep = set(skip)
        for tid in list(threads):
            if tid in keep:
                continue
            try:
                os.sched_setaffinity(tid, self.original)
            except OSError:  # gone, or it changed credentials (setuid): nothing more to do
                pass
        for helper in (0, *self.helpers):
            pid = helper if isinstance(helper, int) else helper()
            if helper and not pid:
                continue  # (a helper that was never forked: not the tracer's pid 0)
            try:
                os.sched_setaffinity(pid, self.original)
            except OSError:  # a helper already gone
                pass
        self.helpers.clear()
        self._end_guard()
