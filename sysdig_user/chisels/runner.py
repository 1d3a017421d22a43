"""Running chisels: the engine side of the chisel API, with sysdig's calling sequence.

The CLI builds one ``ChiselRunner`` for all its ``-c`` chisels and, in its main loop:

* ``runner.on_event(evt)`` for each event that passed the global filter (after the Inspector set its
  state), ``runner.on_filtered_event(evt)`` for the others (sysdig still runs the chisels' interval
  logic on those, and they count for the first/last timestamps);
* stops reading when ``runner.capture_ended`` turns True (a chisel called sysdig.end_capture: lsof and
  ps print the state at the first event);
* ``runner.end()`` at the end of the capture (calls on_capture_end).

Live, sysdig's intervals fire on event timestamps, which are wall-clock times; a kernel capture sees
events all the time, a traced command may not. So the live source also calls ``runner.tick(now_ns)``
(on the main thread, between events) when ``runner.next_deadline()`` has passed: the same interval
logic runs with the wall clock as timestamp and no event. A live tick or event older than the last
interval boundary fires nothing (the wall clock and the events' stop times interleave).

Right after construction (the chisels' on_init ran) the CLI reads what the chisels asked of the
engine: ``global_filter`` (sysdig.set_filter, replaces the command-line filter), ``snaplen``,
``buffer_format`` (sysdig.set_output_format, only when -A/-x/-X/-b was not given), and
``next_run_args`` after the run (sysdig.run_app).
"""
from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sysdig_user.chisels.api import Chisel, ChiselContext, FieldHandle
from sysdig_user.errors import SduError
from sysdig_user.event_table import PPM_EVENT_MAX

if TYPE_CHECKING:
    from sysdig_user.event import Event
    from sysdig_user.state.fds import FdInfo
    from sysdig_user.state.threads import ThreadInfo

Predicate = Callable[["Event"], bool]


class ChiselError(SduError):
    """A chisel failed (bad args, bad filter, exception in a callback)."""


class CaptureInterrupt(Exception):
    """Raised inside a callback by sysdig.end_capture(); the runner turns it into capture_ended."""


# --------------------------------------------------------------------------------------- fields
_FIELD_ARG = re.compile(r"^([^\[]+)\[(.*)\]$")


def split_field_name(fullname: str) -> tuple[str, str | None]:
    """'proc.aname[2]' -> ('proc.aname', '2'); other names are passed whole (the registry knows
    the dotted-argument fields such as evt.arg.NAME)."""
    m = _FIELD_ARG.match(fullname.strip())
    if m:
        return m.group(1), m.group(2)
    return fullname.strip(), None


def _resolver() -> Callable[..., Any]:
    try:
        from sysdig_user.fields.registry import resolve_field
    except ImportError as exc:  # pragma: no cover - only while the registry is being written
        raise ChiselError(f"field registry unavailable: {exc}") from exc
    return resolve_field


class BoundFieldHandle:
    """A FieldHandle bound through the output layer's format compiler, so that the option-bound
    fields (evt.arg.NAME, evt.args, evt.info, evt.outputtime) render with the engine's buffer format
    (-A/-X, or a chisel's sysdig.set_output_format) and no length limit, as in sysdig."""

    __slots__ = ("_bound", "_engine", "_rendered", "name")

    def __init__(self, name: str, engine: Engine | None = None) -> None:
        self.name = name
        self._engine = engine or Engine()
        self._bound = _bind_field(name.strip(), self._engine)
        # evt.buffer reaches chisels as text in the current buffer format (libsinsp renders it
        # outside of filter comparisons): http.lua matches "Host: ...%.%." on the rendered \r\n
        self._rendered = name.strip() == "evt.buffer"

    def _extract(self, evt: Event) -> Any:
        value = self._bound.extract(evt)
        if self._rendered and isinstance(value, (bytes, bytearray)):
            from sysdig_user.output.render import render_buffer

            return render_buffer(bytes(value), self._engine.output_options().render.buffer_format, 0)
        return value

    def get(self, evt: Event) -> Any:
        return self._extract(evt)

    def text(self, evt: Event) -> str | None:
        value = self._extract(evt)
        if value is None:
            return None
        return str(self._bound.to_text(value))

    def to_text(self, value: Any) -> str:
        return str(self._bound.to_text(value))

    @property
    def compiled_field(self) -> Any:
        """The registry's bound field, whose value ``lua_value`` pushes as it is (None for evt.buffer,
        which reaches chisels rendered)."""
        return None if self._rendered else self._bound

    def lua_value(self, evt: Event) -> Any:
        """The value as sysdig pushes it to Lua (rawval_to_lua_stack): numbers and booleans as
        they are, strings and buffers as bytes, addresses and other typed values as their text."""
        value = self._extract(evt)
        if value is None or isinstance(value, (bool, int, float, bytes)):
            return value
        if isinstance(value, bytearray):
            return bytes(value)
        if isinstance(value, str):
            return value.encode("utf-8", "surrogateescape")
        return str(self._bound.to_text(value)).encode("utf-8", "surrogateescape")


