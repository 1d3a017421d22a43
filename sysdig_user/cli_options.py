"""sdu's command line, declared once as data: sysdig 0.29.3's options plus sdu's live-tracing ones.

``OPTIONS`` drives the parser (``parse_argv``), ``--help`` (``help_text``) and the tests. Parsing
follows GNU getopt_long as sysdig uses it: options and filter words may be interleaved (argv is
permuted), short options cluster (``-qS``), an option's value may be attached (``-n10``,
``--numevents=10``), ``--`` ends the options. sdu adds one thing after ``--``: a command to launch
under the tracer (``sdu [options] [filter] -- CMD ARGS``).

``-c NAME`` may take the next word as the chisel's arguments; how many words it takes depends on the
chisel, so the parser asks a callback (sysdig's parse_chisel_args rules live in the chisel registry).
"""
from __future__ import annotations

from _collections_abc import Callable, Sequence  # (collections.abc without collections)

from sysdig_user.errors import SduError
from sysdig_user.lazy_re import Regex
from sysdig_user.version import SYSDIG_VERSION


class UsageError(SduError):
    """Bad command line (getopt's message); sysdig exits with status 1."""


class Option:
    """One option (a plain slotted class: built about 40 times at every start, where a dataclass's
    generated methods cost more than the parser itself)."""

    __slots__ = ("append", "dest", "group", "help", "long", "metavar", "optional", "short")

    def __init__(self, short: str | None, long: tuple[str, ...], dest: str, metavar: str | None, help: str,
                 group: str = "Output", append: bool = False, optional: bool = False) -> None:
        self.short = short  # one letter, or None for long-only options
        self.long = long  # long names, first one shown in --help
        self.dest = dest  # attribute of CliOptions it sets
        self.metavar = metavar  # None: a flag; else the option takes a value
        self.help = help
        self.group = group
        self.append = append  # value options that may repeat (-r, -c)
        self.optional = optional  # the value is optional: only attached (-Bx, --bpf=x), never the next word

    def __repr__(self) -> str:
        return (f"Option(short={self.short!r}, long={self.long!r}, dest={self.dest!r}, "
                f"metavar={self.metavar!r}, help={self.help!r}, group={self.group!r}, append={self.append!r}, "
                f"optional={self.optional!r})")


