"""The state a scap section starts with: what -w writes before the first event of each file.

``SectionRecords`` collects it from a capture being read (its first section's metadata, so the written
file resolves the same names as the input); ``state_section`` takes it from the Inspector at a -C/-G/-e
rotation, as sysdig's dumper does; a live source seeds it from /proc (``session.seed_state``).
"""
from __future__ import annotations

from sysdig_user.scap.records import FdEntry, ProcEntry

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)

if TYPE_CHECKING:
    from typing import Any

    from sysdig_user.state.inspector import Inspector


class SectionRecords:
    """The metadata of the first section read, for -w: the written file starts with the state the
    input's first event was read with (machine, interfaces, users, processes and their fds), so sysdig
    and sdu resolve the same names in it."""

    def __init__(self) -> None:
        self.kwargs: dict[str, Any] = {"procs": [], "fds": {}}

    def add(self, item: Any) -> None:
        from sysdig_user.scap.records import FdList, InterfaceList, MachineInfo, ProcList, UserList

        kw = self.kwargs
        if isinstance(item, MachineInfo):
            kw["machine"] = item
        elif isinstance(item, InterfaceList):
            kw["interfaces"] = item.interfaces
        elif isinstance(item, UserList):
            kw["users"], kw["groups"] = item.users, item.groups
        elif isinstance(item, ProcList):
            kw["procs"].extend(item.entries)
        elif isinstance(item, FdList):
            kw["fds"].setdefault(item.tid, []).extend(item.fds)

    def as_kwargs(self) -> dict[str, Any]:
        return self.kwargs


def state_section(inspector: Inspector) -> dict[str, Any]:
    """The Inspector's current state as ScapWriter.write_section arguments (a -C rotation's new file
    starts with the state at that moment, as sysdig's dumper does)."""
    st = inspector.state
    procs: list[ProcEntry] = []
    fds: dict[int, list[FdEntry]] = {}
    for th in st.threads.threads.values():
        if th.is_placeholder:
            continue
        main = st.threads.threads.get(th.pid, th)
        procs.append(ProcEntry(
            tid=th.tid, pid=th.pid, ptid=th.ptid, sid=th.sid, vpgid=th.vpgid, comm=th.comm, exe=th.exe,
            exepath=th.exepath, args=list(th.args), cwd=main.cwd, fdlimit=th.fdlimit,
            flags=th.flags & 0xFFFFFFFF & ~(1 << 19), uid=th.uid, gid=th.gid, vmsize_kb=th.vmsize_kb,
            vmrss_kb=th.vmrss_kb, vmswap_kb=th.vmswap_kb, pfmajor=th.pfmajor, pfminor=th.pfminor,
            env=list(th.env), vtid=th.vtid, vpid=th.vpid, cgroups=list(th.cgroups), root=th.root,
            loginuid=th.loginuid, exe_writable=th.exe_writable))
        if th.tid == th.pid or th.fdtable is not main.fdtable:
            fds[th.tid] = [_fd_entry(info) for info in th.fdtable.fds.values()]
    return {"machine": st.machine, "interfaces": [*st.interfaces.ipv4, *st.interfaces.ipv6],
            "users": list(st.users.users.values()), "groups": list(st.users.groups.values()),
            "procs": procs, "fds": fds}


def _fd_entry(info: Any) -> FdEntry:
    t = int(info.type)
    return FdEntry(fd=info.fd, ino=info.ino, type=t, name=info.name, open_flags=info.open_flags,
                   dev=info.dev, sip=info.sip, dip=info.dip, sport=info.sport, dport=info.dport,
                   l4proto=info.l4proto, source=info.unix_source, dest=info.unix_dest)
