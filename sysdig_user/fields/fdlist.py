"""The fdlist.* fields: the fds of a poll/ppoll call, one comma-separated string per field.

libsinsp sinsp_filter_check_fdlist (libs e5c53d64): the list is param "fds" (param 0 of the enter
event, 1 of the exit); entries whose fd the thread does not know print ``<NA>`` in fdlist.names and
are skipped by the address and port lists. sinsp prints IPv6 server-socket addresses of sips as if
they were IPv4 (only the first 4 bytes); kept, since that is what sysdig shows.
"""
from __future__ import annotations

from _collections_abc import Callable  # (collections.abc without collections)
from typing import TYPE_CHECKING

from sysdig_user.event_table import EVENTS, PF, PT
from sysdig_user.fields.base import FieldClass, FieldDef, ip_text, ipv4_text, plain
from sysdig_user.state.fds import FdInfo, FdType

if TYPE_CHECKING:
    from sysdig_user.event import Event

_POLL_ENTER = frozenset(e.code for e in EVENTS if e.name in ("poll", "ppoll") and not e.code & 1)
_POLL_EXIT = frozenset(e.code for e in EVENTS if e.name in ("poll", "ppoll") and e.code & 1)
_SOCKS = (FdType.IPV4_SOCK, FdType.IPV6_SOCK)

Item = Callable[[int, "FdInfo | None"], "str | None"]


def _fdlist(item: Item) -> Callable[[Event], str | None]:
    """Join ``item(fd, fdinfo)`` over the poll list; None items are skipped (no comma)."""
    def extract(evt: Event) -> str | None:
        code = evt.type
        if code in _POLL_ENTER:
            idx = 0
        elif code in _POLL_EXIT:
            idx = 1
        else:
            return None
        fds = evt.param(idx) if evt.nparams > idx else None
        t = evt.thread
        if not fds or t is None:
            return None
        parts = [item(fd, t.fdtable.get(fd)) for fd, _flags in fds]
        out = ",".join(p for p in parts if p is not None)
        return out or None
    return extract


def _num_item(fd: int, fdinfo: FdInfo | None) -> str | None:
    return str(fd)


def _name_item(fd: int, fdinfo: FdInfo | None) -> str | None:
    return fdinfo.name if fdinfo is not None and fdinfo.name else "<NA>"


def _cip_item(fd: int, fdinfo: FdInfo | None) -> str | None:
    if fdinfo is None or fdinfo.type not in _SOCKS:
        return None
    return ip_text(fdinfo.sip)


def _sip_item(fd: int, fdinfo: FdInfo | None) -> str | None:
    if fdinfo is None:
        return None
    if fdinfo.type in _SOCKS:
        return ip_text(fdinfo.dip)
    if fdinfo.type in (FdType.IPV4_SERVSOCK, FdType.IPV6_SERVSOCK):
        return ipv4_text(fdinfo.sip)
    return None


def _cport_item(fd: int, fdinfo: FdInfo | None) -> str | None:
    return str(fdinfo.sport) if fdinfo is not None and fdinfo.type in _SOCKS else None


def _sport_item(fd: int, fdinfo: FdInfo | None) -> str | None:
    return str(fdinfo.dport) if fdinfo is not None and fdinfo.type in _SOCKS else None


_nums = _fdlist(_num_item)
_names = _fdlist(_name_item)
_cips = _fdlist(_cip_item)
_sips = _fdlist(_sip_item)
_cports = _fdlist(_cport_item)
_sports = _fdlist(_sport_item)


CLASS = FieldClass("fdlist", "Poll event related fields.", (
    FieldDef("fdlist.nums", PT.CHARBUF, PF.ID,
        "for poll events, this is a comma-separated list of the FD numbers in the 'fds' argument,"
        ' returned as a string.',
        plain(_nums)),
    FieldDef("fdlist.names", PT.CHARBUF, PF.NA,
        "for poll events, this is a comma-separated list of the FD names in the 'fds' argument, "
        'returned as a string.',
        plain(_names)),
    FieldDef("fdlist.cips", PT.CHARBUF, PF.NA,
        "for poll events, this is a comma-separated list of the client IP addresses in the 'fds' "
        'argument, returned as a string.',
        plain(_cips)),
    FieldDef("fdlist.sips", PT.CHARBUF, PF.NA,
        "for poll events, this is a comma-separated list of the server IP addresses in the 'fds' "
        'argument, returned as a string.',
        plain(_sips)),
    FieldDef("fdlist.cports", PT.CHARBUF, PF.DEC,
        'for TCP/UDP FDs, for poll events, this is a comma-separated list of the client TCP/UDP '
        "ports in the 'fds' argument, returned as a string.",
        plain(_cports)),
    FieldDef("fdlist.sports", PT.CHARBUF, PF.DEC,
        "for poll events, this is a comma-separated list of the server TCP/UDP ports in the 'fds'"
        ' argument, returned as a string.',
        plain(_sports)),
))
