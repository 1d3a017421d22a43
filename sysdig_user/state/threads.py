"""Thread state: one ThreadInfo per tid, mirroring libsinsp's sinsp_threadinfo (libs e5c53d64).

A process is its main thread (tid == pid). Threads flagged PPM_CL_CLONE_FILES share their main
thread's FdTable object (sinsp's get_fd_table() walks to the main thread the same way), so an fd opened
by one thread resolves from all of them; without the flag a thread keeps its own table (verified with
sysdig: such a thread's fds do not resolve from the main thread). The cwd always lives on the main
thread, whatever the clone flags (verified with sysdig: a thread's chdir moves its whole process).
Parsers (state/parsers_*.py) keep the table current; fields read it through ``Event.thread``.
"""
from __future__ import annotations

from _collections_abc import Iterator  # (collections.abc without collections)

from sysdig_user.flags import FLAG_TABLES
from sysdig_user.state.fdorder import OrderLog
from sysdig_user.state.fds import FdTable

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)

if TYPE_CHECKING:
    from typing import Any

    from sysdig_user.event import Event

_CLONE = dict(FLAG_TABLES["clone_flags"])
# PPM_CL_* bits used by state (clone_flags table)
CL_CLONE_FILES = _CLONE["CLONE_FILES"]
CL_CLONE_FS = _CLONE["CLONE_FS"]
CL_CLONE_THREAD = _CLONE["CLONE_THREAD"]
CL_CLONE_INVERTED = _CLONE["CLONE_INVERTED"]
CL_NAME_CHANGED = _CLONE["NAME_CHANGED"]
CL_CLOSED = _CLONE["CLOSED"]
CL_CLONE_VFORK = _CLONE["CLONE_VFORK"]
# sinsp-internal bits (ppm_events_public.h): not in the printable table
CL_ACTIVE = 1 << 19
CL_PIPE_SRC = 1 << 21
CL_PIPE_DST = 1 << 22

NA = "<NA>"
UNKNOWN_ID = 0xFFFFFFFF
NO_EVENT = -1  # lastevent_type before any enter event


def normalize_cwd(path: str) -> str:
    """sinsp keeps cwd with a trailing '/' so that joining a relative name is a concatenation."""
    return path if not path or path.endswith("/") else path + "/"


def normalize_cgroups(entries: list[str]) -> list[str]:
    """sinsp_threadinfo::set_cgroups stores the cgroup v2 ``io`` controller under its v1 name ``blkio``
    (verified with sysdig: an execve's ``io=/user.slice`` shows as ``blkio=/user.slice`` in thread.cgroups,
    in place)."""
    if "\0io=" not in "\0".join(("", *entries)):  # (nearly always: copy the list as it is)
        return list(entries)
    return ["blkio" + c[2:] if c[:3] == "io=" else c for c in entries]


_UNSET: Any = object()  # ThreadInfo's default for the fields that get a fresh list, dict or table each


def env_entries(entries: list[str]) -> list[str]:
    """sinsp_threadinfo::set_env: the entries of an env blob, stopping at an empty entry when every
    byte after it is zero, so trailing empty entries are dropped (an env of NULs only is empty, where
    joining them would print spaces) while an empty entry before a real one is kept."""
    if entries and not entries[-1]:
        entries = list(entries)
        while entries and not entries[-1]:
            entries.pop()
    return entries


