"""The compiled fast path (tracer/_fastpath.c): which stops it may take, and its recipes.

A pipelined live capture spends most of its tracer time in Python on the commonest stops: read the
syscall, decode a few registers (sometimes a path or a buffer), pack the event, append it to the batch,
resume. `_fastpath.Core.run()` does exactly that in C for syscalls whose decoders have a recipe here,
and returns every other stop to the Python loop (tracer/engine.py), which handles it as before. A
recipe lists, per event param, how the decoder computes it: the table below pairs each Python decoder
function with its recipe, and every recipe is checked against the event table's param types before
use, so the C encoder writes the bytes EventBuilder would (tests/tracer/test_fastpath.py compares
captures made with and without it).

The fast path is used only where its conditions hold for the whole run: pipelined shipping (events as
bytes to the consumer process), no -M duration, no packet capture in-process, snaplen <= 64 KiB,
PTRACE_GET_SYSCALL_INFO available; `SDU_NO_NATIVE=1` turns it off. Without a C compiler at install
time the extension is not built and sdu is pure Python.
"""
from __future__ import annotations

import os
import struct
from _collections_abc import Callable  # (collections.abc without collections)

from sysdig_user import params as param_codec
from sysdig_user.event_table import EVENTS, PT
from sysdig_user.native import extension
from tracer.decoders import base, fs, io, memory, native
from tracer.decoders import generic as generic_dec
from tracer.decoders import open as open_dec
from tracer.events import EventBuilder, _route
from tracer.libc import FASTPATH_VERSION
from tracer.placement import SYSCALLS as PLACEMENT_SYSCALLS
from tracer.syscalls_x86_64 import SYSCALLS as SYSCALL_TABLE

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    from typing import Any, Protocol
else:
    Protocol = object  # (the protocols are mypy's: plain classes at run time)

VERSION = FASTPATH_VERSION  # the _fastpath.c interface this module drives (tracer/libc.py drives it too)
_fastpath = extension("tracer._fastpath", VERSION)  # None: not built (or stale), pure Python

# op kinds, as tracer/_fastpath.c numbers them
S32, U32, U64, U8, CONST16, RET, DATA, PATH, OFLAGS, OMODE, DEV, MFLAGS, FCNTL, VMSIZE, VMRSS, VMSWAP = range(16)
_SIZES = {S32: 8, U32: 4, U64: 8, U8: 1, CONST16: 2, RET: 8, OFLAGS: 4, OMODE: 4, DEV: 4, MFLAGS: 4, FCNTL: 1,
          VMSIZE: 4, VMRSS: 4, VMSWAP: 4}
MAX_NR = 1024
KNOWN_NRS = tuple(nr for nr in sorted(SYSCALL_TABLE) if nr < MAX_NR)  # the x86_64 syscalls the map names
MAX_SNAPLEN = 65536

Op = tuple[int, int, int, int]


def _op(kind: int, a: int = 0, b: int = 0, const: int = 0) -> Op:
    return (kind, a, b, const)


def _openat_params() -> list[Op]:
    return [_op(S32, 0), _op(PATH, 1), _op(OFLAGS, 2), _op(OMODE, 2, 3)]


def _open_params() -> list[Op]:
    return [_op(PATH, 0), _op(OFLAGS, 1), _op(OMODE, 1, 2)]


