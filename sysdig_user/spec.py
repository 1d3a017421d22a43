"""What one capture is asked to do, as typed data: the Session's input (sysdig_user/session.py).

The command line parses argv into a ``CaptureSpec`` (sysdig_user/cli.py, ``spec_from_options``) and the
Python API builds one directly; nothing below the CLI reads argv or the option table. Values are
already checked and converted (numbers are ints, -t is one letter): a spec that exists is a spec the
Session can run. Which execution strategy serves it (compiled line, passthrough, pipelined, pushdown)
is not stated here: sysdig_user/plan.py derives it from what the spec asks for.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sysdig_user.errors import SduError

DEFAULT_SNAPLEN = 80  # bytes of each I/O buffer captured (sysdig's -s default)
BUFFER_LETTERS = ("A", "b", "x", "X")  # -A/-b/-x/-X: how data buffers print


@dataclass
class OutputSpec:
    """How events are shown: ``-p``, ``-j``, ``-A/-b/-x/-X``, ``-t``, ``-v``, ``-q``, ``-D``, ``-S``."""

    format: str | None = None  # -p FORMAT (None: sysdig's default line)
    json: bool = False  # -j
    buffer: str = ""  # one of BUFFER_LETTERS, or "" for text
    time: str = "h"  # -t: h, a, r, d or D
    verbose: bool = False  # -v: whole buffers, and the end-of-run figures on stderr
    quiet: bool = False  # -q: no event lines
    show_internal: bool = False  # -D: sysdig's internal events too
    summary: bool = False  # -S
    progress: bool = False  # -P
    unbuffered: bool = False  # --unbuffered
    to: str | None = None  # -o FILE: event lines, chisel output and summary go there, not to stdout
    color: str = "auto"  # --color: chisels' colours and screen control: auto, always or never


@dataclass
class WriteSpec:
    """``-w FILE`` with sysdig's cycle writer options (``-z``, ``-C``, ``-W``, ``-G``, ``-e``) and ``-F``."""

    path: str
    compress: bool = False  # -z
    size_mb: int = 0  # -C: a new file past this many millions of bytes
    file_limit: int = 0  # -W: wrap after this many files
    seconds: int = 0  # -G: a new file every this many seconds of event time
    events: int = 0  # -e: a new file every this many events
    fatfile: bool = False  # -F: also the state events the filter drops, hidden when read
    filter_proclist: bool = False  # --filter-proclist: the file's process table holds the threads that pass

    @property
    def rotates(self) -> bool:
        return bool(self.size_mb or self.seconds or self.events)


@dataclass
class TraceSpec:
    """A live source: launch ``command``, attach to ``pids``, or to every process of sdu's PID namespace
    (``all_processes``) (tracer/)."""

    command: list[str] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)
    no_seccomp: bool = False  # --no-seccomp: full syscall stops
    no_colocate: bool = False  # --no-colocate: let sdu and the command float
    kill_on_exit: bool = False  # --kill-on-exit: a capture ending early ends the launched command too
    cwd: str | None = None  # the launched command's working directory (None: sdu's)
    env: dict[str, str] | None = None  # its environment (None: sdu's)
    all_processes: bool = False  # --all (and `sdu` alone inside a container): tracer/namespace.py
    cri: list[str] = field(default_factory=list)  # --cri PATH: CRI runtime sockets asked for container names
    cri_timeout_ms: int = 1000  # --cri-timeout: how long one runtime query may take

    def __post_init__(self) -> None:
        if self.command and self.pids:
            raise SduError("sdu: give either -p PID or -- COMMAND, not both")
        if self.all_processes and (self.command or self.pids):
            what = "-- COMMAND" if self.command else "-p PID"
            raise SduError(f"sdu: --all traces every process; it cannot be combined with {what}")


@dataclass
class PacketSpec:
    """Packets beside the syscalls (netcap/): ``--net``, ``--iface``, ``--net-filter``, ``--pcap``."""

    ifaces: str | None = None  # comma-separated names; None: every interface
    bpf: str = ""  # tcpdump expression for the kernel filter
    pcap: str | None = None  # also write the packets here, as pcapng
    kernel_snaplen: int | None = None  # --net-snaplen


@dataclass
class CaptureSpec:
    """One capture: where events come from, what is kept, what is shown, written and run on them."""

    read: list[str] = field(default_factory=list)  # -r FILES (a file source)
    trace: TraceSpec | None = None  # a live source
    packets: PacketSpec | None = None  # packets merged into a live source
    filter: str = ""  # the sysdig filter ("" none)
    display_filter: bool = False  # -d: filter after the state engine has seen every event
    output: OutputSpec = field(default_factory=OutputSpec)
    write: WriteSpec | None = None
    chisels: list[tuple[str, str | None]] = field(default_factory=list)  # -c NAME [ARGS]
    limit: int | None = None  # -n: stop after this many events
    duration_s: int | None = None  # -M: stop after this many seconds
    snaplen: int | None = None  # -s (None: the default, or what a chisel asks for)
    suppress_comms: list[str] = field(default_factory=list)  # -U: no event of these processes
    exclude_users: bool = False  # -E: no user/group tables read (live) or written (-w)
    resolve_ports: bool = False  # -R: socket names and tuple arguments name their ports (services(5))
    large_environment: bool = False  # --large-environment: a cut environment is read whole from /proc

    @property
    def live(self) -> bool:
        return self.trace is not None

    @property
    def source_name(self) -> str:
        """What chisels see as the capture's name (the first file read, else empty)."""
        return self.read[0] if self.read else ""
