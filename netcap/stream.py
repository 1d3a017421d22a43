"""Packets as events in the tracer's stream: capture, attribution fed by the syscalls, merge, pcapng.

    stream = PacketStream(ifaces="lo", bpf_expr="tcp port 80", snaplen=80, pcap_path="out.pcapng")
    stream.start()                                    # CaptureNotPermitted without CAP_NET_RAW
    for each syscall event evt (in the tracer loop, while its thread is stopped):
        for pkt_evt in stream.before(evt, inspector): feed(pkt_evt)
        feed(evt)
        stream.after(evt, inspector)
    for pkt_evt in stream.finish(): feed(pkt_evt)     # stops the capture; stream.stats has the counts

Merge: the capture thread queues packets; ``before`` drains that queue without waiting (NetCapture.poll)
into a heap and returns, oldest first, every packet not newer than the syscall event about to be fed,
so packets come out in timestamp order among the syscall events. A packet the kernel hands over only
after a newer syscall event was fed (the ring retires a block every ``retire_ms``) comes out at the next
event, a few ms out of order; ``finish`` returns the rest.

Attribution (netcap.attribution.Attribution) is fed from the syscall events, on the pipeline side:

* before the event is fed (its packets are still to come out): the tuples its own params state:
  connect/sendto/sendmsg (local end = source), accept/recvfrom/recvmsg (local end = destination), bind
  (local address, any peer). A local port of 0 (a datagram socket the kernel binds during sendto) is
  resolved through the socket's inode in /proc/PID/net, while the thread is still stopped;
* after it: close forgets every tuple noted for that (pid, fd); packets still find the owner for the
  Attribution's grace period (the FIN and last ACKs come after close).

Each packet's owner is the local end it passes through (sender for "out", receiver for "in"; the other
end when that one is not local); on loopback, where each packet is seen once as "in", the receiver.
The event's tid is the owner's thread (-1 if unknown). With a pcapng path every packet is written as an
EPB with the direction flag, option 8 (pid, tid) and a comment naming the owner and the peer.
"""
from __future__ import annotations

import heapq
import itertools
import os
import socket
import struct
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from netcap import FULL_SNAPLEN, NetCapture
from netcap.attribution import Attribution
from netcap.layers import dissect
from netcap.pcapng import PcapngWriter
from netcap.procnet import WILDCARD, normalize_ip, read_proc_net
from netcap.records import IN, OUT, CaptureStats, FlowKey, Owner, Packet, SockTuple
from sysdig_user.environment import silence
from sysdig_user.event import Event
from sysdig_user.event_table import SDU_EXTENSION_BASE, event_code
from sysdig_user.spec import PacketSpec

if TYPE_CHECKING:
    from sysdig_user.state.inspector import Inspector
    from sysdig_user.state.threads import ThreadInfo

PACKET_EVENT = SDU_EXTENSION_BASE
EXTENSION_TYPES = frozenset({PACKET_EVENT})
HEADROOM = 256                 # bytes of headers captured beyond the payload snaplen
TCP, UDP = 6, 17

# Pipelined (tracer/pipelined.py), the consumer merges the packets, after the traced thread has run on:
# what only the kernel knows at the syscall's exit (the port it bound an unbound socket to) is read by
# the tracer while the thread is stopped and shipped just before the event, as a note frame (this cpu
# number, a 26-byte event header of type 0xFFFF, then pid and fd and the tuples as text).
NOTE_CPU = 0xFFFF
_NOTE_HEAD = struct.Struct("<QqIHIii")  # ts, tid, len, type, nparams, then pid, fd

# event name -> (param holding the tuple or address, which end of it is local)
_BEFORE = {
    ("connect", False): ("tuple", "src"),
    ("accept", False): ("tuple", "dst"),
    ("sendto", True): ("tuple", "src"),
    ("sendmsg", True): ("tuple", "src"),
    ("recvfrom", False): ("tuple", "dst"),
    ("recvmsg", False): ("tuple", "dst"),
    ("bind", False): ("addr", "addr"),
}
_RESOLVE_AFTER_SEND = frozenset({("sendto", False), ("sendmsg", False), ("connect", False)})
NOTE_CODES = frozenset(event_code(name, enter) for name, enter in _RESOLVE_AFTER_SEND)


def _ip_text(family: int, raw: bytes) -> str:
    return normalize_ip(socket.inet_ntop(family, raw))


