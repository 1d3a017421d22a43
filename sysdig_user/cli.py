"""sdu's command line: sysdig 0.29.3's options over sdu's library API.

``main(argv, env)`` parses the options (cli_options), then every action is a library call: read a
capture (scap.read_capture), keep state (state.inspector.Inspector), filter (filter.compile_filter),
print (output.formatter.Formatter), write (scap.ScapWriter), run chisels (chisels.runner). Errors the
user can act on are SduError: one line on stderr and a non-zero status, never a traceback.

Output goes through the binary stdout as UTF-8 with surrogateescape, so any byte a capture holds
comes out unchanged, and lines are written in batches for speed.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO

from sysdig_user.cli_options import CliOptions, UsageError, help_text, parse_argv
from sysdig_user.errors import SduError
from sysdig_user.event import Event
from sysdig_user.output.formatter import DEFAULT_FORMAT, Formatter, OutputOptions
from sysdig_user.output.render import BufferFormat, RenderOptions
from sysdig_user.output.timefmt import OutputTime

VERSION = "0.29.3"
EXIT_OK = 0
EXIT_ERROR = 1
_BATCH = 512  # lines per write to stdout
_BUFFER_FLAGS = {"A": BufferFormat.EOLS, "b": BufferFormat.BASE64, "x": BufferFormat.HEX,
                 "X": BufferFormat.HEXASCII}


@dataclass
class Environment:
    """Where the CLI reads and writes; tests swap it (STYLE.md section 4)."""

    stdout: BinaryIO
    stderr: IO[str]
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    @classmethod
    def default(cls) -> Environment:
        return cls(sys.stdout.buffer, sys.stderr, os.environ)


class Output:
    """Batched line writer on a binary stream (utf-8, surrogateescape)."""

    __slots__ = ("_lines", "_stream", "unbuffered")

    def __init__(self, stream: BinaryIO, unbuffered: bool = False) -> None:
        self._stream = stream
        self._lines: list[str] = []
        self.unbuffered = unbuffered

    def line(self, text: str) -> None:
        self._lines.append(text)
        if self.unbuffered or len(self._lines) >= _BATCH:
            self.flush()

    def write(self, text: str | bytes) -> None:
        """Raw text without an added newline (chisels print through this)."""
        self.flush()
        data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape")
        self._stream.write(data)

    def chunk(self, data: bytes) -> None:
        """Lines already encoded, each with its newline (the compiled default line's), after the
        lines given so far."""
        self._write_lines()
        self._stream.write(data)
        if self.unbuffered:
            self._stream.flush()

    def flush(self) -> None:
        self._write_lines()
        self._stream.flush()

    def _write_lines(self) -> None:
        if self._lines:
            self._lines.append("")
            self._stream.write("\n".join(self._lines).encode("utf-8", "surrogateescape"))
            self._lines = []


# ------------------------------------------------------------------------------------------- setup


def _int_option(value: str | None, message: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value, 0)
    except ValueError:
        raise SduError(message) from None


def buffer_format(opts: CliOptions) -> BufferFormat:
    if len(opts.buffer_flags) > 1:
        raise SduError("you cannot specify more than one output format")
    fmt = _BUFFER_FLAGS[opts.buffer_flags[0]] if opts.buffer_flags else BufferFormat.NORMAL
    return fmt.as_json() if opts.json else fmt


def output_options(opts: CliOptions, has_chisels: bool = False) -> OutputOptions:
    mode = "a" if opts.abstime else (opts.timetype or "h")
    if mode not in ("h", "a", "r", "d", "D"):
        raise SduError("invalid modifier for flag -t")
    max_len = 0 if opts.verbose or has_chisels else 80
    return OutputOptions(RenderOptions(buffer_format(opts), max_len), OutputTime(mode), opts.json)


def compile_predicate(text: str) -> Any:
    """The filter as a predicate (None for no filter); FilterError carries sysdig's message."""
    if not text:
        return None
    from sysdig_user.fields.registry import UnknownFieldError, resolve_field
    from sysdig_user.filter import UnknownField, compile_filter

    def resolve(name: str, arg: str | None, pos: int) -> Any:
        try:
            return resolve_field(name, arg)
        except UnknownFieldError:
            raise UnknownField(name, pos) from None

    return compile_filter(text, resolve)


def _chisel_arg_taker(name: str, rest: list[str] | Any) -> str | None:
    from sysdig_user.chisels.registry import take_chisel_args

    def valid_filter(text: str) -> bool:
        try:
            compile_predicate(text)
        except Exception:  # noqa: BLE001 - any failure means "not a filter", as sysdig's catch(...)
            return False
        return True

    return take_chisel_args(name, list(rest), valid_filter)


# -------------------------------------------------------------------------------------- event loop


@dataclass
class RunStats:
    events: int = 0  # events that passed the filter (sysdig's "Captured Events")
    seconds: float = 0.0
    status: int = EXIT_OK  # live capture: the launched command's exit status
    fast_events: int | None = None  # events the compiled default line handled (None: not used)


class EventPipeline:
    """What happens to each event after its source: state, filter, summary, writer, chisels, formatter.

    Sources (capture files here, the live tracer in ``tracer.live``) call ``feed_records`` for
    metadata, ``on_event`` for each event (False once the capture should end: -n reached or a
    chisel ended it; later events are ignored) and ``finish`` exactly once.
    """

    def __init__(self, opts: CliOptions, env: Environment, out: Output, source_name: str = "") -> None:
        self.env = env
        self.out = out
        self.chisels = _make_chisel_runner(opts, out, source_name) if opts.chisels else None
        ooptions = output_options(opts, self.chisels is not None)
        filter_text = opts.filter
        if self.chisels is not None and self.chisels.global_filter is not None:
            filter_text = self.chisels.global_filter
        self.filter_text = filter_text  # the filter in effect (live capture derives its pushdown from it)
        self.predicate = compile_predicate(filter_text)
        quiet = opts.quiet or opts.write is not None
        self.formatter = None
        if not quiet and self.chisels is None:
            self.formatter = Formatter(opts.print_format or DEFAULT_FORMAT, None, ooptions)
        self.format_line = self.formatter.line_function if self.formatter is not None else None
        self.output_options = ooptions
        # sysdig's default line and nothing else per event: what output/fastline.py may take over
        self.default_line = self.formatter is not None and not opts.print_format
        self.summary: Any = None
        if opts.summary:
            from sysdig_user.output.summary import SummaryTable

            self.summary = SummaryTable()
        self.limit = _int_option(opts.numevents, "can't parse the -n argument, make sure it's a number")
        if self.limit is not None and self.limit <= 0:
            raise SduError(f"invalid event count {opts.numevents}")
        self.show_internal = opts.debug
        self.progress = opts.progress
        self.progress_meter: Any = None
        if opts.progress:
            from sysdig_user.output.progress import Progress

            self.progress_meter = Progress(env.stderr)
        from sysdig_user.state.inspector import HIDDEN_CODES, Inspector

        self.hidden_codes = HIDDEN_CODES
        self.inspector = Inspector()
        self.inspector.prefilter = self.predicate
        # hidden events that pass are only counted: the Inspector may skip the unparsed ones unbuilt
        self.inspector.skip_hidden = (self.formatter is not None and not self.show_internal
                                      and self.summary is None and opts.write is None)
        ooptions.render.lookup_thread = self.inspector.threads.get
        self.clock = ooptions.time
        self.writer: Any = None  # set by the source (make_writer) once it knows the section to write
        self.fatfile = opts.fatfile and opts.write is not None
        self.stats = RunStats()
        self.done = False
        self._started = time.process_time()
        self._finished = False

    def start(self) -> None:
        if self.chisels is not None:
            self.chisels.start()

    def feed_records(self, item: Any) -> None:
        self.inspector.feed_records(item)

    def count_hidden(self) -> bool:
        """A hidden event that passed the filter and was skipped unbuilt (Inspector.skip_raw): count
        it as on_event would; False when the capture is over."""
        stats = self.stats
        if self.done or stats.events == self.limit:
            self.done = True
            return False
        stats.events += 1
        if stats.events == self.limit:
            self.done = True
        return not self.done

    def on_event(self, evt: Event) -> bool:
        """Process one event; returns False when the capture is over (the event itself was used)."""
        if self.done:
            return False
        stats = self.stats
        if stats.events == self.limit:
            self.done = True
            return False
        inspector = self.inspector
        verdict = inspector.process(evt)
        clock = self.clock
        if clock.first_ts < 0:
            clock.first_ts = evt.ts
        chisels = self.chisels
        dropped = evt.filtered_out  # the Inspector's pre-parse verdict, None if it did not filter
        if dropped is None and self.predicate is not None:
            dropped = not self.predicate(evt)
        if dropped:
            if chisels is not None:
                chisels.on_filtered_event(evt)
            if self.fatfile and self.writer is not None and _modifies_state(evt.type):
                self.writer.write(evt, evt.dump_flags | DF_STATE_ONLY)  # -F: hidden when read
            if verdict is not None:
                inspector.apply(verdict)
            return True
        stats.events += 1
        if self.summary is not None:
            self.summary.count(evt.type, evt.param(0) if evt.type < 2 else None)
        if self.writer is not None:
            self.writer.write(evt)
        if chisels is not None:
            chisels.on_event(evt)
            if chisels.capture_ended:
                self.done = True
        elif self.format_line is not None and (self.show_internal or not (
                evt.dump_flags & DF_STATE_ONLY or evt.type in self.hidden_codes)):  # Inspector.is_hidden
            line = self.format_line(evt)
            if line is not None:  # Output.line, inline
                out = self.out
                lines = out._lines
                lines.append(line)
                if len(lines) >= _BATCH or out.unbuffered:
                    out.flush()
        if verdict is not None:
            inspector.apply(verdict)
        if stats.events == self.limit:
            self.done = True
        return not self.done

    def hand_over(self) -> None:
        """Another process runs this pipeline from now on (tracer.pipelined's consumer, forked with it): it
        closes the writer and prints the last lines, so finish() does nothing here."""
        self._finished = True

    def take_stats(self, events: int, cpu_seconds: float, fast_events: int | None = None) -> None:
        """The figures of the process the pipeline was handed over to: its event count (and how many of
        them the compiled default line handled), and its CPU time added to this process's own (what -v
        reports)."""
        self.stats.events = events
        self.stats.fast_events = fast_events
        self.stats.seconds = time.process_time() - self._started + cpu_seconds

    def finish(self) -> RunStats:
        """Close the writer, end the chisels, print the summary (idempotent)."""
        if self._finished:
            return self.stats
        self._finished = True
        out = self.out
        self.stats.seconds = time.process_time() - self._started
        try:
            if self.writer is not None:
                self.writer.close()
        finally:
            out.flush()
            if self.chisels is not None:
                self.chisels.end()
                out.flush()
            if self.progress_meter is not None:
                self.progress_meter.finish()
            if self.summary is not None:
                for line in self.summary.lines():
                    out.line(line)
                out.flush()
        return self.stats


DF_STATE_ONLY = 1  # scap dump flag: the event only feeds the state, readers hide it


def _modifies_state(code: int) -> bool:
    from sysdig_user.event_table import EF, event_info

    info = event_info(code)
    return info is not None and bool(info.flags & EF.MODIFIES_STATE)


def _state_section(inspector: Any) -> dict[str, Any]:
    """The state a rotated -w file starts with (tracer.live builds it; without the tracer, none)."""
    try:
        from tracer.live import state_section
    except ImportError:
        return {}
    return state_section(inspector)


def _capture_sources(paths: list[str], progress: Any = None, events: Any = None) -> Iterator[Iterator[Any]]:
    """The items of each file, one iterator per file (the caller reads each to its end, or stops).
    ``events``: read_capture's taker of event blocks (not with a progress meter, which counts events)."""
    from sysdig_user.event_table import EXTENSIONS
    from sysdig_user.scap import read_capture

    for path in paths:
        if progress is None:
            yield read_capture(path, extension_types=frozenset(EXTENSIONS), events=events)  # sdu's packet events
            continue
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed below, once the reader is done with it
        except OSError:
            f = None  # let the reader report it with its own message
        if f is None:
            yield read_capture(path, extension_types=frozenset(EXTENSIONS))
            continue
        with f:
            progress.watch(f)
            yield read_capture(f, extension_types=frozenset(EXTENSIONS))


def run_capture(opts: CliOptions, env: Environment, out: Output) -> RunStats:
    """Read the -r files through the EventPipeline."""
    pipe = EventPipeline(opts, env, out, opts.read[0] if opts.read else "")
    writer = make_writer(opts) if opts.write else None
    count_hidden = pipe.count_hidden if pipe.limit is not None else None
    hidden = 0  # hidden events skipped unbuilt, added to the count at the end when no -n needs it now
    from sysdig_user.output import fastline

    fast: Any = None  # the compiled default line, once set up
    try:
        from sysdig_user.event_table import PPM_EVENT_MAX
        from sysdig_user.state.inspector import SKIPPED_HIDDEN

        pipe.start()
        # events nobody will see are skipped unbuilt (chisels see the filtered-out ones too): skip_raw,
        # called for the codes it may skip
        skip = pipe.inspector.skip_raw
        skip_codes = pipe.inspector.skip_codes if pipe.chisels is None and not pipe.fatfile else None
        on_event = pipe.on_event
        fast = fastline.core_for(pipe) if writer is None else None
        fast_one = fast.one if fast is not None else None
        if fast is not None:
            from sysdig_user.scap import reader

            fast.v1_table(reader._V1_GUESS, reader._V1_ODD)  # old captures' EV_V1 blocks too
        section = _SectionRecords() if writer is not None else None  # what -w starts its file with
        progress = pipe.progress_meter
        # (two loops rather than one generator chaining the files' items: a generator level costs per
        # event; every break below ends the capture)
        # with the compiled default line, the reader hands it runs of event blocks first (it takes
        # what it can; the rest comes here, after its lines)
        for items in _capture_sources(opts.read, progress, fast.blocks if fast is not None else None):
            for item in items:
                if type(item) is not tuple:
                    pipe.feed_records(item)
                    if section is not None and pipe.writer is None:
                        section.add(item)
                    continue
                if section is not None and pipe.writer is None:
                    assert writer is not None
                    writer.start(section.as_kwargs())
                    pipe.writer = writer
                    writer.section_source = lambda: _state_section(pipe.inspector)
                cpu, dump_flags, raw = item
                if progress is not None:
                    progress.tick()
                if skip_codes is not None and (code := raw[20] | raw[21] << 8) < PPM_EVENT_MAX and skip_codes[code]:
                    skipped = skip(raw)
                    if skipped:
                        if skipped == SKIPPED_HIDDEN:
                            if count_hidden is None:
                                hidden += 1
                            elif not count_hidden():
                                break
                        continue
                if fast_one is not None:
                    if not dump_flags and fast_one(raw, cpu):
                        continue
                    fastline.drain(fast, pipe)  # its lines first
                if not on_event(Event(raw, cpu, dump_flags)):
                    break
            else:
                continue
            break
    finally:
        if fast is not None:
            fastline.drain(fast, pipe)
        pipe.stats.events += hidden
        if writer is not None and pipe.writer is None:
            writer.start({})
            pipe.writer = writer
        pipe.finish()
    return pipe.stats


class _SectionRecords:
    """The metadata of the first section read, for -w: the written file starts with the state the
    input's first event was read with (machine, interfaces, users, processes and their fds), so sysdig
    and sdu resolve the same names in it."""

    def __init__(self) -> None:
        self.kwargs: dict[str, Any] = {"procs": [], "fds": {}}

    def add(self, item: Any) -> None:
        from sysdig_user.scap.records import FdList, InterfaceList, MachineInfo, ProcList, UserList

        kw = self.kwargs
        if isinstance(item, MachineInfo):
            kw["machine"] = item
        elif isinstance(item, InterfaceList):
            kw["interfaces"] = item.interfaces
        elif isinstance(item, UserList):
            kw["users"], kw["groups"] = item.users, item.groups
        elif isinstance(item, ProcList):
            kw["procs"].extend(item.entries)
        elif isinstance(item, FdList):
            kw["fds"].setdefault(item.tid, []).extend(item.fds)

    def as_kwargs(self) -> dict[str, Any]:
        return self.kwargs


class CaptureWriter:
    """-w: a section (the capture's state) first, then every event that passed the filter.

    sysdig 0.29's cycle writer. Before writing an event it decides, in this order, on a new file: -G
    SECONDS once the event's second (its timestamp, floored) is SECONDS past the one the current period
    started at (the first event's); -C SIZE_MB once the current file holds more than SIZE_MB * 10^6 bytes;
    -e NUM once NUM events were counted (the count includes the event at hand, restarts at 0 on an -e
    rotation, not on the others: the first file holds NUM - 1 events). A new file starts with the state
    at that moment, which ``section_source()`` provides.

    Names, as sysdig builds them: with -e, FILE0, FILE1, ...; else with -G, FILE0, ... or, if FILE holds
    a '%', strftime(FILE) of the period's start (local time; the first file is then ./first_dump.scap,
    and -W NUM deletes the name written NUM rotations before), then with -C the index again, zero-padded
    to the digits of -W. -W NUM makes the index wrap to 0, overwriting the oldest files.
    """

    def __init__(self, path: str, compress: bool, rollover_mb: int = 0, file_limit: int = 0,
                 seconds: int = 0, events: int = 0) -> None:
        self.path = path
        self.compress = compress
        self.rollover_bytes = rollover_mb * 1_000_000
        self.file_limit = file_limit
        self.seconds = seconds
        self.events = events
        self.section_source: Any = None
        self.started = False
        self._index = 0
        self._width = len(str(file_limit)) if file_limit > 0 else 0
        self._strftime = seconds > 0 and "%" in path
        self._past: list[str] = [""] * file_limit if self._strftime and file_limit > 0 else []
        self._period: int | None = None
        self._count = 0
        self._file: BinaryIO | None = None
        self._w: Any = None
        self._open("first_dump.scap" if self._strftime else self._next_name())

    def _next_name(self) -> str:
        if not (self.rollover_bytes or self.seconds or self.events):
            return self.path
        if self.file_limit > 0 and self._index >= self.file_limit:
            self._index = 0
        index = self._index
        self._index += 1
        if self.events:
            return f"{self.path}{index}"
        name = self.path
        if self._strftime:
            name = time.strftime(self.path, time.localtime(self._period or 0))
            if self._past:
                if self._past[index]:
                    with contextlib.suppress(OSError):
                        os.remove(self._past[index])
                self._past[index] = name
        elif self.seconds:
            name = f"{name}{index}"
        if self.rollover_bytes:
            name = f"{name}{index:0{self._width}d}" if self._width else f"{name}{index}"
        return name

    def _open(self, name: str) -> None:
        from sysdig_user.scap import ScapWriter

        try:
            self._file = open(name, "wb")  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise SduError(f"can't open file {name}: {exc.strerror}") from None
        self._w = ScapWriter(self._file, compress=self.compress)

    def start(self, section: Mapping[str, Any]) -> None:
        self.started = True
        self._w.write_section(**section)

    def _rotate(self, evt: Event) -> bool:
        self._count += 1
        if self.seconds:
            sec = evt.ts // 1_000_000_000
            if self._period is None:
                self._period = sec
            elif sec - self._period >= self.seconds:
                self._period = sec
                return True
        if self.rollover_bytes and self._file is not None and self._file.tell() > self.rollover_bytes:
            return True
        if self.events and self._count >= self.events:
            self._count = 0
            return True
        return False

    def write(self, evt: Event, dump_flags: int | None = None) -> None:
        if (self.rollover_bytes or self.seconds or self.events) and self._rotate(evt):
            self._close_file()
            self._open(self._next_name())
            self.start(self.section_source() if self.section_source is not None else {})
        self._w.write_event(evt.cpu, evt.dump_flags if dump_flags is None else dump_flags, evt.raw)

    @property
    def rotates(self) -> bool:
        """-C, -G or -e: a new file may start (with the state at that moment) before any event."""
        return bool(self.rollover_bytes or self.seconds or self.events)

    def write_blocks(self, data: bytes, count: int) -> None:
        """Events already framed as scap blocks (ScapWriter.write_blocks); only without rotation."""
        assert not self.rotates
        self._w.write_blocks(data, count)

    def _close_file(self) -> None:
        if self._w is not None:
            self._w.close()
            self._w = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def hand_over(self) -> None:
        """Another process writes this capture from now on (forked with this writer). This process's
        descriptor is pointed at /dev/null and forgotten: nothing its copy holds (the buffered section, a
        gzip trailer written when the objects are collected) can reach the file, and close() does nothing."""
        if self._file is not None:
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, self._file.fileno())
            finally:
                os.close(devnull)
        self._w = None
        self._file = None

    def close(self) -> None:
        if self._w is not None and not self.started:
            self.start({})
        self._close_file()


