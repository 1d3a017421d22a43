"""Which process sent or received a packet: socket tuple -> (pid, tid, comm, exe, args).

Two sources, asked in this order for each end of the flow:

1. The tracer's table. The tracer calls note_socket() when connect/accept/bind/sendto/recvfrom tell it a
   socket's addresses, and forget_socket() on close. A closed entry is kept for `grace_ms` (in packet
   time) so the FIN/RST and the last ACKs, which the kernel sends after close(), still find their owner.
   It knows the thread, which /proc cannot tell.
2. /proc (procnet.ProcSockets), for processes nobody traces; refreshed on a miss, at most every
   `refresh_ms`.

Keys are SockTuple(l4proto, local ip, local port, remote ip, remote port). A packet's sender owns the
tuple (src -> dst) and its receiver the tuple (dst -> src); each end is tried exactly, then as a socket
bound to that address without a peer (UDP servers, TCP listeners for the SYN), then bound to the
wildcard address.

Timestamps (at_ts, ts_ns) are CLOCK_REALTIME ns, the clock of Packet.ts_ns and of sysdig events.
"""
from __future__ import annotations

import heapq
import threading
import time
from typing import NamedTuple

from netcap.procnet import WILDCARD, ProcSockets, normalize_ip
from netcap.records import OUT, FlowKey, Owner, SockTuple


class _Entry(NamedTuple):
    owner: Owner
    closed_at: int | None


def _normalize(tup: SockTuple | tuple[int, str, int, str, int]) -> SockTuple:
    proto, lip, lport, rip, rport = tup
    return SockTuple(int(proto), normalize_ip(lip), int(lport), normalize_ip(rip), int(rport))


def local_keys(proto: int, lip: str, lport: int, rip: str, rport: int) -> tuple[SockTuple, ...]:
    """Candidate tuples for the socket at (lip, lport) talking to (rip, rport), most specific first."""
    return (SockTuple(proto, lip, lport, rip, rport),
            SockTuple(proto, lip, lport, WILDCARD, 0),
            SockTuple(proto, WILDCARD, lport, WILDCARD, 0),
            SockTuple(proto, WILDCARD, lport, rip, rport))


class TracedSockets:
    """The table the tracer feeds. Not thread-safe by itself; Attribution holds the lock."""

    def __init__(self, grace_ms: int = 2000) -> None:
        self.grace_ns = grace_ms * 1_000_000
        self.entries: dict[SockTuple, _Entry] = {}
        self._expiry: list[tuple[int, SockTuple]] = []

    def note(self, tup: SockTuple, owner: Owner) -> None:
        self.entries[tup] = _Entry(owner, None)

    def forget(self, tup: SockTuple, at_ts: int) -> None:
        entry = self.entries.get(tup)
        if entry is not None and entry.closed_at is None:
            self.entries[tup] = entry._replace(closed_at=at_ts)
            heapq.heappush(self._expiry, (at_ts + self.grace_ns, tup))
        self.purge(at_ts)

    def purge(self, now_ts: int) -> None:
        """Drop entries whose grace period ended before now_ts (unless the tuple was noted again)."""
        expiry = self._expiry
        while expiry and expiry[0][0] < now_ts:
            deadline, tup = heapq.heappop(expiry)
            entry = self.entries.get(tup)
            if entry is not None and entry.closed_at is not None and entry.closed_at + self.grace_ns == deadline:
                del self.entries[tup]

    def get(self, keys: tuple[SockTuple, ...], ts_ns: int) -> Owner | None:
        entries = self.entries
        for key in keys:
            entry = entries.get(key)
            if entry is not None and (entry.closed_at is None or ts_ns <= entry.closed_at + self.grace_ns):
                return entry.owner
        return None


class Attribution:
    """The live socket -> process table; safe to feed from the tracer thread while packets are looked up
    in another."""

    def __init__(self, grace_ms: int = 2000, refresh_ms: int = 500, use_proc: bool = True) -> None:
        self.traced = TracedSockets(grace_ms)
        self.proc = ProcSockets(refresh_ms) if use_proc else None
        self._lock = threading.Lock()

    def note_socket(self, tup: SockTuple | tuple[int, str, int, str, int], pid: int, tid: int, comm: str,
                    exe: str = "", args: str = "") -> None:
        """The tracer saw tid of pid use a socket with these addresses (local first)."""
        owner = Owner(pid, tid, comm, exe, args, "traced")
        with self._lock:
            self.traced.note(_normalize(tup), owner)

    def forget_socket(self, tup: SockTuple | tuple[int, str, int, str, int], at_ts: int) -> None:
        """The socket was closed at at_ts; packets up to at_ts + grace still attribute to it."""
        with self._lock:
            self.traced.forget(_normalize(tup), at_ts)

    def _find(self, keys: tuple[SockTuple, ...], ts_ns: int) -> Owner | None:
        owner = self.traced.get(keys, ts_ns)
        if owner is None and self.proc is not None:
            owner = self.proc.get(keys)
        return owner

    def lookup(self, flow: FlowKey, direction: str = OUT, ts_ns: int | None = None) -> Owner | None:
        """The local process at the end the packet is passing through: the sender for an outgoing packet,
        the receiver for an incoming one; the other end if that one is not local. On loopback (where
        capture keeps only the incoming copy, like tcpdump) that is the receiver; lookup_ends gives both.
        """
        ts = time.time_ns() if ts_ns is None else ts_ns
        src = local_keys(flow.l4proto, flow.src, flow.sport, flow.dst, flow.dport)
        dst = local_keys(flow.l4proto, flow.dst, flow.dport, flow.src, flow.sport)
        first, second = (src, dst) if direction == OUT else (dst, src)
        with self._lock:
            owner = self._find(first, ts) or self._find(second, ts)
            if owner is None and self.proc is not None and self.proc.maybe_refresh():
                owner = self.proc.get(first) or self.proc.get(second)
        return owner

    def lookup_ends(self, flow: FlowKey, ts_ns: int | None = None) -> tuple[Owner | None, Owner | None]:
        """(sender, receiver), each None when that end is not a local socket we can name."""
        ts = time.time_ns() if ts_ns is None else ts_ns
        src = local_keys(flow.l4proto, flow.src, flow.sport, flow.dst, flow.dport)
        dst = local_keys(flow.l4proto, flow.dst, flow.dport, flow.src, flow.sport)
        with self._lock:
            sender, receiver = self._find(src, ts), self._find(dst, ts)
            if (sender is None or receiver is None) and self.proc is not None and self.proc.maybe_refresh():
                sender = sender or self._find(src, ts)
                receiver = receiver or self._find(dst, ts)
        return sender, receiver