def packet_event(pkt: Packet, linktype: int, owner: Owner | None, snaplen: int, cpu: int = 0) -> Event:
    """The packet as an sdu ``packet`` event (tid = the owner's thread, -1 if none)."""
    found = dissect(pkt.data, linktype)
    if found is None:
        tup: tuple[Any, ...] | None = None
        proto, payload = 0, pkt.data
    else:
        flow = found.flow
        tup = (flow.family, socket.inet_pton(flow.family, flow.src), flow.sport,
               socket.inet_pton(flow.family, flow.dst), flow.dport)
        proto, payload = flow.l4proto, pkt.data[found.payload_offset:]
    tid = owner.tid if owner is not None else -1
    return Event.build(PACKET_EVENT, pkt.ts_ns, tid, cpu,
                       [pkt.direction, pkt.ifindex, pkt.ifname, pkt.length, tup, proto, payload[:snaplen]])


class PacketStream:
    """A NetCapture whose packets become events, attributed through the tracer's socket events."""

    def __init__(self, ifaces: str | Sequence[str] | None = None, bpf_expr: str = "", snaplen: int = 80,
                 pcap_path: str | None = None, *, attribution: Attribution | None = None,
                 retire_ms: int = 2, kernel_snaplen: int | None = None) -> None:
        self.ifaces = ifaces
        self.bpf_expr = bpf_expr
        self.snaplen = snaplen
        self.pcap_path = pcap_path
        self.retire_ms = retire_ms
        # What the kernel keeps of each packet: the headers plus the -s payload, or whole packets for a
        # pcapng file, unless told (--net-snaplen). Whole 64 KiB loopback frames cost ~50 us each to copy
        # out in Python, which a bulk transfer on a small machine does not leave time for.
        self.kernel_snaplen = kernel_snaplen
        self.attribution = attribution if attribution is not None else Attribution()
        self.capture = NetCapture()
        self.stats = CaptureStats(0, 0, 0)
        self.packets = 0
        self._heap: list[tuple[int, int, Packet]] = []
        self._seq = itertools.count()
        self._noted: dict[tuple[int, int], set[SockTuple]] = {}
        self._owners: dict[SockTuple, int] = {}
        self._pcap_file: IO[bytes] | None = None
        self._pcap: PcapngWriter | None = None
        self._finished = False
        self.handed_over = False  # another process runs this stream (hand_over)
        self._notes: dict[tuple[int, int], list[SockTuple]] = {}  # (pid, fd) -> tuples, from note frames

    # ---- lifecycle -------------------------------------------------------------------------------

    def start(self, run: bool = True) -> None:
        """Open the sockets and start the capture thread (raises CaptureNotPermitted, FilterError,
        InterfaceError: one-line NetCapErrors) and, with a pcapng path, open the file. ``run=False``
        leaves the thread to ``run()`` in the process that merges the packets (the pipelined consumer,
        forked with the open sockets; this process then calls ``hand_over``)."""
        kernel_snaplen = self.kernel_snaplen or (FULL_SNAPLEN if self.pcap_path else self.snaplen + HEADROOM)
        self.capture.start(self.ifaces, self.bpf_expr, kernel_snaplen, retire_ms=self.retire_ms, run=run)
        if self.pcap_path:
            try:
                self._pcap_file = open(self.pcap_path, "wb")  # noqa: SIM115 - closed by finish()
            except OSError as exc:
                self.capture.stop()
                from netcap.errors import NetCapError
                raise NetCapError(f"can't open file {self.pcap_path}: {exc.strerror}") from None
            self._pcap = PcapngWriter(self._pcap_file, "sdu")

    def run(self) -> None:
        """Start the capture thread of a stream started with ``run=False``."""
        self.capture.run()

    def hand_over(self) -> None:
        """Another process (forked with this stream) captures, merges, writes the pcapng file and reports
        from now on. This process closes its copies of the sockets, points its copy of the pcapng file's
        descriptor at /dev/null (nothing it still buffers can reach the file) and reports nothing."""
        self.capture.abandon()
        if self._pcap_file is not None:
            silence(self._pcap_file)
        self._pcap = None
        self._pcap_file = None
        self._finished = True
        self.handed_over = True

    def finish(self) -> list[Event]:
        """Stop the capture and return every packet event not yet returned (idempotent)."""
        if self._finished:
            return []
        self._finished = True
        try:
            self.stats = self.capture.stop()
        finally:
            self._take()
            events = self._release(None)
            self._close_pcap()
        return events

    def close(self) -> None:
        """Stop without returning anything (error paths)."""
        self.finish()

    def report(self, summary: bool, verbose: bool, out: Any, stderr: IO[str]) -> None:
        if not self.handed_over:
            report(self, summary, verbose, out, stderr)

    def _close_pcap(self) -> None:
        if self._pcap is not None:
            if self._pcap.ids:
                # counts are summed over interfaces: the totals go in the first interface's ISB
                self._pcap.note_stats(next(iter(self._pcap.ids)), self.stats.received, self.stats.dropped)
            self._pcap.close()
            self._pcap = None
        if self._pcap_file is not None:
            self._pcap_file.close()
            self._pcap_file = None

    # ---- the merge ------------------------------------------------------------------------------

    def before(self, evt: Event, inspector: Inspector) -> list[Event]:
        """Call before feeding syscall event ``evt``: notes the sockets its params name, then returns the
        queued packets not newer than it, as events, oldest first."""
        self._note_from_params(evt, inspector)
        self._take()
        return self._release(evt.ts) if self._heap else []

    def consumer_feed(self, on_event: Callable[[Event], bool], inspector: Inspector) -> Callable[[Event], bool]:
        """The pipelined consumer's feed: note frames (``note_frame``) to the attribution, every other
        event through ``on_event`` with the packets merged (sysdig_user.sources.merged)."""
        from sysdig_user.sources import merged

        feed = merged(on_event, self, inspector)
        notes = self._notes

        def with_notes(evt: Event) -> bool:
            if evt.cpu != NOTE_CPU:
                return feed(evt)
            raw = evt.raw
            _ts, _tid, _len, _type, _n, pid, fd = _NOTE_HEAD.unpack_from(raw)
            notes[(pid, fd)] = [_note_tuple(line) for line in raw[_NOTE_HEAD.size:].decode().splitlines()]
            return True
        return with_notes

    def after(self, evt: Event, inspector: Inspector) -> None:
        """Call after feeding ``evt``: close forgets the sockets noted for that fd."""
        if evt.name == "close" and evt.is_enter and self._noted:
            th = inspector.threads.get(evt.tid)
            fd = evt.param(0)
            if th is not None and isinstance(fd, int):
                for tup in self._noted.pop((th.pid, fd), ()):
                    self._owners.pop(tup, None)
                    self.attribution.forget_socket(tup, evt.ts)

    def _take(self) -> None:
        heap, seq = self._heap, self._seq
        for pkt in self.capture.poll():
            heapq.heappush(heap, (pkt.ts_ns, next(seq), pkt))

    def _release(self, upto: int | None) -> list[Event]:
        heap = self._heap
        out = []
        while heap and (upto is None or heap[0][0] <= upto):
            out.append(self._convert(heapq.heappop(heap)[2]))
        return out

    def _convert(self, pkt: Packet) -> Event:
        iface = self.capture.interfaces.get(pkt.ifindex)
        linktype = iface.linktype if iface is not None else 1
        found = dissect(pkt.data, linktype)
        owner = peer = None
        if found is not None:
            sender, receiver = self.attribution.lookup_ends(found.flow, pkt.ts_ns)
            owner, peer = (sender, receiver) if pkt.direction == OUT else (receiver, sender)
            if owner is None:
                owner, peer = peer, None
        self.packets += 1
        if self._pcap is not None:
            self._pcap.write(pkt, linktype, owner, peer, snaplen=self.capture.snaplen)
        return packet_event(pkt, linktype, owner, self.snaplen)

    # ---- attribution ----------------------------------------------------------------------------

    def _note_from_params(self, evt: Event, inspector: Inspector) -> None:
        key = (evt.name, evt.is_enter)
        rule = _BEFORE.get(key)
        resolve = key in _RESOLVE_AFTER_SEND
        if rule is None and not resolve:
            return
        th = inspector.threads.get(evt.tid)
        if th is None:
            return
        fd = evt.param(0) if evt.is_enter else th.lastevent_fd
        if key == ("accept", False):
            fd = evt.param(0)
        if not isinstance(fd, int) or fd < 0:
            return
        info = th.fdtable.fds.get(fd)
        protos = _protos(info)
        tuples: list[SockTuple] = []
        if rule is not None:
            value = evt.param_by_name(rule[0])
            tuples = _local_tuples(value, rule[1], protos)
        if resolve and (not tuples or any(t.local_port == 0 for t in tuples)):
            known = self._notes.pop((th.pid, fd), None)  # the tracer's reading, pipelined
            tuples = [t for t in tuples if t.local_port] + (known if known is not None else
                                                             _kernel_tuples(th.pid, fd))
        for tup in tuples:
            if tup.local_port:
                self._note(th, fd, tup)

    def _note(self, th: ThreadInfo, fd: int, tup: SockTuple) -> None:
        if self._owners.get(tup) == th.tid:
            return
        self._owners[tup] = th.tid
        self._noted.setdefault((th.pid, fd), set()).add(tup)
        args = " ".join(th.args)
        self.attribution.note_socket(tup, th.pid, th.tid, th.comm, th.exe, args)


