"""The compiled default line (sysdig_user/_fastline.c): when it may run, and its recipes.

Printing sysdig's default line costs the Python pipeline ~12 us per event (the Event, the Inspector,
the generated line function); `_fastline.Core` does it in C for the events whose text and state
changes are simple, and declines every other event to the Python pipeline (see the C file). It runs
where the pipeline is a text line and nothing else per event: the default format or a -p format whose
fields are all compiled (output/compiled.py), with no filter or a compiled one, no chisel, no -w, -S,
-n, -d or -D, buffers printed as text (no -A/-x/-X/-b, -j), times as -t h. `-v` is fine (its buffers
are only longer). The live printing process gives it whole batches
(tracer/pipelined.py), `-r` runs of event blocks (the reader's ``events``) and single events.
`SDU_NO_NATIVE=1` turns it off; without a C compiler at install time the extension is not built and
the pipeline is pure Python.

`-w` with nothing else per event is the other case (`passthrough`, `block_writer`): the writing
process frames the tracer's events as scap blocks in C without parsing them.

A recipe is built per event type from the event table and render.py's own per-param plan
(render._args_plan), so the kinds of text the C code writes are the ones render.py writes; a type
with a param of any other kind has no recipe (tests/output/test_fastline.py compares both paths
over captures).
"""
from __future__ import annotations

import os
import struct

from sysdig_user import params as param_codec
from sysdig_user.event import Event
from sysdig_user.event_table import EF, EVENTS, PF, PPM_EVENT_MAX, PT, SC_NAMES, event_code
from sysdig_user.native import FASTLINE_VERSION, extension
from sysdig_user.output import render
from sysdig_user.output.names import ERRNO_NAMES
from sysdig_user.output.timefmt import clock_prefix
from sysdig_user.params import decode_str, fixed_format
from sysdig_user.state import parsers_files, parsers_net, parsers_process
from sysdig_user.state.containers import CONTAINER_CODES
from sysdig_user.state.fds import TYPE_CHARS, FdInfo, FdType
from sysdig_user.state.inspector import (
    _FLAGS,
    _HANDLERS,
    F_NO_QUERY,
    F_NO_THREAD,
    F_SKIP,
    F_USES_FD,
    HIDDEN_CODES,
    PROCINFO_E,
    SCHEDSWITCH_6_E,
)

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    from typing import Any

VERSION = FASTLINE_VERSION  # the _fastline.c interface this module drives
_fastline = extension("sysdig_user._fastline", VERSION)  # None: not built (or stale), pure Python

_GENERIC = (0, 1)
OPENAT_X = event_code("openat", False)  # the current openat exit: fd, dirfd, name, flags, mode, dev
_EF_LARGE = int(EF.LARGE_PAYLOAD)
_EF_USES_FD = int(EF.USES_FD)
_MAX_PARAMS = 32  # (the C file's MAX_PARAMS)


def available(environ: Any = os.environ) -> bool:
    return _fastline is not None and environ.get("SDU_NO_NATIVE") != "1"


def _joined(pair: tuple[str, str]) -> str:
    text, resolved = pair  # render._arg_text's "value(resolved)"
    return f"{text}({resolved})" if resolved else text


# the params the C code has Python write: (state, thread, value) -> text, as render.py's branches
def _pid_text(st: Any, th: Any, value: int) -> str:
    return _joined(render.pid_strings(value, st.threads.get(value)))  # (EventPipeline's lookup_thread)


def _uid_text(st: Any, th: Any, value: int) -> str:
    return _joined(render.id_strings(st.users, PT.UID, value))


def _gid_text(st: Any, th: Any, value: int) -> str:
    return _joined(render.id_strings(st.users, PT.GID, value))


def _path_text(st: Any, th: Any, dirfd: int | None, raw: bytes) -> str:
    """A path param that is not absolute and printable: resolved against the cwd or the dirfd, as
    render._path_strings does."""
    value = decode_str(raw)
    text = render.sanitize(value)
    if render.shown_as_is(value, th):
        return text
    return _joined((text, render.resolved_path(value, st.threads.get_cwd(th), th, dirfd)))