OPTIONS: tuple[Option, ...] = (
    Option("A", ("print-ascii",), "print_ascii", None,
           "Only print the text portion of data buffers, and echo end-of-lines.", "Data buffers"),
    Option("b", ("print-base64",), "print_base64", None, "Print data buffers in base64.", "Data buffers"),
    Option("x", ("print-hex",), "print_hex", None, "Print data buffers in hex.", "Data buffers"),
    Option("X", ("print-hex-ascii",), "print_hex_ascii", None,
           "Print data buffers in hex and ASCII.", "Data buffers"),
    Option("C", ("file-size",), "file_size", "file_size",
           "With -w, start a new file FILE0, FILE1, ... once the current one exceeds <file_size> "
           "millions of bytes.", "Capture"),
    Option("c", ("chisel",), "chisels", "chiselname",
           "Run the specified chisel; its arguments, if any, follow the name.", "Chisels", True),
    Option(None, ("list-chisels",), "list_chisels", None, "List the available chisels (also -cl).",
           "Chisels"),
    Option("i", ("chisel-info",), "chisel_info", "chiselname",
           "Describe a chisel found in the -cl list, with its arguments.", "Chisels"),
    Option("d", ("displayflt",), "display_filter", None,
           "Apply the filter after the state engine has seen the event.", "Filtering"),
    Option("D", ("debug",), "debug", None, "Also print sysdig-internal events.", "Filtering"),
    Option("h", ("help",), "help", None, "Print this page.", "General"),
    Option(None, ("version",), "version", None, "Print version number.", "General"),
    Option("j", ("json",), "json", None, "Emit output as json.", "Output"),
    Option("L", ("list-events",), "list_events", None, "List the events that the engine supports.",
           "General"),
    Option("l", ("list",), "list_fields", None,
           "List the fields that can be used for filtering and output formatting.", "General"),
    Option("e", ("event-limit",), "file_events", "num_events",
           "With -w, start a new file FILE0, FILE1, ... every <num_events> events written.", "Capture"),
    Option("F", ("fatfile",), "fatfile", None,
           "With -w, also write the events the filter drops that change the state, hidden when read.",
           "Capture"),
    Option("G", ("seconds",), "file_seconds", "num_seconds",
           "With -w, start a new file every <num_seconds> seconds of event time; a strftime(3) pattern in "
           "<writefile> names the files by time, else FILE0, FILE1, ...", "Capture"),
    Option("M", (), "duration", "num_seconds", "Stop collecting after <num_seconds> reached.", "Capture"),
    Option("n", ("numevents",), "numevents", "num", "Stop capturing after <num> events.", "Capture"),
    Option("o", ("output",), "output_file", "file",
           "Write sdu's own output (event lines, chisel output, the -S summary) to <file> instead of stdout, "
           "so that a launched command's stdout stays apart (sdu).", "Output"),
    Option("P", (), "progress", None, "Print progress on stderr while processing trace files.", "Output"),
    Option(None, ("progress",), "progress", "arg",
           "Same as -P (sysdig's long form takes a value, which it ignores).", "Output"),
    Option("p", ("print",), "print_format", "output_format",
           "Format used to print events (see -l for the fields); a list of PIDs attaches the tracer.",
           "Output"),
    Option(None, ("pid",), "pids", "pid[,pid...]",
           "Trace the given running processes, their threads and future children (sdu).",
           "Capture", True),
    Option(None, ("all",), "all_processes", None,
           "Trace every process of sdu's PID namespace that it may trace, and their future children; "
           "processes that appear otherwise are picked up by a rescan of /proc. Left out: sdu itself and "
           "its ancestors (they wait for sdu: the shell, unshare, docker exec; they must stay free to reap "
           "it), the readers of its output pipe (tracing them would stall both), kernel threads and "
           "zombies; a process it may not trace is named once with the reason. "
           "What `sdu` with no capture source does inside a container (sdu).", "Capture"),
    Option(None, ("cri",), "cri", "path",
           "Ask the CRI runtime on this unix socket (cri-o, containerd) for its containers' names and "
           "images; may repeat, the first socket that answers is used (default: containerd's).",
           "Capture", True),
    Option(None, ("cri-timeout",), "cri_timeout", "timeout_ms",
           "Wait at most <timeout_ms> milliseconds for the container runtime's answer (default 1000).",
           "Capture"),
    Option("q", ("quiet",), "quiet", None, "Don't print events on the screen.", "Output"),
    Option("r", ("read", "readfile"), "read", "readfile", "Read the events from <readfile>.",
           "Capture", True),
    Option("S", ("summary",), "summary", None,
           "Print the event summary (the list of the top events) when the capture ends.", "Output"),
    Option("s", ("snaplen",), "snaplen", "len",
           "Capture the first <len> bytes of each I/O buffer (default 80).", "Capture"),
    Option("t", ("timetype",), "timetype", "timetype",
           "Event time: h human-readable, a absolute, r relative to the capture start, d delta "
           "between enter and exit, D delta from the previous event.", "Output"),
    Option("a", ("abstime",), "abstime", None, "Same as -t a.", "Output"),
    Option("v", ("verbose",), "verbose", None,
           "Print the full content of data buffers, and a summary at the end.", "Output"),
    Option("w", ("write", "writefile"), "write", "writefile", "Write the captured events to <writefile>.",
           "Capture"),
    Option("W", ("limit",), "file_limit", "num",
           "With -C, keep at most <num> files, then overwrite from the first one.", "Capture"),
    Option("z", ("compress",), "compress", None, "Used with -w, compress the tracefile.", "Capture"),
    Option(None, ("unbuffered",), "unbuffered", None, "Flush the output after every event.", "Output"),
    Option(None, ("no-seccomp",), "no_seccomp", None,
           "Live capture: stop the command at every syscall and decode every event, instead of only "
           "what the filter and output can use (seccomp-bpf pushdown; attach mode always stops at "
           "every syscall) (sdu).", "Capture"),
    Option(None, ("no-colocate",), "no_colocate", None,
           "Live capture of a command: let sdu and the command float over all CPUs, instead of sharing "
           "one while the command runs one thread at a time (sdu).", "Capture"),
    Option(None, ("net",), "net", None,
           "Also capture packets on every interface, as packet events attributed to their processes "
           "(sdu; needs CAP_NET_RAW).", "Network"),
    Option(None, ("iface",), "iface", "if[,if...]", "Capture packets on these interfaces (sdu).", "Network"),
    Option(None, ("net-filter",), "net_filter", "bpf_expr",
           "Kernel filter for the packets, tcpdump syntax, e.g. 'tcp port 80' (sdu).", "Network"),
    Option(None, ("pcap",), "pcap", "file",
           "Also write the packets to a pcapng file, with each packet's process (sdu).", "Network"),
    Option(None, ("net-snaplen",), "net_snaplen", "len",
           "Bytes kept of each packet by the kernel filter (default: -s + 256, whole packets with "
           "--pcap) (sdu).", "Network"),
    Option(None, ("color",), "color", "when",
           "Colours of the chisels that use them (spy_*, echo_fds, *slower, proc_exec_time): auto (the "
           "default: as sysdig's chisels colour, unless NO_COLOR is set), always, or never (also no screen "
           "codes) (sdu).",
           "Chisels"),
    Option(None, ("kill-on-exit",), "kill_on_exit", None,
           "When the capture ends before a launched command does (-n, -M, a chisel), end the command "
           "(SIGKILL, as sysdig ends everything it runs) instead of letting it run on untraced (sdu).",
           "Capture"),
    Option(None, ("man-page",), "man_page", None,
           "Print the sdu(8) manual page (roff, made from this option table) (sdu).", "General"),
    Option(None, ("completion",), "completion", "shell",
           "Print the completion script for bash or zsh, made from this option table (sdu).", "General"),
    Option(None, ("install-shell-files",), "install_shell_files", "prefix",
           "Write the man page and the bash/zsh completions under <prefix> (e.g. /usr/local, or ~/.local) "
           "(sdu).", "General"),
    # sysdig 0.29.3's remaining options: what each means here (README "Options sysdig has")
    Option("E", ("exclude-users",), "exclude_users", None,
           "Don't read the system's user and group tables (user.name, group.name are <NA>; -w writes "
           "none).", "Capture"),
    Option("U", ("suppress-comm",), "suppress_comms", "comm",
           "Ignore all events of the processes with this comm (and of their children), as sysdig does; "
           "may repeat.", "Filtering", True),
    Option(None, ("filter-proclist",), "filter_proclist", None,
           "Apply the filter to the process table -w writes (needs a filter): only the threads it passes "
           "are kept, with their fds.", "Capture"),
    Option(None, ("large-environment",), "large_environment", None,
           "Environments are cut at 4KiB, as sysdig's driver cuts them; with this a cut one is read whole "
           "from /proc while the process lives (live captures).", "Capture"),
    Option(None, ("page-faults",), "page_faults", None,
           "Capture page faults: not visible to ptrace; accepted, and sdu says so on stderr in a live "
           "capture.", "Capture"),
    Option("T", (), "force_tracers", None,
           "Make sure writes to /dev/null are captured whole (sdu captures every write alike).", "Capture"),
    Option(None, ("force-tracers-capture",), "force_tracers", "arg",
           "Same as -T (sysdig's long form takes a value, which it ignores).", "Capture"),
    Option("B", ("bpf",), "bpf", "bpf_probe",
           "Use sysdig's BPF probe: sdu loads no driver (ptrace); accepted and ignored.", "Capture",
           optional=True),
    Option("u", (), "udig", None, "Capture with udig: sdu is userspace already; accepted and ignored.",
           "Capture"),
    Option(None, ("udig",), "udig", "arg",
           "Same as -u (sysdig's long form takes a value, which it ignores).", "Capture"),
    Option("k", ("k8s-api",), "k8s_api", "url",
           "Kubernetes API server: sdu reads no orchestrator; accepted, as sysdig goes on without one.",
           "Containers"),
    Option("K", ("k8s-api-cert",), "k8s_api_cert", "bt_file",
           "Kubernetes API credentials: accepted and unused, as -k.", "Containers"),
    Option(None, ("node-name",), "node_name", "url", "Kubernetes node name: accepted and unused, as -k.",
           "Containers"),
    Option("m", ("mesos-api",), "mesos_api", "url",
           "Mesos API server: sdu reads no orchestrator, so this fails as sysdig fails when it cannot reach "
           "the master.", "Containers"),
    Option("H", ("plugin",), "plugins", "pluginname[:initconfig]",
           "Register a sysdig plugin: sdu cannot load plugins, so this fails as sysdig does when it finds "
           "none.", "Plugins", True),
    Option("I", ("input",), "input_plugin", "pluginname[:openparams]",
           "Capture from a plugin; -Il lists the plugins (none: sdu loads none).", "Plugins"),
    Option(None, ("plugin-config-file",), "plugin_config_file", "file",
           "Load plugins from a Falco yaml file: fails as sysdig does for a missing or empty file, and for "
           "any plugin it names.", "Plugins"),
    Option("R", ("resolve-ports",), "resolve_ports", None, "Resolve port numbers to names.", "Output"),
    Option(None, ("list-markdown",), "list_markdown", None, "Like -l, but produces markdown output.",
           "General"),
    Option(None, ("libs-version",), "libs_version", None,
           "Print the falcosecurity/libs version of the sysdig sdu follows.", "General"),
)

