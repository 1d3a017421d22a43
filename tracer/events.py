"""From engine records to events: the Sink that runs decoders and builds sysdig_user Events.

Routing is the driver's own table (sysdig_user.event_table.SYSCALLS): a syscall with a dedicated event
pair gets its decoder's params; everything else, and syscalls newer than the 2022 table, become generic
events 0/1. Process events come from ptrace events, not syscalls: the child's clone exit (res 0) at the
child's first stop, procexit (186) at PTRACE_EVENT_EXIT (or at the death report when that was missed),
signaldeliver (232) at the signal-delivery-stop.

Per thread, an enter event is always immediately followed by its exit (the thread is stopped between
the two), except for syscalls that never return (exit, exit_group, a successful execve of another
thread) exactly as with the driver.
"""
from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sysdig_user import params as param_codec
from sysdig_user.event import HEADER, Event, encode_raw
from sysdig_user.event_table import EF, EVENTS, PPM_SC, PT, event_code
from sysdig_user.event_table import SYSCALLS as ROUTES
from tracer.decoders import DECODERS, Call, Decoder
from tracer.decoders import net as net_decoders
from tracer.decoders.base import DEFAULT_SNAPLEN, forget_process
from tracer.decoders.process import clone_values, procexit_values
from tracer.decoders.signal import signaldeliver
from tracer.engine import Thread
from tracer.errors import ProcessGone
from tracer.syscalls_x86_64 import SYSCALLS as TABLE

GENERIC_E, GENERIC_X = 0, 1
PROCEXIT = event_code("procexit", True)
SIGNALDELIVER = event_code("signaldeliver", True)
_CLONE_NRS = (56, 57, 58, 435)


@dataclass(slots=True)
class Decoded:
    """One event before encoding: what the decoders produced (tests compare these with strace)."""

    code: int
    ts: int
    tid: int
    cpu: int
    values: list[Any]
    nr: int = -1  # native syscall number, -1 for process events
    ret: int | None = None  # the raw return value on syscall exits (generic exits do not carry it)


def _route(nr: int) -> tuple[int, int, Decoder]:
    """(enter code, exit code, decoder) for native syscall nr."""
    route = ROUTES.get(nr)
    info = TABLE.get(nr)
    if route is None or route.is_generic or info is None or info.decoder == "generic":
        return GENERIC_E, GENERIC_X, DECODERS["generic"]
    return route.enter, route.exit, DECODERS[info.decoder]


def event_codes(nr: int) -> tuple[int, int]:
    """(enter code, exit code) of the events native syscall nr becomes here."""
    enter, exit_, _dec = _route(nr)
    return enter, exit_


def event_type_name(nr: int) -> str:
    """The evt.type of the events native syscall nr becomes here: its event's name, or for a generic
    event the ppm_sc name (what sysdig_user.fields.evt shows), "<unknown>" past the 2022 table."""
    enter, _exit, _dec = _route(nr)
    if enter != GENERIC_E:
        return EVENTS[enter].name
    route = ROUTES.get(nr)
    return PPM_SC[route.ppm_sc if route is not None else 0].name


class _Encoder:
    """Event code -> raw bytes, compiled once per code (Event.build looks everything up per call).

    When every param has a fixed size (generic events, read/write enters, close, ...), header, length
    array and params are one struct.pack. Values the struct cannot take as they are (a negative value
    for an unsigned param, which the driver stores modulo its width) take Event.build's general path.
    """

    __slots__ = ("_lens", "_total", "code", "info", "whole")

    def __init__(self, code: int) -> None:
        self.code = code
        self.info = EVENTS[code]
        fmts = [param_codec.fixed_format(p.type) for p in self.info.params]
        self.whole: struct.Struct | None = None
        if all(f is not None and p.type is not PT.DOUBLE for f, p in zip(fmts, self.info.params)) \
                and not self.info.flags & EF.LARGE_PAYLOAD:
            body = "".join(f[1:] for f in fmts)  # type: ignore[index]
            lens = "H" * len(fmts)
            self.whole = struct.Struct(HEADER.format + lens + body)
            self._lens = tuple(struct.calcsize("<" + f[1:]) for f in fmts)  # type: ignore[index]
            self._total = self.whole.size

    def raw(self, ts: int, tid: int, values: list[Any]) -> bytes:
        whole = self.whole
        if whole is not None and len(values) == len(self._lens):
            try:
                return whole.pack(ts, tid, self._total, self.code, len(values), *self._lens, *values)
            except struct.error:
                pass
        if len(values) != len(self.info.params):
            raise ValueError(f"{self.info.name}: {len(values)} values for {len(self.info.params)} params")
        return encode_raw(self.code, ts, tid, [param_codec.encode_param(p, v) for p, v in
                                               zip(self.info.params, values)])


