"""``-L`` (events) and ``-l`` (fields) listings.

``-L`` follows sysdig 0.29.3's list_events: one line per current event (old versions, unused rows
and internal events are left out), ``> name(TYPE param, ...)``, type names as
param_type_to_string spells them (DYN prints as DYNAMIC).
"""
from __future__ import annotations

from sysdig_user.event_table import EC, EF, EVENTS, PT

_TYPE_NAMES = {PT.DYN: "DYNAMIC"}


def type_name(pt: PT) -> str:
    return _TYPE_NAMES.get(pt, pt.name)


def event_lines() -> list[str]:
    lines = []
    for info in EVENTS:
        if info.flags & (EF.UNUSED | EF.OLD_VERSION) or info.category & EC.INTERNAL:
            continue
        params = ", ".join(f"{type_name(p.type)} {p.name}" for p in info.params)
        lines.append(f"{info.dir} {info.name}({params})")
    return lines


def field_lines(verbose: bool = False) -> list[str]:
    """``-l``: the field registry's own listing (sysdig_user.fields.registry.listing)."""
    from sysdig_user.fields import registry

    listing = registry.listing
    try:
        text = listing(verbose)  # type: ignore[call-arg]
    except TypeError:
        text = listing()
    if isinstance(text, str):
        return text.splitlines()
    return list(text)


def markdown_lines() -> list[str]:
    """``--list-markdown``: the fields of ``-l`` as sysdig's markdown tables (one per class: its name
    without the "(...)" note, its description, then name, type and description per visible field)."""
    from sysdig_user.fields.registry import CLASSES, type_name

    lines: list[str] = []
    for cls in CLASSES:
        lines += ["", f"## Field Class: {cls.name.split(' (', 1)[0]}", "", cls.description.strip(), "",
                  "Name | Type | Description", ":----|:-----|:-----------"]
        lines += [f"`{f.name}` | {type_name(f.ftype)} | {f.description}" for f in cls.fields if not f.flags.hidden]
    return lines
