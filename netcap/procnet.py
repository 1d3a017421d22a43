"""Socket owners from /proc, for processes the tracer does not follow: the pipeline psutil uses in
_pslinux.py (net_connections): /proc/net/{tcp,tcp6,udp,udp6,raw,raw6} give socket tuple -> inode,
/proc/PID/fd/* links "socket:[INODE]" give inode -> pid.

Limits, all inherent to /proc:
- /proc/net shows the reader's network namespace only; sockets of processes in other namespaces are
  not found (their packets are not on this namespace's interfaces either, except through veth peers).
- It names a process, not a thread: Owner.tid is the pid.
- TIME_WAIT sockets have inode 0 and no owner; the tracer's table (attribution.py) keeps closed sockets
  for a grace period instead.
- Reading another user's /proc/PID/fd needs CAP_SYS_PTRACE or the same uid; without it those sockets
  stay unattributed.
"""
from __future__ import annotations

import os
import socket
import struct
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from netcap.records import Owner, SockTuple

PROC = Path("/proc")

# file under /proc/net -> (family, l4 protocol; None: the "port" column is the raw socket's protocol).
PROC_NET_FILES: dict[str, tuple[int, int | None]] = {
    "tcp": (socket.AF_INET, 6), "tcp6": (socket.AF_INET6, 6),
    "udp": (socket.AF_INET, 17), "udp6": (socket.AF_INET6, 17),
    "raw": (socket.AF_INET, None), "raw6": (socket.AF_INET6, None),
}
WILDCARD = "*"
_WILDCARDS = frozenset({"0.0.0.0", "::", ""})


def normalize_ip(ip: str) -> str:
    """Canonical text for table keys: IPv4-mapped IPv6 (how a dual-stack socket shows a v4 peer) becomes
    plain IPv4, unspecified addresses become "*", IPv6 is recompressed the way inet_ntop writes it
    (which is how dissect() spells packet addresses).

    >>> normalize_ip("::ffff:127.0.0.1"), normalize_ip("0.0.0.0"), normalize_ip("fe80:0::1")
    ('127.0.0.1', '*', 'fe80::1')
    """
    if ip in _WILDCARDS or ip == WILDCARD:
        return WILDCARD
    if ":" in ip:
        packed = socket.inet_pton(socket.AF_INET6, ip)
        if packed[:12] == b"\0" * 10 + b"\xff\xff":
            return socket.inet_ntop(socket.AF_INET, packed[12:])
        text = socket.inet_ntop(socket.AF_INET6, packed)
        return WILDCARD if text == "::" else text
    return ip


def decode_address(field: str, family: int) -> tuple[str, int]:
    """A /proc/net address column -> (normalized ip, port).

    The address is the kernel's in-memory bytes printed as native-endian 32-bit words, so on a
    little-endian host "0100007F:1F90" is 127.0.0.1 port 8080; IPv6 is four such words.
    """
    hexip, hexport = field.split(":")
    raw = bytes.fromhex(hexip)
    if sys.byteorder == "little":
        words = len(raw) // 4
        raw = struct.pack(f">{words}I", *struct.unpack(f"<{words}I", raw))
    return normalize_ip(socket.inet_ntop(family, raw)), int(hexport, 16)


def read_proc_net(base: Path = PROC / "net") -> dict[SockTuple, int]:
    """Every socket of this namespace with an inode: tuple -> inode."""
    found: dict[SockTuple, int] = {}
    for name, (family, proto) in PROC_NET_FILES.items():
        try:
            with open(base / name, encoding="ascii") as f:
                lines = f.readlines()[1:]
        except FileNotFoundError:
            # raw6/udp6/tcp6 are absent when IPv6 is disabled (ipv6.disable=1): no sockets to list.
            continue
        for line in lines:
            cols = line.split()
            if len(cols) < 10:
                continue
            inode = int(cols[9])
            if inode == 0:
                # TIME_WAIT and orphaned sockets have no file, hence no process to find.
                continue
            lip, lport = decode_address(cols[1], family)
            rip, rport = decode_address(cols[2], family)
            if proto is None:
                # Raw sockets print their protocol where the port would be; the flow of an ICMP packet
                # has ports 0, so key the socket as (protocol, local ip, 0, remote ip, 0).
                found[SockTuple(lport, lip, 0, rip, 0)] = inode
            else:
                found[SockTuple(proto, lip, lport, rip, rport)] = inode
    return found


