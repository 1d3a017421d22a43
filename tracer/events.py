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
from _functools import partial  # (functools.partial itself; functools.py costs a start 3M instructions)
from collections.abc import Callable
from itertools import accumulate, pairwise

from sysdig_user import cache
from sysdig_user import params as param_codec
from sysdig_user.event import HEADER, HEADER_SIZE, Event
from sysdig_user.event_table import EF, EVENTS, PPM_SC, PT, event_code
from sysdig_user.event_table import SYSCALLS as ROUTES
from sysdig_user.rows import Record
from tracer.decoders import DECODERS, Call, Decoder
from tracer.decoders.base import DEFAULT_SNAPLEN, forget_process
from tracer.decoders.process import clone_values, procexit_values
from tracer.engine import Thread
from tracer.errors import ProcessGone
from tracer.syscalls_x86_64 import SYSCALLS as TABLE

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    from typing import Any

GENERIC_E, GENERIC_X = 0, 1
PROCEXIT = event_code("procexit", True)
SIGNALDELIVER = event_code("signaldeliver", True)
_CLONE_NRS = (56, 57, 58, 435)


class Decoded(Record):
    """One event before encoding: what the decoders produced (tests compare these with strace)."""

    _fields = ("code", "ts", "tid", "cpu", "values", "nr", "ret")
    __slots__ = _fields
    code: int
    ts: int
    tid: int
    cpu: int
    values: list[Any]
    nr: int  # native syscall number, -1 for process events
    ret: int | None  # the raw return value on syscall exits (generic exits do not carry it)

    def __init__(self, code: int, ts: int, tid: int, cpu: int, values: list[Any], nr: int = -1,
                 ret: int | None = None) -> None:
        self.code = code
        self.ts = ts
        self.tid = tid
        self.cpu = cpu
        self.values = values
        self.nr = nr
        self.ret = ret


_Packer = Callable[[int, int, "list[Any]"], bytes]
_Route = tuple[int, int, Callable[[Call], "list[Any]"], Callable[[Call], "list[Any]"], _Packer, _Packer, Decoder]


def _unwanted(ts: int, tid: int, values: list[Any]) -> bytes:
    """The packer of an unwanted code (-1 in a route), which is never decoded nor packed."""
    raise AssertionError("an unwanted event was packed")


def _route(nr: int) -> tuple[int, int, Decoder]:
    """(enter code, exit code, decoder) for native syscall nr."""
    enter, exit_, name = _routing(nr)
    return enter, exit_, DECODERS[name]


def _routing(nr: int) -> tuple[int, int, str]:
    """(enter code, exit code, decoder name) for native syscall nr: the codes without importing the
    decoder's family (tracer/decoders/__init__.py)."""
    route = ROUTES.get(nr)
    info = TABLE.get(nr)
    if route is None or route.is_generic or info is None or info.decoder == "generic":
        return GENERIC_E, GENERIC_X, "generic"
    return route.enter, route.exit, info.decoder


def event_codes(nr: int) -> tuple[int, int]:
    """(enter code, exit code) of the events native syscall nr becomes here."""
    enter, exit_, _name = _routing(nr)
    return enter, exit_


def event_type_name(nr: int) -> str:
    """The evt.type of the events native syscall nr becomes here: its event's name, or for a generic
    event the ppm_sc name (what sysdig_user.fields.evt shows), "<unknown>" past the 2022 table."""
    enter, _exit, _name = _routing(nr)
    if enter != GENERIC_E:
        return EVENTS[enter].name
    route = ROUTES.get(nr)
    return PPM_SC[route.ppm_sc if route is not None else 0].name


