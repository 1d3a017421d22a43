"""``-S``: the table of event counts sysdig prints when the capture ends.

sysdig 0.29.3 (sysdig.cpp, print_summary_table) keeps one counter per event code (PPM_EVENT_MAX of
them) followed by two per ppm_sc syscall id (generic enter/exit events), counts every event that
passes the filter (internal ones included, and also with -q), then sorts the whole vector with
``std::sort`` by descending count and prints the first 100 non-zero rows. ``std::sort`` is not
stable: rows with equal counts come out in the order libstdc++'s introsort leaves them, so that
algorithm is reproduced here step by step (bits/stl_algo.h, GCC 12) to print ties the same way.
"""
from __future__ import annotations

from _collections_abc import Callable  # (collections.abc without collections)
from dataclasses import dataclass

from sysdig_user.event_table import EVENTS, PPM_EVENT_MAX, PPM_SC, PPM_SC_MAX

GENERIC_E, GENERIC_X = 0, 1
_THRESHOLD = 16  # _S_threshold


@dataclass(slots=True)
class SummaryEntry:
    id: int
    is_unsupported_syscall: bool
    ncalls: int = 0


Less = Callable[[SummaryEntry, SummaryEntry], bool]


class SummaryTable:
    """Counters in sysdig's layout; ``count(evt)`` per event, ``lines()`` at the end."""

    def __init__(self) -> None:
        self.entries = [SummaryEntry(j, False) for j in range(PPM_EVENT_MAX)]
        self.entries += [SummaryEntry(j, True) for j in range(PPM_SC_MAX * 2)]

    def count(self, etype: int, sc_id: int | None = None) -> None:
        """Count one event; generic events (type 0/1) count under their ppm_sc id."""
        if etype in (GENERIC_E, GENERIC_X):
            if sc_id is None or sc_id >= PPM_SC_MAX:
                return
            self.entries[PPM_EVENT_MAX + sc_id * 2 + etype].ncalls += 1
        elif etype < PPM_EVENT_MAX:
            self.entries[etype].ncalls += 1

    def lines(self, nentries: int = 100) -> list[str]:
        out = ["----------------------", "Event".ljust(16) + "#Calls", "----------------------"]
        table = list(self.entries)
        introsort(table, lambda a, b: a.ncalls > b.ncalls)
        for e in table[:nentries]:
            if e.ncalls == 0:
                break
            if e.is_unsupported_syscall:
                name = PPM_SC[e.id // 2].name
            else:
                name = EVENTS[e.id].name
            direction = "> " if not e.id & 1 else "< "
            out.append(f"{direction}{name[:16].ljust(16)}{e.ncalls}")  # sysdig's "%-16.16s": cut, then padded
        return out


# ------------------------------------------------------------------- libstdc++ std::sort, verbatim


def introsort(a: list[SummaryEntry], less: Less) -> None:
    """Sort ``a`` in place exactly as libstdc++'s std::sort(first, last, comp) would."""
    n = len(a)
    if n < 2:
        return
    _introsort_loop(a, 0, n, 2 * (n.bit_length() - 1), less)
    _final_insertion_sort(a, 0, n, less)


def _introsort_loop(a: list[SummaryEntry], first: int, last: int, depth: int, less: Less) -> None:
    while last - first > _THRESHOLD:
        if depth == 0:
            _heap_sort(a, first, last, less)
            return
        depth -= 1
        cut = _partition_pivot(a, first, last, less)
        _introsort_loop(a, cut, last, depth, less)
        last = cut


def _move_median_to_first(a: list[SummaryEntry], result: int, x: int, y: int, z: int, less: Less) -> None:
    if less(a[x], a[y]):
        if less(a[y], a[z]):
            a[result], a[y] = a[y], a[result]
        elif less(a[x], a[z]):
            a[result], a[z] = a[z], a[result]
        else:
            a[result], a[x] = a[x], a[result]
    elif less(a[x], a[z]):
        a[result], a[x] = a[x], a[result]
    elif less(a[y], a[z]):
        a[result], a[z] = a[z], a[result]
    else:
        a[result], a[y] = a[y], a[result]


def _partition_pivot(a: list[SummaryEntry], first: int, last: int, less: Less) -> int:
    mid = first + (last - first) // 2
    _move_median_to_first(a, first, first + 1, mid, last - 1, less)
    lo, hi = first + 1, last
    pivot = a[first]
    while True:
        while less(a[lo], pivot):
            lo += 1
        hi -= 1
        while less(pivot, a[hi]):
            hi -= 1
        if not lo < hi:
            return lo
        a[lo], a[hi] = a[hi], a[lo]
        lo += 1


def _unguarded_linear_insert(a: list[SummaryEntry], last: int, less: Less) -> None:
    val = a[last]
    nxt = last - 1
    while less(val, a[nxt]):
        a[last] = a[nxt]
        last = nxt
        nxt -= 1
    a[last] = val


def _insertion_sort(a: list[SummaryEntry], first: int, last: int, less: Less) -> None:
    if first == last:
        return
    for i in range(first + 1, last):
        if less(a[i], a[first]):
            val = a[i]
            a[first + 1:i + 1] = a[first:i]
            a[first] = val
        else:
            _unguarded_linear_insert(a, i, less)


def _final_insertion_sort(a: list[SummaryEntry], first: int, last: int, less: Less) -> None:
    if last - first > _THRESHOLD:
        _insertion_sort(a, first, first + _THRESHOLD, less)
        for i in range(first + _THRESHOLD, last):
            _unguarded_linear_insert(a, i, less)
    else:
        _insertion_sort(a, first, last, less)


def _adjust_heap(a: list[SummaryEntry], first: int, hole: int, length: int, value: SummaryEntry,
                 less: Less) -> None:
    top = hole
    child = hole
    while child < (length - 1) // 2:
        child = 2 * (child + 1)
        if less(a[first + child], a[first + child - 1]):
            child -= 1
        a[first + hole] = a[first + child]
        hole = child
    if length & 1 == 0 and child == (length - 2) // 2:
        child = 2 * (child + 1)
        a[first + hole] = a[first + child - 1]
        hole = child - 1
    parent = (hole - 1) // 2
    while hole > top and less(a[first + parent], value):
        a[first + hole] = a[first + parent]
        hole = parent
        parent = (hole - 1) // 2
    a[first + hole] = value


def _heap_sort(a: list[SummaryEntry], first: int, last: int, less: Less) -> None:
    """std::partial_sort(first, last, last): make_heap then sort_heap."""
    length = last - first
    if length >= 2:
        parent = (length - 2) // 2
        while True:
            _adjust_heap(a, first, parent, length, a[first + parent], less)
            if parent == 0:
                break
            parent -= 1
    while last - first > 1:
        last -= 1
        value = a[last]
        a[last] = a[first]
        _adjust_heap(a, first, 0, last - first, value, less)