_VALUED_FLAGS = frozenset({"progress", "force_tracers", "udig"})
_BY_SHORT = {o.short: o for o in OPTIONS if o.short}
_BY_LONG = {name: o for o in OPTIONS for name in o.long}
_PID_LIST = Regex(r"^\d+(,\d+)*$")
_PID_LIST_START = Regex(r"^\d+,")  # no print format starts so

#: Given a chisel name and the words after it, the argument string the chisel takes (or None).
ChiselArgs = Callable[[str, Sequence[str]], "str | None"]


def wants_packets(opts: object) -> bool:
    """--net, --iface or --pcap: packet capture beside the syscalls (netcap/stream.py)."""
    return bool(getattr(opts, "net", False) or getattr(opts, "iface", None) or getattr(opts, "pcap", None))


class CliOptions:
    """The parsed command line (a plain slotted class: every attribute starts at its default)."""

    __slots__ = ("abstime", "all_processes", "bpf", "buffer_flags", "chisel_info", "chisels", "color",
                 "command", "completion", "compress", "cri", "cri_timeout", "debug", "display_filter",
                 "duration", "exclude_users", "fatfile", "file_events", "file_limit", "file_seconds",
                 "file_size", "filter_proclist", "filter_words", "force_tracers", "help", "iface",
                 "input_plugin", "install_shell_files", "json", "k8s_api", "k8s_api_cert",
                 "kill_on_exit", "large_environment", "libs_version", "list_chisels", "list_events",
                 "list_fields", "list_markdown", "man_page", "mesos_api", "net", "net_filter",
                 "net_snaplen", "no_colocate", "no_seccomp", "node_name", "numevents", "output_file",
                 "page_faults", "pcap", "pids", "plugin_config_file", "plugins", "print_ascii",
                 "print_base64", "print_format", "print_hex", "print_hex_ascii", "progress", "quiet",
                 "read", "resolve_ports", "snaplen", "summary", "suppress_comms", "timetype", "udig",
                 "unbuffered", "verbose", "version", "write")

    def __init__(self) -> None:
        self.read: list[str] = []
        self.write: str | None = None
        self.compress: bool = False
        self.numevents: str | None = None
        self.duration: str | None = None
        self.file_size: str | None = None
        self.file_limit: str | None = None
        self.file_seconds: str | None = None
        self.file_events: str | None = None
        self.fatfile: bool = False
        self.snaplen: str | None = None
        self.timetype: str | None = None
        self.abstime: bool = False
        self.json: bool = False
        self.print_ascii: bool = False
        self.print_base64: bool = False
        self.print_hex: bool = False
        self.print_hex_ascii: bool = False
        self.buffer_flags: list[str] = []  # letters of -A/-b/-x/-X in order given
        self.verbose: bool = False
        self.quiet: bool = False
        self.summary: bool = False
        self.progress: bool = False
        self.list_fields: bool = False
        self.list_events: bool = False
        self.list_chisels: bool = False
        self.chisel_info: str | None = None
        self.chisels: list[tuple[str, str | None]] = []
        self.print_format: str | None = None
        self.output_file: str | None = None
        self.pids: list[int] = []
        self.all_processes: bool = False
        self.cri: list[str] = []
        self.cri_timeout: str | None = None
        self.display_filter: bool = False
        self.debug: bool = False
        self.unbuffered: bool = False
        self.no_seccomp: bool = False
        self.no_colocate: bool = False
        self.net: bool = False
        self.iface: str | None = None
        self.net_filter: str | None = None
        self.pcap: str | None = None
        self.net_snaplen: str | None = None
        self.help: bool = False
        self.version: bool = False
        self.color: str | None = None
        self.kill_on_exit: bool = False
        self.man_page: bool = False
        self.completion: str | None = None
        self.install_shell_files: str | None = None
        self.exclude_users: bool = False
        self.suppress_comms: list[str] = []
        self.filter_proclist: bool = False
        self.large_environment: bool = False
        self.page_faults: bool = False
        self.force_tracers: bool = False
        self.bpf: str | None = None
        self.udig: bool = False
        self.k8s_api: str | None = None
        self.k8s_api_cert: str | None = None
        self.node_name: str | None = None
        self.mesos_api: str | None = None
        self.plugins: list[str] = []
        self.input_plugin: str | None = None
        self.plugin_config_file: str | None = None
        self.resolve_ports: bool = False
        self.list_markdown: bool = False
        self.libs_version: bool = False
        self.filter_words: list[str] = []
        self.command: list[str] = []

    @property
    def filter(self) -> str:
        """The filter: every non-option word, joined by single spaces (as sysdig does)."""
        return " ".join(self.filter_words)

    @property
    def is_live(self) -> bool:
        return bool(self.pids or self.command or self.all_processes) and not self.read