def _raw_text(p: Any) -> Any:
    """(state, thread, raw) -> text of a param whose text depends on its value alone (sockaddr,
    socktuple), as render._arg_text writes it (NULL when empty)."""
    strings = render._STRINGS[p.type]
    decode = param_codec.decoder(p.type)

    def text(st: Any, th: Any, raw: bytes) -> str:
        if not raw:
            return "NULL"
        return _joined(strings(None, 0, p, p.type, decode(raw), len(raw), render.DEFAULT_OPTIONS))  # type: ignore[arg-type]
    return text


def _fdlist_text(st: Any, th: Any, raw: bytes) -> str:
    """poll's fd list, the fds' types from the thread's table (render.fdlist_text)."""
    return render.fdlist_text(th, param_codec.decode_fdlist(raw))


_CALLS = {render._pid_strings: _pid_text}
_RAW_TYPES = frozenset({PT.SOCKADDR, PT.SOCKTUPLE})
_ID_CALLS = {PT.UID: _uid_text, PT.GID: _gid_text}


def _param_recipe(p: Any, kind: str, strings: Any) -> tuple[Any, ...] | None:
    """(prefix, C kind, size, signed, mask, texts, table, call, dirfd) of one param of render's plan,
    None when the C code does not write that kind."""
    assert _fastline is not None
    fmt = fixed_format(p.type)
    size = struct.calcsize(fmt) if fmt is not None else 0
    signed = fmt is not None and fmt[-1].islower()
    mask = (1 << render._WIDTH.get(p.type, 64)) - 1
    prefix = p.name + "="
    k = _fastline
    none = (None, None, None, -1)  # texts, table, call, dirfd
    if kind is render._DECIMAL:
        return (prefix, k.K_DEC, size, signed, 0, *none) if size else None
    if kind is render._CHARBUF:
        return prefix, k.K_STR, 0, False, 0, *none
    if kind is render._ERRNO and size == 8:
        return prefix, k.K_ERRNO, 8, True, 0, *none
    if kind is render._FD and size == 8:
        return prefix, k.K_FD, 8, True, 0, *none
    if kind is render._FLAGS and size:
        return prefix, k.K_FLAGS, size, False, 0, render._FLAG_ARGS.setdefault(p.table, {}), p.table, None, -1
    if kind is render._NUMBER and size:
        if p.fmt is PF.HEX:
            return prefix, k.K_HEX, size, signed, mask, *none
        if p.fmt is PF.OCT:
            return prefix, k.K_OCT, size, signed, mask, *none
        if p.fmt is PF.PADDED_DEC:
            return prefix, k.K_PADDED, size, signed, 0, *none
        if p.type is PT.UINT64:  # printed through a signed cast
            return prefix, k.K_SIGNED64, 8, True, 0, *none
        return None
    if kind is render._PATH:
        dirfd = p.dirfd if p.type is PT.FSRELPATH and p.dirfd is not None else -1
        return prefix, k.K_PATH, 0, False, 0, None, None, _path_text, dirfd
    if kind is render._BUFFER:
        return prefix, k.K_BUF, 0, False, 0, *none
    if p.type in _RAW_TYPES and kind is render._NULL_EMPTY:
        return prefix, k.K_PYRAW, 0, False, 0, None, None, _raw_text(p), -1
    if p.type is PT.FDLIST and strings is render._fdlist_strings:
        return prefix, k.K_PYRAW, 0, False, 0, None, None, _fdlist_text, -1
    call = _CALLS.get(strings) or (_ID_CALLS.get(p.type) if strings is render._uid_gid_strings else None)
    if call is not None and size:
        return prefix, k.K_CALLINT, size, signed, 0, None, None, call, -1
    return None