def _bind_field(name: str, engine: Engine | None) -> Any:
    if not name:
        raise ChiselError("chisel requesting nil field")
    try:
        from sysdig_user.fields.registry import resolve_token
        from sysdig_user.output.formatter import compile_format
    except ImportError:  # pragma: no cover - registry alone (output layer not installed)
        base, arg = split_field_name(name)
        try:
            return _resolver()(base, arg)
        except SduError as exc:
            raise ChiselError(f"chisel requesting nonexistent field {name}") from exc
    opts = (engine or Engine()).output_options()
    try:
        tokens, tail, _ = compile_format("%" + name, resolve_token, opts)
    except SduError as exc:
        raise ChiselError(f"chisel requesting nonexistent field {name}") from exc
    if len(tokens) != 1 or tail or tokens[0].literal:
        raise ChiselError(f"chisel requesting nonexistent field {name}")
    return tokens[0].field


def compile_chisel_filter(text: str) -> Predicate:
    """The filter compiler with the registry's resolver; errors stay SduErrors (sysdig's text)."""
    from sysdig_user.fields.registry import compile_predicate

    predicate: Predicate = compile_predicate(text)
    return predicate


class EventFormatter:
    """chisel.set_event_formatter: the output layer's Formatter with the engine's options."""

    def __init__(self, fmt: str, engine: Engine) -> None:
        self.fmt = fmt
        if engine.formatter_factory is not None:
            self._impl = engine.formatter_factory(fmt)
        else:
            from sysdig_user.output.formatter import Formatter
            try:
                self._impl = Formatter(fmt, None, engine.output_options()).format
            except SduError as exc:
                raise ChiselError(str(exc)) from exc

    def format(self, evt: Event) -> str | None:
        return self._impl(evt)


# --------------------------------------------------------------------------------------- engine
BUFFER_FORMATS = ("normal", "json", "simple", "hex", "hexascii", "ascii", "base64", "jsonbase64")


class Engine:
    """What all chisels of a run share: the inspector, the output stream and engine settings."""

    def __init__(self, inspector: Any = None, *, live: bool = False, print_container: bool = False,
                 buffer_format: str = "normal", json_output: bool = False, global_filter: str = "",
                 source_name: str = "", out: Any = None,
                 formatter_factory: Callable[[str], Callable[[Event], str | None]] | None = None,
                 machine_info: dict[str, Any] | None = None) -> None:
        self.inspector = inspector
        self.live = live
        self.print_container = print_container
        self.buffer_format = buffer_format
        self.buffer_format_forced = buffer_format != "normal"
        self.json_output = json_output
        self.global_filter = global_filter
        self.global_filter_changed = False
        self.source_name = source_name
        self.snaplen: int | None = None
        self._out = out
        self.formatter_factory = formatter_factory
        self.machine_info = machine_info
        if json_output and buffer_format == "normal":
            self.buffer_format = "json"
            self.buffer_format_forced = True
        self.first_ts = 0
        self.last_ts = 0
        self.end_requested = False
        self.next_run_args: str | None = None
        self.state_view: Any = None
        self._output_options: Any = None
        # live: the pids the tracer follows (set by tracer.live); None when reading a file
        self.traced_pids: Callable[[], Iterable[int]] | None = None

    def output_options(self) -> Any:
        """One OutputOptions shared by every field and formatter the chisels use, so a later
        set_output_format reaches fields requested before it."""
        if self._output_options is None:
            from sysdig_user.output.options import OutputOptions
            from sysdig_user.output.render import RenderOptions

            self._output_options = OutputOptions(RenderOptions(_buffer_format(self.buffer_format), 0),
                                                 json=self.json_output)
        return self._output_options

    def set_buffer_format(self, fmt: str) -> None:
        self.buffer_format = fmt
        if self._output_options is not None:
            self._output_options.render.buffer_format = _buffer_format(fmt)

    # -- output: text goes to the current sys.stdout (so redirect_stdout captures it); bytes are
    # decoded with surrogateescape, the CLI's stdout re-encodes them unchanged.
    def write(self, data: str | bytes) -> None:
        if isinstance(data, (bytes, bytearray)):
            data = bytes(data).decode("utf-8", "surrogateescape")
        out = self._out if self._out is not None else sys.stdout
        out.write(data)
        if self.live:
            out.flush()  # each print as it happens (reading a file, Output writes 4 KiB lots)

    def see(self, evt: Event) -> None:
        if self.first_ts == 0:
            self.first_ts = evt.ts
        self.last_ts = evt.ts
        state = evt._state
        if state is not None:
            self.state_view = state

    # -- thread table (sysdig.get_thread_table)
    def threads(self) -> list[ThreadInfo]:
        """The threads, in the order sysdig's thread table lists them when the table knows it."""
        table = None
        for source in (self.inspector, self.state_view):
            table = getattr(source, "threads", None)
            if table is not None:
                break
        if table is None:
            return []
        if hasattr(table, "in_sysdig_order"):
            return list(table.in_sysdig_order())
        if hasattr(table, "threads") and isinstance(table.threads, dict):
            return list(table.threads.values())
        if isinstance(table, dict):
            return list(table.values())
        return list(table)

    def thread_table(self, filter_text: str | None, include_fds: bool, barebone: bool
                     ) -> dict[int, dict[str, Any]]:
        return build_thread_table(self, filter_text, include_fds, barebone)