def _pids() -> Iterator[int]:
    for entry in os.listdir(PROC):
        if entry.isdigit():
            yield int(entry)


def socket_inodes_of(pid: int) -> Iterator[int]:
    """Socket inodes among the fds of pid."""
    fd_dir = f"/proc/{pid}/fd"
    try:
        fds = os.listdir(fd_dir)
    except (FileNotFoundError, ProcessLookupError):
        # The process exited after /proc was listed; it owns nothing any more.
        return
    except PermissionError:
        # Another user's process, and we lack CAP_SYS_PTRACE: its sockets stay unattributed.
        return
    for fd in fds:
        try:
            target = os.readlink(f"{fd_dir}/{fd}")
        except (FileNotFoundError, ProcessLookupError):
            # The fd was closed (or the process exited) between listdir and readlink.
            continue
        except PermissionError:
            # Same as above, for a process that changed credentials (setuid exec) mid-scan.
            continue
        if target.startswith("socket:["):
            yield int(target[8:-1])


def describe(pid: int) -> Owner | None:
    """comm, exe and args of pid, or None if it is gone."""
    try:
        comm = Path(f"/proc/{pid}/comm").read_text(errors="replace").rstrip("\n")
        args = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").replace(b"\0", b" ")
    except (FileNotFoundError, ProcessLookupError):
        # Exited while we were looking: the caller treats it like an unknown owner.
        return None
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        # Kernel threads have no exe; for another user's process the link is unreadable without
        # CAP_SYS_PTRACE; a process that just exited has none. comm still identifies it.
        exe = ""
    return Owner(pid, pid, comm, exe, args.decode(errors="replace"), "proc")


def find_owners(inodes: Iterable[int], pids: Iterable[int] | None = None) -> dict[int, Owner]:
    """inode -> Owner for as many of inodes as some process holds; stops scanning once all are found."""
    wanted = set(inodes)
    owners: dict[int, Owner] = {}
    for pid in _pids() if pids is None else pids:
        if not wanted:
            break
        hits = wanted.intersection(socket_inodes_of(pid))
        if not hits:
            continue
        owner = describe(pid)
        if owner is None:
            continue
        for inode in hits:
            owners[inode] = owner
        wanted -= hits
    return owners


class ProcSockets:
    """A cache of tuple -> Owner built from /proc, refreshed on a miss at most every refresh_ms.

    The cache is keyed by inode: a refresh rereads /proc/net (cheap), keeps the owners of inodes still
    listed, and scans /proc/PID/fd only for inodes it has not seen (the expensive part).
    """

    def __init__(self, refresh_ms: int = 500, proc_net: Path = PROC / "net") -> None:
        self.refresh_ns = refresh_ms * 1_000_000
        self.proc_net = proc_net
        self.by_tuple: dict[SockTuple, int] = {}
        self.by_inode: dict[int, Owner] = {}
        self.last_refresh = -self.refresh_ns
        self.refreshes = 0

    def refresh(self) -> None:
        self.last_refresh = time.monotonic_ns()
        self.refreshes += 1
        self.by_tuple = read_proc_net(self.proc_net)
        live = set(self.by_tuple.values())
        self.by_inode = {i: o for i, o in self.by_inode.items() if i in live}
        missing = live.difference(self.by_inode)
        if missing:
            self.by_inode.update(find_owners(missing))

    def get(self, keys: Iterable[SockTuple]) -> Owner | None:
        """Owner of the first key found, without refreshing."""
        by_tuple, by_inode = self.by_tuple, self.by_inode
        for key in keys:
            inode = by_tuple.get(key)
            if inode is not None:
                owner = by_inode.get(inode)
                if owner is not None:
                    return owner
        return None

    def maybe_refresh(self) -> bool:
        """Refresh unless the last one was less than refresh_ms ago; True if it did."""
        if time.monotonic_ns() - self.last_refresh < self.refresh_ns:
            return False
        self.refresh()
        return True
