"""Initial state of the traced processes: ProcEntry per thread and FdEntry per open fd, from /proc.

This is what sysdig's PL_V9/FDL_V2 blocks carry (scap-format.md §8). Socket fds are resolved by joining
the socket inode behind /proc/PID/fd/N with /proc/PID/net/{tcp,tcp6,udp,udp6,unix} (the same pipeline
as psutil's net_connections): read the tracee's own net namespace view, since a container's sockets are
not in ours. Skipped errors, all harmless: a thread or fd that disappears while listed (ProcessGone,
FileNotFoundError) is simply absent from the snapshot, as it would be a moment later.
"""
from __future__ import annotations

import os
import stat as stat_mod

from sysdig_user.scap.records import FdEntry, FdType, ProcEntry
from tracer import procfs
from tracer.decoders import native
from tracer.errors import ProcessGone

_L4 = {"tcp": 2, "udp": 3}
_TCP_LISTEN = "0A"


def proc_entries(pid: int, main_only: bool = False) -> list[ProcEntry]:
    """One ProcEntry per thread of `pid`; threads carry CLONE_THREAD|CLONE_FILES (0x2001) so they share
    the leader's fd table, as §8.1 requires. `main_only`: only the main thread's entry (the others are
    not read at all, nor listed: a process that is gone raises ProcessGone at its first file), as an
    ancestor's."""
    if main_only:
        tids = [pid]
    else:
        try:
            tids = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
        except FileNotFoundError:
            return []
    try:
        argv = procfs.cmdline(pid)
        env = procfs.environ(pid)
        cwd = procfs.link(pid, "cwd")
        exepath = procfs.link(pid, "exe")
        root = procfs.link(pid, "root")
        fdlimit = procfs.fdlimit(pid)
        cgroups = procfs.cgroups(pid)
        login = procfs.loginuid(pid)
    except ProcessGone:
        return []
    thread_flags = native.clone_flags(native.CLONE_THREAD | native.CLONE_FILES)
    out: list[ProcEntry] = []
    for tid in tids:
        try:
            st = procfs.stat(tid)
            status = procfs.status(tid)
        except ProcessGone:
            continue
        uid = procfs.first_id(status, "Uid")
        out.append(ProcEntry(
            tid=tid, pid=pid, ptid=st.ppid, sid=st.session, vpgid=st.pgrp, comm=st.comm,
            exe=argv[0] if argv else st.comm, exepath=exepath, args=argv[1:], cwd=cwd, fdlimit=fdlimit,
            flags=thread_flags if tid != pid else 0, uid=uid, gid=procfs.first_id(status, "Gid"),
            vmsize_kb=procfs.vm_kb(status, "VmSize"), vmrss_kb=procfs.vm_kb(status, "VmRSS"),
            vmswap_kb=procfs.vm_kb(status, "VmSwap"), pfmajor=st.majflt, pfminor=st.minflt, env=env,
            vtid=procfs.ns_ids(status, "NSpid", tid), vpid=procfs.ns_ids(status, "NStgid", pid),
            cgroups=cgroups, root=root, loginuid=login, exe_writable=procfs.exe_writable(exepath, uid)))
    return out


def _hex_ip(text: str) -> bytes:
    """/proc/net address column to network-order bytes: "0100007F" -> b"\\x7f\\0\\0\\1" (per 32-bit word LE)."""
    raw = bytes.fromhex(text)
    return b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))


def _inet_table(pid: int) -> dict[int, tuple[str, bytes, int, bytes, int, bool]]:
    """socket inode -> (l4, local ip, local port, remote ip, remote port, listening)."""
    out: dict[int, tuple[str, bytes, int, bytes, int, bool]] = {}
    for name in ("tcp", "tcp6", "udp", "udp6"):
        try:
            with open(f"/proc/{pid}/net/{name}") as f:
                next(f, None)
                for line in f:
                    cols = line.split()
                    if len(cols) < 10:
                        continue
                    lip, lport = cols[1].split(":")
                    rip, rport = cols[2].split(":")
                    rport_i = int(rport, 16)
                    listening = cols[3] == _TCP_LISTEN if name.startswith("tcp") else rport_i == 0
                    out[int(cols[9])] = (name[:3], _hex_ip(lip), int(lport, 16), _hex_ip(rip), rport_i, listening)
        except OSError:
            continue
    return out