# decoder function -> (nr -> its params' ops)
ENTER: dict[Callable[..., Any], Callable[[int], list[Op]]] = {
    base.no_params: lambda nr: [],
    base.fd_only: lambda nr: [_op(S32, 0)],
    io.rw_enter: lambda nr: [_op(S32, 0), _op(U32, 2)],
    io.prw_enter: lambda nr: [_op(S32, 0), _op(U32, 2), _op(U64, 3)],
    io.lseek_enter: lambda nr: [_op(S32, 0), _op(U64, 1), _op(U8, 2)],
    io.ioctl_enter: lambda nr: [_op(S32, 0), _op(U64, 1), _op(U64, 2)],
    io.fcntl_enter: lambda nr: [_op(S32, 0), _op(FCNTL, 1)],
    memory.mmap_enter: lambda nr: [_op(U64, 0), _op(U64, 1), _op(U32, 2), _op(MFLAGS, 3), _op(S32, 4), _op(U64, 5)],
    memory.munmap_enter: lambda nr: [_op(U64, 0), _op(U64, 1)],
    memory.brk_enter: lambda nr: [_op(U64, 0)],
    memory.mprotect_enter: lambda nr: [_op(U64, 0), _op(U64, 1), _op(U32, 2)],
    fs.access_enter: lambda nr: [_op(U32, 1)],
    generic_dec.generic_enter: lambda nr: [_op(CONST16, const=generic_dec.ppm_sc(nr)), _op(CONST16, const=nr)],
    open_dec.openat_enter: lambda nr: _openat_params(),
    open_dec.open_enter: lambda nr: _open_params(),
}
EXIT: dict[Callable[..., Any], Callable[[int], list[Op]]] = {
    base.no_params: lambda nr: [],
    base.res_only: lambda nr: [_op(RET)],
    io.dup_exit: lambda nr: [_op(RET)],
    io.rw_exit: lambda nr: [_op(RET), _op(DATA, 1)],
    fs.path_exit: lambda nr: [_op(RET), _op(PATH, 0)],
    fs.access_exit: lambda nr: [_op(RET), _op(PATH, 0)],
    generic_dec.generic_exit: lambda nr: [_op(CONST16, const=generic_dec.ppm_sc(nr))],
    open_dec.openat_exit: lambda nr: [_op(RET), *_openat_params(), _op(DEV)],
    open_dec.open_exit: lambda nr: [_op(RET), *_open_params(), _op(DEV)],
    # (res is u64 for mmap and brk, errno for munmap: the same 8 bytes either way)
    memory.vm_exit: lambda nr: [_op(RET), _op(VMSIZE), _op(VMRSS), _op(VMSWAP)],
}


def _fits(code: int, ops: list[Op]) -> bool:
    """The ops write each param of event `code` at its type's size (strings and buffers as such)."""
    params = EVENTS[code].params
    if len(params) != len(ops):
        return False
    for p, (kind, *_rest) in zip(params, ops):
        if kind == PATH:
            if p.type not in param_codec.STRING_TYPES:
                return False
        elif kind == DATA:
            if p.type is not PT.BYTEBUF:
                return False
        else:
            fmt = param_codec.fixed_format(p.type)
            if fmt is None or p.type is PT.DOUBLE or struct.calcsize(fmt) != _SIZES[kind]:
                return False
    return True


def routes(builder: EventBuilder) -> dict[int, tuple[int, list[Op], int, list[Op]]]:
    """nr -> (enter code, its ops, exit code, its ops) for every syscall the C path can encode; a code
    is -1 when the builder does not want that event (handled, not emitted)."""
    out: dict[int, tuple[int, list[Op], int, list[Op]]] = {}
    fits: dict[tuple[int, tuple[int, ...]], bool] = {}  # (code, op kinds): most syscalls share a few

    def fit(code: int, ops: list[Op]) -> bool:
        key = (code, tuple(op[0] for op in ops))
        got = fits.get(key)
        if got is None:
            got = fits[key] = _fits(code, ops)
        return got

    for nr in KNOWN_NRS:  # (an unknown number, ENOSYS, takes the Python path: ~2/3 of the set-up less)
        enter, exit_, dec = _route(nr)
        make_e, make_x = ENTER.get(dec.on_enter), EXIT.get(dec.on_exit)
        if make_e is None or make_x is None:
            continue
        e_ops, x_ops = make_e(nr), make_x(nr)
        if not (fit(enter, e_ops) and fit(exit_, x_ops)):
            continue
        out[nr] = (enter if builder._is_wanted(enter) else -1, e_ops,
                   exit_ if builder._is_wanted(exit_) else -1, x_ops)
    return out