def _protos(info: Any) -> tuple[int, ...]:
    l4 = getattr(info, "l4proto", 0)
    if l4 == 2:
        return (TCP,)
    if l4 == 3:
        return (UDP,)
    return (TCP, UDP)


def _local_tuples(value: Any, end: str, protos: tuple[int, ...]) -> list[SockTuple]:
    """SockTuples (local end first) from a SOCKTUPLE or SOCKADDR param value."""
    if not value or value[0] not in (socket.AF_INET, socket.AF_INET6):
        return []
    fam = value[0]
    if end == "addr":
        if len(value) < 3:
            return []
        lip = _ip_text(fam, value[1])
        return [SockTuple(p, lip, value[2], WILDCARD, 0) for p in protos]
    if len(value) < 5:
        return []
    src, sport, dst, dport = _ip_text(fam, value[1]), value[2], _ip_text(fam, value[3]), value[4]
    if end == "src":
        return [SockTuple(p, src, sport, dst, dport) for p in protos]
    return [SockTuple(p, dst, dport, src, sport) for p in protos]


def _kernel_tuples(pid: int, fd: int) -> list[SockTuple]:
    """The socket's addresses as the kernel has them (/proc/PID/net of its network namespace)."""
    try:
        link = os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        return []
    if not link.startswith("socket:["):
        return []
    try:
        inode = int(link[8:-1])
    except ValueError:
        return []
    table = read_proc_net(Path(f"/proc/{pid}/net"))
    return [t for t, ino in table.items() if ino == inode]