def make_writer(opts: CliOptions) -> CaptureWriter:
    assert opts.write is not None
    size = _int_option(opts.file_size, "invalid file size (-C)") or 0
    limit = _int_option(opts.file_limit, "invalid file limit (-W)") or 0
    seconds = _int_option(opts.file_seconds, "invalid duration (-G)") or 0
    events = _int_option(opts.file_events, "invalid number of events (-e)") or 0
    if size < 0 or limit < 0 or seconds < 0 or events < 0:
        raise SduError("-C, -G, -e and -W take positive numbers")
    return CaptureWriter(opts.write, opts.compress, size, limit, seconds, events)


def _make_chisel_runner(opts: CliOptions, out: Output, source: str = "") -> Any:
    from sysdig_user.chisels.runner import ChiselRunner

    fmt = "normal"
    if opts.buffer_flags:
        fmt = {"A": "ascii", "b": "base64", "x": "hex", "X": "hexascii"}[opts.buffer_flags[-1]]
    return ChiselRunner(opts.chisels, buffer_format=fmt, json_output=opts.json, global_filter=opts.filter,
                        source_name=source, out=out, live=bool(opts.command or opts.pids))


def run_live(opts: CliOptions, env: Environment, out: Output) -> RunStats:
    """Live capture through the ptrace tracer (``--pid``/``-p PIDS``, or ``-- CMD ARGS``).

    The tracer is the top-level ``tracer`` package, imported only here so that reading capture files
    never needs it; ``tracer.live`` drives it and feeds the same EventPipeline a capture file does.
    The returned stats carry the exit status: the launched command's, 0 in attach mode.
    """
    if opts.pids and opts.command:
        raise SduError("sdu: give either -p PID or -- COMMAND, not both")
    try:
        from tracer.live import run_live as trace
    except ImportError:
        raise SduError("live capture is not available: the tracer package is missing") from None
    if not out.unbuffered and _isatty(env.stdout):
        out.unbuffered = True  # a terminal sees each event as it happens
    stats: RunStats = trace(opts, env, out)
    return stats


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


