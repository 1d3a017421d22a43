"""What one capture is asked to do, as typed data: the Session's input (sysdig_user/session.py).

The command line parses argv into a ``CaptureSpec`` (sysdig_user/cli.py, ``spec_from_options``) and the
Python API builds one directly; nothing below the CLI reads argv or the option table. Values are
already checked and converted (numbers are ints, -t is one letter): a spec that exists is a spec the
Session can run. Which execution strategy serves it (compiled line, passthrough, pipelined, pushdown)
is not stated here: sysdig_user/plan.py derives it from what the spec asks for.

The specs are ``Record`` classes (sysdig_user/rows.py), not dataclasses (every run builds them, and
importing ``dataclasses`` costs more than the rest of this module): each field is declared once in the
class body (its comment there) and set by the class's ``__init__``, with its default.
"""
from __future__ import annotations

from sysdig_user.errors import SduError
from sysdig_user.rows import Record

DEFAULT_SNAPLEN = 80  # bytes of each I/O buffer captured (sysdig's -s default)
BUFFER_LETTERS = ("A", "b", "x", "X")  # -A/-b/-x/-X: how data buffers print


class OutputSpec(Record):
    """How events are shown: ``-p``, ``-j``, ``-A/-b/-x/-X``, ``-t``, ``-v``, ``-q``, ``-D``, ``-S``."""

    _fields = ("format", "json", "buffer", "time", "verbose", "quiet", "show_internal", "summary", "progress",
               "unbuffered", "to", "color")
    __slots__ = _fields
    format: str | None  # -p FORMAT (None: sysdig's default line)
    json: bool  # -j
    buffer: str  # one of BUFFER_LETTERS, or "" for text
    time: str  # -t: h, a, r, d or D
    verbose: bool  # -v: whole buffers, and the end-of-run figures on stderr
    quiet: bool  # -q: no event lines
    show_internal: bool  # -D: sysdig's internal events too
    summary: bool  # -S
    progress: bool  # -P
    unbuffered: bool  # --unbuffered
    to: str | None  # -o FILE: event lines, chisel output and summary go there, not to stdout
    color: str  # --color: chisels' colours and screen control: auto, always or never

    def __init__(self, format: str | None = None, json: bool = False, buffer: str = "", time: str = "h",
                 verbose: bool = False, quiet: bool = False, show_internal: bool = False, summary: bool = False,
                 progress: bool = False, unbuffered: bool = False, to: str | None = None, color: str = "auto") -> None:
        self.format = format
        self.json = json
        self.buffer = buffer
        self.time = time
        self.verbose = verbose
        self.quiet = quiet
        self.show_internal = show_internal
        self.summary = summary
        self.progress = progress
        self.unbuffered = unbuffered
        self.to = to
        self.color = color


class WriteSpec(Record):
    """``-w FILE`` with sysdig's cycle writer options (``-z``, ``-C``, ``-W``, ``-G``, ``-e``) and ``-F``."""

    _fields = ("path", "compress", "size_mb", "file_limit", "seconds", "events", "fatfile", "filter_proclist")
    __slots__ = _fields
    path: str
    compress: bool  # -z
    size_mb: int  # -C: a new file past this many millions of bytes
    file_limit: int  # -W: wrap after this many files
    seconds: int  # -G: a new file every this many seconds of event time
    events: int  # -e: a new file every this many events
    fatfile: bool  # -F: also the state events the filter drops, hidden when read
    filter_proclist: bool  # --filter-proclist: the file's process table holds the threads that pass

    def __init__(self, path: str, compress: bool = False, size_mb: int = 0, file_limit: int = 0, seconds: int = 0,
                 events: int = 0, fatfile: bool = False, filter_proclist: bool = False) -> None:
        self.path = path
        self.compress = compress
        self.size_mb = size_mb
        self.file_limit = file_limit
        self.seconds = seconds
        self.events = events
        self.fatfile = fatfile
        self.filter_proclist = filter_proclist

    @property
    def rotates(self) -> bool:
        return bool(self.size_mb or self.seconds or self.events)


