"""Deferred state removals, applied after the event has been filtered and printed.

libsinsp removes a closed fd and an exited thread only when the *next* event arrives
(sinsp_parser_verdict in later libs; m_fds_to_remove / m_tid_to_remove at e5c53d64), so the close
or procexit event itself still shows the fd name and the process name. Parsers record what to drop
here and the Inspector applies it once the caller is done with the event.
"""
from __future__ import annotations

from sysdig_user.state.fds import FdTable


class Verdict:
    __slots__ = ("applied", "fds_to_remove", "hidden", "tid_to_remove")

    def __init__(self) -> None:  # (not a dataclass: one is made per fd-closing event, this is quicker)
        # (table, fd): the table the fd was looked up in, so a removal after a fork hits the right copy
        self.fds_to_remove: list[tuple[FdTable, int]] = []
        self.tid_to_remove: int | None = None
        # the event updates state but must not reach the user (EVF STATE_ONLY dump flag)
        self.hidden = False
        self.applied = False

    def remove_fd(self, table: FdTable, fd: int) -> None:
        self.fds_to_remove.append((table, fd))

    @property
    def empty(self) -> bool:
        return not self.fds_to_remove and self.tid_to_remove is None and not self.hidden
