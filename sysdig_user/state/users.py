"""Users and groups: uid/gid -> names for user.* and group.* fields.

Captures carry them in UL blocks (scap-format.md §7); live mode reads the system databases through
pwd/grp, which is what libsinsp's usergroup manager does through getpwent/getgrent.
"""
from __future__ import annotations

from _collections_abc import Iterable  # (collections.abc without collections)

from sysdig_user.scap.records import Group, User, UserList


class UserTable:
    __slots__ = ("groups", "users")

    def __init__(self) -> None:
        self.users: dict[int, User] = {}
        self.groups: dict[int, Group] = {}

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
        """Live mode: every entry of the passwd and group databases (NSS included)."""
        import grp  # (here: a -r run never loads the extension)
        import pwd

        self.add_users(User(p.pw_uid, p.pw_gid, p.pw_name, p.pw_dir, p.pw_shell) for p in pwd.getpwall())
        self.add_groups(Group(g.gr_gid, g.gr_name) for g in grp.getgrall())

    def user(self, uid: int) -> User | None:
        return self.users.get(uid)

    def group(self, gid: int) -> Group | None:
        return self.groups.get(gid)

    def clear(self) -> None:
        self.users.clear()
        self.groups.clear()
