"""The compiled line's cheap ints and lookups (sysdig_user/_fastline.c, "cheap ints and lookups"): an int
attribute it writes, or the (raw, cpu, num) tuple of an unbuilt enter it refills, is rewritten in place only
when nothing but the core holds it, and a thread or fd it looked up before is looked up again once the table
changed. Both compared with the Python pipeline."""
from __future__ import annotations

from typing import Any

import pytest

from sysdig_user.event_table import EXTENSIONS
from sysdig_user.output import fastline
from sysdig_user.scap import read_capture
from tests.output.test_fastline import Lockstep, _require_core, _state
from tests.support import shared_path

SAMPLES = ("libs_curl_google.scap", "falco_cat_write.scap")
INT_ATTRS = ("lastevent_type", "lastevent_fd", "latency", "last_latency_entertime", "last_event_ts", "vmsize_kb",
             "vmrss_kb", "vmswap_kb", "pfmajor", "pfminor")
ARGV = [(), ("proc.name=curl and fd.type=ipv4",), ("-p", "%evt.num %proc.name %evt.type %fd.name")]


def _held(pipe: Any) -> list[tuple[Any, str]]:
    """Every int (and unbuilt enter) the core may write, referenced here (so it is no longer the attribute's
    alone), with its text."""
    insp = pipe.inspector
    out = [(insp.num, repr(insp.num))]
    for th in insp.state.threads.threads.values():
        if type(th.last_enter) is tuple:  # the core's unbuilt enter (raw, cpu, num), which it may refill
            out.append((th.last_enter, repr(th.last_enter)))
        for name in INT_ATTRS:
            value = getattr(th, name)
            if type(value) is int:
                out.append((value, repr(value)))
    return out


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize("argv", ARGV, ids=["default", "filter", "format"])
def test_held_ints_keep_their_values(name: str, argv: tuple[str, ...]) -> None:
    """Ints and unbuilt enters referenced elsewhere across events (two of every four here) keep their values,
    and the state is the Python pipeline's (the events in between have their ints rewritten in place)."""
    _require_core()
    path = shared_path("samples", name)
    both = Lockstep(path, *argv)
    held: list[tuple[Any, str]] = []
    for n, item in enumerate(read_capture(str(path), extension_types=frozenset(EXTENSIONS))):
        if n % 4 == 0:  # held across two events (an exit and the enter after it), then two with nothing held
            held = _held(both.fast)
        elif n % 4 == 2:
            held = []
        both.feed(item)
        assert [text for _, text in held] == [repr(value) for value, _ in held], n
        if n % 5 == 0 and type(item) is tuple:  # (each comparison costs what a few events do)
            fast, slow = both.states()
            assert fast == slow, n
    fast, slow = both.states()
    assert fast == slow
    assert both.handled > 0
    both.close()


@pytest.mark.parametrize("argv", ARGV, ids=["default", "filter", "format"])
def test_tables_changed_between_events_are_looked_up_again(argv: tuple[str, ...]) -> None:
    """The thread of the last event removed from the table (and each thread's fds cleared) between two events:
    the core looks them up again rather than using what it found before, as the Python pipeline does."""
    _require_core()
    path = shared_path("samples", "libs_curl_google.scap")
    both = Lockstep(path, *argv)
    fast, slow = both.fast, both.slow
    for n, item in enumerate(read_capture(str(path), extension_types=frozenset(EXTENSIONS))):
        both.feed(item)
        if type(item) is not tuple:
            continue
        raw = item[2]
        fastline.drain(both.core, fast)
        if n % 97 == 0:
            tid = int.from_bytes(raw[8:16], "little", signed=True)
            for pipe in (fast, slow):
                pipe.inspector.state.threads.remove(tid, force=True)
        elif n % 89 == 0:
            for pipe in (fast, slow):
                for th in pipe.inspector.state.threads.threads.values():
                    for fd in list(th.fdtable.fds)[:1]:
                        th.fdtable.remove(fd)
        if n % 5 == 0:
            assert _state(fast) == _state(slow), n
    assert _state(fast) == _state(slow)
    both.close()
