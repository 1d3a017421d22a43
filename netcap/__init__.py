"""netcap: packets from the wire, for the same event stream as the tracer's syscalls.

    cap = NetCapture()
    cap.start("lo", "tcp port 8080", snaplen=256)    # CaptureNotPermitted without CAP_NET_RAW
    for pkt in cap.packets(timeout=1.0): ...          # or start(..., callback=fn) to be called per packet
    stats = cap.stop()                                # CaptureStats(received, dropped, delivered)

Modules: capture (thread and per-interface readers), ring (TPACKET_V3 and recvmsg readers), packetsock,
bpf (tcpdump expression -> kernel filter), interfaces, layers (header parsing, dissect), attribution and
procnet (socket -> process), pcapng (writer), records (shared named tuples), errors.
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence

from netcap.attribution import Attribution
from netcap.capture import DEFAULT_RING_BYTES, DEFAULT_SNAPLEN, FULL_SNAPLEN, CaptureThread, open_readers
from netcap.errors import CaptureNotPermitted, FilterError, InterfaceError, NetCapError
from netcap.interfaces import resolve
from netcap.layers import dissect
from netcap.records import IN, OUT, CaptureStats, Dissected, FlowKey, Interface, Owner, Packet, SockTuple

__all__ = ["DEFAULT_RING_BYTES", "DEFAULT_SNAPLEN", "FULL_SNAPLEN", "IN", "OUT", "Attribution",
           "CaptureNotPermitted", "CaptureStats", "Dissected", "FilterError", "FlowKey", "Interface", "InterfaceError", "NetCapError", "NetCapture", "Owner", "Packet",
           "SockTuple", "dissect"]


class NetCapture:
    """Start/stop a capture and consume its packets, either by iterating or through a callback.

    Iteration reads a queue of per-block batches filled by the capture thread. The queue holds at most
    max_batches batches; when it is full the capture thread waits, the kernel ring fills and the kernel
    drops (and counts) packets, so a slow consumer costs packets, never unbounded memory or the tracer's
    time. A callback runs on the capture thread and must be quick for the same reason.
    """

    def __init__(self, max_batches: int = 1024) -> None:
        self.interfaces: dict[int, Interface] = {}
        self.snaplen = DEFAULT_SNAPLEN
        self._thread: CaptureThread | None = None
        self._batches: deque[list[Packet]] = deque()
        self._cond = threading.Condition()
        self._max_batches = max_batches
        self._final: CaptureStats | None = None

    def start(self, ifaces: str | Sequence[str] | None = None, bpf_expr: str = "",
              snaplen: int = DEFAULT_SNAPLEN, *, callback: Callable[[Packet], None] | None = None,
              backend: str = "ring", ring_bytes: int = DEFAULT_RING_BYTES, retire_ms: int = 10,
              promisc: bool = False, run: bool = True) -> None:
        """Open one socket per interface (None or "all": every interface; "lo,eth0" or a list) and start
        the capture thread. Raises CaptureNotPermitted without CAP_NET_RAW, FilterError for a bad
        expression, InterfaceError for an unknown interface; each message is one line. The snaplen
        (default DEFAULT_SNAPLEN, 256) is applied by the kernel filter, so only that much of each frame is
        copied into the ring and out of it; FULL_SNAPLEN keeps whole frames at a higher cost per packet.
        ``run=False`` opens the sockets (every error is raised here) but leaves the capture thread to
        ``run()``, in the process that will merge the packets (a thread does not survive a fork; the
        kernel rings keep what arrives meanwhile)."""
        if self._thread is not None:
            raise NetCapError("capture already started")
        if snaplen <= 0:
            raise NetCapError(f"snaplen must be positive, not {snaplen}")
        chosen = resolve(ifaces)
        readers = open_readers(chosen, bpf_expr, snaplen, backend=backend, ring_bytes=ring_bytes,
                               retire_ms=retire_ms, promisc=promisc)
        self.interfaces = {i.ifindex: i for i in chosen}
        self.snaplen = snaplen
        self._final = None
        sink = self._enqueue if callback is None else _calling(callback)
        self._thread = CaptureThread(readers, sink, retire_ms)
        if run:
            self._thread.start()

    def run(self) -> None:
        """Start the capture thread of a capture opened with ``start(run=False)``."""
        if self._thread is None:
            raise NetCapError("capture not started")
        self._thread.start()

    def abandon(self) -> None:
        """Close this process's copies of the sockets of a capture whose thread never ran here (another
        process, forked with them, runs it): nothing is stopped, counted or drained."""
        if self._thread is not None:
            self._thread.abandon()
            self._thread = None

    def _enqueue(self, batch: list[Packet]) -> None:
        thread = self._thread
        with self._cond:
            # While stopping, take the rest regardless: it is at most one ring's worth.
            while len(self._batches) >= self._max_batches and thread is not None \
                    and not thread.stopping.is_set():
                self._cond.wait(0.1)
            self._batches.append(batch)
            self._cond.notify_all()

    def poll(self) -> list[Packet]:
        """Every packet queued so far, without waiting (for an event loop that merges sources)."""
        out: list[Packet] = []
        with self._cond:
            while self._batches:
                out.extend(self._batches.popleft())
            self._cond.notify_all()
        return out

    def packets(self, timeout: float | None = None) -> Iterator[Packet]:
        """Yield packets as they come; ends when the capture has stopped and the queue is empty, or after
        `timeout` seconds without a packet."""
        while True:
            with self._cond:
                if not self._batches:
                    if not self._thread_alive():
                        self._raise_thread_error()
                        return
                    if not self._cond.wait(timeout if timeout is not None else 0.2) and timeout is not None:
                        return
                    if not self._batches:
                        continue
                batch = self._batches.popleft()
                self._cond.notify_all()
            yield from batch

    def _thread_alive(self) -> bool:
        return self._thread is not None and self._thread.alive()

    def _raise_thread_error(self) -> None:
        err = self._thread.error if self._thread is not None else None
        if err is None:
            return
        if isinstance(err, NetCapError):
            raise err
        raise NetCapError(f"packet capture stopped: {err}") from None

    def stats(self) -> CaptureStats:
        """Counts so far (final counts once stopped)."""
        if self._final is not None:
            return self._final
        if self._thread is None:
            return CaptureStats(0, 0, 0)
        return self._thread.stats()

    def stop(self) -> CaptureStats:
        """Stop the thread (after taking what the kernel still holds) and close the sockets. Queued packets
        stay available to poll() and packets()."""
        if self._thread is None:
            return self._final or CaptureStats(0, 0, 0)
        self._final = self._thread.stop()
        with self._cond:
            self._cond.notify_all()
        try:
            self._raise_thread_error()
        finally:
            self._thread = None
        return self._final


def _calling(callback: Callable[[Packet], None]) -> Callable[[list[Packet]], None]:
    def sink(batch: list[Packet]) -> None:
        for pkt in batch:
            callback(pkt)
    return sink
