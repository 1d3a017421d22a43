"""The generated tables' rows (sysdig_user/_event_table_data.py), loaded in about a millisecond.

``_event_table_data.py`` is ~90 KB of literal tuples: compiling it costs ~40 ms wherever Python has no
bytecode for it (PYTHONDONTWRITEBYTECODE, a read-only tree). Its rows are tuples of str, int and
None, which marshal stores as they are, so sdu keeps them in its cache (sysdig_user/cache.py) under a
key made from the data file's bytes: a regenerated table changes the key and is never served stale.
The module itself is imported only to fill the cache (or where there is no cache).
"""
from __future__ import annotations

import marshal
import os

from sysdig_user import cache

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_event_table_data.py")
NAMES = ("EVENT_ROWS", "SYSCALL_ROWS", "PPM_SC_ROWS", "FLAG_TABLE_ROWS")
_ENTRY = "event-table.marshal"

Rows = dict[str, tuple]  # type: ignore[type-arg]


def _cached(entry_key: bytes) -> Rows | None:
    rows = cache.load_value(_ENTRY, entry_key, dict)
    if rows is None or any(not isinstance(rows.get(name), tuple) for name in NAMES):
        return None  # (absent, stale or damaged: built again)
    return rows


def load() -> Rows:
    """Every table's rows by name (NAMES), as the generated module states them."""
    try:
        with open(SOURCE, "rb") as f:
            entry_key: bytes | None = cache.key(f.read())
    except OSError:  # no source (a bytecode-only install): the module is the table
        entry_key = None
    if entry_key is not None:
        rows = _cached(entry_key)
        if rows is not None:
            return rows
    from sysdig_user import _event_table_data as module

    rows = {name: getattr(module, name) for name in NAMES}
    if entry_key is not None:
        cache.store(_ENTRY, entry_key, marshal.dumps(rows))
    return rows


ROWS: Rows = load()

__all__ = ["NAMES", "ROWS", "SOURCE", "load"]