def _apply(opts: CliOptions, opt: Option, value: str | None, rest: list[str],
           chisel_args: ChiselArgs | None) -> None:
    dest = opt.dest
    if opt.metavar is None:
        setattr(opts, dest, True)
        if dest in ("print_ascii", "print_base64", "print_hex", "print_hex_ascii"):
            opts.buffer_flags.append(opt.short or "")
        return
    assert value is not None
    if dest in _VALUED_FLAGS:  # long forms sysdig declares with a value its flag ignores
        setattr(opts, dest, True)
        return
    if dest == "chisels":
        if value == "l":  # -cl
            opts.list_chisels = True
            return
        # the words the chisel may take its arguments from, as sysdig's parse_chisel_args reads argv after
        # the name, but never the command after "--" (sdu's own): a filter before it stays a filter
        words = rest[:rest.index("--")] if "--" in rest else rest
        args = chisel_args(value, words) if chisel_args is not None else None
        if args is not None:
            rest.pop(0)
        opts.chisels.append((value, args))
        return
    # (both patterns start with \d: a format whose first character is no decimal digit matches neither)
    if dest == "print_format" and value[:1].isdecimal():
        if _PID_LIST.match(value):
            opts.pids.extend(int(p) for p in value.split(","))
            return
        if _PID_LIST_START.match(value):  # "1,abc": a PID list gone wrong
            raise UsageError(f"invalid pid list '{value}'")
    if dest == "pids":
        if not _PID_LIST.match(value):
            raise UsageError(f"invalid pid list '{value}'")
        opts.pids.extend(int(p) for p in value.split(","))
        return
    if opt.append:
        getattr(opts, dest).append(value)
    else:
        setattr(opts, dest, value)


