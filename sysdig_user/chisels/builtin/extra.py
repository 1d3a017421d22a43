# ruff: noqa: UP031  (printf-style formats are the point: they mirror the Lua chisels' string.format)
"""The rest of sysdig 0.29.3's chisel list, built in: memcachelog, spy_syslog, around, udp_extract,
shellshock_detect, spectrogram, subsecoffset and tracers_2_statsd, each printing (and writing) what
its Lua original does, so that ``-cl`` and ``-c`` need no Lua runtime.

spy_syslog and around hand a second run to the engine (``run_app``: ``-F -rFILE -wDUMP`` and a filter
of ``evt.around[TS]=MS and thread.tid=TID`` terms), which writes their dump file as sysdig does.
"""
from __future__ import annotations

import math
import os
import re
import shutil
import socket
from typing import TYPE_CHECKING, Any, BinaryIO

from sysdig_user.chisels.api import Chisel, FieldHandle
from sysdig_user.chisels.builtin.common import Terminal, extend_string, format_time_interval, lua_tostring
from sysdig_user.chisels.builtin.iochisels import raw
from sysdig_user.chisels.builtin.metadata import INFOS
from sysdig_user.chisels.builtin.spy import DumpingSpy, write_dump
from sysdig_user.chisels.runner import ChiselError

if TYPE_CHECKING:
    from sysdig_user.chisels.api import ChiselContext
    from sysdig_user.event import Event

_LUA_NUMBER = re.compile(r"^\s*[-+]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")


