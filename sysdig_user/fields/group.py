"""The group.* fields: the thread's gid, named through the capture's group list.

libsinsp sinsp_filter_check_group (libs e5c53d64): group.name is None for gid 0xffffffff or a gid the
group table does not know.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from sysdig_user.event_table import PF, PT
from sysdig_user.fields.base import FieldClass, FieldDef, plain, view_of

if TYPE_CHECKING:
    from sysdig_user.event import Event


def _gid(evt: Event) -> int | None:
    """sysdig 0.29.3 declares group.gid UINT64 but points at the uint32 m_gid, so the value read also
    holds the next 4 bytes of sinsp_threadinfo: the low half of m_nchilds (a main thread with one live
    thread shows gid 0xffffffff as 8589934591)."""
    t = evt.thread
    if t is None:
        return None
    return (t.gid & 0xFFFFFFFF) | ((t.nchilds & 0xFFFFFFFF) << 32)


def _name(evt: Event) -> str | None:
    t = evt.thread
    view = view_of(evt)
    if t is None or view is None or t.gid & 0xFFFFFFFF == 0xFFFFFFFF:
        return None
    g = view.users.group(t.gid & 0xFFFFFFFF)
    return None if g is None else g.name


CLASS = FieldClass("group", "Information about the user group.", (
    FieldDef("group.gid", PT.UINT64, PF.ID,
        'group ID.',
        plain(_gid)),
    FieldDef("group.name", PT.CHARBUF, PF.NA,
        'group name.',
        plain(_name)),
))
