"""The thread.* extractors (rows live in proc.py: sysdig lists proc.* and thread.* as one "process" class).

Semantics from libsinsp sinsp_filter_check_thread (libs e5c53d64). thread.tid is the only field here
that works without thread state (it is the event header's tid).
"""
from __future__ import annotations

from sysdig_user.event_table import event_code
from sysdig_user.fields.base import Extractor, FieldError

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)

if TYPE_CHECKING:
    from sysdig_user.event import Event

_SWITCH_CODES = frozenset(c for c in (event_code("switch", True),) if c >= 0)
_PROCINFO_E = event_code("procinfo", True)


def tid(evt: Event) -> int:
    return evt.tid


def ismain(evt: Event) -> bool | None:
    t = evt.thread
    return None if t is None else t.tid == t.pid


def pfmajor(evt: Event) -> int | None:
    t = evt.thread
    return None if t is None else t.pfmajor


def pfminor(evt: Event) -> int | None:
    t = evt.thread
    return None if t is None else t.pfminor


def _exectime_factory(total: bool) -> Extractor:
    """thread.exectime: time since the last switch on this CPU, for switch events only (0 otherwise);
    thread.totexectime: its running sum per thread, kept by this use of the field."""
    last_switch: dict[int, int] = {}
    totals: dict[int, int] = {}

    def extract(evt: Event) -> int | None:
        val = 0
        if evt.type in _SWITCH_CODES:
            prev = last_switch.get(evt.cpu, 0)
            last_switch[evt.cpu] = evt.ts
            val = evt.ts - prev if prev else 0
        if not total:
            return val
        if evt.thread is None:
            return None
        totals[evt.tid] = totals.get(evt.tid, 0) + val
        return totals[evt.tid]
    return extract



def make_exectime(arg: str | None) -> Extractor:
    return _exectime_factory(False)


def make_totexectime(arg: str | None) -> Extractor:
    return _exectime_factory(True)


def cgroups(evt: Event) -> str | None:
    """All "subsys=path" entries joined by spaces; None when the thread has none."""
    t = evt.thread
    if t is None or not t.cgroups:
        return None
    return " ".join(t.cgroups)


def make_cgroup(arg: str | None) -> Extractor:
    """thread.cgroup.SUBSYS: the path of that subsystem's entry."""
    if not arg:
        raise FieldError("filter syntax error: thread.cgroup", "thread.cgroup")
    prefix = arg + "="

    def extract(evt: Event) -> str | None:
        t = evt.thread
        if t is None:
            return None
        for entry in t.cgroups:
            if entry.startswith(prefix):
                return entry[len(prefix):]
        return None
    return extract


def vtid(evt: Event) -> int | None:
    t = evt.thread
    return None if t is None or t.vtid == -1 else t.vtid


_U64 = (1 << 64) - 1


def _cpu_factory(user: bool, system: bool) -> Extractor:
    """thread.cpu*: from procinfo events only, the delta of the thread's cpu ticks since this field's
    last reading on the same thread, capped at 100 (sinsp's extract_thread_cpu). The last reading is
    kept per field and per thread object (sinsp's per-thread private state: a thread that exits and is
    created again starts over), 0 meaning none; the difference is unsigned, so ticks that went down
    count as the cap."""
    slot = f"cpu_last_{id(object())}"

    def extract(evt: Event) -> float | None:
        th = evt.thread
        if evt.type != _PROCINFO_E or th is None:
            return None
        u = evt.param(0) if user else 0
        s = evt.param(1) if system else 0
        tot = ((u or 0) + (s or 0)) & _U64
        prev = th.extra.get(slot, 0)
        th.extra[slot] = tot
        if not prev:
            return 0.0
        return min(float((tot - prev) & _U64), 100.0)  # type: ignore[operator]
    return extract


def make_cpu(arg: str | None) -> Extractor:
    return _cpu_factory(True, True)


def make_cpu_user(arg: str | None) -> Extractor:
    return _cpu_factory(True, False)


def make_cpu_system(arg: str | None) -> Extractor:
    return _cpu_factory(False, True)


def vmsize(evt: Event) -> int | None:
    t = evt.thread
    return None if t is None else (t.vmsize_kb if t.tid == t.pid else 0)


def vmrss(evt: Event) -> int | None:
    t = evt.thread
    return None if t is None else (t.vmrss_kb if t.tid == t.pid else 0)


def vmsize_b(evt: Event) -> int | None:
    kb = vmsize(evt)
    return None if kb is None else kb * 1024


def vmrss_b(evt: Event) -> int | None:
    kb = vmrss(evt)
    return None if kb is None else kb * 1024


def nametid(evt: Event) -> str | None:
    t = evt.thread
    return None if t is None else f"{t.comm}{evt.tid}"
