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
from _collections_abc import Mapping  # (collections.abc without collections)

from sysdig_user import pipeline as _pipeline
from sysdig_user.cli_options import CliOptions, UsageError, help_text, parse_argv, wants_packets
from sysdig_user.entry import resume_collection
from sysdig_user.environment import Environment
from sysdig_user.errors import SduError
from sysdig_user.output.lines import Output
from sysdig_user.output.options import CONTAINER_FORMATS, DEFAULT_FORMAT, unescape_format
from sysdig_user.pipeline import RunStats, compile_predicate
from sysdig_user.spec import BUFFER_LETTERS, CaptureSpec, OutputSpec, PacketSpec, TraceSpec, WriteSpec
from sysdig_user.version import LIBS_VERSION, __version__, version_line

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)

if TYPE_CHECKING:  # (imported on first use: only -w writes, and a run without it never loads the writer)
    from typing import Any

    from sysdig_user.scap.cycle import CaptureWriter

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_PIPE = 128 + 13  # the reader of the output is gone (EPIPE): what a shell reports for sysdig, killed by SIGPIPE


def __getattr__(name: str) -> Any:
    """``CaptureWriter``, this module's name for sysdig_user.scap.cycle's, imported when first asked for."""
    if name == "CaptureWriter":
        from sysdig_user.scap.cycle import CaptureWriter

        return CaptureWriter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    color = opts.color if opts.color is not None else "auto"
    if color not in ("auto", "always", "never"):
        raise UsageError(f"sdu: --color takes auto, always or never, not '{color}'")
    fmt = opts.print_format
    if fmt is not None:
        fmt = CONTAINER_FORMATS.get(fmt, fmt)  # -pc, -pk, -pm (and their long names)
        fmt = unescape_format(fmt)  # sysdig's reading of a command-line format: \n, \t, \e, \\
    return OutputSpec(format=fmt, json=opts.json, buffer=buffer, time=time_mode,
                      verbose=opts.verbose, quiet=opts.quiet, show_internal=opts.debug, summary=opts.summary,
                      progress=opts.progress, unbuffered=opts.unbuffered, to=opts.output_file, color=color)


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
    return WriteSpec(opts.write, opts.compress, size, limit, seconds, events, opts.fatfile, opts.filter_proclist)


def _packet_spec(opts: CliOptions) -> PacketSpec | None:
    if opts.iface is not None and not [name for name in opts.iface.split(",") if name.strip()]:
        raise SduError("sdu: --iface needs interface names (e.g. --iface lo,eth0), or --net for every one")
    if not wants_packets(opts):
        return None
    kernel_snaplen = _positive(opts.net_snaplen, "invalid net snaplen ") if opts.net_snaplen is not None else None
    return PacketSpec(opts.iface or None, opts.net_filter or "", opts.pcap, kernel_snaplen)


def _cri_timeout(opts: CliOptions) -> int:
    """--cri-timeout in milliseconds (sysdig's default 1000)."""
    if opts.cri_timeout is None:
        return 1000
    value = _int_option(opts.cri_timeout, f"invalid --cri-timeout {opts.cri_timeout}")
    if value is None or value < 0:
        raise SduError(f"invalid --cri-timeout {opts.cri_timeout}")
    return value


