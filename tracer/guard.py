"""A watchdog that gives a co-located command its CPUs back if the tracer dies without doing it.

Why. tracer/placement.py pins a launched command (and, by inheritance, every thread it creates) to the
tracer's CPU while it runs serially; releasing co-location or detaching restores every thread's original
mask. A tracer that dies without running any code (SIGKILL, the OOM killer, a crash in C) restores
nothing: without a seccomp filter the command runs on untraced, and would stay on one CPU for good
(with the filter, PTRACE_O_EXITKILL ends it anyway). Nothing the kernel offers undoes an affinity when
another process dies, so a second process does it.

How. ``start`` starts a small process before the command is forked: the program sdu-guard
(tracer/_guard.c, built with the C extensions; ``HELPER``), run with posix_spawn, or where it was not
built a fork of the tracer running ``_watch``; both behave the same. It is a child of the tracer: if it
exits while the engine runs, the engine's wait4(-1) reaps it like any pid it does not trace (Engine._dead
ignores those); otherwise ``release`` or the next ``start`` reaps it through its pidfd, and at worst it is
a zombie until sdu exits (a double fork, so that it would be nobody's child of sdu's, cost twice the CPU:
two copies of the tracer's address space and the middle process's exit). It holds a pidfd of the tracer
(opened by the tracer itself, so it cannot name a recycled pid) and the read end of a pipe on which the tracer
writes each thread it pins or sees created while co-located (``add``), each one that exits (``drop``),
and finally "released" (``release``), after which the watchdog exits at once. When the pidfd says the
tracer is gone before that, the watchdog reads what is left in the pipe, then gives the original mask to
every known thread whose mask is still exactly the one shared CPU (a thread that chose its own CPUs keeps
them), and to the threads of processes forked by those in the meantime (found by their parent in /proc,
a few rounds), then exits. It ignores the terminal's signals as the consumer process does, holds none of
sdu's other descriptors (stdout, the -w file, the consumer's pipes), and sleeps in poll(2) until then.

Cost: a vfork and an execve of a small program at launch, one small pipe write per thread created or
ended while co-located, a sleeping process. (The fork it replaces copied the tracer's page tables and
made each page either process wrote a copy-on-write fault for the whole run: ~4 ms of `sdu --
/bin/true`'s ~32 ms wall time. A CLONE_VM child, as tracer/_launch.c starts the command, would cost
less still, but shares the tracer's memory, so an OOM kill of the tracer, or before Linux 5.16 its
core dump, would kill the watchdog with it.) A launched command under the seccomp filter needs no watchdog
(PTRACE_O_EXITKILL ends every tracee with the tracer): tracer/placement.py starts none then. Not covered:
a SIGKILL of the whole process group
(or cgroup) kills the watchdog with the tracer, and the command along with them in the usual cases; a
machine without pidfds (Linux < 5.3) gets no watchdog, and then no co-location (see Placement.start).
"""
from __future__ import annotations

import os
import struct
from _collections_abc import Iterable  # (collections.abc without collections)

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    import signal
else:
    import _signal as signal  # (signal.py only adds enums around it: ~3.4M instructions of a start)

_ITEM = struct.Struct("<i")  # tid: pinned or created; -tid: gone; 0: released
#: the watchdog program (tracer/_guard.c), next to this module; its name carries the number of the
#: interface it serves (arguments, messages): a stale build's program has another name and is not used
HELPER = "sdu-guard-1"
_MASK_BYTES = 1024  # the cpumask size the program reads (its MASK_BYTES)
_TERMINAL_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
_ROUNDS = 4
COMM = "sdu-guard"  # the watchdog's process name  # /proc scans for processes forked while the watchdog was restoring


