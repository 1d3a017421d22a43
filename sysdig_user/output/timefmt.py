"""Event timestamps as text: ``evt.outputtime`` under each ``-t`` mode (h, a, r, d, D).

sysdig 0.29.3 (sinsp_filter_check_event, TYPE_TIME with the inspector's time output mode):
``h`` local ``HH:MM:SS.nnnnnnnnn``; ``a`` seconds since the epoch; ``r`` since the first event of the
capture; ``d`` the thread's latency (evt.latency: 0 after an enter); ``D`` since the previous event this
formatter printed (0 for the first). ``r``, ``d`` and ``D`` print ``S.nnnnnnnnn``; ``a`` prints its
nanoseconds unpadded (sinsp: ``to_string(ts / 1e9) + "." + to_string(ts % 1e9)``).
"""
from __future__ import annotations

import time
from _collections_abc import Callable  # (collections.abc without collections)

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)

if TYPE_CHECKING:
    from sysdig_user.event import Event

NS = 1_000_000_000
TIME_MODES = ("h", "a", "r", "d", "D")


def seconds_text(ns: int) -> str:
    """``5518928111`` -> ``"5.518928111"``."""
    sec, frac = divmod(ns, NS)
    return f"{sec}.{frac:09d}"


def absolute_text(ns: int) -> str:
    """-t a: ``1600000000000143627`` -> ``"1600000000.143627"`` (sysdig does not pad the nanoseconds)."""
    sec, frac = divmod(ns, NS)
    return f"{sec}.{frac}"


def clock_prefix(sec: int) -> str:
    """``HH:MM:SS.`` of a second since the epoch, in local time."""
    return time.strftime("%H:%M:%S.", time.localtime(sec))


class ClockText:
    """``HH:MM:SS.nnnnnnnnn`` in local time, caching the formatted second (events share seconds)."""

    __slots__ = ("_base", "_prefix")

    def __init__(self) -> None:
        self._base = -2 * NS  # the cached second, in ns: no timestamp is in it yet
        self._prefix = ""

    def event_text(self, evt: Event) -> str:
        ts = evt.ts
        frac = ts - self._base
        if not 0 <= frac < NS:
            sec = ts // NS
            self._base = sec * NS
            self._prefix = clock_prefix(sec)
            frac = ts - self._base
        return self._prefix + str(frac + NS)[1:]  # 9 digits, zero-padded

    def inline_statements(self, name: str, frac: str) -> list[str]:
        """Statements (unindented) that set ``frac`` to the event's nanoseconds within the second
        ``name._prefix`` then holds, ``name`` being this clock: ``name._prefix`` and ``%09d`` of
        ``frac`` print ``event_text(evt)``. For generated formatters: the call only for a new second."""
        return [f"if not 0 <= ({frac} := evt.ts - {name}._base) < {NS}:",
                f"    {name}.event_text(evt)  # a new second: sets _base and _prefix",
                f"    {frac} = evt.ts - {name}._base"]


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

    def inline_statements(self, name: str, frac: str) -> list[str] | None:
        """For ``h``: ClockText.inline_statements, with ``name`` bound to this object's clock; None for
        the other modes."""
        return self._clock.inline_statements(name, frac) if self.mode == "h" else None

    @property
    def clock(self) -> ClockText:
        return self._clock

    def text_function(self) -> Callable[[Event], str]:
        """``text``, or for ``h`` (the default) the clock itself: what a formatter calls per event."""
        return self._clock.event_text if self.mode == "h" else self.text

    def text(self, evt: Event) -> str:
        mode = self.mode
        ts = evt.ts
        if mode == "h":
            return self._clock.event_text(evt)
        if mode == "a":
            return absolute_text(ts)
        if mode == "r":
            first = self.first_ts if self.first_ts >= 0 else ts
            return seconds_text(ts - first)
        if mode == "d":
            # the thread's m_latency as it stands: 0 after an enter, kept by events that do not reset
            # it (switch), and an unpaired exit's time since the thread's last enter
            thread = evt.thread
            return seconds_text(thread.latency if thread is not None else 0)
        prev = self.prev_ts
        self.prev_ts = ts
        return seconds_text(0 if prev < 0 else ts - prev)
