"""AF_PACKET capture on one, several or all interfaces, read in a thread of its own.

One socket per interface (not one unbound ETH_P_ALL socket) because the kernel filter is compiled for a
link type, and Ethernet and bare-IP interfaces need different programs; it also gives per-interface
drop counts. The thread polls every socket plus a wake-up pipe, drains whatever blocks are ready and
hands each batch to a sink; the tracer never waits on it. When the sink cannot keep up, the sink blocks,
the rings fill and the kernel drops, and those drops are what PACKET_STATISTICS reports.

Filter dependency: a tcpdump-style expression needs libpcap (loaded through ctypes) or tcpdump; see netcap/bpf.py.
On loopback devices the kernel filter also drops the PACKET_OUTGOING copy, so each packet is seen once,
as "in", exactly like `tcpdump -i lo`.
"""
from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from netcap import bpf
from netcap.interfaces import is_loopback
from netcap.records import CaptureStats, Interface, Packet
from netcap.ring import RecvReader, RingReader

# Bytes kept of each packet by default. Not tcpdump's 262144: on loopback a TCP frame is up to 64 KiB, and
# at full length the kernel copies each one into the ring and Python copies it out again (about 50 us a
# frame here, mostly faulting fresh heap pages), so a 200 MB loopback transfer loses packets on a 2-CPU
# machine while the capture thread waits for a CPU. 256 holds every header (Ethernet + IPv6 + TCP options
# is under 140) and the start of the payload; a packet event's data param is cut at sysdig's -s anyway
# (80 by default; PacketStream asks for -s + 256). Pass snaplen=FULL_SNAPLEN for whole frames (--pcap).
DEFAULT_SNAPLEN = 256
FULL_SNAPLEN = 262144         # tcpdump's default since 4.99
DEFAULT_RING_BYTES = 8 << 20  # per interface; at 256 bytes a packet it holds ~25,000 packets
POLL_MS = 200

Sink = Callable[[list[Packet]], None]


class Reader(Protocol):
    """What the capture thread needs of a per-interface reader (RingReader, RecvReader)."""

    iface: Interface

    def fileno(self) -> int: ...

    def drain(self, out: list[Packet]) -> int: ...

    def stats(self) -> tuple[int, int]: ...

    def close(self) -> None: ...


def program_for(iface: Interface, expr: str, snaplen: int) -> list[bpf.Insn]:
    prog = bpf.compile_expr(expr, iface.linktype, snaplen) if expr.strip() else bpf.accept_all(snaplen)
    return bpf.drop_outgoing(prog) if is_loopback(iface) else prog


def open_readers(ifaces: Sequence[Interface], expr: str, snaplen: int, *, backend: str = "ring",
                 ring_bytes: int = DEFAULT_RING_BYTES, retire_ms: int = 10, promisc: bool = False,
                 block_bytes: int = 1 << 20) -> list[Reader]:
    """One reader per interface; on any failure the ones already opened are closed again.

    Programs are compiled before any socket is opened, so a bad expression costs no socket. Each
    interface gets ring_bytes of ring (locked kernel memory, mapped into this process), in block_bytes
    blocks (a block must hold the largest frame the snaplen lets through: 64 KiB on loopback, more with
    GRO)."""
    programs = {}
    for iface in ifaces:
        if iface.linktype not in programs:
            programs[iface.linktype] = program_for(iface, expr, snaplen)
    readers: list[Reader] = []
    try:
        for iface in ifaces:
            prog = program_for(iface, expr, snaplen) if is_loopback(iface) else programs[iface.linktype]
            if backend == "ring":
                block = block_bytes
                readers.append(RingReader(iface, prog, snaplen, block_size=block,
                                          block_nr=max(2, ring_bytes // block), retire_ms=retire_ms,
                                          promisc=promisc))
            else:
                readers.append(RecvReader(iface, prog, snaplen, rcvbuf=ring_bytes, promisc=promisc))
    except BaseException:
        for reader in readers:
            reader.close()
        raise
    return readers


class CaptureThread:
    """Runs the readers in a daemon thread; stop() drains what the kernel still holds, then joins."""

    def __init__(self, readers: Sequence[Reader], sink: Sink, retire_ms: int = 10) -> None:
        self.readers = list(readers)
        self.sink = sink
        self.retire_ms = retire_ms
        self.stopping = threading.Event()
        self.error: Exception | None = None
        self._received = 0
        self._dropped = 0
        self.delivered = 0
        self._stats_lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="sdu-netcap", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def abandon(self) -> None:
        """Close the readers and the wake pipe without running or joining the thread (it never ran here)."""
        assert self._thread.ident is None, "abandon() is for a thread that never started"
        for reader in self.readers:
            reader.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        by_fd = {r.fileno(): r for r in self.readers}
        poller = select.poll()
        for fd in by_fd:
            poller.register(fd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        try:
            while not self.stopping.is_set():
                for fd, _ev in poller.poll(POLL_MS):
                    reader = by_fd.get(fd)
                    if reader is not None:
                        self._drain(reader)
            # A partly filled block is handed over retire_ms after its first packet: wait for that,
            # then take everything, so packets sent before stop() are not lost.
            time.sleep(2 * self.retire_ms / 1000 + 0.01)
            for reader in self.readers:
                self._drain(reader)
        except Exception as err:  # noqa: BLE001 - a callback's error too; NetCapture re-raises it to the consumer
            self.error = err

    def _drain(self, reader: Reader) -> None:
        batch: list[Packet] = []
        if reader.drain(batch):
            self.delivered += len(batch)
            self.sink(batch)

    def stats(self) -> CaptureStats:
        with self._stats_lock:
            for reader in self.readers:
                received, dropped = reader.stats()
                self._received += received
                self._dropped += dropped
            return CaptureStats(self._received, self._dropped, self.delivered)

    def stop(self) -> CaptureStats:
        """Stop reading, join the thread, and return the final counts; closes the sockets."""
        self.stopping.set()
        os.write(self._wake_w, b"x")
        self._thread.join()
        final = self.stats()
        for reader in self.readers:
            reader.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
        return final
