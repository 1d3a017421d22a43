"""Whole-namespace mode (``sdu --all``, and ``sdu`` alone inside a container): which processes to seize.

Every process listed in /proc of sdu's PID namespace is a candidate except:

* sdu itself (its threads, and the processes it forks: the pipelined consumer, tracer/pipelined.py),
  since a tracer cannot trace itself and tracing its own helpers would feed its output back into it;
* sdu's ancestors (the shell, ``unshare``, ``docker exec``, the namespace's init when it started sdu):
  they are waiting for sdu, so their only activity is sdu's own start and end, and they must stay free
  to reap sdu and take signals whatever happens to it;
* kernel threads (PF_KTHREAD: ptrace refuses them; only visible in the initial namespace) and zombies
  (nothing left to trace), skipped without a word beyond one count line for the kernel threads;
* the processes that read the pipe sdu's output goes to (``sdu --all | less``): each line sdu prints
  would make them read, a syscall sdu must handle before they can drain the pipe sdu is writing into,
  which stalls both once the pipe is full; they are named with that reason.

A process sdu may not trace (already traced, another user's without CAP_SYS_PTRACE, Yama's
ptrace_scope) is named once, on one line with the reason (tracer/attach.py ``why``), and not tried
again while it lives; the children it forks later are tried too (one may become traceable, e.g. after a
setuid) but not named again when refused, so a busy untraceable tree makes one line, not one per fork. Processes forked by traced ones are followed by ptrace itself; processes that
appear otherwise (started by an ancestor, entered with nsenter or ``docker exec``) are found by a
rescan of /proc, at MIN_DELAY_S after start, doubling up to MAX_DELAY_S while nothing new turns up,
back to MIN_DELAY_S when something does (``-v`` prints how many rescans ran and what they found).
"""
from __future__ import annotations

import os
from _collections_abc import Callable, Iterable  # (collections.abc without collections)

from tracer import attach as attach_rules
from tracer.errors import TracerError

# include/linux/proc_ns.h PROC_PID_INIT_INO: the inode of the initial PID namespace, the same on every
# kernel since 3.8, which is how "inside a container" (any other PID namespace) is told apart.
INITIAL_PID_NS_INO = 0xEFFFFFFC
MIN_DELAY_S = 0.05
MAX_DELAY_S = 1.0


def in_initial_pid_namespace() -> bool:
    """True when sdu runs in the host's initial PID namespace (not inside a container)."""
    try:
        return os.stat("/proc/self/ns/pid").st_ino == INITIAL_PID_NS_INO
    except OSError:
        return True  # no /proc/self/ns (very old kernels, no procfs): assume the host


def check_proc_is_ours() -> None:
    """/proc must be the procfs of sdu's own PID namespace, else its listing is another namespace's
    (``unshare --pid --fork`` without ``--mount-proc``) and its pids mean nothing to ptrace here."""
    try:
        mine = os.readlink("/proc/self")
    except OSError:
        mine = ""
    if mine != str(os.getpid()):
        raise TracerError("--all: /proc is not mounted for sdu's PID namespace (e.g. use "
                          "`unshare --pid --fork --mount-proc`)")


def lineage(pid: int) -> set[int]:
    """`pid` and its ancestors (PPid chain up to 0, as far as /proc shows them)."""
    out: set[int] = set()
    while pid > 0 and pid not in out:
        out.add(pid)
        pid = _ppid(pid)
    return out