def _recipe(code: int, lined: bool = True, hidden: bool = False,
            known: dict[int, tuple[Any, ...] | None] | None = None) -> tuple[Any, ...] | None:
    """(nparams, enter, uses_fd, handler, generic, head, params, op, op args[, hidden]) for events of type
    ``code``; None for the types process() treats specially (no thread, no query, hidden) and, for the
    default line (``lined``), those with a param of a kind the C code does not write. With ``hidden``
    (a filter or a -p format: the skip of hidden events is then not the reader's), the hidden events
    process() does not parse are recipes too (hidden 1, or 2 for procinfo, whose thread is looked up).
    ``known``: the param recipes made so far, by id of their Param row, shared by the calls of one
    ``recipes``: the table's types share their Param rows (871 params, 214 rows)."""
    info = EVENTS[code]
    fl = _FLAGS[code]
    if int(info.flags) & _EF_LARGE:
        return None
    if code in HIDDEN_CODES and fl & F_SKIP and hidden:
        return len(info.params), not code & 1, False, False, False, "", (), 0, (), 2 if code == PROCINFO_E else 1
    if code in HIDDEN_CODES or fl & (F_SKIP | F_NO_THREAD) or code == PROCINFO_E:
        return None
    if fl & F_NO_QUERY and code != SCHEDSWITCH_6_E:  # (the switch: OP_SWITCH, on a known thread only)
        return None
    enter = not code & 1
    uses_fd = bool(int(info.flags) & _EF_USES_FD)
    handler = _HANDLERS[code] is not None
    head = ("<" if code & 1 else ">") + " "
    op: tuple[int, tuple[Any, ...]] = (0, ())
    if handler:
        op = _state_op(code)
    if code in _GENERIC:
        if not info.params or info.params[0].type is not PT.SYSCALLID:
            return None
        return len(info.params), enter, uses_fd, handler, True, head, (), *op
    if not lined:
        return len(info.params), enter, uses_fd, handler, False, head, (), *op
    params = []
    if known is None:
        known = {}
    for p in info.params:
        key = id(p)  # (the table, which holds every row, outlives the calls)
        if key in known:
            r = known[key]
        else:
            ((_prefix, _p, kind, strings),) = render._args_plan((p,))
            r = known[key] = _param_recipe(p, kind, strings)
        if r is None:
            return None
        params.append(r)
    if enter and uses_fd and (not params or params[0][2] != 8):
        return None  # process() reads lastevent_fd from param 0, an 8-byte number
    return len(params), enter, uses_fd, handler, False, head + info.name + " ", tuple(params), *op


def _state_op(code: int) -> tuple[int, tuple[Any, ...]]:
    """The parser whose state change the C code makes itself, with what it needs: (op, args); op 0
    for the parsers it leaves to Inspector.process."""
    assert _fastline is not None
    handler = _HANDLERS[code]
    if handler is parsers_files.open_exit and code in (OPENAT_X, parsers_files.OPEN_X):
        info = EVENTS[code]
        where = tuple(info.param_index(name) for name in ("fd", "name", "flags", "dev"))
        # (the old open exit: what open_exit reads, and only when it is paired with its enter)
        return _fastline.OP_OPENAT, (parsers_files.O_DIRECTORY, FdInfo, FdType.FILE_V2, FdType.DIRECTORY, where,
                                     code == parsers_files.OPEN_X)
    if handler is parsers_files.close_exit and _FLAGS[code] & F_USES_FD:
        return _fastline.OP_CLOSE, ()
    params = EVENTS[code].params
    if handler is parsers_process.switch_enter and code == SCHEDSWITCH_6_E:
        sizes = _unsigned_sizes(params[1:])
        return (_fastline.OP_SWITCH, sizes) if sizes is not None and len(sizes) == 5 else (0, ())
    if handler is parsers_net.socket_exit and code & 1:  # (domain, type, proto of the enter)
        sizes = _unsigned_sizes(EVENTS[code - 1].params[:3])
        return (_fastline.OP_SOCKET, (parsers_net.socket_info, sizes)) if sizes and len(sizes) == 3 else (0, ())
    if handler is parsers_files.fcntl_exit and code & 1:  # (a dup only for these commands of the enter)
        sizes = _unsigned_sizes(EVENTS[code - 1].params[1:2])
        dups = (parsers_files.F_DUPFD, parsers_files.F_DUPFD_CLOEXEC)
        return (_fastline.OP_ENTER_ARG, (1, sizes[0], dups)) if sizes and len(sizes) == 1 else (0, ())
    if handler is parsers_process.vm_exit and len(params) >= 4:
        fmts = [fixed_format(p.type) for p in params[1:4]]
        if all(f is not None and f[-1] in "BHIQ" for f in fmts):  # unsigned, as the decoders give them
            return _fastline.OP_VM, tuple(struct.calcsize(f) for f in fmts if f is not None)
    return 0, ()


def _unsigned_sizes(params: Any) -> tuple[int, ...] | None:
    """The sizes of these params when all are unsigned fixed-size integers (as the decoders give them)."""
    fmts = [fixed_format(p.type) for p in params]
    if not all(f is not None and f[-1] in "BHIQ" for f in fmts):
        return None
    return tuple(struct.calcsize(f) for f in fmts if f is not None)