def _synthetic_event(tinfo: ThreadInfo, fdnum: int, fdinfo: FdInfo | None, ts: int, state: Any) -> Event:
    """The fake read-exit event sysdig evaluates filters and fields on in get_thread_table."""
    from sysdig_user.event import Event
    from sysdig_user.event_table import event_code

    evt = Event.build(event_code("read", False), ts, tinfo.tid, 0, [0, b""])
    evt.thread = tinfo
    evt.fdinfo = fdinfo
    evt.fdnum = fdnum
    evt._state = state
    return evt


_FD_TYPESTRINGS = {
    1: "file", 16: "file", 2: "directory", 3: "ipv4", 4: "ipv6", 5: "ipv4", 6: "ipv6", 7: "pipe",
    8: "unix", 9: "event", 10: "unknown", 11: "signalfd", 12: "eventpoll", 13: "inotify",
    14: "timerfd", 15: "netlink", 17: "bpf", 18: "userfaultfd",
}
_L4 = {2: "tcp", 3: "udp", 4: "icmp", 5: "raw"}


def _ip_text(raw: bytes) -> str:
    import ipaddress
    try:
        if len(raw) == 4:
            return str(ipaddress.IPv4Address(raw))
        if len(raw) == 16:
            return str(ipaddress.IPv6Address(raw))
    except ValueError:
        pass
    return "<NA>"