def _unix_table(pid: int) -> dict[int, str]:
    out: dict[int, str] = {}
    try:
        with open(f"/proc/{pid}/net/unix") as f:
            next(f, None)
            for line in f:
                cols = line.split()
                if len(cols) >= 7:
                    out[int(cols[6])] = cols[7] if len(cols) > 7 else ""
    except OSError:
        pass
    return out


_ANON_TYPES = (("anon_inode:[eventfd]", FdType.EVENT), ("anon_inode:[signalfd]", FdType.SIGNALFD),
               ("anon_inode:[eventpoll]", FdType.EVENTPOLL), ("anon_inode:inotify", FdType.INOTIFY),
               ("anon_inode:[timerfd]", FdType.TIMERFD))


def fd_entries(pid: int) -> list[FdEntry]:
    """FdEntry for each open fd of process `pid` (files with PPM open flags from /proc/PID/fdinfo)."""
    try:
        fds = sorted(int(n) for n in os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, PermissionError):
        return []
    inet: dict[int, tuple[str, bytes, int, bytes, int, bool]] | None = None
    unix: dict[int, str] | None = None
    out: list[FdEntry] = []
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            st = os.stat(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        ino = st.st_ino
        if target.startswith("socket:["):
            if inet is None:
                inet, unix = _inet_table(pid), _unix_table(pid)
            out.append(_socket_entry(fd, ino, inet, unix or {}))
            continue
        if target.startswith("pipe:["):
            out.append(FdEntry(fd=fd, ino=ino, type=FdType.FIFO, name=target))
            continue
        anon = next((t for prefix, t in _ANON_TYPES if target.startswith(prefix)), None)
        if anon is not None:
            out.append(FdEntry(fd=fd, ino=ino, type=anon, name=target))
            continue
        if target.startswith("anon_inode:"):
            out.append(FdEntry(fd=fd, ino=ino, type=FdType.UNSUPPORTED, name=target))
            continue
        flags = _fdinfo_flags(pid, fd)
        kind = FdType.DIRECTORY if stat_mod.S_ISDIR(st.st_mode) else FdType.FILE_V2
        if stat_mod.S_ISFIFO(st.st_mode):
            kind = FdType.FIFO
        dev = st.st_dev
        out.append(FdEntry(fd=fd, ino=ino, type=kind, name=target, open_flags=native.open_flags(flags),
                           dev=(os.minor(dev) & 0xFF) | (os.major(dev) << 8) | ((os.minor(dev) & ~0xFF) << 12)))
    return out


def _fdinfo_flags(pid: int, fd: int) -> int:
    """The octal "flags:" line of /proc/PID/fdinfo/FD (the second, after "pos:"); 0 if unreadable."""
    try:
        raw = procfs.read(f"/proc/{pid}/fdinfo/{fd}")
    except OSError:
        return 0
    rest = procfs.line_after(raw, b"flags:")
    return 0 if rest is None else int(rest.split()[0], 8)


def _socket_entry(fd: int, ino: int, inet: dict[int, tuple[str, bytes, int, bytes, int, bool]],
                  unix: dict[int, str]) -> FdEntry:
    if ino in inet:
        l4, lip, lport, rip, rport, listening = inet[ino]
        v6 = len(lip) == 16
        if listening:
            kind = FdType.IPV6_SERVSOCK if v6 else FdType.IPV4_SERVSOCK
            return FdEntry(fd=fd, ino=ino, type=kind, sip=lip, sport=lport, l4proto=_L4[l4])
        kind = FdType.IPV6_SOCK if v6 else FdType.IPV4_SOCK
        return FdEntry(fd=fd, ino=ino, type=kind, sip=lip, sport=lport, dip=rip, dport=rport, l4proto=_L4[l4])
    if ino in unix:
        return FdEntry(fd=fd, ino=ino, type=FdType.UNIX_SOCK, name=unix[ino], source=ino, dest=0)
    return FdEntry(fd=fd, ino=ino, type=FdType.UNSUPPORTED, name=f"socket:[{ino}]")


def snapshot(pids: list[int]) -> tuple[list[ProcEntry], dict[int, list[FdEntry]]]:
    """ProcEntries for every thread of `pids`, and fds keyed by the main thread's tid."""
    procs: list[ProcEntry] = []
    fds: dict[int, list[FdEntry]] = {}
    for pid in pids:
        entries = proc_entries(pid)
        if entries:
            procs.extend(entries)
            fds[pid] = fd_entries(pid)
    return procs, fds


__all__ = ["fd_entries", "proc_entries", "snapshot"]
