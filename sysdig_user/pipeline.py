"""What happens to each event after its source: state, filter, summary, writer, chisels, formatter.

``EventPipeline`` is built from a CaptureSpec (sysdig_user/spec.py) and is the same whatever feeds it:
the file source (sysdig_user/sources.py), the tracer (tracer/live.py) in this process or in the
pipelined consumer (tracer/pipelined.py). The Session (sysdig_user/session.py) owns it.
"""
from __future__ import annotations

import os
import time
from _collections_abc import Mapping  # (collections.abc without collections)

from sysdig_user.environment import Environment
from sysdig_user.event import Event
from sysdig_user.output.lines import BATCH as _BATCH
from sysdig_user.output.lines import Output
from sysdig_user.output.options import COLOR_RESET, CONTAINER_FORMATS, DEFAULT_FORMAT, OutputOptions
from sysdig_user.output.render import BufferFormat, RenderOptions
from sysdig_user.output.timefmt import OutputTime
from sysdig_user.plan import Need, plan
from sysdig_user.rows import Record
from sysdig_user.spec import CaptureSpec, OutputSpec

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    from typing import Any

    from sysdig_user.output.formatter import Formatter

EXIT_OK = 0
DF_STATE_ONLY = 1  # scap dump flag: the event only feeds the state, readers hide it
_BUFFER_FORMATS = {"A": BufferFormat.EOLS, "b": BufferFormat.BASE64, "x": BufferFormat.HEX,
                   "X": BufferFormat.HEXASCII}
_CHISEL_BUFFERS = {"A": "ascii", "b": "base64", "x": "hex", "X": "hexascii"}


def output_options(ospec: OutputSpec, has_chisels: bool = False) -> OutputOptions:
    fmt = _BUFFER_FORMATS[ospec.buffer] if ospec.buffer else BufferFormat.NORMAL
    if ospec.json:
        fmt = fmt.as_json()
    max_len = 0 if ospec.verbose or has_chisels else 80
    return OutputOptions(RenderOptions(fmt, max_len), OutputTime(ospec.time), ospec.json)


def compile_predicate(text: str) -> Any:
    """The filter as a predicate (None for no filter); FilterError carries sysdig's message."""
    if not text:
        return None
    from sysdig_user.fields.registry import compile_predicate as compile_with_fields

    return compile_with_fields(text)


def screen_policy(spec: CaptureSpec, out: Output, environ: Mapping[str, str]) -> tuple[bool | None, bool]:
    """(colour, repaint) for the chisels: --color always/never, else NO_COLOR turns colours off and the
    chisel decides (as sysdig's do); the live view clears and redraws the screen only when attached to
    running processes and printing to a terminal (a launched command's tables stay on screen, one after
    another, the last when it ends; pipes and files never get screen codes)."""
    mode = spec.output.color
    color = True if mode == "always" else False if mode == "never" or environ.get("NO_COLOR") else None
    try:
        tty = os.isatty(out.stream.fileno())
    except (AttributeError, OSError, ValueError):
        tty = False
    attached = spec.trace is not None and bool(spec.trace.pids)
    return color, attached and tty and color is not False


def make_chisel_runner(spec: CaptureSpec, out: Output, source: str = "",
                       environ: Mapping[str, str] | None = None) -> Any:
    from sysdig_user.chisels.runner import ChiselRunner

    fmt = _CHISEL_BUFFERS[spec.output.buffer] if spec.output.buffer else "normal"
    color, repaint = screen_policy(spec, out, os.environ if environ is None else environ)
    print_container = spec.output.format in CONTAINER_FORMATS.values()  # -pc/-pk/-pm
    return ChiselRunner(spec.chisels, buffer_format=fmt, json_output=spec.output.json,
                        global_filter=spec.filter, source_name=source, out=out, live=spec.live,
                        color=color, repaint=repaint, print_container=print_container)


class RunStats(Record):
    _fields = ("events", "seconds", "status", "fast_events", "suppressed")
    __slots__ = _fields
    events: int  # events that passed the filter (sysdig's "Captured Events")
    seconds: float
    status: int  # live capture: the launched command's exit status
    fast_events: int | None  # events the compiled default line handled (None: not used)
    suppressed: int  # events -U dropped (sysdig's -v "Suppressed by Comm")

    def __init__(self, events: int = 0, seconds: float = 0.0, status: int = EXIT_OK,
                 fast_events: int | None = None, suppressed: int = 0) -> None:
        self.events = events
        self.seconds = seconds
        self.status = status
        self.fast_events = fast_events
        self.suppressed = suppressed


