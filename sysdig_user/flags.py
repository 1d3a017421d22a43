"""PPM flag and enum tables, one per constant family, in sysdig's order.

Values are the PPM_* encodings the driver writes (not native Linux values: PPM O_RDONLY is 1). The
order of each table is the order of the driver's C array (driver/flags_table.c at libs e5c53d64), which
matters when printing: sysdig walks the array and prints every entry whose bits are all set, so a
multi-bit mask such as O_RDWR (3) must come before the single bits it overlaps.
Most tables come from the reference dump (scap-event-table.md §5); the rest from
``_flag_tables_extra.py`` (which names its source).
"""
from __future__ import annotations

from sysdig_user.table_data import ROWS as _ROWS

FlagTable = tuple[tuple[str, int], ...]


def _load() -> dict[str, FlagTable]:
    tables: dict[str, FlagTable] = {name: entries for name, entries in _ROWS["FLAG_TABLE_ROWS"]}
    try:
        from sysdig_user import _flag_tables_extra as extra
    except ImportError:  # pragma: no cover - the extra tables are optional data
        return tables
    for name, entries in extra.EXTRA_FLAG_TABLE_ROWS:
        tables.setdefault(name, entries)
    return tables


FLAG_TABLES: dict[str, FlagTable] = _load()