# ------------------------------------------------------------------------------------------- main


def _listings(opts: CliOptions, out: Output) -> bool:
    """-L, -l, -cl, -i, --help, --version: print and report True."""
    if opts.help:
        out.line(help_text(VERSION))
    elif opts.version:
        out.line(f"sdu version {VERSION}")
    elif opts.list_events:
        from sysdig_user.output.listing import event_lines

        for line in event_lines():
            out.line(line)
    elif opts.list_chisels:
        from sysdig_user.chisels.registry import list_chisels

        out.write(list_chisels())
    elif opts.chisel_info is not None:
        from sysdig_user.chisels.registry import describe_chisel

        out.write(describe_chisel(opts.chisel_info))
    elif opts.list_fields:
        from sysdig_user.output.listing import field_lines

        for line in field_lines(opts.verbose):
            out.line(line)
    else:
        return False
    return True


def _apply_timezone(environ: Mapping[str, str]) -> None:
    """Local times follow the environment's TZ (tests pass TZ=UTC without touching os.environ)."""
    tz = environ.get("TZ")
    if tz is not None and os.environ.get("TZ") != tz:
        os.environ["TZ"] = tz
        time.tzset()


def program(opts: CliOptions, env: Environment, out: Output) -> int:
    if _listings(opts, out):
        return EXIT_OK
    _apply_timezone(env.environ)
    if opts.read:
        stats = run_capture(opts, env, out)
    elif opts.pids or opts.command:
        stats = run_live(opts, env, out)
    else:
        raise SduError("no capture source: use -r FILE, -p PID or -- COMMAND (sdu has no kernel driver)")
    if opts.verbose:
        env.stderr.write("Driver Events:0\nDriver Drops:0\nSuppressed by Comm:0\n")
        secs = stats.seconds
        eps = stats.events / secs if secs > 0 else 0.0
        env.stderr.write(f"Elapsed time: {secs:.3f}, Captured Events: {stats.events}, {eps:.2f} eps\n")
    return stats.status