def _long_option(opts: CliOptions, word: str, rest: list[str], chisel_args: ChiselArgs | None) -> None:
    name, eq, value = word[2:].partition("=")
    opt = _BY_LONG.get(name)
    if opt is None:
        matches = [o for n, o in _BY_LONG.items() if n.startswith(name)]
        sysdigs = [o for o in matches if not o.help.endswith("(sdu).")]
        if len({id(m) for m in matches}) > 1 and len({id(m) for m in sysdigs}) == 1:
            matches = sysdigs  # a sysdig abbreviation keeps its meaning beside sdu's own options
        if len({id(m) for m in matches}) != 1:
            kind = "ambiguous" if matches else "unrecognized"
            raise UsageError(f"sdu: {kind} option '--{name}'")
        opt = matches[0]
    if opt.metavar is None:
        if eq:
            raise UsageError(f"sdu: option '--{opt.long[0]}' doesn't allow an argument")
        _apply(opts, opt, None, rest, chisel_args)
        return
    if opt.optional and not eq:  # an optional value is only ever attached (--bpf=PROBE)
        value = ""
    elif not eq:
        if not rest:
            raise UsageError(f"sdu: option '--{opt.long[0]}' requires an argument")
        value = rest.pop(0)
    _apply(opts, opt, value, rest, chisel_args)