class ThreadInfo:
    """One thread as the state engine knows it (a plain slotted class: a dataclass's generated code
    costs at every start, and nothing compares or prints a ThreadInfo)."""

    __slots__ = ("args", "cgroups", "clone_ts", "comm", "cwd", "env", "exe", "exe_writable", "exepath",
                 "extra", "fdlimit", "fdtable", "flags", "gid", "last_enter", "last_event_ts",
                 "last_latency_entertime", "lastevent_fd", "lastevent_type", "lastexec_ts", "latency",
                 "loginuid", "nchilds", "pfmajor", "pfminor", "pid", "ptid", "root", "sid", "tid", "tty",
                 "uid", "vmrss_kb", "vmsize_kb", "vmswap_kb", "vpgid", "vpid", "vtid")

    def __init__(self, tid: int, pid: int, ptid: int = -1, sid: int = -1, vpgid: int = -1,
                 comm: str = NA, exe: str = NA, exepath: str = "", args: list[str] = _UNSET,
                 cwd: str = "", env: list[str] = _UNSET, cgroups: list[str] = _UNSET, root: str = "/",
                 fdlimit: int = -1, flags: int = 0, uid: int = UNKNOWN_ID, gid: int = UNKNOWN_ID,
                 loginuid: int = -1, vtid: int = -1, vpid: int = -1, tty: int = 0, vmsize_kb: int = 0,
                 vmrss_kb: int = 0, vmswap_kb: int = 0, pfmajor: int = 0, pfminor: int = 0,
                 exe_writable: bool = False, clone_ts: int = 0, lastexec_ts: int = 0,
                 fdtable: FdTable = _UNSET, last_enter: Event | None = None, lastevent_type: int = NO_EVENT,
                 lastevent_fd: int = 0, latency: int = 0, last_latency_entertime: int = 0,
                 last_event_ts: int = 0, nchilds: int = 0, extra: dict[str, object] = _UNSET) -> None:
        self.tid: int = tid
        self.pid: int = pid
        self.ptid: int = ptid
        self.sid: int = sid  # -1: unknown (sinsp's initial m_sid/m_vpgid), as for threads not in the PL
        self.vpgid: int = vpgid
        self.comm: str = comm
        self.exe: str = exe
        self.exepath: str = exepath
        self.args: list[str] = [] if args is _UNSET else args
        self.cwd: str = cwd  # with a trailing '/'; the main thread's is the process's (ThreadTable.get_cwd)
        self.env: list[str] = [] if env is _UNSET else env
        self.cgroups: list[str] = [] if cgroups is _UNSET else cgroups
        self.root: str = root
        self.fdlimit: int = fdlimit  # unknown until a clone/execve/PL entry or an rlimit call sets it
        self.flags: int = flags
        self.uid: int = uid
        self.gid: int = gid
        self.loginuid: int = loginuid
        self.vtid: int = vtid
        self.vpid: int = vpid
        self.tty: int = tty
        self.vmsize_kb: int = vmsize_kb
        self.vmrss_kb: int = vmrss_kb
        self.vmswap_kb: int = vmswap_kb
        self.pfmajor: int = pfmajor
        self.pfminor: int = pfminor
        self.exe_writable: bool = exe_writable
        self.clone_ts: int = clone_ts  # ns, 0 if unknown
        self.lastexec_ts: int = lastexec_ts
        # the process's fd table; threads with CLONE_FILES share their main thread's object
        self.fdtable: FdTable = FdTable() if fdtable is _UNSET else fdtable
        # the pending enter event of this thread, cleared at its exit (the one cross-event stash); the
        # compiled default line (output/fastline.py) keeps it unbuilt, as (raw, cpu, num), which
        # Inspector.process builds into the Event when an exit needs it
        self.last_enter: Event | None = last_enter
        # sinsp's m_lastevent_type / m_lastevent_fd: what pairing and fd.num are computed from. A new
        # thread's m_lastevent_fd is 0 (sinsp_threadinfo::init), so an exit without its enter at the
        # start of a capture shows fd 0 (fd.num 0, fd.name of the thread's fd 0), as sysdig does
        self.lastevent_type: int = lastevent_type
        self.lastevent_fd: int = lastevent_fd
        # evt.latency: exit ts - enter ts for the last exit (0 after an enter)
        self.latency: int = latency
        self.last_latency_entertime: int = last_latency_entertime
        # the last event seen on this thread (for per-thread deltas)
        self.last_event_ts: int = last_event_ts
        # live threads (tid != pid) pointing at this main thread; a main thread with some is kept (CLOSED)
        self.nchilds: int = nchilds
        # free slots for fields/chisels that keep per-thread figures
        self.extra: dict[str, object] = {} if extra is _UNSET else extra

    @property
    def is_main_thread(self) -> bool:
        return self.tid == self.pid

    @property
    def is_placeholder(self) -> bool:
        """sinsp's 'invalid' thread test: created for an unknown tid, nothing learnt since."""
        return self.comm == NA and self.uid == UNKNOWN_ID

    @property
    def cmdline(self) -> str:
        """proc.cmdline: comm followed by the args (sysdig joins with spaces)."""
        return " ".join([self.comm, *self.args]) if self.args else self.comm


DEPARTED_KEPT = 256


