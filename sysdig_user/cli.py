"""sdu's command line: sysdig 0.29.3's options over sdu's library API.

``main(argv, env)`` parses the options (cli_options), then every action is a library call: read a
capture (scap.read_capture), keep state (state.inspector.Inspector), filter (filter.compile_filter),
print (output.formatter.Formatter), write (scap.ScapWriter), run chisels (chisels.runner). Errors the
user can act on are SduError: one line on stderr and a non-zero status, never a traceback.

Output goes through the binary stdout as UTF-8 with surrogateescape, so any byte a capture holds
comes out unchanged, and lines are written in batches for speed.
"""
from __future__ import annotations

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
from sysdig_user.output.summary import SummaryTable
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

    def flush(self) -> None:
        if self._lines:
            self._lines.append("")
            self._stream.write("\n".join(self._lines).encode("utf-8", "surrogateescape"))
            self._lines = []
        self._stream.flush()


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


def _capture_items(paths: list[str]) -> Iterator[Any]:
    from sysdig_user.scap import read_capture

    for path in paths:
        yield from read_capture(path)


def run_capture(opts: CliOptions, env: Environment, out: Output) -> RunStats:
    """Read the -r files through state, filter, formatter, summary, writer and chisels."""
    chisels = _make_chisel_runner(opts, out) if opts.chisels else None
    ooptions = output_options(opts, chisels is not None)
    filter_text = opts.filter
    if chisels is not None and chisels.global_filter is not None:
        filter_text = chisels.global_filter
    predicate = compile_predicate(filter_text)
    quiet = opts.quiet or opts.write is not None
    formatter = None
    if not quiet and chisels is None:
        formatter = Formatter(opts.print_format or DEFAULT_FORMAT, None, ooptions)
    summary = SummaryTable() if opts.summary else None
    limit = _int_option(opts.numevents, "can't parse the -n argument, make sure it's a number")
    if limit is not None and limit <= 0:
        raise SduError(f"invalid event count {opts.numevents}")
    show_internal = opts.debug
    from sysdig_user.state.inspector import Inspector

    inspector = Inspector()
    is_hidden = inspector.is_hidden
    ooptions.render.lookup_thread = inspector.threads.get
    writer = _make_writer(opts) if opts.write else None
    stats = RunStats()
    started = time.process_time()
    clock = ooptions.time
    try:
        if chisels is not None:
            chisels.start()
        for item in _capture_items(opts.read):
            if stats.events == limit:
                break
            if not isinstance(item, tuple):
                inspector.feed_records(item)
                continue
            if writer is not None and not writer.started:
                writer.start(inspector)
            cpu, dump_flags, raw = item
            evt = Event(raw, cpu, dump_flags)
            verdict = inspector.process(evt)
            if clock.first_ts < 0:
                clock.first_ts = evt.ts
            if predicate is not None and not predicate(evt):
                if chisels is not None:
                    chisels.on_filtered_event(evt)
                inspector.apply(verdict)
                continue
            stats.events += 1
            if summary is not None:
                summary.count(evt.type, evt.param(0) if evt.type < 2 else None)
            if writer is not None:
                writer.write(evt)
            if chisels is not None:
                chisels.on_event(evt)
                if chisels.capture_ended:
                    inspector.apply(verdict)
                    break
            elif formatter is not None and (show_internal or not is_hidden(evt)):
                line = formatter.format(evt)
                if line is not None:
                    out.line(line)
            inspector.apply(verdict)
    finally:
        stats.seconds = time.process_time() - started
        if writer is not None:
            writer.close()
        out.flush()
        if chisels is not None:
            chisels.end()
            out.flush()
        if opts.progress:
            env.stderr.write("100.00\n")
        if summary is not None:
            for line in summary.lines():
                out.line(line)
            out.flush()
    return stats


class _CaptureWriter:
    """-w: the capture's state goes first (from the Inspector), then every event that passed."""

    def __init__(self, path: str, compress: bool) -> None:
        from sysdig_user.scap import ScapWriter

        self._w = ScapWriter(path, compress=compress)
        self.started = False

    def start(self, inspector: Any) -> None:
        self.started = True
        section = getattr(inspector, "scap_section", None)
        if section is not None:
            self._w.write_section(**section())
        else:
            self._w.write_section()

    def write(self, evt: Event) -> None:
        self._w.write_event(evt.cpu, evt.dump_flags, evt.raw)

    def close(self) -> None:
        if not self.started:
            self._w.write_section()
        self._w.close()


def _make_writer(opts: CliOptions) -> _CaptureWriter:
    assert opts.write is not None
    try:
        return _CaptureWriter(opts.write, opts.compress)
    except OSError as exc:
        raise SduError(f"can't open file {opts.write}: {exc.strerror}") from None


def _make_chisel_runner(opts: CliOptions, out: Output) -> Any:
    from sysdig_user.chisels.runner import ChiselRunner

    fmt = "normal"
    if opts.buffer_flags:
        fmt = {"A": "ascii", "b": "base64", "x": "hex", "X": "hexascii"}[opts.buffer_flags[-1]]
    source = opts.read[0] if opts.read else ""
    return ChiselRunner(opts.chisels, buffer_format=fmt, json_output=opts.json, global_filter=opts.filter,
                        source_name=source, out=out)


def run_live(opts: CliOptions, env: Environment, out: Output) -> RunStats:
    """Live capture through the ptrace tracer (``--pid``/``-p PIDS``, or ``-- CMD ARGS``).

    The tracer lives in the top-level ``tracer`` package and is imported only here, so reading
    capture files never needs it. It is expected to offer ``tracer.run(options, sink)``, calling
    ``sink(cpu, dump_flags, raw)`` for every event; events then follow the same path as a file's.
    """
    try:
        import tracer
    except ImportError:
        raise SduError("live capture is not available: the tracer package is missing") from None
    run = getattr(tracer, "run", None)
    if run is None:
        raise SduError("live capture is not available in this build")
    result: RunStats = run(opts, env, out)
    return result


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
    return EXIT_OK


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
        return program(opts, env, out)
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
    except KeyboardInterrupt:
        _flush_quietly(out)
        return EXIT_OK
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