class EventBuilder:
    """Engine Sink producing Decoded records, or Events when `build` is true, to `emit`.

    Decoder failures never stop tracing: a thread vanishing mid-read drops that event, and any other
    decoder exception is counted in `errors` (tests assert it stays 0) and the event is dropped.

    Options for the consumer (sdu's live source) to cut work nothing will look at:
    * `wanted(code) -> bool`, asked once per event code: False means events of that code are neither
      decoded nor emitted (the consumer has decided that they can neither pass the filter nor change
      state it needs). Process events (clone child, procexit, signaldeliver) are asked too.
    * `read_dev=False`: open/openat/creat exits carry dev 0 instead of a stat of /proc/PID/fd/N (only
      fd.dev and the rendered dev= arg show it).
    * `read_vm=False`: mmap/munmap/brk exits carry vm_size/vm_rss/vm_swap 0 instead of a read of
      /proc/PID/status (only those args and proc.vm*/thread.vm* show them).
    """

    def __init__(self, emit: Callable[[Any], None], snaplen: int = DEFAULT_SNAPLEN, build: bool = True,
                 wanted: Callable[[int], bool] | None = None, read_dev: bool = True,
                 read_vm: bool = True) -> None:
        self.emit = emit
        self.snaplen = snaplen
        self.build = build
        self.wanted = wanted
        self.read_dev = read_dev
        self.read_vm = read_vm
        self.errors = 0
        self.last_error: str = ""
        # nr -> (enter code or -1 if unwanted, exit code or -1, decoder)
        self._routes: dict[int, tuple[int, int, Decoder]] = {}
        self._encoders: dict[int, _Encoder] = {}
        self._wanted_codes: dict[int, bool] = {}

    def _is_wanted(self, code: int) -> bool:
        if self.wanted is None:
            return True
        got = self._wanted_codes.get(code)
        if got is None:
            got = self._wanted_codes[code] = bool(self.wanted(code))
        return got

    def _out(self, code: int, ts: int, tid: int, cpu: int, values: list[Any], nr: int = -1,
             ret: int | None = None) -> None:
        if self.build:
            enc = self._encoders.get(code)
            if enc is None:
                enc = self._encoders[code] = _Encoder(code)
            self.emit(Event(enc.raw(ts, tid, values), cpu, 0))
        else:
            self.emit(Decoded(code, ts, tid, cpu, values, nr, ret))

    def _decode(self, fn: Callable[[Call], list[Any]], call: Call) -> list[Any] | None:
        try:
            return fn(call)
        except ProcessGone:
            return None
        except Exception as exc:  # noqa: BLE001 - a decoder bug must not take the tracer (and tracees) down
            self.errors += 1
            self.last_error = f"{TABLE.get(call.nr)}: {exc!r}"
            return None

    def _get_route(self, nr: int) -> tuple[int, int, Decoder]:
        r = self._routes.get(nr)
        if r is None:
            enter, exit_, dec = _route(nr)
            r = self._routes[nr] = (enter if self._is_wanted(enter) else -1,
                                    exit_ if self._is_wanted(exit_) else -1, dec)
        return r

    def _call(self, th: Thread, nr: int, args: tuple[int, ...], ret: int) -> Call:
        """The thread's Call, reused from stop to stop (one allocation per thread, not per stop)."""
        c = th.call
        if c is None:
            c = th.call = Call(th.tid, th.pid, nr, args, ret, self.snaplen, th.slot, self.read_dev,
                               self.read_vm)
        else:
            c.tid = th.tid  # a non-leader's exec moves it to the leader's tid
            c.pid = th.pid
            c.nr = nr
            c.args = args
            c.ret = ret
        return c  # type: ignore[no-any-return]

    # ---- Sink protocol ------------------------------------------------------------------------------

    def syscall_enter(self, th: Thread, ts: int, cpu: int, nr: int, args: tuple[int, ...]) -> None:
        enter, _exit, dec = self._get_route(nr)
        th.slot.clear()
        if enter < 0:
            return
        vals = self._decode(dec.on_enter, self._call(th, nr, args, 0))
        if vals is not None:
            self._out(enter, ts, th.tid, cpu, vals, nr)

    def syscall_exit(self, th: Thread, ts: int, cpu: int, nr: int, ret: int) -> None:
        _enter, exit_, dec = self._get_route(nr)
        if exit_ < 0:
            th.slot.clear()
            return
        vals = self._decode(dec.on_exit, self._call(th, nr, th.args, ret))
        th.slot.clear()
        if vals is not None:
            self._out(exit_, ts, th.tid, cpu, vals, nr, ret)

    def clone(self, parent: Thread, child: Thread, flags: int, ts: int, cpu: int) -> None:
        nr = child.nr if child.nr in _CLONE_NRS else parent.nr if parent.nr in _CLONE_NRS else 56
        _enter, exit_, _dec = self._get_route(nr)
        if exit_ < 0:
            return
        try:
            vals = clone_values(0, child.tid, child.pid, flags)
        except Exception as exc:  # noqa: BLE001 - same reason as in _decode
            self.errors += 1
            self.last_error = f"clone child: {exc!r}"
            return
        if exit_ == GENERIC_X:
            vals = DECODERS["generic"].on_exit(Call(child.tid, child.pid, nr, (), 0, self.snaplen, {}))
        self._out(exit_, ts, child.tid, cpu, vals, nr, 0)

    def exec(self, th: Thread, former_tid: int, ts: int, cpu: int) -> None:
        """Nothing to emit: the execve exit follows at the next stop and reads the new image."""

    def exit(self, th: Thread, status: int, ts: int, cpu: int) -> None:
        if self._is_wanted(PROCEXIT):
            self._out(PROCEXIT, ts, th.tid, cpu, procexit_values(status))
        if th.tid == th.pid:
            net_decoders.forget_process(th.pid)
            forget_process(th.pid)

    def signal(self, th: Thread, sig: int, sender: int, ts: int, cpu: int) -> None:
        if self._is_wanted(SIGNALDELIVER):
            self._out(SIGNALDELIVER, ts, th.tid, cpu, signaldeliver(sender, th.tid, sig))