class ThreadTable:
    """tid -> ThreadInfo, with the lookups parsers and fields need.

    ``threads`` is the lookup dict; whoever adds a tid to it or deletes one also records that in
    ``order`` (``add``/``remove``/``clear`` do), which keeps the order sysdig's thread table (a
    libstdc++ ``unordered_map``, state/fdorder.py) lists the threads in: ``in_sysdig_order``."""

    __slots__ = ("departed", "order", "threads")

    def __init__(self) -> None:
        self.threads: dict[int, ThreadInfo] = {}
        self.order = OrderLog()
        # The last DEPARTED_KEPT threads removed, by tid: packet events only (parsers_packet), whose
        # owner may have exited before a late packet of its flow (a FIN, an ACK) is emitted.
        self.departed: dict[int, ThreadInfo] = {}

    def get(self, tid: int) -> ThreadInfo | None:
        return self.threads.get(tid)

    def placeholder(self, tid: int) -> ThreadInfo:
        """The thread sinsp invents for an unknown tid in a capture (scap-format.md §13): comm=exe=<NA>,
        pid=tid, ptid=-1, uid/gid 0xFFFFFFFF. It is added to the table, so it persists."""
        return self.add(ThreadInfo(tid=tid, pid=tid))

    def add(self, info: ThreadInfo) -> ThreadInfo:
        """Insert (or replace) a thread; CLONE_FILES threads are linked to their main thread's fds."""
        old = self.threads.get(info.tid)
        if old is None:
            self.order.insert(info.tid)
        elif old is not info:
            self._unref_main(old)
        self.threads[info.tid] = info
        if info.tid != info.pid:
            main = self.threads.get(info.pid)
            if main is not None:
                if info.flags & CL_CLONE_THREAD:
                    main.nchilds += 1
                if info.flags & CL_CLONE_FILES:
                    info.fdtable = main.fdtable
        return info

    def link_all(self) -> None:
        """Recompute main-thread links after a PL block (entries may list threads before their main)."""
        for info in self.threads.values():
            info.nchilds = 0
        for info in self.threads.values():
            if info.tid == info.pid:
                continue
            main = self.threads.get(info.pid)
            if main is None:
                continue
            if info.flags & CL_CLONE_THREAD:
                main.nchilds += 1
            if info.flags & CL_CLONE_FILES:
                info.fdtable = main.fdtable

    def _unref_main(self, info: ThreadInfo) -> None:
        if info.tid != info.pid and info.flags & CL_CLONE_THREAD:
            main = self.threads.get(info.pid)
            if main is not None and main.nchilds > 0:
                main.nchilds -= 1

    def remove(self, tid: int, force: bool = False) -> ThreadInfo | None:
        """Drop a thread. A main thread that other threads still use is only flagged CLOSED, as sinsp's
        remove_thread does, so their shared fd table and cwd stay reachable."""
        info = self.threads.get(tid)
        if info is None:
            return None
        if info.nchilds and not force:
            info.flags |= CL_CLOSED
            return None
        self._unref_main(info)
        del self.threads[tid]
        self.order.erase(tid)
        departed = self.departed
        departed.pop(tid, None)
        departed[tid] = info
        if len(departed) > DEPARTED_KEPT:
            del departed[next(iter(departed))]
        return info

    def clear(self) -> None:
        self.threads.clear()
        self.departed.clear()
        self.order.clear()

    def in_sysdig_order(self) -> list[ThreadInfo]:
        """The threads in the order sysdig's thread table iterates them (threadinfo_map_t::loop)."""
        threads = self.threads
        return [threads[tid] for tid in self.order]

    def main_thread(self, info: ThreadInfo) -> ThreadInfo:
        if info.pid == info.tid:
            return info
        return self.threads.get(info.pid, info)

    def parent(self, info: ThreadInfo) -> ThreadInfo | None:
        return self.threads.get(info.ptid)

    def cwd_owner(self, info: ThreadInfo) -> ThreadInfo:
        """The thread holding the process cwd: the main thread when it is known."""
        return self.main_thread(info)

    def get_cwd(self, info: ThreadInfo) -> str:
        return self.cwd_owner(info).cwd

    def set_cwd(self, info: ThreadInfo, path: str) -> None:
        """sinsp_threadinfo::set_cwd: resolve ``path`` against the current cwd, keep a trailing '/'."""
        from sysdig_user.state.parsers_files import concatenate_paths

        owner = self.cwd_owner(info)
        owner.cwd = normalize_cwd(concatenate_paths(owner.cwd, path))

    def __len__(self) -> int:
        return len(self.threads)

    def __iter__(self) -> Iterator[ThreadInfo]:
        return iter(self.threads.values())
