"""Build events by name for state tests: ``mk("openat", False, 101, fd=3, name="x")``.

Params not given take a neutral default for their type, so a test names only what it is about and
still cannot build an event the table does not allow (unknown names raise).
"""
from __future__ import annotations

from typing import Any

from sysdig_user.event import Event
from sysdig_user.event_table import PT, event_code, event_info

_STRINGS = {PT.CHARBUF, PT.FSPATH, PT.FSRELPATH}
_NONE = {PT.SOCKADDR, PT.SOCKTUPLE, PT.DYN}


def _default(pt: PT) -> Any:
    if pt in _STRINGS:
        return ""
    if pt is PT.BYTEBUF:
        return b""
    if pt in _NONE:
        return None
    if pt is PT.FDLIST:
        return ()
    return 0


class Clock:
    def __init__(self) -> None:
        self.ts = 1_600_000_000_000_000_000

    def __call__(self) -> int:
        self.ts += 1000
        return self.ts


CLOCK = Clock()


def mk(name: str | int, enter: bool, thread: int, /, dump_flags: int = 0, **values: Any) -> Event:
    code = name if isinstance(name, int) else event_code(name, enter)
    info = event_info(code)
    assert info is not None
    names = {p.name for p in info.params}
    unknown = set(values) - names
    if unknown:
        raise KeyError(f"{info.name}: no params {sorted(unknown)}")
    vals = [values.get(p.name, _default(p.type)) for p in info.params]
    return Event.build(code, CLOCK(), thread, 0, vals, dump_flags=dump_flags)


def pair(name: str, thread: int, enter: dict[str, Any] | None = None, /, **exit_values: Any) -> list[Event]:
    return [mk(name, True, thread, **(enter or {})), mk(name, False, thread, **exit_values)]