_RECIPES: dict[tuple[bool, bool], list[tuple[Any, ...] | None]] | None = None


def recipes(lined: bool = True, hidden: bool = False,
            codes: frozenset[int] | None = None) -> list[tuple[Any, ...] | None]:
    """The recipe of every code: for the default line (``lined``) or a -p format, and with the hidden
    events (``hidden``) or without. With ``codes``, only those codes have one (the types of a small
    capture, read first: see sources.read_files); the others none, which the core would decline.

    With both (the default line under a filter), a type whose params the C code cannot all write gets its
    recipe without params: the core then keeps its state and runs the filter on it, and an event that
    passes, whose line it cannot write, is declined before any state changes (put_line) or, for a type
    with a parser, printed by the Python formatter (handle_parsed), so only those reach Python."""
    global _RECIPES
    if _RECIPES is None:
        _RECIPES = {}
    got = _RECIPES.get((lined, hidden))
    if got is None:
        wanted = range(PPM_EVENT_MAX) if codes is None else codes
        known: dict[int, tuple[Any, ...] | None] = {}
        got = [None] * PPM_EVENT_MAX
        for code in wanted:
            if code < PPM_EVENT_MAX:
                got[code] = _recipe(code, lined, hidden, known)
                if got[code] is None and lined and hidden:
                    got[code] = _recipe(code, False, True)
        if codes is None:
            _RECIPES[lined, hidden] = got
    return got


def _silent_recipe(code: int) -> tuple[Any, ...] | None:
    """The recipe of a silent Core (no line): a -p format's recipe (no param texts) for every type
    process() handles like the line's types, and a hidden one for the types it only counts (procinfo
    and the other EF_SKIPPARSERESET or threadless events; not the container events, which it parses)."""
    info = EVENTS[code]
    n = len(info.params)
    if int(info.flags) & _EF_LARGE or n > _MAX_PARAMS or code in CONTAINER_CODES:
        return None
    if _FLAGS[code] & (F_SKIP | F_NO_THREAD):
        return n, False, False, False, False, "", (), 0, (), 2 if code == PROCINFO_E else 1
    return _recipe(code, lined=False)


_SILENT: list[tuple[Any, ...] | None] | None = None


def silent_recipes() -> list[tuple[Any, ...] | None]:
    global _SILENT
    if _SILENT is None:
        _SILENT = [_silent_recipe(code) for code in range(PPM_EVENT_MAX)]
    return _SILENT


def _configure_fdtables() -> None:
    """The Core's opens and closes update state/fds.py's FdTable (and its OrderLog) in C and make its new
    FdInfos from a template FdInfo with the class's defaults, from these."""
    configure = getattr(_fastline, "configure_fdtables", None)  # (absent from an older build: the methods)
    if configure is not None:
        from sysdig_user.state import fdorder
        from sysdig_user.state.fds import FdTable

        configure(FdTable, fdorder.OrderLog, fdorder.ERASE, fdorder.FOLD_AT, FdInfo(0, FdType.FILE_V2),
                  FdInfo._fields)


def core_for(pipeline: Any, codes: frozenset[int] | None = None) -> Any:
    """A Core for this pipeline (sysdig_user.pipeline.EventPipeline) when its plan chose the compiled
    line (sysdig_user/plan.py: sysdig's default text line with nothing else per event); None otherwise,
    or when the extension is not built. ``codes``: the only event types it will see, when known
    (``recipes``)."""
    if not pipeline.plan.compiled_line or not available(pipeline.env.environ):
        return None
    opts = pipeline.output_options
    inspector = pipeline.inspector
    assert _fastline is not None
    _configure_fdtables()
    errnos: list[str | None] = [None] * (max(ERRNO_NAMES) + 1)
    for num, name in ERRNO_NAMES.items():
        errnos[num] = name
    prefixes: list[str | None] = [None] * 32
    for t, ch in TYPE_CHARS.items():
        if int(t) < 32:
            prefixes[int(t)] = f"<{ch}>"
    l4 = 0
    for t in render._L4_TYPES:
        l4 |= 1 << int(t)
    pipeline.stats.fast_events = 0
    native_filter = pipeline.native_filter if pipeline.predicate is not None else None
    native_format = pipeline.native_format if pipeline.spec.output.format is not None else None
    if (native_filter is None and pipeline.predicate is not None) or (
            native_format is None and pipeline.spec.output.format is not None):
        return None  # (a filter or -p format only Python has, or a line a caller took over)
    return _fastline.Core(
        inspector=inspector, clock=opts.time, event_type=Event, format_line=pipeline.format_line,
        flags_fallback=render._flags_arg, clock_prefix=clock_prefix, fd_resolved=render.fd_resolved,
        recipes=recipes(native_format is None, native_filter is not None or native_format is not None, codes),
        code_flags=bytes(_FLAGS), filter=native_filter, format=native_format,
        sc_names=list(SC_NAMES), generic_name=EVENTS[0].name, errno_names=errnos,
        fd_prefixes=prefixes, l4_types=l4, max_len=opts.render.max_len, begin=pipeline.begin_events)


