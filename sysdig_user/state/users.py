"""Users and groups: uid/gid -> names for user.* and group.* fields.

Captures carry them in UL blocks (scap-format.md §7); live mode reads the system databases through
pwd/grp, which is what libsinsp's usergroup manager does through getpwent/getgrent.
"""
from __future__ import annotations

from _collections_abc import Iterable  # (collections.abc without collections)

from sysdig_user.scap.records import Group, User, UserList


class UserTable:
    """uid -> User and gid -> Group. Live, the system's databases are read at their first use
    (``load_system``): a run that names no user or group (most short ones) never reads them, and one
    that does reads them a few events after its start, where sinsp reads them at the capture's start;
    with -w they are read at the start, for the file's UL block."""

    __slots__ = ("_groups", "_system", "_users")

    def __init__(self) -> None:
        self._users: dict[int, User] = {}
        self._groups: dict[int, Group] = {}
        self._system = False  # the system's databases are due (load_system), not read yet

    @property
    def users(self) -> dict[int, User]:
        if self._system:
            self._read_system()
        return self._users

    @property
    def groups(self) -> dict[int, Group]:
        if self._system:
            self._read_system()
        return self._groups

    def load(self, block: UserList) -> None:
        """Merge one UL block (a later entry for the same id wins, as the C map insert does not, but
        captures never repeat ids)."""
        self.add_users(block.users)
        self.add_groups(block.groups)

    def add_users(self, users: Iterable[User]) -> None:
        for u in users:
            self.users[u.uid] = u

    def add_groups(self, groups: Iterable[Group]) -> None:
        for g in groups:
            self.groups[g.gid] = g

    def load_system(self) -> None:
        """Live mode: every entry of the passwd and group databases (NSS included), read at the first
        use of the table (see the class)."""
        self._system = True

    def _read_system(self) -> None:
        self._system = False
        import grp  # (here: a -r run never loads the extension)
        import pwd

        self.add_users(User(p.pw_uid, p.pw_gid, p.pw_name, p.pw_dir, p.pw_shell) for p in pwd.getpwall())
        self.add_groups(Group(g.gr_gid, g.gr_name) for g in grp.getgrall())

    def user(self, uid: int) -> User | None:
        return self.users.get(uid)

    def group(self, gid: int) -> Group | None:
        return self.groups.get(gid)

    def clear(self) -> None:
        self._system = False
        self._users.clear()
        self._groups.clear()