class TraceSpec(Record):
    """A live source: launch ``command``, attach to ``pids``, or to every process of sdu's PID namespace
    (``all_processes``) (tracer/)."""

    _fields = ("command", "pids", "no_seccomp", "no_colocate", "kill_on_exit", "cwd", "env", "all_processes", "cri",
               "cri_timeout_ms")
    __slots__ = _fields
    command: list[str]
    pids: list[int]
    no_seccomp: bool  # --no-seccomp: full syscall stops
    no_colocate: bool  # --no-colocate: let sdu and the command float
    kill_on_exit: bool  # --kill-on-exit: a capture ending early ends the launched command too
    cwd: str | None  # the launched command's working directory (None: sdu's)
    env: dict[str, str] | None  # its environment (None: sdu's)
    all_processes: bool  # --all (and `sdu` alone inside a container): tracer/namespace.py
    cri: list[str]  # --cri PATH: CRI runtime sockets asked for container names
    cri_timeout_ms: int  # --cri-timeout: how long one runtime query may take

    def __init__(self, command: list[str] | None = None, pids: list[int] | None = None, no_seccomp: bool = False,
                 no_colocate: bool = False, kill_on_exit: bool = False, cwd: str | None = None,
                 env: dict[str, str] | None = None, all_processes: bool = False, cri: list[str] | None = None,
                 cri_timeout_ms: int = 1000) -> None:
        self.command = [] if command is None else command
        self.pids = [] if pids is None else pids
        self.no_seccomp = no_seccomp
        self.no_colocate = no_colocate
        self.kill_on_exit = kill_on_exit
        self.cwd = cwd
        self.env = env
        self.all_processes = all_processes
        self.cri = [] if cri is None else cri
        self.cri_timeout_ms = cri_timeout_ms
        if self.command and self.pids:
            raise SduError("sdu: give either -p PID or -- COMMAND, not both")
        if self.all_processes and (self.command or self.pids):
            what = "-- COMMAND" if self.command else "-p PID"
            raise SduError(f"sdu: --all traces every process; it cannot be combined with {what}")


class PacketSpec(Record):
    """Packets beside the syscalls (netcap/): ``--net``, ``--iface``, ``--net-filter``, ``--pcap``."""

    _fields = ("ifaces", "bpf", "pcap", "kernel_snaplen")
    __slots__ = _fields
    ifaces: str | None  # comma-separated names; None: every interface
    bpf: str  # tcpdump expression for the kernel filter
    pcap: str | None  # also write the packets here, as pcapng
    kernel_snaplen: int | None  # --net-snaplen

    def __init__(self, ifaces: str | None = None, bpf: str = "", pcap: str | None = None,
                 kernel_snaplen: int | None = None) -> None:
        self.ifaces = ifaces
        self.bpf = bpf
        self.pcap = pcap
        self.kernel_snaplen = kernel_snaplen


class CaptureSpec(Record):
    """One capture: where events come from, what is kept, what is shown, written and run on them."""

    _fields = ("read", "trace", "packets", "filter", "display_filter", "output", "write", "chisels", "limit",
               "duration_s", "snaplen", "suppress_comms", "exclude_users", "resolve_ports", "large_environment")
    __slots__ = _fields
    read: list[str]  # -r FILES (a file source)
    trace: TraceSpec | None  # a live source
    packets: PacketSpec | None  # packets merged into a live source
    filter: str  # the sysdig filter ("" none)
    display_filter: bool  # -d: filter after the state engine has seen every event
    output: OutputSpec
    write: WriteSpec | None
    chisels: list[tuple[str, str | None]]  # -c NAME [ARGS]
    limit: int | None  # -n: stop after this many events
    duration_s: int | None  # -M: stop after this many seconds
    snaplen: int | None  # -s (None: the default, or what a chisel asks for)
    suppress_comms: list[str]  # -U: no event of these processes
    exclude_users: bool  # -E: no user/group tables read (live) or written (-w)
    resolve_ports: bool  # -R: socket names and tuple arguments name their ports (services(5))
    large_environment: bool  # --large-environment: a cut environment is read whole from /proc

    def __init__(self, read: list[str] | None = None, trace: TraceSpec | None = None, packets: PacketSpec | None = None,
                 filter: str = "", display_filter: bool = False, output: OutputSpec | None = None,
                 write: WriteSpec | None = None, chisels: list[tuple[str, str | None]] | None = None,
                 limit: int | None = None, duration_s: int | None = None, snaplen: int | None = None,
                 suppress_comms: list[str] | None = None, exclude_users: bool = False, resolve_ports: bool = False,
                 large_environment: bool = False) -> None:
        self.read = [] if read is None else read
        self.trace = trace
        self.packets = packets
        self.filter = filter
        self.display_filter = display_filter
        self.output = OutputSpec() if output is None else output
        self.write = write
        self.chisels = [] if chisels is None else chisels
        self.limit = limit
        self.duration_s = duration_s
        self.snaplen = snaplen
        self.suppress_comms = [] if suppress_comms is None else suppress_comms
        self.exclude_users = exclude_users
        self.resolve_ports = resolve_ports
        self.large_environment = large_environment

    @property
    def live(self) -> bool:
        return self.trace is not None

    @property
    def source_name(self) -> str:
        """What chisels see as the capture's name (the first file read, else empty)."""
        return self.read[0] if self.read else ""