def chisel_core(pipeline: Any) -> Any:
    """A silent Core for a run of table chisels (the plan's compiled_chisels): the state kept in C as
    for the default line, no line; the events of the codes the chisels may use
    (ChiselRunner.event_codes) are declined to the Python pipeline, where the chisels see them. The
    filter (the command line's, or a chisel's sysdig.set_filter) runs in C as for the line, where it
    compiled (output/compiled.py); else no Core. None when a chisel cannot say which events it uses, or
    without the extension."""
    if not pipeline.plan.compiled_chisels or not available(pipeline.env.environ) or pipeline.chisels is None:
        return None
    native_filter = pipeline.native_filter if pipeline.predicate is not None else None
    if pipeline.predicate is not None and native_filter is None:  # a filter only Python evaluates
        return None
    # (the codes the filter cannot pass never reach the chisels: C drops them); the table chisels that
    # compile add to their tables in C, and want no event in Python
    global_filter = pipeline.filter_text if native_filter is not None else ""
    tables = pipeline.chisels.native_tables(global_filter)
    wanted = pipeline.chisels.event_codes(global_filter)
    if wanted is None:
        return None
    assert _fastline is not None
    declines = bytearray(PPM_EVENT_MAX)
    for code in wanted:
        if 0 <= code < PPM_EVENT_MAX:
            declines[code] = 1
    pipeline.stats.fast_events = 0
    return _fastline.Core(
        inspector=pipeline.inspector, clock=pipeline.output_options.time, event_type=Event, format_line=None,
        flags_fallback=None, clock_prefix=None, fd_resolved=None, recipes=silent_recipes(), sc_names=[],
        generic_name=EVENTS[0].name, errno_names=[], fd_prefixes=[], l4_types=0, max_len=0,
        silent=True, declines=bytes(declines), code_flags=bytes(_FLAGS), filter=native_filter, tables=tuple(tables))


def passthrough(pipeline: Any) -> bool:
    """`-q -w FILE` and nothing else per event (the plan's passthrough: no filter, chisel, -S, -n, -F, no
    rotation): events go to the file as they came, without being parsed (the state would serve no line
    and no rotated file), through `block_writer`."""
    return bool(pipeline.plan.passthrough) and pipeline.writer is not None and available(pipeline.env.environ)


_LARGE: bytes | None = None


def block_writer(pipeline: Any) -> Any:
    """``write(data, pos) -> pos``: the complete frames of a pipelined batch from ``pos`` on, written to
    the pipeline's -w file as write_event would write them and counted as events; returns where the
    first incomplete frame starts."""
    global _LARGE
    assert _fastline is not None
    if _LARGE is None:
        _LARGE = bytes(1 if int(e.flags) & _EF_LARGE else 0 for e in EVENTS)
    large, blocks, writer, stats = _LARGE, _fastline.event_blocks, pipeline.writer, pipeline.stats
    stats.fast_events = 0

    def write(data: bytes, pos: int) -> int:
        out, pos, n = blocks(data, pos, large)
        if n:
            writer.write_blocks(out, n)
            stats.events += n
            stats.fast_events += n
        return pos  # type: ignore[no-any-return]
    return write


def drain(core: Any, pipeline: Any) -> None:
    """The lines the core handled, to the pipeline's output (before any line Python prints after them),
    and their count to its stats."""
    data, n = core.take()
    if n:
        pipeline.stats.events += n
        pipeline.stats.fast_events += n
        if pipeline.chisels is not None:
            pipeline.chisels.seen_until(core.last_ts(), core.first_ts())
    if data:
        pipeline.out.chunk(data)
