"""Which event codes a filter can let through, from the filter's text alone.

It lives with the filter, below the output and chisel layers that both ask it.

A chisel sees an event only once its own filter passed (runner.ChiselRunner._run); when the filter
can only pass for some event codes, the other events need not be built for it at all (the file
source's compiled state, output/fastline.py ``chisel_core``, keeps the state for them in C). This
answers conservatively: None means "any code". Only checks that depend on the event's code alone
restrict: ``evt.type=X``/``in``, and ``evt.is_io``/``evt.is_io_read``/``evt.is_io_write`` = true.
``and`` intersects, ``or`` unites, a negation or any other check gives None.
"""
from __future__ import annotations

from sysdig_user.event_table import EF, EVENTS
from sysdig_user.filter.ast import Check
from sysdig_user.filter.compile import restricted_set

_GENERIC = frozenset(info.code for info in EVENTS if info.name == EVENTS[0].name)  # evt.type: the syscall's name
_READS, _WRITES = int(EF.READS_FROM_FD), int(EF.WRITES_TO_FD)
_IO_FLAGS = {"evt.is_io": _READS | _WRITES, "evt.is_io_read": _READS, "evt.is_io_write": _WRITES}


def filter_codes(text: str) -> set[int] | None:
    """The codes ``text`` may pass for (None: any code, or the filter does not parse)."""
    from sysdig_user.errors import SduError
    from sysdig_user.filter.parse import parse

    try:
        flt = parse(text)
    except SduError:
        return None
    return restricted_set(flt, _check_codes)


def _check_codes(check: Check) -> set[int] | None:
    if check.arg is not None:
        return None
    if check.name == "evt.type" and check.op in ("=", "in"):
        names = {v.text for v in check.values}
        return {info.code for info in EVENTS if info.name in names} | set(_GENERIC)
    mask = _IO_FLAGS.get(check.name)
    if mask is not None and check.op == "=" and len(check.values) == 1 and check.values[0].text == "true":
        return {info.code for info in EVENTS if int(info.flags) & mask}
    return None