def core_for(builder: EventBuilder, place_cpu: int = -1) -> Any:
    """A _fastpath.Core encoding as `builder` does (its wanted events, snaplen, dev and VM reads)."""
    from tracer import pipelined

    ppm = native._PPM_O
    return _fastpath.Core(routes(builder), sorted(PLACEMENT_SYSCALLS), builder.snaplen, builder.read_dev,
                          builder.read_vm, place_cpu, pipelined.BATCH_BYTES, pipelined.BATCH_NS,
                          list(native._OPEN), (ppm["O_RDONLY"], ppm["O_WRONLY"], ppm["O_RDWR"]),
                          list(native._MMAP), sorted(native._FCNTL.items()), base.STAT_DEV_FSTYPES)


class Batch(Protocol):
    """The batch being filled (tracer.pipelined.Link): its bytes and the time of its first event."""

    buf: bytearray
    first_ts: int


class FastLoop:
    """What Engine._loop calls instead of waiting itself: the Core, the batch it appends to, when it
    must leave the waiting to Python (`paused()`: an alarm to serve, the capture stopping), how a full
    or old batch is written (`flush()`) and what starts a batch's timer (`on_start()`, as Link.ship's
    on_batch)."""

    def __init__(self, core: Any, batch: Batch, paused: Callable[[], bool], flush: Callable[[], None],
                 on_start: Callable[[], None] | None = None, batch_bytes: int = 0) -> None:
        self.core = core
        self._batch = batch
        self._paused = paused
        self._on_start = on_start
        self._batch_bytes = batch_bytes
        self.batch_due = flush  # called when an event the Core added made the batch due for writing

    def batch_started(self, ts: int) -> None:
        """The Core started the batch with an event at `ts`: its time noted and its timer armed, or the
        batch written at once if that one event filled it, as Link.ship does for an event Python ships."""
        batch = self._batch
        batch.first_ts = ts
        if len(batch.buf) >= self._batch_bytes:
            self.batch_due()
        elif self._on_start is not None:
            self._on_start()

    def run(self, threads: dict[int, Any], place: Any) -> tuple[int, int, int, int, int] | None:
        """The next stop for the Python loop (see _fastpath.c run()), or None when the loop should wait
        itself: paused(). The Core starts batches too (the Python loop then calls batch_started)."""
        batch = self._batch
        if self._paused():
            return None
        active = place is not None and place.active
        return self.core.run(threads, batch.buf, batch.first_ts, active,  # type: ignore[no-any-return]
                             place.next_sample if active else 0)

    def counts(self) -> tuple[int, int, int]:
        """(stops the Core took from wait4, syscalls it entered, stops it handed to Python)."""
        return self.core.counts()  # type: ignore[no-any-return]

    def dev_reads(self) -> tuple[int, int, int]:
        """Open exits whose dev came from the mount table, from a stat; mount table reloads (fdinfo_dev)."""
        return self.core.dev_reads()  # type: ignore[no-any-return]

    def paths_reused(self) -> int:
        """Exit stops that wrote the path their enter stop had read (open, openat, creat)."""
        return self.core.memo_hits()  # type: ignore[no-any-return]


def make(builder: EventBuilder, batch: Batch, paused: Callable[[], bool], flush: Callable[[], None],
         place_cpu: int, on_start: Callable[[], None] | None = None) -> FastLoop | None:
    """A FastLoop for this capture, or None where the fast path cannot be used (module docstring)."""
    if _fastpath is None or os.environ.get("SDU_NO_NATIVE"):
        return None
    if builder.ship is None or not builder.build or not 0 <= builder.snaplen <= MAX_SNAPLEN:
        return None
    core = core_for(builder, place_cpu)
    builder.forget_hooks.append(core.forget)
    from tracer import pipelined

    return FastLoop(core, batch, paused, flush, on_start, pipelined.BATCH_BYTES)