def main(argv: list[str] | None = None, env: Environment | None = None) -> int:
    """Run sdu; returns the exit status (0 success, 1 error)."""
    if argv is None:
        argv = sys.argv[1:]
    if env is None:
        env = Environment.default()
    out = Output(env.stdout)
    try:
        opts = parse_argv(argv, _chisel_arg_taker)
        out.unbuffered = opts.unbuffered
        status = program(opts, env, out)
        out.flush()
        return status
    except UsageError as exc:
        _flush_quietly(out)
        env.stderr.write(f"{exc}\n")
        return EXIT_ERROR
    except SduError as exc:
        _flush_quietly(out)
        env.stderr.write(f"{exc}\n")
        return getattr(exc, "exit_status", EXIT_ERROR) or EXIT_ERROR
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_OK
    except KeyboardInterrupt:  # SIGINT before sdu catches it (sysdig_user/entry.py: which status)
        _flush_quietly(out)
        from sysdig_user.entry import interrupted_status

        return interrupted_status(argv)
    except Exception as exc:  # the user gets one line, never a traceback
        if env.environ.get("SDU_DEBUG"):
            raise
        _flush_quietly(out)
        env.stderr.write(f"sdu: internal error: {type(exc).__name__}: {exc} (set SDU_DEBUG=1 for details)\n")
        return EXIT_ERROR


def _flush_quietly(out: Output) -> None:
    try:
        out.flush()
    except BrokenPipeError:
        _silence_stdout()


def _silence_stdout() -> None:
    """After EPIPE (``sdu ... | head``) point stdout at /dev/null so the interpreter's final flush
    does not print a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