def lua_tonumber(text: Any) -> float | None:
    """Lua's tonumber on a string: decimal, float or hex text with surrounding blanks; None otherwise."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", "surrogateescape")
    if not isinstance(text, str) or not _LUA_NUMBER.match(text):
        return None
    body = text.strip()
    sign = -1.0 if body.startswith("-") else 1.0
    digits = body.lstrip("+-")
    if digits[:2].lower() == "0x":
        return sign * int(digits, 16)
    return float(body)


def _text(value: Any) -> str:
    return lua_tostring(value)


class MemcacheLog(Chisel):
    """memcached get/set commands, from the first words of each I/O buffer on port 11211 or of
    memcached itself."""

    info = INFOS["memcachelog"]

    def __init__(self, ctx: ChiselContext) -> None:
        super().__init__(ctx)
        self.method: str | None = None
        self.size: float | None = None
        self.fdata: FieldHandle | None = None
        self.fdatetime: FieldHandle | None = None

    def on_set_arg(self, name: str, value: str) -> bool:
        if name == "method":
            self.method = value
        elif name == "size":
            self.size = lua_tonumber(value)
        else:
            return False
        return True

    def on_init(self) -> bool:
        self.ctx.set_global_filter("(fd.sport=11211 or proc.name=memcached) and evt.is_io=true")
        self.ctx.set_snaplen(4096)
        self.fdata = self.ctx.request_field("evt.arg[1]")
        self.fdatetime = self.ctx.request_field("evt.datetime")
        return True

    def on_event(self, evt: Event) -> bool:
        assert self.fdata is not None and self.fdatetime is not None
        data = raw(self.fdata, evt)
        if data is None:
            raise ChiselError("memcachelog chisel error: on_event: attempt to concatenate a nil value")
        words = _text(data).split(" ")
        if not re.match(r"[gs]et", words[0]):
            return True
        method = words[0]
        key = words[1] if len(words) > 1 else None
        size = (lua_tonumber(words[4]) if len(words) > 4 else None) or 0
        if key is None:
            return True
        if self.method is not None and self.method != method:
            return True
        if self.method == "set":
            if self.size is None:
                raise ChiselError("memcachelog chisel error: on_event: attempt to compare nil with number")
            if size < self.size:
                return True
        self.ctx.print("%s method=%s size=%dB key=%s" % (_text(raw(self.fdatetime, evt)), method, int(size), key))
        return True


class SpySyslog(DumpingSpy):
    """Every message written to /dev/log, as facility.severity process[tid] message; with a dump
    file, a second run saves the events around each one."""

    info = INFOS["spy_syslog"]

    def on_init(self) -> bool:
        for key, fld in (("fac", "syslog.facility.str"), ("sev", "syslog.severity.str"),
                         ("sevcode", "syslog.severity"), ("msg", "syslog.message"), ("tid", "thread.tid"),
                         ("pname", "proc.name"), ("cname", "container.name"), ("cid", "container.id")):
            self.f[key] = self.ctx.request_field(fld)
        self.print_container = self.ctx.is_print_container_data()
        self.ctx.set_snaplen(1000)
        self.ctx.set_filter("fd.name contains /dev/log and evt.is_io_write=true and evt.dir=< and evt.failed=false")
        self.is_tty = self.ctx.is_tty()
        return True

    def on_event(self, evt: Event) -> bool:
        v = {k: raw(h, evt) for k, h in self.f.items()}
        for key in ("fac", "sev", "pname", "tid", "msg"):
            if v[key] is None:
                raise ChiselError(f"spy_syslog chisel error: on_event: bad argument to 'format' ({key} is nil)")
        fac, sev, pname, msg = (_text(v[k]) for k in ("fac", "sev", "pname", "msg"))
        tid = int(v["tid"]) & 0xFFFFFFFF
        t = self.term
        if self.is_tty:
            sevcode = v["sevcode"]
            if sevcode == 4:
                color = t.yellow
            elif isinstance(sevcode, (int, float)) and sevcode < 4:
                color = t.red
            elif _text(v["cname"]) != "host":
                color = t.blue
            else:
                color = t.green
            if self.print_container:
                line = "%s%-20s %-20s %s.%s %s[%u] %s" % (color, _text(v["cid"]), _text(v["cname"]), fac, sev,
                                                          pname, tid, msg)
            else:
                line = "%s%s.%s %s[%u] %s" % (color, fac, sev, pname, tid, msg)
        elif self.print_container:
            line = "%-20s %-20s %s.%s %s[%u] %s" % (fac, _text(v["cid"]), _text(v["cname"]), sev, pname, tid, msg)
        else:
            line = "%s.%s %s[%u] %s" % (fac, sev, pname, tid, msg)
        self.ctx.print(line)
        if self.dump_file is not None:
            self.entries.append((evt.ts, v["tid"]))
        return True

    def on_capture_end(self, ts: int, delta: int) -> None:
        if self.is_tty:
            self.ctx.print(self.term.reset)
        if self.dump_file is not None and self.capturing:
            write_dump(self.ctx, self.dump_file, self.entries, self.dump_range_ms,
                       f"Writing events for {len(self.entries)} log entries")


class Around(Chisel):
    """Each event the command-line filter passes (time, process, thread), then a second run that
    saves the events of the same thread within dump_range_ms of each one."""

    info = INFOS["around"]

    def __init__(self, ctx: ChiselContext) -> None:
        super().__init__(ctx)
        self.term = Terminal(True)
        self.dump_file = ""
        self.dump_range_ms = "1000"
        self.entries: list[tuple[int, Any]] = []
        self.capturing = False
        self.is_tty = False
        self.f: dict[str, FieldHandle] = {}

    def on_set_arg(self, name: str, value: str) -> bool:
        if name == "dump_file_name":
            self.dump_file = value
        elif name == "dump_range_ms":
            self.dump_range_ms = value
        else:
            return False
        return True

    def on_init(self) -> bool:
        for key, fld in (("pname", "proc.name"), ("tid", "thread.tid"), ("etime", "evt.time")):
            self.f[key] = self.ctx.request_field(fld)
        self.is_tty = self.ctx.is_tty()
        if self.ctx.get_filter() == "":
            self.ctx.print("no filter specified")
            return False
        return True

    def on_capture_start(self) -> bool:
        if self.ctx.is_live():
            self.ctx.print("live capture not supported")
            return False
        self.capturing = True
        return True

    def on_event(self, evt: Event) -> bool:
        pname = raw(self.f["pname"], evt)
        tid = raw(self.f["tid"], evt)
        self.ctx.print(f"{_text(raw(self.f['etime'], evt))} {_text(pname if pname is not None else '<NA>')}"
                       f"({_text(tid)})")
        self.entries.append((evt.ts, tid))
        return True

    def on_capture_end(self, ts: int, delta: int) -> None:
        if self.is_tty:
            self.ctx.print(self.term.reset)
        if self.capturing:
            write_dump(self.ctx, self.dump_file, self.entries, self.dump_range_ms,
                       f"\nSaving events around {len(self.entries)} syslog entries to {self.dump_file}")


UDP_DUMP_DIR = "./udp_dump_files"


class UdpExtract(Chisel):
    """The data of every successful UDP read or write, appended to one file per fd name under
    ./udp_dump_files (':' -> '_', '>' -> '-' in the name). The Lua original also runs the Windows
    ``md`` command, whose failure leaves a file named ``nul`` in the current directory: not done here."""

    info = INFOS["udp_extract"]

    def __init__(self, ctx: ChiselContext) -> None:
        super().__init__(ctx)
        self.files: dict[str, BinaryIO] = {}
        self.fbuf: FieldHandle | None = None
        self.fname: FieldHandle | None = None

    def on_init(self) -> bool:
        self.fbuf = self.ctx.request_field("evt.rawarg.data")
        self.ctx.request_field("evt.rawarg.res")
        self.fname = self.ctx.request_field("fd.name")
        self.ctx.request_field("fd.type")
        try:
            os.mkdir(UDP_DUMP_DIR)
        except OSError:
            pass  # (mkdir's error goes to /dev/null in the Lua original)
        self.ctx.set_snaplen(16384)
        self.ctx.set_filter("evt.dir=< and evt.rawres>=0 and fd.l4proto=udp and evt.is_io=true")
        return True

    def on_capture_start(self) -> bool:
        if self.ctx.is_live():
            self.ctx.print("live capture not supported")
            return False
        return True

    def on_event(self, evt: Event) -> bool:
        assert self.fbuf is not None and self.fname is not None
        name = raw(self.fname, evt)
        key = _text(name) if name is not None else ""
        out = self.files.get(key)
        if out is None:
            path = (UDP_DUMP_DIR + "/" + key).replace(":", "_").replace(">", "-")
            try:
                out = open(path, "wb")  # noqa: SIM115 - kept open for the capture, closed at its end
            except OSError as exc:
                raise ChiselError(f"udp_extract chisel error: on_event: can't open {path}: {exc.strerror}") from None
            self.files[key] = out
        buf = raw(self.fbuf, evt)
        if isinstance(buf, (bytes, bytearray)):
            out.write(bytes(buf))
        elif buf is not None:
            out.write(_text(buf).encode("utf-8", "surrogateescape"))
        return True

    def on_capture_end(self, ts: int, delta: int) -> None:
        for out in self.files.values():
            out.close()


_SHELLSHOCK = re.compile(r"\(\) ?\{.+", re.DOTALL)


class ShellshockDetect(Chisel):
    """bash (or sh execve) run with a function definition in its environment: time, parent name,
    parent pid and the definition."""

    info = INFOS["shellshock_detect"]

    def __init__(self, ctx: ChiselContext) -> None:
        super().__init__(ctx)
        self.f: dict[str, FieldHandle] = {}

    def on_init(self) -> bool:
        for key, fld in (("pname", "proc.pname"), ("ppid", "proc.ppid"), ("pid", "proc.pid"),
                         ("env", "evt.arg.environment"), ("etime", "evt.time")):
            self.f[key] = self.ctx.request_field(fld)
        self.ctx.set_filter("proc.name=bash or proc.name=sh and evt.type=execve")
        self.ctx.print(extend_string("TIME", 22) + extend_string("PROCNAME", 22) + extend_string("PID", 8)
                       + "FUNCTION")
        return True

    def on_event(self, evt: Event) -> bool:
        env = raw(self.f["env"], evt)
        if env is None or not _SHELLSHOCK.search(_text(env)):
            return True
        pid = raw(self.f["pid"], evt)
        row = self.ctx.get_thread_table(None).get(pid)
        if row is None:
            raise ChiselError("shellshock_detect chisel error: on_event: attempt to index a nil value")
        for entry in row.get("env", []):
            entry = _text(entry)
            if _SHELLSHOCK.search(entry):
                m = re.search(r"\(\).+", entry, re.DOTALL)
                command = m.group(0) if m else ""
                self.ctx.print(extend_string(_text(raw(self.f["etime"], evt)), 22)
                               + extend_string(_text(raw(self.f["pname"], evt)), 22)
                               + extend_string(_text(raw(self.f["ppid"], evt)), 8) + command)
                break
        return True


# spectrogram / subsecoffset: 256-colour heat maps drawn on an ANSI terminal
_COLOURS = (22, 28, 64, 34, 2, 76, 46, 118, 154, 191, 227, 226, 11, 220, 209, 208, 202, 197, 9, 1)
_CHARS = (" ", "\u2591", "\u2592", "\u2591")


def _cell(n: int, per_sec: float) -> tuple[int, int, str]:
    """(foreground, background, character) of a bucket that counted ``n`` events."""
    col = math.log10(n * per_sec + 1) / math.log10(1.6)
    col = min(max(col, 1), len(_COLOURS))
    low, high = math.floor(col), math.ceil(col)
    delta = col - low
    ch = _CHARS[min(math.floor(delta * len(_CHARS)), len(_CHARS) - 1)]
    if delta > .75:
        return _COLOURS[high - 1], _COLOURS[low - 1], ch
    return _COLOURS[low - 1], _COLOURS[high - 1], ch


def _fg(c: int) -> str:
    return f"\x1b[38;5;{c}m"


def _bg(c: int) -> str:
    return f"\x1b[48;5;{c}m"


def _numeric_arg(ctx: ChiselContext, name: str, value: str) -> float:
    """common.lua parse_numeric_input: a number, or the message and the end of the run."""
    val = lua_tonumber(value)
    if val is None:
        ctx.print(f"Input {name} must be a number.")
        raise ChiselError("")
    return val


class _HeatMap(Chisel):
    refresh_ns: float = 500_000_000
    filter = ""

    def __init__(self, ctx: ChiselContext) -> None:
        super().__init__(ctx)
        self.freq: dict[int, int] = {}
        self.width = 0
        self.is_tty = False

    @property
    def per_sec(self) -> float:
        return 1_000_000_000 / self.refresh_ns

    def on_set_arg(self, name: str, value: str) -> bool:
        if name == "refresh_time":
            self.refresh_ns = _numeric_arg(self.ctx, name, value) * 1_000_000
            return True
        return False

    def start_tty(self) -> bool:
        self.is_tty = self.ctx.is_tty()
        if not self.is_tty:
            self.ctx.print("This chisel only works on ANSI terminals. Aborting.")
            return False
        self.width = shutil.get_terminal_size((80, 24)).columns
        self.ctx.set_filter(self.filter)
        return True

    def on_capture_start(self) -> bool:
        self.ctx.set_interval_ns(int(self.refresh_ns))
        return True

    def row(self, empty_fg: bool) -> str:
        out = ["\x1b[1F"]
        for x in range(1, self.width + 1):
            n = self.freq.get(x)
            if not n:
                out.append((_fg(0) if empty_fg else _bg(0)) + _bg(0) + " ")
            else:
                fg, bg, ch = _cell(n, self.per_sec)
                out.append(_fg(fg) + _bg(bg) + ch)
        out.append("\x1b[0m\n")
        return "".join(out)


class Spectrogram(_HeatMap):
    """Syscall latencies per refresh period, on a log scale from 1 ns to 100 s across the terminal."""

    info = INFOS["spectrogram"]
    filter = "evt.dir=<"

    def __init__(self, ctx: ChiselContext) -> None:
        super().__init__(ctx)
        self.flatency: FieldHandle | None = None

    def on_init(self) -> bool:
        if not self.start_tty():
            return False
        self.flatency = self.ctx.request_field("evt.latency")
        self.ctx.write("\x1b[?25l")
        return True

    def on_event(self, evt: Event) -> bool:
        assert self.flatency is not None
        latency = raw(self.flatency, evt)
        if not latency:
            return True
        level = min(math.log10(latency), 11)
        x = math.floor(level * self.width / 11) + 1
        self.freq[x] = self.freq.get(x, 0) + 1
        return True

    def on_interval(self, ts: int, delta: int, evt: Event | None) -> bool:
        out = [self.row(True)]
        x = 0
        while x < self.width:
            cur, prev = math.floor(x * 11 / self.width), math.floor((x - 1) * 11 / self.width)
            if cur != prev:
                label = format_time_interval(10 ** cur)
                out.append("|" + label)
                x += len(label) + 1
            else:
                out.append(" ")
                x += 1
        out.append("\n")
        self.ctx.write("".join(out))
        self.freq = {}
        return True

    def on_capture_end(self, ts: int, delta: int) -> None:
        if self.is_tty:
            self.on_interval(ts, 0, None)
            self.ctx.print("\x1b[0m")
            self.ctx.write("\x1b[?25h")


class SubsecOffset(_HeatMap):
    """Syscall enters per refresh period, by their offset within the period across the terminal."""

    info = INFOS["subsecoffset"]
    refresh_ns = 1_000_000_000
    filter = "evt.dir=>"

    def __init__(self, ctx: ChiselContext) -> None:
        super().__init__(ctx)
        self.frawtime: FieldHandle | None = None
        self.max_label = 0

    def on_init(self) -> bool:
        if not self.start_tty():
            return False
        self.max_label = len("|" + lua_tostring(0.9 * self.refresh_ns / 10_000_000) + "ms")
        self.frawtime = self.ctx.request_field("evt.rawtime")
        self.ctx.write("\x1b[?25l")
        self.ctx.print("Tracing syscalls... red (hot) == high frequency <-> green == low frequency.\n")
        return True

    def on_event(self, evt: Event) -> bool:
        assert self.frawtime is not None
        t = raw(self.frawtime, evt) or 0
        x = math.floor((((t * 1000 / self.refresh_ns) % 1000) / 1000) * self.width)
        self.freq[x] = self.freq.get(x, 0) + 1
        return True

    def on_interval(self, ts: int, delta: int, evt: Event | None) -> bool:
        out = [self.row(False)]
        x = 0
        while x < self.width:
            cur, prev = math.floor(x * 10 / self.width), math.floor((x - 1) * 10 / self.width)
            if cur != prev and x <= self.width - self.max_label:
                label = "|" + lua_tostring(math.floor(10 * x / self.width) * self.refresh_ns / 10_000_000) + "ms"
                out.append(label)
                x += len(label)
            else:
                out.append(" ")
                x += 1
        out.append("\n")
        self.ctx.write("".join(out))
        self.freq = {}
        return True

    def on_capture_end(self, ts: int, delta: int) -> None:
        if self.is_tty:
            self.ctx.print("\x1b[0m")
            self.ctx.write("\x1b[?25h")


class TracersToStatsd(Chisel):
    """Span durations (tracer exit events) sent as statsd timers over UDP. sdu's sources make no
    tracer events, so on its captures this sends nothing, as sysdig's does on captures without them."""

    info = INFOS["tracers_2_statsd"]

    def __init__(self, ctx: ChiselContext) -> None:
        super().__init__(ctx)
        self.sock: socket.socket | None = None
        self.ftags: FieldHandle | None = None
        self.fduration: FieldHandle | None = None

    def on_set_arg(self, name: str, value: str) -> bool:
        return name in ("server_addr", "server_port")  # (the Lua original sends to 127.0.0.1:8125 anyway)

    def on_init(self) -> bool:
        try:
            self.ftags = self.ctx.request_field("span.tags")
            self.fduration = self.ctx.request_field("span.duration")
        except ChiselError:
            self.ftags = self.fduration = None  # no span.* fields in this build: no tracer events either
        self.ctx.set_filter("evt.type=tracer and evt.dir=<")
        return True

    def on_event(self, evt: Event) -> bool:
        if self.ftags is None or self.fduration is None:
            return True
        latency = lua_tonumber(raw(self.fduration, evt))
        if latency is None:
            return True
        if self.sock is None:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        stat = f"{_text(raw(self.ftags, evt))}:{lua_tostring(latency / 1_000_000)}|ms"
        try:
            self.sock.sendto(stat.encode("utf-8", "surrogateescape"), ("127.0.0.1", 8125))
        except OSError:
            pass
        return True

    def on_capture_end(self, ts: int, delta: int) -> None:
        if self.sock is not None:
            self.sock.close()
