"""Event timestamps as text: ``evt.outputtime`` under each ``-t`` mode (h, a, r, d, D).

sysdig 0.29.3 (sinsp_filter_check_event, TYPE_TIME with the inspector's time output mode):
``h`` local ``HH:MM:SS.nnnnnnnnn``; ``a`` seconds since the epoch; ``r`` since the first event of the
capture; ``d`` the exit event's latency (0 for enter events); ``D`` since the previous event this
formatter printed (0 for the first). All but ``h`` print ``S.nnnnnnnnn``.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sysdig_user.event import Event

NS = 1_000_000_000
TIME_MODES = ("h", "a", "r", "d", "D")


def seconds_text(ns: int) -> str:
    """``5518928111`` -> ``"5.518928111"``."""
    sec, frac = divmod(ns, NS)
    return f"{sec}.{frac:09d}"


class ClockText:
    """``HH:MM:SS.nnnnnnnnn`` in local time, caching the formatted second (events share seconds)."""

    __slots__ = ("_prefix", "_sec")

    def __init__(self) -> None:
        self._sec = -1
        self._prefix = ""

    def __call__(self, ns: int) -> str:
        sec, frac = divmod(ns, NS)
        if sec != self._sec:
            self._sec = sec
            self._prefix = time.strftime("%H:%M:%S.", time.localtime(sec))
        return self._prefix + f"{frac:09d}"


class OutputTime:
    """The evt.outputtime text of each event, in one ``-t`` mode; keeps the state r and D need."""

    __slots__ = ("_clock", "first_ts", "mode", "prev_ts")

    def __init__(self, mode: str = "h") -> None:
        if mode not in TIME_MODES:
            raise ValueError(mode)
        self.mode = mode
        self.first_ts = -1  # set by the event loop from the first event read (filtered or not)
        self.prev_ts = -1
        self._clock = ClockText()

    def text(self, evt: Event) -> str:
        mode = self.mode
        ts = evt.ts
        if mode == "h":
            return self._clock(ts)
        if mode == "a":
            return seconds_text(ts)
        if mode == "r":
            first = self.first_ts if self.first_ts >= 0 else ts
            return seconds_text(ts - first)
        if mode == "d":
            enter = evt.enter
            if evt.is_enter or enter is None:
                return seconds_text(0)
            return seconds_text(ts - enter.ts)
        prev = self.prev_ts
        self.prev_ts = ts
        return seconds_text(0 if prev < 0 else ts - prev)
