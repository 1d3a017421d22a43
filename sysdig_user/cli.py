"""sdu's command line: sysdig 0.29.3's options over sdu's library API.

``main(argv, env)`` parses the options (cli_options) into a CaptureSpec (``spec_from_options``: every
value checked and converted, with sysdig's messages), builds a Session (sysdig_user/session.py) and
runs it on its source: the -r files (sources.ScapSource) or the tracer (tracer.live.TraceSource). The
CLI reads no event; errors the user can act on are SduError: one line on stderr and a non-zero status,
never a traceback.
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from typing import Any

from sysdig_user import pipeline as _pipeline
from sysdig_user.cli_options import CliOptions, UsageError, help_text, parse_argv, wants_packets
from sysdig_user.environment import Environment
from sysdig_user.errors import SduError
from sysdig_user.output.formatter import unescape_format
from sysdig_user.output.lines import Output
from sysdig_user.pipeline import RunStats, compile_predicate
from sysdig_user.scap.cycle import CaptureWriter
from sysdig_user.spec import BUFFER_LETTERS, CaptureSpec, OutputSpec, PacketSpec, TraceSpec, WriteSpec

VERSION = "0.29.3"
EXIT_OK = 0
EXIT_ERROR = 1

__all__ = ["CaptureWriter", "Environment", "EventPipeline", "Output", "RunStats", "compile_predicate",
           "main", "make_writer", "spec_from_options"]


# ----------------------------------------------------------------------------- options -> spec


def _int_option(value: str | None, message: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value, 0)
    except ValueError:
        raise SduError(message) from None


def _output_spec(opts: CliOptions) -> OutputSpec:
    if len(opts.buffer_flags) > 1:
        raise SduError("you cannot specify more than one output format")
    time_mode = "a" if opts.abstime else (opts.timetype or "h")
    if time_mode not in ("h", "a", "r", "d", "D"):
        raise SduError("invalid modifier for flag -t")
    buffer = opts.buffer_flags[0] if opts.buffer_flags else ""
    assert buffer in ("", *BUFFER_LETTERS)
    fmt = None if opts.print_format is None else unescape_format(opts.print_format)  # sysdig's -p reading
    return OutputSpec(format=fmt, json=opts.json, buffer=buffer, time=time_mode,
                      verbose=opts.verbose, quiet=opts.quiet, show_internal=opts.debug, summary=opts.summary,
                      progress=opts.progress, unbuffered=opts.unbuffered, to=opts.output_file)


def _positive(value: str | None, message: str) -> int:
    """A -C/-G/-W/-M (or --net-snaplen) value: a number above 0, else ``message`` and the value (sysdig
    prints it right after the words, without a space: "invalid file size0")."""
    if value is None:
        return 0
    try:
        number = int(value, 0)
    except ValueError:
        number = 0
    if number <= 0:
        raise SduError(f"{message}{value}")
    return number


def _write_spec(opts: CliOptions) -> WriteSpec | None:
    """-w and its rotation options; the numbers are checked with or without -w, as sysdig does."""
    size = _positive(opts.file_size, "invalid file size")
    seconds = _positive(opts.file_seconds, "invalid duration")
    limit = _positive(opts.file_limit, "invalid file limit")
    events = 0
    if opts.file_events is not None:  # sysdig refuses 0 and words, and takes a negative count as none
        try:
            events = int(opts.file_events, 0)
        except ValueError:
            events = 0
        if events == 0:
            raise SduError(f"invalid parameter 'number of events' {opts.file_events}")
        events = max(events, 0)
    if opts.write is None:
        return None
    return WriteSpec(opts.write, opts.compress, size, limit, seconds, events, opts.fatfile)


def _packet_spec(opts: CliOptions) -> PacketSpec | None:
    if opts.iface is not None and not [name for name in opts.iface.split(",") if name.strip()]:
        raise SduError("sdu: --iface needs interface names (e.g. --iface lo,eth0), or --net for every one")
    if not wants_packets(opts):
        return None
    kernel_snaplen = _positive(opts.net_snaplen, "invalid net snaplen ") if opts.net_snaplen is not None else None
    return PacketSpec(opts.iface or None, opts.net_filter or "", opts.pcap, kernel_snaplen)


def spec_from_options(opts: CliOptions) -> CaptureSpec:
    """The capture the parsed command line asks for; SduError/UsageError with sysdig's message if a
    value is wrong or options contradict each other."""
    if opts.read and (opts.command or opts.pids):
        what = "-- COMMAND" if opts.command else "a PID list"
        raise UsageError(f"sdu: -r reads a capture file; it cannot be combined with {what}")
    limit = _int_option(opts.numevents, "can't parse the -n argument, make sure it's a number")
    if limit is not None and limit <= 0:
        raise SduError(f"invalid event count {opts.numevents}")
    output = _output_spec(opts)
    trace = None
    snaplen = duration = None
    if opts.pids or opts.command:
        trace = TraceSpec(list(opts.command), list(opts.pids), opts.no_seccomp, opts.no_colocate)
        if opts.snaplen is not None:  # (sysdig reads -s for live captures only; so does sdu)
            snaplen = _int_option(opts.snaplen, "invalid snaplen " + opts.snaplen)
    if opts.duration is not None:  # (a capture file is read whole: -M ends live captures only)
        duration = _positive(opts.duration, "invalid duration")
    return CaptureSpec(read=list(opts.read), trace=trace, packets=_packet_spec(opts) if trace else None,
                       filter=opts.filter, display_filter=opts.display_filter, output=output,
                       write=_write_spec(opts), chisels=list(opts.chisels), limit=limit,
                       duration_s=duration, snaplen=snaplen)


class EventPipeline(_pipeline.EventPipeline):
    """The pipeline of a parsed command line (scripts and tests that hold CliOptions)."""

    def __init__(self, opts: CliOptions, env: Environment, out: Output, source_name: str = "") -> None:
        from sysdig_user.session import run_facts

        super().__init__(spec_from_options(opts), env, out, source_name, run_facts(env))


def make_writer(opts: CliOptions) -> CaptureWriter:
    """The -w writer of a parsed command line."""
    from sysdig_user.scap.cycle import make_writer as writer_for

    spec = _write_spec(opts)
    assert spec is not None
    return writer_for(spec)


def _chisel_arg_taker(name: str, rest: list[str] | Any) -> str | None:
    from sysdig_user.chisels.registry import take_chisel_args

    def valid_filter(text: str) -> bool:
        try:
            compile_predicate(text)
        except Exception:  # noqa: BLE001 - any failure means "not a filter", as sysdig's catch(...)
            return False
        return True

    return take_chisel_args(name, list(rest), valid_filter)


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


def _source(spec: CaptureSpec) -> Any:
    """The spec's event source: its -r files, or the tracer (imported only here, so that reading
    capture files never needs it)."""
    if spec.trace is None:
        from sysdig_user.sources import ScapSource

        return ScapSource(spec.read)
    try:
        from tracer.live import TraceSource
    except ImportError:
        raise SduError("live capture is not available: the tracer package is missing") from None
    return TraceSource(spec.trace, spec.packets)


def program(opts: CliOptions, env: Environment, out: Output) -> int:
    if _listings(opts, out):
        return EXIT_OK
    _apply_timezone(env.environ)
    if not (opts.read or opts.pids or opts.command):
        raise SduError("no capture source: use -r FILE, -p PID or -- COMMAND (sdu has no kernel driver)")
    spec = spec_from_options(opts)
    source = _source(spec)
    from sysdig_user.session import Session

    # -o: the Session writes to its own file (stdout stays the launched command's)
    stats = Session(spec, env, out if spec.output.to is None else None).run(source)
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