class Guard:
    """The tracer's end of the watchdog's pipe. Writes never raise: a missing watchdog changes nothing."""

    __slots__ = ("_fd", "_pidfd", "pid")

    def __init__(self, fd: int, pid: int, pidfd: int) -> None:
        self._fd = fd
        self.pid = pid  # the watchdog's pid (tests)
        self._pidfd = pidfd  # a pidfd of the watchdog (-1: none), to reap it

    def add(self, tid: int) -> None:
        """`tid` runs on the shared CPU (pinned, or created by a thread that was)."""
        self._send(tid)

    def drop(self, tid: int) -> None:
        """`tid` is gone: its number may be reused by an unrelated thread."""
        self._send(-tid)

    def release(self) -> None:
        """Co-location is over (every thread has its CPUs back): the watchdog exits. Idempotent."""
        if self._fd >= 0:
            self._send(0)
            os.close(self._fd)
            self._fd = -1
        if self._pidfd >= 0:
            _exiting.append(self._pidfd)  # (it exits at once; reaped now if it already has)
            self._pidfd = -1
            reap_exited()

    def _send(self, value: int) -> None:
        if self._fd < 0:
            return
        try:
            os.write(self._fd, _ITEM.pack(value))
        except OSError:  # the watchdog is gone (killed): nothing to tell it
            pass


# pidfds of released watchdogs not reaped yet (each exits at once on its release; see reap_exited)
_exiting: list[int] = []


def reap_exited() -> None:
    """Reap the released watchdogs that have exited (or that the engine's wait4 reaped), without waiting
    for the others: a process that runs captures one after the other keeps at most one zombie watchdog."""
    for pidfd in list(_exiting):
        try:
            if os.waitid(os.P_PIDFD, pidfd, os.WEXITED | os.WNOHANG) is None:
                continue  # still exiting: next time
        except ChildProcessError:
            pass  # reaped by the engine's wait4(-1)
        except (AttributeError, OSError):  # no waitid on a pidfd (Linux 5.3): a zombie until sdu exits
            pass
        _exiting.remove(pidfd)
        os.close(pidfd)


def start(original: frozenset[int], cpu: int) -> Guard | None:
    """Start the watchdog for threads pinned to `cpu` whose mask was `original`; None if it cannot be."""
    reap_exited()
    try:
        pidfd = os.pidfd_open(os.getpid())
    except (AttributeError, OSError):
        return None
    fds: list[int] = [pidfd]
    try:
        rfd, wfd = os.pipe2(os.O_CLOEXEC)
        fds += [rfd, wfd]
        pid = -1
        program = _helper()
        if program is not None:
            try:
                pid = _spawn(program, pidfd, rfd, original, cpu)
            except OSError:  # (EAGAIN, ENOMEM, a program that will not run): the fork, as without one
                os.set_inheritable(pidfd, False)
                os.set_inheritable(rfd, False)
        if pid < 0:
            pid = os.fork()
    except OSError:
        for fd in fds:
            os.close(fd)
        return None
    if pid == 0:  # pragma: no cover - runs in the watchdog
        try:
            os.close(wfd)
            _watch(pidfd, rfd, original, cpu)
        finally:
            os._exit(0)
    os.close(pidfd)
    os.close(rfd)
    try:  # (nothing can have reaped it yet: the engine's loop has not started)
        child_fd = os.pidfd_open(pid)
    except OSError:
        child_fd = -1
    return Guard(wfd, pid, child_fd)


def _helper() -> str | None:
    """The watchdog program's path when it was built (and SDU_NO_NATIVE is not set), else None: the
    forked Python watchdog then."""
    if os.environ.get("SDU_NO_NATIVE"):
        return None
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), HELPER)
    return path if os.access(path, os.X_OK) else None


def _spawn(program: str, pidfd: int, rfd: int, original: frozenset[int], cpu: int) -> int:
    """Run the program on the two descriptors (inheritable just for it: they are closed here after)."""
    from tracer.placement import mask_bytes  # (loaded: placement starts the watchdog)

    if not 0 <= cpu < 8 * _MASK_BYTES:
        raise OSError(f"cpu {cpu} out of the watchdog's range")
    mask = mask_bytes(original, _MASK_BYTES).rstrip(b"\0").hex() or "00"
    os.set_inheritable(pidfd, True)
    os.set_inheritable(rfd, True)
    return os.posix_spawn(program, [HELPER, str(pidfd), str(rfd), str(cpu), mask], os.environ)