def note_frame(ts: int, tid: int, pid: int, fd: int) -> bytes:
    """The tracer's side of a note: the socket's tuples read from /proc while the thread is stopped."""
    body = "\n".join(f"{t.l4proto} {t.local_ip} {t.local_port} {t.remote_ip} {t.remote_port}"
                     for t in _kernel_tuples(pid, fd)).encode()
    return _NOTE_HEAD.pack(ts, tid, _NOTE_HEAD.size + len(body), 0xFFFF, 0, pid, fd) + body


def _note_tuple(line: str) -> SockTuple:
    proto, lip, lport, rip, rport = line.split(" ")
    return SockTuple(int(proto), lip, int(lport), rip, int(rport))


def flow_of(evt: Event) -> FlowKey | None:
    """A packet event's flow (sender first), for tests and chisels."""
    tup = evt.param(4)
    if not tup or len(tup) < 5:
        return None
    fam = tup[0]
    return FlowKey(fam, _ip_text(fam, tup[1]), tup[2], _ip_text(fam, tup[3]), tup[4], evt.param(5) or 0)




# ---- the Session's side (tracer/live.py's TraceSource calls these two) ------------------------------------

def open_stream(spec: PacketSpec, snaplen: int, stderr: IO[str], run: bool = True) -> PacketStream | None:
    """A started PacketStream for the spec (--net / --iface / --pcap); ``run=False``: its thread is
    left to ``run()``. Without CAP_NET_RAW: one line on stderr and None (sdu goes on with syscalls
    only); a bad interface or filter is an error (NetCapError)."""
    from netcap.errors import CaptureNotPermitted

    stream = PacketStream(spec.ifaces or None, spec.bpf, snaplen, spec.pcap, kernel_snaplen=spec.kernel_snaplen)
    try:
        stream.start(run)
    except CaptureNotPermitted:
        stderr.write("sdu: packet capture needs CAP_NET_RAW (run as root, or trace the command in its own "
                     "user and network namespace, see README); tracing syscalls only\n")
        return None
    return stream


def report(stream: PacketStream, summary: bool, verbose: bool, out: Any, stderr: IO[str]) -> None:
    """-v: the kernel's counts on stderr; -S: the same line after the summary."""
    st = stream.stats
    line = (f"Packets: {st.received} received by filter, {st.dropped} dropped by kernel, "
            f"{stream.packets} delivered")
    if summary:
        out.line(line)
        out.flush()
    if verbose:
        stderr.write(line + "\n")


__all__ = ["EXTENSION_TYPES", "IN", "OUT", "PACKET_EVENT", "PacketStream", "flow_of", "open_stream",
           "packet_event", "report"]
