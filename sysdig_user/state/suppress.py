"""``-U COMM`` (``--suppress-comm``): the events of processes with a given comm never reach the engine.

libscap's rule, which sysdig 0.29.3 applies to live captures and capture files alike: a clone, fork,
vfork (the ``_20`` exits) or execve (``_19`` exit) whose ``comm`` is suppressed, or whose parent
(``ptid``) is, suppresses its thread, and the event itself; any other event of a suppressed thread is
dropped; its procexit is the last one dropped and forgets the thread. Older event versions (an
execve ``_18`` exit, as many captures hold) are not looked at, so a thread seen only through them stays
visible. Dropped events still take their number: the events shown keep the evt.num they have without
-U. In a live capture the processes already running are checked against the list when sdu seeds
its state, as libscap checks its /proc scan.
"""
from __future__ import annotations

from _collections_abc import Iterable  # (collections.abc without collections)

from sysdig_user.event_table import EVENTS

_CODES = {e.symbol: e.code for e in EVENTS}
_PROC_EXITS = frozenset(_CODES[name] for name in (
    "PPME_SYSCALL_CLONE_20_X", "PPME_SYSCALL_FORK_20_X", "PPME_SYSCALL_VFORK_20_X", "PPME_SYSCALL_EXECVE_19_X"))
_PROCEXIT = _CODES["PPME_PROCEXIT_1_E"]
_COMM, _PTID = 13, 5  # param positions in those exits


class Suppressor:
    """The suppressed comms and the threads they cover; ``drops(evt)`` decides per event."""

    __slots__ = ("comms", "count", "tids")

    def __init__(self, comms: Iterable[str]) -> None:
        self.comms = frozenset(comms)
        self.tids: set[int] = set()
        self.count = 0  # events dropped (sysdig's -v "Suppressed by Comm")

    def _update(self, comm: str, tid: int, ptid: int) -> bool:
        hit = ptid in self.tids or comm in self.comms
        if hit:
            self.tids.add(tid)
        else:
            self.tids.discard(tid)
        return hit

    def seed(self, procs: Iterable[tuple[int, int, str]]) -> None:
        """The (tid, ptid, comm) of the threads running when a live capture starts, parents first."""
        for tid, ptid, comm in procs:
            self._update(comm, tid, ptid)

    def drops(self, evt: object) -> bool:
        code = evt.type  # type: ignore[attr-defined]
        tid = evt.tid  # type: ignore[attr-defined]
        if code in _PROC_EXITS:
            comm = evt.param(_COMM)  # type: ignore[attr-defined]
            ptid = evt.param(_PTID)  # type: ignore[attr-defined]
            if isinstance(comm, bytes):
                comm = comm.decode("utf-8", "surrogateescape")
            hit = self._update(comm if isinstance(comm, str) else "", tid, ptid if isinstance(ptid, int) else -1)
        elif code == _PROCEXIT:
            hit = tid in self.tids
            self.tids.discard(tid)
        else:
            hit = tid in self.tids
        if hit:
            self.count += 1
        return hit