def build_thread_table(engine: Engine, filter_text: str | None, include_fds: bool = True,
                       barebone: bool = False) -> dict[int, dict[str, Any]]:
    """sysdig.get_thread_table: tid -> thread properties and its fd table, keeping only the threads
    with at least one fd matching ``filter_text`` (evaluated on a synthetic read event). Threads and
    fds come in the order sysdig's own tables iterate them (state/fdorder.py), the order sysdig fills
    the Lua tables in: a Lua table filled in this dict's order gives ``pairs()`` sysdig's order."""
    pred: Predicate | None = None
    if filter_text:
        try:
            pred = compile_chisel_filter(filter_text)
        except SduError as exc:
            raise ChiselError(f"invalid filter argument for get_thread_table: {exc}") from exc
    ts = engine.last_ts
    state = engine.state_view
    fd_name = _optional_field("fd.name", engine)
    user_name = _optional_field("user.name", engine)
    fd_type = _optional_field("fd.type", engine)
    result: dict[int, dict[str, Any]] = {}
    threads = engine.threads()
    nchilds: dict[int, int] = {}
    for t in threads:
        if t.tid != t.pid:
            nchilds[t.pid] = nchilds.get(t.pid, 0) + 1
    for tinfo in threads:
        fds = tinfo.fdtable.in_sysdig_order()
        if pred is not None and not any(pred(_synthetic_event(tinfo, n, fi, ts, state)) for n, fi in fds):
            continue
        row: dict[str, Any] = {"tid": tinfo.tid & 0xFFFFFFFF, "pid": tinfo.pid & 0xFFFFFFFF}
        probe = _synthetic_event(tinfo, -1, None, ts, state)
        if not barebone:
            uname = user_name.text(probe) if user_name is not None else None
            row.update(
                ptid=tinfo.ptid & 0xFFFFFFFF, comm=tinfo.comm, exe=tinfo.exe, flags=tinfo.flags,
                fdlimit=tinfo.fdlimit & 0xFFFFFFFF, uid=tinfo.uid & 0xFFFFFFFF,
                gid=tinfo.gid & 0xFFFFFFFF, nchilds=nchilds.get(tinfo.tid, 0) if tinfo.tid == tinfo.pid else 0,
                vmsize_kb=tinfo.vmsize_kb, vmrss_kb=tinfo.vmrss_kb, vmswap_kb=tinfo.vmswap_kb,
                pfmajor=tinfo.pfmajor, pfminor=tinfo.pfminor, clone_ts=str(tinfo.clone_ts),
                username=uname if uname is not None else "<NA>",
                args=list(tinfo.args), env=list(tinfo.env),
            )
        fdtable: dict[int, dict[str, Any]] = {}
        if include_fds:
            for num, fi in fds:
                evt = _synthetic_event(tinfo, num, fi, ts, state)
                if pred is not None and not pred(evt):
                    continue
                entry: dict[str, Any] = {}
                if not barebone:
                    # sinsp_fdinfo::tostring_clean is m_name itself (the field would rebuild it)
                    name = fi.name or (fd_name.text(evt) if fd_name is not None else None) or ""
                    entry["name"] = _clean(name)
                    ftype = fd_type.text(evt) if fd_type is not None else None
                    entry["type"] = ftype if ftype is not None else _FD_TYPESTRINGS.get(int(fi.type), "<NA>")
                _add_socket_info(entry, fi)
                fdtable[num & 0xFFFFFFFF] = entry
        row["fdtable"] = fdtable
        result[tinfo.tid & 0xFFFFFFFF] = row
    return result


def _clean(name: str) -> str:
    """sinsp_fdinfo::tostring_clean: the name without non-printable characters."""
    return "".join(c for c in name if c.isprintable())


def _add_socket_info(entry: dict[str, Any], fi: FdInfo) -> None:
    t = int(fi.type)
    if t not in (3, 4, 5, 6):
        return
    server_sock = t in (5, 6)
    if server_sock:
        entry["sip"] = _ip_text(fi.sip or fi.dip)
        entry["sport"] = fi.sport or fi.dport
        entry["is_server"] = True
    else:
        entry["cip"] = _ip_text(fi.sip)
        entry["sip"] = _ip_text(fi.dip)
        entry["cport"] = fi.sport
        entry["sport"] = fi.dport
        entry["is_server"] = int(fi.role) == 2
    # sinsp_fdinfo::get_l4proto: a connection socket without a role yet is SCAP_L4_NA
    entry["l4proto"] = _L4.get(fi.shown_l4proto, "<NA>")


def _optional_field(name: str, engine: Engine) -> BoundFieldHandle | None:
    try:
        return BoundFieldHandle(name, engine)
    except SduError:
        return None