def _short_options(opts: CliOptions, word: str, rest: list[str], chisel_args: ChiselArgs | None) -> None:
    k = 1
    while k < len(word):
        letter = word[k]
        opt = _BY_SHORT.get(letter)
        if opt is None:
            raise UsageError(f"sdu: invalid option -- '{letter}'")
        if opt.metavar is None:
            _apply(opts, opt, None, rest, chisel_args)
            k += 1
            continue
        value = word[k + 1:]
        if not value and not opt.optional:
            if not rest:
                raise UsageError(f"sdu: option requires an argument -- '{letter}'")
            value = rest.pop(0)
        _apply(opts, opt, value, rest, chisel_args)
        return


def parse_argv(argv: Sequence[str], chisel_args: ChiselArgs | None = None) -> CliOptions:
    """Parse sdu's argv (without the program name)."""
    opts = CliOptions()
    rest = list(argv)
    while rest:
        word = rest.pop(0)
        if word == "--":
            opts.command = rest
            break
        if word.startswith("--"):
            _long_option(opts, word, rest, chisel_args)
        elif word.startswith("-") and len(word) > 1:
            _short_options(opts, word, rest, chisel_args)
        else:
            opts.filter_words.append(word)
    return opts


#: The examples of ``--help`` and of the man page's EXAMPLES (sysdig's, adapted: sdu traces a command or
#: attaches to processes instead of the whole machine), as (what it does, the command line).
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("Trace a command and its whole process tree, printing every event", "sdu -- make"),
    ("Write the events of a command to a capture file sysdig reads", "sdu -w dumpfile.scap -- ./app"),
    ("Read events from a file and print them to screen", "sdu -r dumpfile.scap"),
    ("Print the openat system calls of cat", "sdu evt.type=openat -- cat /etc/hosts"),
    ("Print the names of the files cat opens", 'sdu -p "%fd.name" "evt.type=openat and evt.dir=<" -- cat /etc/hosts'),
    ("Attach to running processes (all their threads and future children) and run a chisel",
     "sdu -p 1234,5678 -c topfiles_bytes"),
    ("Events as JSON in a file, the command's own output apart on stdout",
     "sdu -o events.json -j evt.type=connect -- curl -s example.com"),
    ("Events to a pipe, the command's stdout and stderr to a file (fd 3 carries the events)",
     "sdu -o /dev/fd/3 -j -- ./app 3>&1 >app.log 2>&1 | jq -c ."),
    ("Packets beside the syscalls, filtered in the kernel", "sdu --iface lo --net-filter 'tcp port 8080' -- ./client"),
)

#: The output-format notes of sysdig's --help, for --help and the man page.
FORMAT_NOTES: tuple[str, ...] = (
    "By default each event is one line:",
    "  %evt.num %evt.outputtime %evt.cpu %proc.name (%thread.tid) %evt.dir %evt.type %evt.info",
    "evt.num is the event number (packet events repeat the number of the event before them), evt.dir",
    "> for enter events and < for exit events, evt.info the event's arguments. -p takes any of the fields",
    "that 'sdu -l' lists; -pc (-pcontainer) selects the container-friendly line.",
)


def help_text(version: str) -> str:
    """``--help``: usage and every option, grouped, from OPTIONS; then the output format and examples."""
    import textwrap  # (only here: parsing argv must stay light)

    lines = [f"sdu version {version} (sysdig {SYSDIG_VERSION} compatible, userspace)",
             "Usage: sdu [options] [-p <output_format>] [filter] [-- command [args]]", ""]
    groups: dict[str, list[Option]] = {}
    for o in OPTIONS:
        groups.setdefault(o.group, []).append(o)
    for group, opts in groups.items():
        lines.append(f"{group}:")
        for o in opts:
            names = ([f"-{o.short}"] if o.short else []) + [f"--{n}" for n in o.long[:1]]
            spec = ", ".join(names) + (f"[=<{o.metavar}>]" if o.optional else f" <{o.metavar}>" if o.metavar
                                       else "")
            text = textwrap.wrap(o.help, 100 - 27)
            if len(spec) < 26:
                lines.append(f" {spec.ljust(26)}{text[0]}")
            else:
                lines += [f" {spec}", " " * 27 + text[0]]
            lines += [" " * 27 + more for more in text[1:]]
        lines.append("")
    lines += ["Output format:", "", *FORMAT_NOTES, "", "Examples:", ""]
    for what, cmd in EXAMPLES:
        lines += [f" {what}", f"   $ {cmd}", ""]
    lines.append("Man page: sdu --man-page | man -l -   Completions: sdu --completion bash|zsh")
    return "\n".join(lines)

