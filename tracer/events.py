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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sysdig_user.event import Event
from sysdig_user.event_table import SYSCALLS as ROUTES
from sysdig_user.event_table import event_code
from tracer.decoders import DECODERS, Call, Decoder
from tracer.decoders import net as net_decoders
from tracer.decoders.base import DEFAULT_SNAPLEN
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


class EventBuilder:
    """Engine Sink producing Decoded records, or Events when `build` is true, to `emit`.

    Decoder failures never stop tracing: a thread vanishing mid-read drops that event, and any other
    decoder exception is counted in `errors` (tests assert it stays 0) and the event is dropped.
    """

    def __init__(self, emit: Callable[[Any], None], snaplen: int = DEFAULT_SNAPLEN, build: bool = True) -> None:
        self.emit = emit
        self.snaplen = snaplen
        self.build = build
        self.errors = 0
        self.last_error: str = ""
        self._routes: dict[int, tuple[int, int, Decoder]] = {}

    def _out(self, code: int, ts: int, tid: int, cpu: int, values: list[Any], nr: int = -1,
             ret: int | None = None) -> None:
        if self.build:
            self.emit(Event.build(code, ts, tid, cpu, values))
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
            r = self._routes[nr] = _route(nr)
        return r

    # ---- Sink protocol ------------------------------------------------------------------------------

    def syscall_enter(self, th: Thread, ts: int, cpu: int, nr: int, args: tuple[int, ...]) -> None:
        enter, _exit, dec = self._get_route(nr)
        th.slot.clear()
        vals = self._decode(dec.on_enter, Call(th.tid, th.pid, nr, args, 0, self.snaplen, th.slot))
        if vals is not None:
            self._out(enter, ts, th.tid, cpu, vals, nr)

    def syscall_exit(self, th: Thread, ts: int, cpu: int, nr: int, ret: int) -> None:
        _enter, exit_, dec = self._get_route(nr)
        vals = self._decode(dec.on_exit, Call(th.tid, th.pid, nr, th.args, ret, self.snaplen, th.slot))
        th.slot.clear()
        if vals is not None:
            self._out(exit_, ts, th.tid, cpu, vals, nr, ret)

    def clone(self, parent: Thread, child: Thread, flags: int, ts: int, cpu: int) -> None:
        nr = parent.nr if parent.nr in _CLONE_NRS else 56
        _enter, exit_, _dec = self._get_route(nr)
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
        self._out(PROCEXIT, ts, th.tid, cpu, procexit_values(status))
        if th.tid == th.pid:
            net_decoders.forget_process(th.pid)

    def signal(self, th: Thread, sig: int, sender: int, ts: int, cpu: int) -> None:
        self._out(SIGNALDELIVER, ts, th.tid, cpu, signaldeliver(sender, th.tid, sig))