class _Encoder:
    """Event code -> Event, compiled once per code (Event.build looks everything up per call).

    When every param has a fixed size (generic events, read/write enters, close, ...), header, length
    array and params are one struct.pack. Values the struct cannot take as they are (a negative value
    for an unsigned param, which the driver stores modulo its width) take the general path: one
    precompiled encoder per param, header and lengths in one pack. The Event gets its param bounds,
    and with `prefill` the values that decode back to themselves (in-range plain ints, NUL-free str
    for string params, bytes for BYTEBUF) in its decoded-value cache, so nothing decodes them again.
    Shipping (bytes, no Event) goes through `packer()`, compiled on first use: a capture that never
    ships (a short run, whose consumer is never forked) never compiles one.
    """

    __slots__ = ("_bounds", "_checks", "_encs", "_fmts", "_head", "_large", "_lens", "_packer", "_total", "code",
                 "info", "whole")

    def __init__(self, code: int) -> None:
        self.code = code
        self.info = EVENTS[code]
        params = self.info.params
        fmts = [param_codec.fixed_format(p.type) for p in params]
        self.whole: struct.Struct | None = None
        large = bool(self.info.flags & EF.LARGE_PAYLOAD)
        n = len(params)
        self._head = struct.Struct(HEADER.format + ("I" if large else "H") * n)
        self._encs = tuple(_param_encoder(p) for p in params)
        # per param: (lo, hi) for an int, "s" for a string, "b" for a buffer, None: never prefilled
        checks: list[Any] = []
        for f, p in zip(fmts, params):
            if f is not None and p.type is not PT.DOUBLE:
                bits = struct.calcsize(f) * 8
                checks.append((-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if f[1].islower()
                              else (0, (1 << bits) - 1))
            elif p.type in param_codec.STRING_TYPES:
                checks.append("s")
            elif p.type is PT.BYTEBUF:
                checks.append("b")
            else:
                checks.append(None)
        self._checks = tuple(checks)
        self._bounds: tuple[tuple[int, int], ...] = ()
        if all(f is not None and p.type is not PT.DOUBLE for f, p in zip(fmts, params)) and not large:
            body = "".join(f[1:] for f in fmts)  # type: ignore[index]
            self.whole = struct.Struct(HEADER.format + "H" * n + body)
            self._lens = tuple(struct.calcsize("<" + f[1:]) for f in fmts)  # type: ignore[index]
            self._total = self.whole.size
            self._bounds = tuple(pairwise(accumulate(self._lens, initial=HEADER_SIZE + 2 * n)))
        self._fmts = fmts
        self._large = large
        self._packer: _Packer | None = None

    def packer(self) -> _Packer:
        """pack(ts, tid, values) -> the event's bytes: `raw`, specialised for this code (_compile_packer,
        ~0.3 ms, done on the first call)."""
        pack = self._packer
        if pack is None:
            pack = self._packer = _compile_packer(self, self._fmts, self._large)
        return pack

    def pack(self, ts: int, tid: int, values: list[Any]) -> bytes:
        """packer()(ts, tid, values), for the routes of a builder that does not ship (yet)."""
        return self.packer()(ts, tid, values)

    def event(self, ts: int, tid: int, cpu: int, values: list[Any], prefill: bool) -> Event:
        raw = self._pack_whole(ts, tid, values)
        if raw is not None:
            evt = Event(raw, cpu, 0)
            evt._bounds = self._bounds
            if prefill:
                for v in values:
                    if type(v) is not int:
                        break
                else:
                    evt._vals = dict(enumerate(values))
            return evt
        raw, lens = self._pack_params(ts, tid, values)
        evt = Event(raw, cpu, 0)
        evt._bounds = tuple(pairwise(accumulate(lens, initial=self._head.size)))
        if prefill:
            vals = {}
            for i, (check, v) in enumerate(zip(self._checks, values)):
                if check is None:
                    continue
                t = type(v)
                if t is int:
                    if check.__class__ is tuple and check[0] <= v <= check[1]:
                        vals[i] = v
                elif t is str:
                    if check == "s" and "\0" not in v:
                        vals[i] = v
                elif t is bytes and check == "b":
                    vals[i] = v
            if vals:
                evt._vals = vals
        return evt

    def raw(self, ts: int, tid: int, values: list[Any]) -> bytes:
        """The event's bytes alone: what a pipelined live capture ships to its consumer process, which
        builds the Event there (no Event here, nothing prefilled). Same bytes as `pack`."""
        raw = self._pack_whole(ts, tid, values)
        return raw if raw is not None else self._pack_params(ts, tid, values)[0]

    def _raw_general(self, ts: int, tid: int, values: list[Any]) -> bytes:
        """`pack`'s fallback: the general path alone (values its struct cannot take as they are)."""
        return self._pack_params(ts, tid, values)[0]

    def _pack_whole(self, ts: int, tid: int, values: list[Any]) -> bytes | None:
        """Header, lengths and params in one struct.pack; None when the code or a value does not allow it."""
        whole = self.whole
        n = len(values)
        if whole is None or n != len(self._lens):
            return None
        try:
            return whole.pack(ts, tid, self._total, self.code, n, *self._lens, *values)
        except struct.error:
            return None

    def _pack_params(self, ts: int, tid: int, values: list[Any]) -> tuple[bytes, list[int]]:
        """The general path: each param through its own encoder. Returns the bytes and the param lengths."""
        n = len(values)
        if n != len(self._encs):
            raise ValueError(f"{self.info.name}: {n} values for {len(self._encs)} params")
        blobs = [enc(v) for enc, v in zip(self._encs, values)]
        lens = [len(b) for b in blobs]
        start = self._head.size
        body = b"".join(blobs)
        return self._head.pack(ts, tid, start + len(body), self.code, n, *lens) + body, lens


def _compile_packer(enc: _Encoder, fmts: list[str | None], large: bool) -> _Packer:
    """A function (ts, tid, values) -> bytes made for one event code: what `_Encoder.raw` returns, in
    one call with no per-param loop, list or partial. Per code, the params before the first
    variable-size one are packed with the header and the length array by one struct, and each further
    run of fixed-size params by one struct; strings and buffers are encoded inline (as
    sysdig_user.params.encode_str and encode do); other params go through their encoder. A value one
    of these structs refuses (a negative value for an unsigned param, which the driver stores modulo
    its width), a string param holding neither str, bytes nor None, a wrong number of values: all take
    the general path (`_raw_general`), which encodes them, or raises, as before."""
    params = enc.info.params
    n = len(params)
    lenfmt = "I" if large else "H"
    consts: dict[str, Any] = {"slow": enc._raw_general}
    names = [f"v{i}" for i in range(n)]
    body: list[str] = []
    pieces: list[str] = []  # expressions concatenated after the first struct's
    lens: list[str] = []
    fixed_size = HEADER.size + struct.calcsize("<" + lenfmt * n)
    first_fmt = HEADER.format + lenfmt * n
    first_args: list[str] = []
    run_fmt = ""  # fixed-size params after the first variable one, not yet packed
    run_args: list[str] = []
    in_first = True

    def close_run() -> None:
        nonlocal run_fmt, run_args
        if run_args:
            name = f"S{len(consts)}"
            consts[name] = struct.Struct("<" + run_fmt).pack
            pieces.append(f"{name}({', '.join(run_args)})")
        run_fmt, run_args = "", []

    for i, (p, f) in enumerate(zip(params, fmts)):
        v = names[i]
        if f is not None and p.type is not PT.DOUBLE:
            size = struct.calcsize(f)
            fixed_size += size
            lens.append(str(size))
            if in_first:
                first_fmt += f[1:]
                first_args.append(v)
            else:
                run_fmt += f[1:]
                run_args.append(v)
            continue
        in_first = False
        close_run()
        b = f"b{i}"
        if p.type in param_codec.STRING_TYPES:
            body += [f"if {v}.__class__ is str:",
                     f"    {b} = {v}.encode('utf-8', 'surrogateescape') + b'\\0'",
                     f"elif {v} is None:",
                     f"    {b} = b'(NULL)\\0'",
                     "else:",
                     f"    {b} = {v} + b'\\0'"]
        elif p.type is PT.BYTEBUF:
            body.append(f"{b} = {v} if {v}.__class__ is bytes else bytes({v})")
        else:
            consts[f"E{i}"] = enc._encs[i]
            body.append(f"{b} = E{i}({v})")
        body.append(f"n{i} = len({b})")
        lens.append(f"n{i}")
        pieces.append(b)
    close_run()
    consts["S0"] = struct.Struct(first_fmt).pack
    total = " + ".join([str(fixed_size)] + [x for x in lens if not x.isdigit()])
    head = f"S0(ts, tid, {total}, {enc.code}, {n}{''.join(', ' + x for x in lens + first_args)})"
    src = ["def pack(ts, tid, values):", "    try:"]
    if n:
        src.append(f"        {', '.join(names)}, = values")
    else:
        src.append("        if values:")
        src.append("            return slow(ts, tid, values)")
    src += ["        " + line for line in body]
    src.append("        return " + " + ".join([head, *pieces]))
    src += ["    except Exception:", "        return slow(ts, tid, values)"]
    exec(cache.compiled("\n".join(src), "<sdu packer>"), consts)  # noqa: S102 - built from the event table only
    return consts["pack"]  # type: ignore[no-any-return]


#: code -> its _Encoder, built once per process (compiling a packer costs ~0.3 ms; a run meets tens of codes,
#: and tests and benches make many builders): an encoder depends on its code alone
_ENCODERS: dict[int, _Encoder] = {}


def _encoder(code: int) -> _Encoder:
    enc = _ENCODERS.get(code)
    if enc is None:
        enc = _ENCODERS[code] = _Encoder(code)
    return enc


def _param_encoder(param: Any) -> Callable[[Any], bytes]:
    if param.type is PT.DYN:
        return partial(param_codec.encode_param, param)
    return partial(param_codec.encode, param.type)


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
    * `prefill=True`: Events carry the values that decode back to themselves already decoded (for a
      consumer that reads every param, e.g. printing evt.args; useless work for -w alone).

    Setting `ship` (a callable taking ts, cpu and the event's bytes) replaces emit for built events: no
    Event is made, for a consumer in another process (tracer/pipelined.py).
    """

    def __init__(self, emit: Callable[[Any], None], snaplen: int = DEFAULT_SNAPLEN, build: bool = True,
                 wanted: Callable[[int], bool] | None = None, read_dev: bool = True,
                 read_vm: bool = True, prefill: bool = False) -> None:
        self.emit = emit
        self.prefill = prefill
        self.snaplen = snaplen
        self._build = build
        # ship(ts, cpu, raw), when set, takes built events instead of emit, as bytes (tracer.pipelined)
        self._ship: Callable[[int, int, bytes], None] | None = None
        self._shipper: Callable[[int, int, bytes], None] | None = None  # ship if build, else None
        self.wanted = wanted
        self.read_dev = read_dev
        self.read_vm = read_vm
        self.errors = 0
        self.last_error: str = ""
        # nr -> (enter code or -1 if unwanted, exit code or -1, on_enter, on_exit, enter packer, exit
        # packer, decoder)
        self._routes: dict[int, _Route] = {}
        self._wanted_codes: dict[int, bool] = {}
        # called with a process's pid at its exit (tracer/fastpath.py's Core keeps a /proc fd per pid)
        self.forget_hooks: list[Callable[[int], None]] = []

    @property
    def ship(self) -> Callable[[int, int, bytes], None] | None:
        return self._ship

    @ship.setter
    def ship(self, ship: Callable[[int, int, bytes], None] | None) -> None:
        self._ship = ship
        self._shipper = ship if self._build else None
        self._routes.clear()  # (remade on demand with their compiled packers, see _new_route)

    @property
    def build(self) -> bool:
        return self._build

    @build.setter
    def build(self, build: bool) -> None:
        self._build = build
        self._shipper = self._ship if build else None
        self._routes.clear()

    def _is_wanted(self, code: int) -> bool:
        if self.wanted is None:
            return True
        got = self._wanted_codes.get(code)
        if got is None:
            got = self._wanted_codes[code] = bool(self.wanted(code))
        return got

    def _out(self, code: int, ts: int, tid: int, cpu: int, values: list[Any], nr: int = -1,
             ret: int | None = None) -> None:
        if self._build:
            enc = _encoder(code)
            ship = self._ship
            if ship is not None:
                ship(ts, cpu, enc.packer()(ts, tid, values))
            else:
                self.emit(enc.event(ts, tid, cpu, values, self.prefill))
        else:
            self.emit(Decoded(code, ts, tid, cpu, values, nr, ret))

    def _get_route(self, nr: int) -> tuple[int, int, Decoder]:
        r = self._routes.get(nr)
        if r is None:
            r = self._new_route(nr)
        return r[0], r[1], r[6]

    def _new_route(self, nr: int) -> _Route:
        """The route of native syscall nr. Its packers are the codes' compiled ones when the builder
        ships; otherwise (they are not called then) the encoders' `pack`, which compiles on first use:
        setting `ship` or `build` clears the routes, so a builder that starts shipping remakes them."""
        enter, exit_, dec = _route(nr)
        enter = enter if self._is_wanted(enter) else -1
        exit_ = exit_ if self._is_wanted(exit_) else -1
        shipping = self._shipper is not None
        packers = [_unwanted if code < 0 else _encoder(code).packer() if shipping else _encoder(code).pack
                   for code in (enter, exit_)]
        r = self._routes[nr] = (enter, exit_, dec.on_enter, dec.on_exit, packers[0], packers[1], dec)
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

    def _failed(self, call: Call, exc: Exception) -> None:
        self.errors += 1
        self.last_error = f"{TABLE.get(call.nr)}: {exc!r}"

    # ---- Sink protocol ------------------------------------------------------------------------------
    # syscall_enter and syscall_exit run at every stop: _call, _decode and _out are inlined in them (one
    # Python call each instead of four), and shipped events go through their code's compiled packer.
    # The thread's Call keeps its tid and pid from stop to stop (exec() updates them), the slot is only
    # cleared when a decoder used it, and `_shipper` is ship when events are shipped as bytes.

    def syscall_enter(self, th: Thread, ts: int, cpu: int, nr: int, args: tuple[int, ...]) -> None:
        r = self._routes.get(nr) or self._new_route(nr)
        slot = th.slot
        if slot:
            slot.clear()
        if r[0] < 0:
            return
        c = th.call
        if c is None:
            c = self._call(th, nr, args, 0)
        else:
            c.nr = nr
            c.args = args
            c.ret = 0
        try:
            vals = r[2](c)
        except ProcessGone:
            return
        except Exception as exc:  # noqa: BLE001 - a decoder bug must not take the tracer (and tracees) down
            self._failed(c, exc)
            return
        ship = self._shipper
        if ship is not None:
            ship(ts, cpu, r[4](ts, th.tid, vals))
        else:
            self._out(r[0], ts, th.tid, cpu, vals, nr)

    def syscall_exit(self, th: Thread, ts: int, cpu: int, nr: int, ret: int) -> None:
        r = self._routes.get(nr) or self._new_route(nr)
        if r[1] < 0:
            if th.slot:
                th.slot.clear()
            return
        c = th.call
        if c is None:
            c = self._call(th, nr, th.args, ret)
        else:
            c.nr = nr
            c.args = th.args
            c.ret = ret
        try:
            vals = r[3](c)
        except ProcessGone:
            th.slot.clear()
            return
        except Exception as exc:  # noqa: BLE001 - same reason as in syscall_enter
            self._failed(c, exc)
            th.slot.clear()
            return
        if th.slot:
            th.slot.clear()
        ship = self._shipper
        if ship is not None:
            ship(ts, cpu, r[5](ts, th.tid, vals))
        else:
            self._out(r[1], ts, th.tid, cpu, vals, nr, ret)

    def clone(self, parent: Thread, child: Thread, flags: int, ts: int, cpu: int) -> None:
        nr = child.nr if child.nr in _CLONE_NRS else parent.nr if parent.nr in _CLONE_NRS else 56
        _enter, exit_, _dec = self._get_route(nr)
        if exit_ < 0:
            return
        try:
            vals = clone_values(0, child.tid, child.pid, flags)
        except Exception as exc:  # noqa: BLE001 - same reason as in syscall_enter
            self.errors += 1
            self.last_error = f"clone child: {exc!r}"
            return
        if exit_ == GENERIC_X:
            vals = DECODERS["generic"].on_exit(Call(child.tid, child.pid, nr, (), 0, self.snaplen, {}))
        self._out(exit_, ts, child.tid, cpu, vals, nr, 0)

    def exec(self, th: Thread, former_tid: int, ts: int, cpu: int) -> None:
        """Nothing to emit: the execve exit follows at the next stop and reads the new image. A
        non-leader's exec moves it to the leader's tid: its Call follows (syscall_enter/exit do not
        copy tid and pid at every stop)."""
        c = th.call
        if c is not None:
            c.tid = th.tid
            c.pid = th.pid

    def exit(self, th: Thread, status: int, ts: int, cpu: int) -> None:
        if self._is_wanted(PROCEXIT):
            self._out(PROCEXIT, ts, th.tid, cpu, procexit_values(status))
        if th.tid == th.pid:
            forget_process(th.pid)
            for hook in self.forget_hooks:
                hook(th.pid)

    def signal(self, th: Thread, sig: int, sender: int, ts: int, cpu: int) -> None:
        if self._is_wanted(SIGNALDELIVER):
            from tracer.decoders.signal import signaldeliver  # (a run with no signal never imports it)

            self._out(SIGNALDELIVER, ts, th.tid, cpu, signaldeliver(sender, th.tid, sig))