def _ppid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return int(stat[stat.rfind(b")") + 2:].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _stat(pid: int) -> tuple[str, int, bool, str, int]:
    """(state letter, start time, kernel thread?, comm, ppid) from one read of /proc/PID/stat;
    ("", 0, False, "", 0) if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return "", 0, False, "", 0
    close = stat.rfind(b")")
    comm = stat[stat.find(b"(") + 1:close].decode(errors="replace")
    fields = stat[close + 2:].split()
    try:
        return (fields[0].decode(), int(fields[19]), bool(int(fields[6]) & attach_rules.PF_KTHREAD), comm,
                int(fields[1]))
    except (IndexError, ValueError):
        return "", 0, False, comm, 0


def visible_pids() -> list[int]:
    """The process ids /proc lists (thread group leaders), in ascending order."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    return sorted(int(n) for n in names if n.isdigit())


class Census:
    """Whole-namespace bookkeeping: what to try, what was named as untraceable, when to look again."""

    def __init__(self, warn: Callable[[str], None]) -> None:
        self.warn = warn
        self.excluded = lineage(os.getpid())  # sdu and its ancestors (module docstring)
        self._named: set[tuple[int, int]] = set()  # (pid, start time) already named as untraceable
        self._refused_pids: set[int] = set()  # their pids: a child of one is not named again
        self._kthreads_seen = False
        self.kernel_threads = 0
        self.delay = MIN_DELAY_S
        self.scans = 0  # rescans run (the first scan not counted)
        self.picked = 0  # processes found by rescans and attached
        self.refused = 0  # processes named as untraceable
        self._own_pipes = _output_pipes()

    def exclude(self, pid: int) -> None:
        """One of sdu's own processes (the pipelined consumer): never a candidate."""
        self.excluded.add(pid)

    def candidates(self, known: Callable[[int], bool]) -> list[int]:
        """The pids to try now: visible, not excluded, not already ours (`known`), not named before,
        not a kernel thread or a zombie; a process traced by another tracer is named here."""
        me = os.getpid()
        out: list[int] = []
        kthreads: list[str] = []
        for pid in visible_pids():
            if pid in self.excluded or known(pid):
                continue
            state, start, kthread, comm, _parent = _stat(pid)
            if not state or (pid, start) in self._named:
                continue
            if kthread:
                if not self._kthreads_seen:
                    kthreads.append(comm)
                continue
            if state in ("Z", "X"):
                continue
            tracer = _tracer_pid(pid)
            if tracer == me:  # a child of a traced process, not yet reported by its parent's stop
                continue
            if tracer:
                self.name(pid, f"already traced by pid {tracer} (one tracer per process)")
                continue
            if self._own_pipes and _holds(pid, self._own_pipes):
                self.name(pid, "it reads the pipe sdu's output goes to (tracing it would stall both)")
                continue
            out.append(pid)
        if kthreads:
            self.kernel_threads = len(kthreads)
            self.warn(f"sdu: not tracing {len(kthreads)} kernel threads (ptrace cannot attach to kernel "
                      "threads)")
        self._kthreads_seen = True
        return out

    def name(self, pid: int, reason: str) -> None:
        """Name an untraceable process once: one line, with the reason (none if it is already gone)."""
        state, start, _k, comm, ppid = _stat(pid)  # (one read: comm and parent of the same process)
        if state in ("", "Z", "X"):
            return  # gone, or exited since it was listed (ptrace refuses a zombie): nothing to trace
        key = (pid, start)
        if key in self._named:
            return
        self._named.add(key)
        self.refused += 1
        self._refused_pids.add(pid)
        if ppid in self._refused_pids:
            return  # its parent's line covers it: an untraceable tree is named once, by its root
        self.warn(f"sdu: not tracing pid {pid} ({comm}): {reason}")

    def refuse_all(self, refused: Iterable[tuple[int, int]]) -> None:
        """Name each (pid, errno) that PTRACE_SEIZE refused, with the rule that refused it."""
        for pid, err in refused:
            reason = attach_rules.why(pid, err)
            if reason != "no such process":
                self.name(pid, reason)

    def scanned(self, found: int) -> None:
        """A rescan ran and attached `found` processes: back to the shortest delay if any, else double it."""
        self.scans += 1
        self.picked += found
        self.delay = MIN_DELAY_S if found else min(self.delay * 2, MAX_DELAY_S)

    def report(self) -> str:
        """The -v line."""
        return (f"sdu: --all: {self.scans} rescans of /proc, {self.picked} processes picked up by them, "
                f"{self.refused} not traceable")


def _output_pipes() -> frozenset[str]:
    """The pipes sdu's stdout and stderr are (as /proc/PID/fd links name them: "pipe:[inode]")."""
    out = set()
    for fd in (1, 2):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if link.startswith("pipe:"):
            out.add(link)
    return frozenset(out)


def _holds(pid: int, pipes: frozenset[str]) -> bool:
    """`pid` has one of `pipes` open for reading (its fds are unreadable when it is not ours to trace
    anyway). Writers are left alone: a container's processes often share sdu's stdout (the runtime's log
    pipe), and a traced writer never waits for sdu to drain anything."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") in pipes and _reads(pid, fd):
                return True
        except OSError:
            continue
    return False


def _reads(pid: int, fd: str) -> bool:
    """The fd's open mode (/proc/PID/fdinfo/FD "flags:", octal) is O_RDONLY or O_RDWR."""
    with open(f"/proc/{pid}/fdinfo/{fd}") as f:
        for line in f:
            if line.startswith("flags:"):
                return int(line.split()[1], 8) & os.O_ACCMODE != os.O_WRONLY
    return False


def _tracer_pid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("TracerPid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


__all__ = ["Census", "check_proc_is_ours", "in_initial_pid_namespace", "lineage", "visible_pids"]