# --------------------------------------------------------------------------------------- contexts
class ChiselContextImpl:
    """One chisel's view of the engine, plus the per-chisel state sysdig keeps in chiselinfo."""

    def __init__(self, name: str, engine: Engine | None = None) -> None:
        self.name = name
        self.engine = engine if engine is not None else Engine()
        self.filter: Predicate | None = None
        self.filter_text = ""
        self.formatter: EventFormatter | None = None
        self.interval = 0
        self.precise_interval = 0
        self.exec_request: tuple[str, list[str]] | None = None

    # chisel.*
    def request_field(self, name: str) -> FieldHandle:
        if not isinstance(name, str) or not name:
            raise ChiselError("chisel requesting nil field")
        return BoundFieldHandle(name, self.engine)

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        if not text:
            self.filter = None
            return
        try:
            self.filter = compile_chisel_filter(text)
        except SduError as exc:
            raise ChiselError(f"invalid filter in chisel {self.name}: {exc}") from exc

    def set_event_formatter(self, fmt: str) -> None:
        self.formatter = EventFormatter(
            "*%evt.num %evt.outputtime %evt.cpu %proc.name (%thread.tid) %evt.dir %evt.type %evt.info"
            if fmt in ("", "default") else fmt, self.engine)

    def set_interval_ns(self, interval: int) -> None:
        self.interval = int(interval)

    def set_interval_s(self, interval: int) -> None:
        self.interval = int(interval) * 1_000_000_000

    def set_precise_interval_ns(self, interval: int) -> None:
        self.precise_interval = int(interval)

    def exec(self, chisel: str, *args: str) -> None:
        self.exec_request = (chisel, [str(a) for a in args])

    # sysdig.*
    def set_global_filter(self, text: str) -> None:
        if text:
            try:
                compile_chisel_filter(text)
            except SduError as exc:
                raise ChiselError(f"invalid filter in chisel {self.name}: {exc}") from exc
        self.engine.global_filter = text
        self.engine.global_filter_changed = True

    def get_filter(self) -> str:
        return self.engine.global_filter

    def set_snaplen(self, snaplen: int) -> None:
        self.engine.snaplen = int(snaplen)

    def set_output_format(self, fmt: str) -> None:
        if self.engine.buffer_format_forced:
            return
        if fmt not in BUFFER_FORMATS:
            raise ChiselError(f"invalid set_output_format value in chisel {self.name}")
        self.engine.set_buffer_format(fmt)

    def get_output_format(self) -> str:
        return "json" if self.engine.json_output or "json" in self.engine.buffer_format else "normal"

    def is_live(self) -> bool:
        return self.engine.live

    def is_tty(self) -> bool:
        try:
            return os.isatty(sys.stdout.fileno())
        except (AttributeError, OSError, ValueError):
            return False

    def is_print_container_data(self) -> bool:
        return self.engine.print_container

    def get_machine_info(self) -> dict[str, Any] | None:
        return self.engine.machine_info

    def get_evtsource_name(self) -> str:
        return "" if self.engine.live else self.engine.source_name

    def first_event_ts(self) -> int:
        return self.engine.first_ts

    def last_event_ts(self) -> int:
        return self.engine.last_ts

    def end_capture(self) -> None:
        self.engine.end_requested = True

    def traced_processes(self) -> dict[int, str] | None:
        """Live: pid -> proc.name of each traced process (sdu itself excluded); None on a file."""
        get = self.engine.traced_pids
        if get is None:
            return None
        names = {t.pid: t.comm for t in self.engine.threads() if t.tid == t.pid}
        me = os.getpid()
        return {pid: names.get(pid, "") for pid in sorted(set(get())) if pid != me}

    def run_app(self, args: str) -> None:
        self.engine.next_run_args = args

    def get_thread_table(self, filter_text: str | None = None, include_fds: bool = True,
                         barebone: bool = False) -> dict[int, dict[str, Any]]:
        return self.engine.thread_table(filter_text, include_fds, barebone)

    # output
    def write(self, data: str | bytes) -> None:
        self.engine.write(data)

    def print(self, *parts: str | bytes) -> None:
        text = "\t".join(p.decode("utf-8", "surrogateescape") if isinstance(p, (bytes, bytearray))
                         else str(p) for p in parts)
        self.engine.write(text + "\n")


def _buffer_format(name: str) -> Any:
    from sysdig_user.output.render import BufferFormat

    return {
        "normal": BufferFormat.NORMAL, "json": BufferFormat.JSON, "simple": BufferFormat.SIMPLE,
        "hex": BufferFormat.HEX, "hexascii": BufferFormat.HEXASCII, "ascii": BufferFormat.EOLS,
        "base64": BufferFormat.BASE64, "jsonbase64": BufferFormat.JSONBASE64,
    }.get(name, BufferFormat.NORMAL)


# --------------------------------------------------------------------------------------- runner
ChiselSpec = Chisel | tuple[str, "str | Sequence[str] | None"]