class EventPipeline:
    """What happens to each event after its source: state, filter, summary, writer, chisels, formatter.

    Sources (capture files here, the live tracer in ``tracer.live``) call ``feed_records`` for
    metadata, ``on_event`` for each event (False once the capture should end: -n reached or a
    chisel ended it; later events are ignored) and ``finish`` exactly once.
    """

    def __init__(self, spec: CaptureSpec, env: Environment, out: Output, source_name: str = "",
                 facts: Need = Need.NONE) -> None:
        self.spec = spec
        self.env = env
        self.out = out
        ospec = spec.output
        self.chisels = make_chisel_runner(spec, out, source_name, env.environ) if spec.chisels else None
        ooptions = output_options(ospec, self.chisels is not None)
        filter_text = spec.filter
        if self.chisels is not None and self.chisels.global_filter is not None:
            filter_text = self.chisels.global_filter
        self.filter_text = filter_text  # the filter in effect (live capture derives its pushdown from it)
        self.predicate = compile_predicate(filter_text)
        quiet = ospec.quiet or spec.write is not None
        self.output_options = ooptions
        self._formatter: Formatter | None = None
        self._lazy_default = False  # the default line's Formatter not built yet (``formatter``)
        self.format_line: Any = None
        given: Formatter | None = None
        if ospec.format is not None:  # (compiled even when nothing prints: sysdig refuses a bad -p then too)
            from sysdig_user.output.formatter import Formatter

            given = Formatter(ospec.format, None, ooptions)
        if not quiet and self.chisels is None:
            if given is None:  # (built when first needed: the compiled line may print every event)
                self._lazy_default = True
                self.format_line = self._default_line
            else:
                self._formatter = given
                self.format_line = given.line_function
        # sysdig turns a colour off when the capture ends if its -p format held an escape character
        self._color_reset = ospec.format is not None and "\x1b" in ospec.format
        self.native_filter: Any = None  # the filter and -p format compiled for C (output/compiled.py)
        self.native_format: Any = None
        if not facts & Need.NO_NATIVE and (self.predicate is not None or ospec.format is not None):
            facts |= self._compile_native(filter_text, ospec.format is not None, env)
        self.plan = plan(spec, facts)
        if self.plan.compiled_filter:
            self.predicate = self.native_filter
        self.summary: Any = None
        if ospec.summary:
            from sysdig_user.output.summary import SummaryTable

            self.summary = SummaryTable()
        self.limit = spec.limit
        self.show_internal = ospec.show_internal
        self.progress_meter: Any = None
        if ospec.progress:
            from sysdig_user.output.progress import Progress

            self.progress_meter = Progress(env.stderr)
        from sysdig_user.state.inspector import HIDDEN_CODES, Inspector

        self.hidden_codes = HIDDEN_CODES
        self.inspector = Inspector()
        self.inspector.keep_internal = spec.write is not None  # see on_event: -w keeps internal events
        # where sinsp filters: inside the parser, before an event that changes no state is parsed; with
        # -d (a display filter) after every event has been parsed
        self.inspector.prefilter = None if spec.display_filter else self.predicate
        # hidden events that pass are only counted: the Inspector may skip the unparsed ones unbuilt
        self.inspector.skip_hidden = (self.format_line is not None and not self.show_internal
                                      and self.summary is None and spec.write is None)
        ooptions.render.lookup_thread = self.inspector.threads.get
        self.clock = ooptions.time
        self.writer: Any = None  # set by the source (make_writer) once it knows the section to write
        self.fatfile = spec.write is not None and spec.write.fatfile
        self.display_filter = spec.display_filter and self.predicate is not None
        self.suppressor: Any = None
        if spec.suppress_comms:
            from sysdig_user.state.suppress import Suppressor

            self.suppressor = Suppressor(spec.suppress_comms)
        self.stats = RunStats()
        self.done = False
        self._started = time.process_time()
        self._finished = False

    @property
    def formatter(self) -> Formatter | None:
        """The printed line's Formatter (None when nothing is printed). The default line's is built on first
        use: a read whose every event the compiled line prints (output/fastline.py) never imports the field
        classes and the registry it binds (~5M instructions of a short run)."""
        if self._lazy_default:
            from sysdig_user.output.formatter import Formatter  # (the module too: output/options.py)

            self._lazy_default = False
            self._formatter = Formatter(DEFAULT_FORMAT, None, self.output_options)
            if self.format_line == self._default_line:  # (unless a caller put its own line in its place)
                self.format_line = self._formatter.line_function
        return self._formatter

    def _default_line(self, evt: Event) -> str | None:
        """The default line of ``evt``, its Formatter built by this first call (the compiled line keeps
        calling this one for the events it leaves to Python)."""
        fmt = self.formatter
        assert fmt is not None
        return fmt.line_function(evt)

    def begin_events(self, ts: int) -> None:
        """What on_event does before the capture's first event (and the first after new metadata) when the
        compiled line handles that event itself: the Inspector's begin_events, the clock's first time."""
        self.inspector.begin_events(ts)
        if self.clock.first_ts < 0:
            self.clock.first_ts = ts

    def _compile_native(self, filter_text: str, has_format: bool, env: Environment) -> Need:
        """The filter and the -p format compiled for C where they can be; the facts for the planner."""
        from sysdig_user.output import compiled

        if not compiled.available(env.environ):
            return Need.NO_NATIVE
        facts = Need.NONE
        if self.predicate is not None:
            self.native_filter = compiled.native_filter(filter_text, self.predicate)
            if self.native_filter is None:
                facts |= Need.PY_FILTER
        if has_format:
            self.native_format = compiled.native_format(self.formatter) if self.formatter is not None else None
            if self.native_format is None:
                facts |= Need.PY_FORMAT
        return facts

    def start(self) -> None:
        if self.chisels is not None:
            self.chisels.start()

    def section(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """A -w file's first section; with --filter-proclist only the threads (and their fds) for which
        the filter passes a bare event of the thread, as sinsp tests each thread of the table it dumps
        (an event with no parameters and no fd: read's exit)."""
        write = self.spec.write
        if write is None or not write.filter_proclist or self.predicate is None or "procs" not in kwargs:
            return kwargs
        from sysdig_user.event import HEADER

        threads = self.inspector.threads
        state = self.inspector.state
        kept = []
        for proc in kwargs["procs"]:
            evt = Event(HEADER.pack(0, proc.tid, HEADER.size, _READ_X, 0))
            evt._state = state
            evt.thread = threads.get(proc.tid)
            if self.predicate(evt):
                kept.append(proc)
        fds = kwargs.get("fds") or {}
        tids = {p.tid for p in kept}
        return dict(kwargs, procs=kept, fds={tid: entries for tid, entries in fds.items() if tid in tids})

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
        if self.suppressor is not None and self.suppressor.drops(evt):
            inspector.num += 1  # -U: dropped before the engine, but numbered (as sysdig numbers them)
            return True
        verdict = inspector.process(evt)
        if inspector.consumed_event is evt:  # container state at the capture's head: never shown
            if self.writer is not None:
                self.writer.write_container(evt)  # (sysdig's -w starts each file with its containers)
            return True
        clock = self.clock
        if clock.first_ts < 0:
            clock.first_ts = evt.ts
        chisels = self.chisels
        dropped = evt.filtered_out  # the Inspector's pre-parse verdict, None if it did not filter
        if dropped is None and self.predicate is not None:
            dropped = not self.predicate(evt)
        if dropped:
            if self.display_filter:
                clock.prev_ts = evt.ts  # -t D: since the previous event the engine returned (all, with -d)
            if chisels is not None:
                chisels.on_filtered_event(evt)
            if self.writer is not None:  # what sinsp_evt::get_dump_flags keeps of a filtered-out event
                if self.display_filter:
                    self.writer.write(evt)  # -d filters what is shown, not what is written
                elif self.fatfile and _modifies_state(evt.type):
                    self.writer.write(evt, evt.dump_flags | DF_STATE_ONLY)  # -F: hidden when read
                elif evt.type in self.hidden_codes:
                    self.writer.write(evt)  # an internal event (procinfo): kept as it is
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
        if self.suppressor is not None:
            self.stats.suppressed = self.suppressor.count
        try:
            if self.writer is not None:
                self.writer.close()
        finally:
            if self._color_reset:
                out.write(COLOR_RESET)
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


_READ_X = 7  # PPME_SYSCALL_READ_X


def _modifies_state(code: int) -> bool:
    from sysdig_user.event_table import EF, event_info

    info = event_info(code)
    return info is not None and bool(info.flags & EF.MODIFIES_STATE)