def _watch(pidfd: int, rfd: int, original: frozenset[int], cpu: int) -> None:  # pragma: no cover - child
    """The watchdog's whole life (see the module docstring). Never returns."""
    try:
        for sig in _TERMINAL_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        with open("/proc/self/comm", "w") as f:  # told apart from the tracer and the consumer in ps
            f.write(COMM)
        if pidfd <= 2 or rfd <= 2:  # (sdu run with stdin closed): above 2 first, /dev/null goes there
            import fcntl

            pidfd, rfd = (fd if fd > 2 else fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3) for fd in (pidfd, rfd))
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        keep = sorted({0, 1, 2, pidfd, rfd})
        for low, high in zip(keep, [*keep[1:], 1 << 20]):
            os.closerange(low + 1, high)
        os.sched_setaffinity(0, original)  # not on the shared CPU, whatever the tracer was pinned to
        tids, released = _follow(pidfd, rfd)
        if not released:
            restore(tids, original, cpu)
    except BaseException:  # noqa: BLE001, S110 - nothing to report to: a watchdog just ends
        pass
    os._exit(0)


def _follow(pidfd: int, rfd: int) -> tuple[set[int], bool]:  # pragma: no cover - child
    """Read the tracer's messages until it releases (returns (tids, True)) or dies (returns (tids, False))."""
    import select  # (in the watchdog alone: 0.5M instructions the tracer's start does without)

    tids: set[int] = set()
    rest = b""
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    poller.register(rfd, select.POLLIN)
    tracer_gone = False
    while True:
        if not tracer_gone:
            for fd, _ in poller.poll():
                if fd == pidfd:
                    tracer_gone = True
                    os.set_blocking(rfd, False)  # what it wrote before dying is all there is
        try:
            data = os.read(rfd, 65536)
        except BlockingIOError:
            return tids, False
        if not data:
            return tids, False  # every writer is gone without a release: the tracer died
        data = rest + data
        end = len(data) - len(data) % _ITEM.size
        rest = data[end:]
        for (value,) in _ITEM.iter_unpack(data[:end]):
            if value == 0:
                return tids, True
            if value > 0:
                tids.add(value)
            else:
                tids.discard(-value)


def _allowed_is(tid: int, cpus: frozenset[int]) -> bool:
    try:
        return frozenset(os.sched_getaffinity(tid)) == cpus
    except OSError:
        return False


def _tasks(pid: int) -> list[int]:
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except (OSError, ValueError):
        return []


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process in /proc."""
    out: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
            out[int(name)] = int(stat[stat.rindex(b")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return out


def restore(tids: Iterable[int], original: frozenset[int], cpu: int) -> set[int]:
    """Give `original` to each of `tids`, and to the threads of their processes' children, whose mask is
    exactly {cpu}; returns the tids changed. (Run by the watchdog once the tracer is gone.)"""
    pinned = frozenset({cpu})
    todo = set(tids)
    seen: set[int] = set()
    changed: set[int] = set()
    for _ in range(_ROUNDS):
        for tid in todo - seen:
            seen.add(tid)
            if _allowed_is(tid, pinned):
                try:
                    os.sched_setaffinity(tid, original)
                    changed.add(tid)
                except OSError:
                    pass
        # processes forked meanwhile (their parent is a known thread's process) inherited the one CPU
        known = set(seen)
        todo = {t for pid, ppid in _parents().items() if ppid in known and pid not in known
                for t in _tasks(pid)}
        todo |= {t for pid in known for t in _tasks(pid)} - known
        if not todo:
            break
    return changed