def spec_from_options(opts: CliOptions) -> CaptureSpec:
    """The capture the parsed command line asks for; SduError/UsageError with sysdig's message if a
    value is wrong or options contradict each other."""
    if opts.read and (opts.command or opts.pids or opts.all_processes):
        what = "-- COMMAND" if opts.command else "--all" if opts.all_processes else "a PID list"
        raise UsageError(f"sdu: -r reads a capture file; it cannot be combined with {what}")
    limit = _int_option(opts.numevents, "can't parse the -n argument, make sure it's a number")
    if limit is not None and limit <= 0:
        raise SduError(f"invalid event count {opts.numevents}")
    if opts.filter_proclist and not opts.filter:
        raise SduError("you must specify a filter if you use --filter-proclist.")
    output = _output_spec(opts)
    trace = None
    snaplen = duration = None
    if opts.pids or opts.command or opts.all_processes:
        trace = TraceSpec(list(opts.command), list(opts.pids), opts.no_seccomp, opts.no_colocate,
                          all_processes=opts.all_processes, cri=list(opts.cri), cri_timeout_ms=_cri_timeout(opts),
                          kill_on_exit=opts.kill_on_exit)
        if opts.snaplen is not None:  # (sysdig reads -s for live captures only; so does sdu)
            snaplen = _int_option(opts.snaplen, "invalid snaplen " + opts.snaplen)
    if opts.duration is not None:  # (a capture file is read whole: -M ends live captures only)
        duration = _positive(opts.duration, "invalid duration")
    return CaptureSpec(read=list(opts.read), trace=trace, packets=_packet_spec(opts) if trace else None,
                       filter=opts.filter, display_filter=opts.display_filter, output=output,
                       write=_write_spec(opts), chisels=list(opts.chisels), limit=limit,
                       duration_s=duration, snaplen=snaplen, suppress_comms=list(opts.suppress_comms),
                       exclude_users=opts.exclude_users, resolve_ports=opts.resolve_ports,
                       large_environment=opts.large_environment)


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


PLUGIN_DIR = "/usr/share/sysdig/plugins/"


def _plugins(opts: CliOptions) -> None:
    """-H, -I NAME, --plugin-config-file: sdu loads no plugin, so each ends as sysdig ends when it finds
    none (its messages, status 1); -Il lists none (in _listings)."""
    for spec in opts.plugins:
        name = spec.split(":", 1)[0]
        if "/" not in name:
            raise SduError(f"plugin {name} not found. Use -Il to list all installed plugins.")
        reason = (f"{name}: cannot open shared object file: No such file or directory"
                  if not os.path.exists(name) else "sdu cannot load sysdig plugins")
        raise SduError(f"cannot load plugin {name}: error loading plugin {name}: {reason}")
    if opts.input_plugin is not None and opts.input_plugin != "l":
        raise SduError(f"plugin {opts.input_plugin.split(':', 1)[0]} not loaded. Use -H to load it.")
    if opts.mesos_api is not None:  # sysdig fails when it cannot find the Mesos master; sdu never reads one
        url = opts.mesos_api.split(",", 1)[0].rstrip("/")
        raise SduError(f"mesos_http: Mesos master leader [{url}/master/state.json] detection failed: "
                       "sdu reads no Mesos metadata")
    path = opts.plugin_config_file
    if path is not None:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            raise SduError(f"could not read or find configuration file {path}: bad file: {path}") from None
        if not any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines()):
            raise SduError(f"could not parse configuration file {path}: configuration is empty")
        if "plugins" in text:
            raise SduError(f"could not load the plugins of {path}: sdu cannot load sysdig plugins")


def _listings(opts: CliOptions, out: Output, env: Environment) -> bool:
    """-L, -l, -cl, -i, --help, --version, -pp and the other listings: print and report True."""
    if opts.print_format == "p":  # sysdig's -pp: the default format, to start a -p from
        out.line(DEFAULT_FORMAT)
    elif opts.help:
        out.line(help_text(__version__))
    elif opts.version:
        out.line(version_line())
    elif opts.libs_version:
        out.write(f"falcosecurity/libs version {LIBS_VERSION}")  # (sysdig ends it without a newline)
    elif opts.input_plugin == "l":
        out.write(f"Plugin search paths are: {PLUGIN_DIR} \n0 Plugins Loaded:\n\n\n")
    elif opts.man_page or opts.completion is not None or opts.install_shell_files is not None:
        from sysdig_user import shell_files

        if opts.man_page:
            out.write(shell_files.man_page())
        elif opts.completion is not None:
            out.write(shell_files.completion(opts.completion))
        else:
            for path in shell_files.install(opts.install_shell_files or ""):
                env.stderr.write(f"sdu: wrote {path}\n")
    elif opts.list_markdown:
        from sysdig_user.output.listing import markdown_lines

        for line in markdown_lines():
            out.write(line + "\n")  # (in Output.TEXT_LOT lots, as sysdig's stdio writes them)
    elif opts.list_events:
        from sysdig_user.output.listing import event_lines

        for line in event_lines():
            out.write(line + "\n")  # (in Output.TEXT_LOT lots, as sysdig's stdio writes them)
    elif opts.list_chisels:
        from sysdig_user.chisels.registry import list_chisels

        out.write(list_chisels())
    elif opts.chisel_info is not None:
        from sysdig_user.chisels.registry import describe_chisel

        out.write(describe_chisel(opts.chisel_info))
    elif opts.list_fields:
        from sysdig_user.output.listing import field_lines

        for line in field_lines(opts.verbose):
            out.write(line + "\n")  # (in Output.TEXT_LOT lots, as sysdig's stdio writes them)
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


