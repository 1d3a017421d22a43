"""The user.* fields: the thread's uid and loginuid, named through the capture's user list.

libsinsp sinsp_filter_check_user (libs e5c53d64): uid and loginuid print even when unknown
(4294967295 / -1); names, home and shell need the user in the state view's table, else None.
"""
from __future__ import annotations

from sysdig_user.event_table import PF, PT
from sysdig_user.fields.base import FieldClass, FieldDef, plain, view_of

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)

if TYPE_CHECKING:
    from sysdig_user.event import Event
    from sysdig_user.scap.records import User


def _user(evt: Event, uid: int) -> User | None:
    view = view_of(evt)
    return None if view is None else view.users.user(uid)


def _uid(evt: Event) -> int | None:
    t = evt.thread
    return None if t is None else t.uid & 0xFFFFFFFF


def _name(evt: Event) -> str | None:
    t = evt.thread
    u = None if t is None else _user(evt, t.uid)
    return None if u is None else u.name


def _homedir(evt: Event) -> str | None:
    t = evt.thread
    u = None if t is None else _user(evt, t.uid)
    return None if u is None else u.homedir


def _shell(evt: Event) -> str | None:
    t = evt.thread
    u = None if t is None else _user(evt, t.uid)
    return None if u is None else u.shell


def _loginuid(evt: Event) -> int | None:
    t = evt.thread
    if t is None:
        return None
    v = t.loginuid & 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def _loginname(evt: Event) -> str | None:
    t = evt.thread
    u = None if t is None else _user(evt, t.loginuid & 0xFFFFFFFF)
    return None if u is None else u.name


CLASS = FieldClass("user", "Information about the user executing the specific event.", (
    FieldDef("user.uid", PT.UINT32, PF.ID,
        'user ID.',
        plain(_uid)),
    FieldDef("user.name", PT.CHARBUF, PF.NA,
        'user name.',
        plain(_name)),
    FieldDef("user.homedir", PT.CHARBUF, PF.NA,
        'home directory of the user.',
        plain(_homedir)),
    FieldDef("user.shell", PT.CHARBUF, PF.NA,
        "user's shell.",
        plain(_shell)),
    FieldDef("user.loginuid", PT.INT32, PF.ID,
        'audit user id (auid).',
        plain(_loginuid)),
    FieldDef("user.loginname", PT.CHARBUF, PF.NA,
        'audit user name (auid).',
        plain(_loginname)),
))
