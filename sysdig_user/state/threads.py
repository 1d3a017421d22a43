"""Thread state: one ThreadInfo per tid, mirroring libsinsp's sinsp_threadinfo.

A process is its main thread (tid == pid); other threads point at it through ``main`` and share its
FdTable when created with CLONE_FILES. Parsers (state/parsers*.py) keep the table current; fields read
it through ``Event.thread``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sysdig_user.state.fds import FdTable

if TYPE_CHECKING:
    from sysdig_user.event import Event

# PPM_CL_* bits used by state (clone_flags table)
CL_CLONE_FILES = 0x1
CL_CLONE_THREAD = 0x2000
CL_NAME_CHANGED = 0x20000
CL_CLOSED = 0x40000

NA = "<NA>"


@dataclass(slots=True, eq=False)
class ThreadInfo:
    tid: int
    pid: int
    ptid: int = -1
    sid: int = 0
    vpgid: int = 0
    comm: str = NA
    exe: str = NA
    exepath: str = ""
    args: list[str] = field(default_factory=list)
    cwd: str = ""
    env: list[str] = field(default_factory=list)
    cgroups: list[str] = field(default_factory=list)
    root: str = "/"
    fdlimit: int = 0
    flags: int = 0
    uid: int = 0xFFFFFFFF
    gid: int = 0xFFFFFFFF
    loginuid: int = -1
    vtid: int = -1
    vpid: int = -1
    tty: int = 0
    vmsize_kb: int = 0
    vmrss_kb: int = 0
    vmswap_kb: int = 0
    pfmajor: int = 0
    pfminor: int = 0
    exe_writable: bool = False
    clone_ts: int = 0  # ns, 0 if unknown
    # the process's fd table; threads with CLONE_FILES share their main thread's object
    fdtable: FdTable = field(default_factory=FdTable)
    # the pending enter event of this thread, cleared at its exit (the one cross-event stash)
    last_enter: Event | None = None
    # the last event seen on this thread (for evt.latency, evt.deltatime per thread)
    last_event_ts: int = 0
    # free slots for fields/chisels that keep per-thread figures
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def is_main_thread(self) -> bool:
        return self.tid == self.pid

    @property
    def cmdline(self) -> str:
        """proc.cmdline: comm followed by the args (sysdig joins with spaces)."""
        return " ".join([self.comm, *self.args]) if self.args else self.comm


class ThreadTable:
    """tid -> ThreadInfo, with the lookups parsers and fields need."""

    __slots__ = ("threads",)

    def __init__(self) -> None:
        self.threads: dict[int, ThreadInfo] = {}

    def get(self, tid: int) -> ThreadInfo | None:
        return self.threads.get(tid)

    def add(self, info: ThreadInfo) -> ThreadInfo:
        self.threads[info.tid] = info
        return info

    def remove(self, tid: int) -> ThreadInfo | None:
        return self.threads.pop(tid, None)

    def main_thread(self, info: ThreadInfo) -> ThreadInfo:
        if info.pid == info.tid:
            return info
        return self.threads.get(info.pid, info)

    def parent(self, info: ThreadInfo) -> ThreadInfo | None:
        return self.threads.get(info.ptid)

    def __len__(self) -> int:
        return len(self.threads)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.threads.values())