class ChiselRunner:
    """Runs the ``-c`` chisels of one capture, in command-line order, as sysdig does."""

    def __init__(self, chisel_specs: Iterable[ChiselSpec], inspector: Any = None, *,
                 live: bool = False, print_container: bool = False, buffer_format: str = "normal",
                 json_output: bool = False, global_filter: str = "", source_name: str = "",
                 out: Any = None,
                 formatter_factory: Callable[[str], Callable[[Event], str | None]] | None = None,
                 machine_info: dict[str, Any] | None = None, color: bool | None = None,
                 repaint: bool | None = None) -> None:
        from sysdig_user.chisels.builtin.common import set_screen_policy
        from sysdig_user.chisels.registry import load_chisel

        # colours and the live view's screen codes (builtin/common.py ScreenPolicy), before any chisel
        # loads; by default the live view repaints as sysdig's does (embedding code, tests)
        set_screen_policy(color, live if repaint is None else repaint)

        self.engine = Engine(inspector, live=live, print_container=print_container,
                             buffer_format=buffer_format, json_output=json_output,
                             global_filter=global_filter, source_name=source_name, out=out,
                             formatter_factory=formatter_factory, machine_info=machine_info)
        self.chisels: list[Chisel] = []
        for spec in chisel_specs:
            ch = spec if isinstance(spec, Chisel) else load_chisel(spec[0], spec[1])
            self._bind(ch)
            self.chisels.append(self._init(ch))
        self._started = False
        self._ended = False
        self._first_seen: set[int] = set()
        self._last_sample: dict[int, int] = {}
        self._last_interval_ts: dict[int, int] = {}
        self._native: set[int] = set()  # the chisels whose on_event runs in C (native_tables)

    def attach_inspector(self, inspector: Any) -> None:
        """The state engine whose thread table sysdig.get_thread_table (lsof, ps, netstat) reads;
        without it the runner uses the state view the Inspector attaches to events."""
        self.engine.inspector = inspector

    # -- what the CLI applies after construction
    @property
    def global_filter(self) -> str | None:
        """The global filter a chisel set with sysdig.set_filter (None: keep the command line's)."""
        return self.engine.global_filter if self.engine.global_filter_changed else None

    @property
    def snaplen(self) -> int | None:
        return self.engine.snaplen

    @property
    def buffer_format(self) -> str:
        return self.engine.buffer_format

    @property
    def capture_ended(self) -> bool:
        return self.engine.end_requested

    @property
    def next_run_args(self) -> str | None:
        return self.engine.next_run_args

    # -- lifecycle
    def _bind(self, ch: Chisel) -> None:
        ctx = ch.ctx
        if isinstance(ctx, ChiselContextImpl):
            ctx.engine = self.engine
        bind = getattr(ch, "bind_engine", None)
        if bind is not None:
            bind(self.engine)

    def _init(self, ch: Chisel) -> Chisel:
        """on_init, following chisel.exec() hand-overs (sysdig re-quotes the args with spaces)."""
        from sysdig_user.chisels.registry import load_chisel

        for _ in range(16):
            ok = _call(ch, "on_init", ch.on_init)
            ctx = ch.ctx
            req = ctx.exec_request if isinstance(ctx, ChiselContextImpl) else None
            if req is None:
                if ok is not True:
                    if ok is not False and ok is not None:
                        raise ChiselError(f"{ch.info.name} chisel error: wrong init() return value.")
                    raise ChiselError(f"init() for chisel {ch.info.name} failed.")
                return ch
            name, args = req
            argstr = " ".join(a if " " not in a else f"'{a}'" for a in args)
            prefer_lua = ch.origin != "python"
            ch = load_chisel(name, argstr, prefer_lua=prefer_lua)
            self._bind(ch)
        raise ChiselError("chisel.exec() loop")

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        for ch in self.chisels:
            ok = _call(ch, "on_capture_start", ch.on_capture_start)
            if ok is not True:
                if ok is False:
                    raise ChiselError(f"init() for chisel {ch.info.name} failed.")
                raise ChiselError(f"{ch.info.name} chisel error: wrong on_capture_start() return value. "
                                  "Boolean expected.")

    def on_event(self, evt: Event) -> None:
        """An event that passed the global filter: timeouts, chisel filter, on_event, formatter."""
        if not self._started:
            self.start()
        if self.engine.end_requested:
            return
        if evt.type >= PPM_EVENT_MAX:
            # sdu's packet events: Debian sysdig skips these types while reading, so they move neither
            # the intervals nor the first/last timestamps (a capture opening with a packet would else
            # print an extra first interval); the chisels' filters and on_event still see them
            for ch in self.chisels:
                self._run(ch, evt, timeout=False)
                if self.engine.end_requested:
                    break
            return
        self.engine.see(evt)
        for ch in self.chisels:
            self._run(ch, evt)
            if self.engine.end_requested:
                break

    def on_filtered_event(self, evt: Event) -> None:
        """An event the global filter dropped: only the chisels' interval logic runs."""
        if not self._started:
            self.start()
        if self.engine.end_requested or evt.type >= PPM_EVENT_MAX:
            return
        self.engine.see(evt)
        for ch in self.chisels:
            self._timeout(ch, evt)

    def tick(self, now_ns: int) -> None:
        """Live: run the interval logic at wall-clock time ``now_ns`` without an event."""
        if not self._started:
            self.start()
        if self.engine.end_requested or self._ended:
            return
        for ch in self.chisels:
            self._timeout_at(ch, now_ns, None)
            if self.engine.end_requested:
                break

    def next_deadline(self) -> int | None:
        """The earliest time (ns) an interval of a chisel is due, None if no chisel has one."""
        due: int | None = None
        for ch in self.chisels:
            ctx = ch.ctx
            if not isinstance(ctx, ChiselContextImpl):
                continue
            last = self._last_sample.get(id(ch))
            if ctx.interval:
                at = (last if last is not None else 0) + ctx.interval
            elif ctx.precise_interval:
                at = (last if last is not None else 0) + ctx.precise_interval
            else:
                continue
            due = at if due is None else min(due, at)
        return due

    def event_codes(self, global_filter: str = "") -> set[int] | None:
        """The event codes the chisels may do anything with, when every chisel's filter tells
        (filter/codes.py: a chisel sees only the events its filter passes) and nothing else depends on the other events: no interval, no event
        formatter, not live. The file source then lets the compiled state (output/fastline.py
        chisel_core) handle the other events without building them; None: every event is needed.
        With the run's ``global_filter`` (which the compiled state runs), only those it may pass."""
        from sysdig_user.filter.codes import filter_codes

        if self.engine.live or not self._started:
            return None
        codes: set[int] = set()
        for ch in self.chisels:
            if id(ch) in self._native:
                continue
            ctx = ch.ctx
            if not isinstance(ctx, ChiselContextImpl) or not self._clockless(ctx):
                return None
            used = filter_codes(ctx.filter_text) if ctx.filter_text else None
            if used is None:
                return None
            narrow = getattr(ch, "narrow_event_codes", None)  # what the chisel knows it ignores
            codes |= narrow(used) if narrow is not None else used
        passing = filter_codes(global_filter) if global_filter else None
        return codes & passing if passing is not None else codes

    @staticmethod
    def _clockless(ctx: Any) -> bool:
        """A chisel whose events matter only through on_event (no interval, no event formatter)."""
        return isinstance(ctx, ChiselContextImpl) and not ctx.interval and not ctx.precise_interval \
            and ctx.formatter is None

    def native_tables(self, global_filter: str = "") -> list[Any]:
        """The chisels whose on_event the compiled state can run in its loop: those that describe
        themselves as a sum per key (``native_table_spec``: their bound key fields, value field and
        dict) whose fields and filter compile (output/compiled.py native_table); each one's C Table,
        adding to the chisel's own dict the events of the codes its filter may pass (and the run's
        ``global_filter``, which the compiled state runs). Those chisels then need no event in Python
        (event_codes leaves them out) but the ones the Table cannot read, which the C loop declines
        to the pipeline, where their Python on_event runs. Not live (the intervals move on events)."""
        from sysdig_user.filter.codes import filter_codes
        from sysdig_user.output.compiled import native_table

        self._native = set()
        if self.engine.live or not self._started:
            return []
        passing = filter_codes(global_filter) if global_filter else None
        tables: list[Any] = []
        for ch in self.chisels:
            spec = getattr(ch, "native_table_spec", None)
            ctx = ch.ctx
            got = spec() if spec is not None and self._clockless(ctx) and len(tables) < 8 else None
            if got is None or not isinstance(ctx, ChiselContextImpl):
                continue
            keys, value, table = got
            text = ctx.filter_text
            used = filter_codes(text) if text else None
            if used is None:  # (any code: the Table's filter decides)
                used = set(range(PPM_EVENT_MAX))
            narrow = getattr(ch, "narrow_event_codes", None)
            codes = narrow(used) if narrow is not None else used
            native = native_table(text, keys, value, table, codes & passing if passing is not None else codes,
                                  self._on_event_of(ch))
            if native is not None:
                tables.append(native)
                self._native.add(id(ch))
        return tables

    @staticmethod
    def _on_event_of(ch: Chisel) -> Callable[[Event], Any]:
        """The chisel's on_event as _run calls it (after its filter passed): a failure is the chisel's error."""
        def on_event(evt: Event) -> Any:
            return _call(ch, "on_event", lambda: ch.on_event(evt))
        return on_event

    def seen_until(self, ts: int | None, first: int | None = None) -> None:
        """Events from time ``first`` up to time ``ts`` were read without reaching the chisels in Python
        (none of them could use them, or a compiled table took them): their clock moves on as if they had
        been seen."""
        if not self.engine.first_ts and first is not None:
            self.engine.first_ts = first
        if ts is not None and self.engine.first_ts:
            self.engine.last_ts = ts

    def end(self) -> None:
        """End of capture: on_capture_end(last ts, last - first) for each chisel, once."""
        if self._ended:
            return
        if not self._started:
            self.start()
        self._ended = True
        te = self.engine.last_ts
        delta = te - self.engine.first_ts
        for ch in self.chisels:
            _call(ch, "on_capture_end", lambda c=ch: c.on_capture_end(te, delta))  # type: ignore[misc]

    # -- per event
    def _run(self, ch: Chisel, evt: Event, timeout: bool = True) -> None:
        ctx = ch.ctx
        if timeout:
            self._timeout(ch, evt)
        pred = ctx.filter if isinstance(ctx, ChiselContextImpl) else None
        if pred is not None and not pred(evt):
            return
        if ch.has_on_event:
            res = _call(ch, "on_event", lambda: ch.on_event(evt))
            if self.engine.end_requested or not res:
                return
        fmt = ctx.formatter if isinstance(ctx, ChiselContextImpl) else None
        if fmt is not None:
            line = fmt.format(evt)
            if line is not None:
                self.engine.write(line + "\n")

    def _timeout(self, ch: Chisel, evt: Event) -> None:
        self._timeout_at(ch, evt.ts, evt)

    def _timeout_at(self, ch: Chisel, ts: int, evt: Event | None) -> None:
        """chisel.cpp do_timeout: on_interval when a new interval starts (or precise ticks)."""
        ctx = ch.ctx
        if not isinstance(ctx, ChiselContextImpl):
            return
        key = id(ch)
        if key not in self._first_seen:
            self._first_seen.add(key)
            if ctx.interval:
                self._last_sample[key] = ts - ts % ctx.interval
            elif ctx.precise_interval:
                self._last_sample[key] = ts
            return
        if ctx.interval:
            sample = ts - ts % ctx.interval
            if self.engine.live and sample < self._last_sample.get(key, 0):
                return
            if sample != self._last_sample.get(key, 0):
                delta = 0
                last = self._last_interval_ts.get(key, 0)
                if last != 0:
                    delta = ts - last
                    if delta == 0:
                        return
                ok = _call(ch, "on_interval", lambda: ch.on_interval(ts, delta, evt))
                if not ok:
                    raise ChiselError(f"execution terminated by the {ch.info.name} chisel")
                self._last_sample[key] = sample
                self._last_interval_ts[key] = ts
        elif ctx.precise_interval:
            interval = ctx.precise_interval
            t = self._last_sample.get(key, 0)
            if ts - t >= interval:
                while t <= ts - interval:
                    ok = _call(ch, "on_interval", lambda tt=t: ch.on_interval(tt, interval, evt))  # type: ignore[misc]
                    if not ok:
                        raise ChiselError(f"execution terminated by the {ch.info.name} chisel")
                    t += interval
                self._last_sample[key] = t


def _call(ch: Chisel, what: str, fn: Callable[[], Any]) -> Any:
    """Run a callback; Python exceptions become one-line chisel errors (no traceback). A closed stdout
    (EPIPE: ``sdu -c CHISEL | head``) is not the chisel's error: it reaches the CLI as itself."""
    try:
        return fn()
    except CaptureInterrupt:
        ch.ctx.end_capture()
        return False
    except (SduError, BrokenPipeError):
        raise
    except Exception as exc:
        raise ChiselError(f"{ch.info.name} chisel error: {what}: {exc}") from exc


def new_context(name: str) -> ChiselContext:
    """A context not yet bound to a run (load time); the runner binds it to its engine."""
    return ChiselContextImpl(name)