def _default_source(opts: CliOptions) -> None:
    """`sdu` with no capture source: inside a container (a PID namespace other than the initial one) it
    traces the whole namespace, as sysdig with no arguments sees everything; on the host, where every
    process stopping at every syscall would slow the whole machine, it asks for --all explicitly."""
    try:
        from tracer.namespace import in_initial_pid_namespace
    except ImportError:
        raise SduError("no capture source: use -r FILE, -p PID or -- COMMAND") from None
    if in_initial_pid_namespace():
        raise SduError("sdu: no capture source: in the host's PID namespace sdu traces every process only "
                       "when asked, with --all (each one would stop at every syscall); or use -r FILE, "
                       "-p PID, -- COMMAND")
    opts.all_processes = True


def program(opts: CliOptions, env: Environment, out: Output, rerun: bool = True) -> int:
    _plugins(opts)
    if _listings(opts, out, env):
        return EXIT_OK
    _apply_timezone(env.environ)
    if not (opts.read or opts.pids or opts.command or opts.all_processes):
        _default_source(opts)
    spec = spec_from_options(opts)
    if opts.page_faults and spec.live:
        env.stderr.write("sdu: --page-faults: page faults do not stop a traced process, so ptrace cannot "
                         "report them; the capture has no page_fault events\n")
    source = _source(spec)
    from sysdig_user.session import Session

    # -o: the Session writes to its own file (stdout stays the launched command's)
    session = Session(spec, env, out if spec.output.to is None else None)
    resume_collection()  # (sdu's console turned the collector off for the start-up)
    stats = session.run(source)
    if opts.verbose:
        env.stderr.write(f"Driver Events:0\nDriver Drops:0\nSuppressed by Comm:{stats.suppressed}\n")
        secs = stats.seconds
        eps = stats.events / secs if secs > 0 else 0.0
        env.stderr.write(f"Elapsed time: {secs:.3f}, Captured Events: {stats.events}, {eps:.2f} eps\n")
    chisels = session.pipeline.chisels
    again = chisels.next_run_args if chisels is not None and rerun else None
    if again is not None:  # sysdig.run_app (around, spy_syslog): sysdig runs once more with these args
        out.flush()
        return program(parse_argv(split_run_args(again), _chisel_arg_taker), env, out, rerun=False)
    return stats.status


def split_run_args(text: str) -> list[str]:
    """sysdig's split_nextrun_args: words split at spaces outside double quotes, quotes dropped."""
    words: list[str] = []
    start = 0
    quoted = False
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch == " " and not quoted:
            words.append(text[start:i].replace('"', ""))
            start = i + 1
    words.append(text[start:])  # (sysdig leaves the last word's quotes in)
    return words


def main(argv: list[str] | None = None, env: Environment | None = None) -> int:
    """Run sdu; returns the exit status (0 success, 1 error, 141 when the output was closed early)."""
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
    except BrokenPipeError:  # (`sdu ... | head`) quietly, as sysdig dies of its SIGPIPE
        _silence_stdout()
        return EXIT_PIPE
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
