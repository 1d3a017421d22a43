"""Spying chisels: spy_users, spy_ip, spy_port, spy_logs, list_login_shells."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sysdig_user.chisels.api import Chisel, FieldHandle
from sysdig_user.chisels.builtin.common import Terminal, extend_string, format_bytes, lua_tostring
from sysdig_user.chisels.builtin.iochisels import raw
from sysdig_user.chisels.builtin.metadata import INFOS
from sysdig_user.chisels.runner import ChiselError

if TYPE_CHECKING:
    from sysdig_user.chisels.api import ChiselContext
    from sysdig_user.event import Event

MAX_ANCESTOR_NAVIGATION = 16


def s(value: Any) -> str:
    return lua_tostring(value)


class SpyUsers(Chisel):
    """Commands run by interactive users: each execve / shell chdir, indented by shell depth."""

    info = INFOS["spy_users"]

    def __init__(self, ctx: ChiselContext) -> None:
        super().__init__(ctx)
        self.term = Terminal(True)
        self.max_depth = -1
        self.f: dict[str, FieldHandle] = {}
        self.anames: list[FieldHandle] = []
        self.apids: list[FieldHandle] = []
        self.tree: dict[Any, list[Any]] = {}
        self.print_container = False

    def on_set_arg(self, name: str, value: str) -> bool:
        if name == "max_depth":
            try:
                self.max_depth = int(float(value))
            except ValueError:
                self.ctx.print(f"Input {name} must be a number.")
                raise ChiselError("") from None
        elif name == "disable_color" and value == "disable_color":
            self.term.enable(False)
        return True

    def on_init(self) -> bool:
        for key, fld in (("etype", "evt.type"), ("exe", "proc.exe"), ("args", "proc.args"),
                         ("dir", "evt.arg.path"), ("user", "user.name"), ("dtime", "evt.time.s"),
                         ("pid", "proc.pid"), ("ppid", "proc.ppid"), ("cname", "container.name"),
                         ("cid", "container.id")):
            self.f[key] = self.ctx.request_field(fld)
        self.print_container = self.ctx.is_print_container_data()
        self.ctx.set_filter("((evt.type=execve and evt.dir=<) or (evt.type=chdir and evt.dir=< and proc.name "
                            "contains sh and not proc.name contains sshd)) and evt.failed=false")
        self.anames = [self.ctx.request_field(f"proc.aname[{j}]") for j in range(MAX_ANCESTOR_NAVIGATION + 1)]
        self.apids = [self.ctx.request_field(f"proc.apid[{j}]") for j in range(MAX_ANCESTOR_NAVIGATION + 1)]
        return True

    def on_event(self, evt: Event) -> bool:
        v = lambda k: raw(self.f[k], evt)
        t = self.term
        color = t.green if self.print_container else ""
        user = v("user")
        pid = v("pid")
        ppid = v("ppid")
        ischdir = s(v("etype")) == "chdir"
        icorr = 1
        anames, apids = self.anames, self.apids
        if ischdir:
            ppid = pid
            # the Lua original shifts its ancestor field lists by one (table.insert at 0) and keeps
            # them shifted: emulate with a persistent placeholder offset
            anames = [None, *anames]  # type: ignore[list-item]
            apids = [None, *apids]  # type: ignore[list-item]
            self.anames, self.apids = anames, apids
            icorr = 0
        if user is None:
            user = "<NA>"
        if ppid not in self.tree:
            self.tree[ppid] = [-1]
            for j in range(1, MAX_ANCESTOR_NAVIGATION + 1):
                fa = anames[j] if j < len(anames) else None
                aname = raw(fa, evt) if fa is not None else None
                if aname is None:
                    fp = apids[j] if j < len(apids) else None
                    if fp is None or raw(fp, evt) is None:
                        break
                else:
                    an = s(aname)
                    if len(an) >= 2 and an[-2:] == "sh":
                        apid = raw(apids[j], evt)
                        self.tree[ppid] = [j - 1, apid] if apid in self.tree else [0, apid]
        if self.tree[ppid][0] == -1:
            return True
        if pid not in self.tree:
            self.tree[pid] = [1 + self.tree[ppid][0], self.tree[ppid][1]]
        depth, shell = self.tree[pid][0], self.tree[pid][1]
        dtime, cname = v("dtime"), v("cname")
        if ischdir:
            if self.max_depth != -1 and depth - icorr > self.max_depth:
                return True
            if self.print_container:
                if s(cname) != "host":
                    color = t.blue
                self.ctx.print(color + extend_string("", 4 * (depth - icorr)) + s(shell) + " " + s(dtime) + " "
                               + s(user) + "@" + s(cname) + ") cd " + s(v("dir")))
            else:
                self.ctx.print(color + extend_string("", 4 * (depth - icorr)) + s(shell) + " " + s(dtime) + " "
                               + s(user) + ") cd " + s(v("dir")))
        else:
            if self.max_depth != -1 and depth - 1 > self.max_depth:
                return True
            if self.print_container:
                if s(cname) != "host":
                    color = t.blue
                self.ctx.print(color + extend_string("", 4 * (depth - 1)) + s(shell) + " " + s(dtime) + " "
                               + s(user) + "@" + s(cname) + ") " + s(v("exe")) + " " + s(v("args")))
            else:
                self.ctx.print(color + extend_string("", 3 * (depth - 1)) + s(shell) + " " + s(dtime) + " "
                               + s(user) + ") " + s(v("exe")) + " " + s(v("args")))
        return True

    def on_capture_end(self, ts: int, delta: int) -> None:
        self.ctx.print(self.term.reset)


class _SpyNet(Chisel):
    arg_name = "host_ip"
    filter_field = "fd.ip"
    write_label = "Write"

    def __init__(self, ctx: ChiselContext) -> None:
        super().__init__(ctx)
        self.term = Terminal(True)
        self.target = ""
        self.direction = 0
        self.infostr: str | None = None
        self.f: dict[str, FieldHandle] = {}

    def on_set_arg(self, name: str, value: str) -> bool:
        if name == self.arg_name:
            self.target = value
            return True
        if name == "disable_color":
            if value == "disable_colors":
                self.term.enable(False)
            return True
        return False

    def on_init(self) -> bool:
        self.f = {"data": self.ctx.request_field("evt.arg.data"), "isread": self.ctx.request_field("evt.is_io_read"),
                  "res": self.ctx.request_field("evt.rawarg.res")}
        self.ctx.set_snaplen(1000)
        self.ctx.set_filter(f"evt.is_io=true and (fd.type=ipv4 or fd.type=ipv6) and {self.filter_field}={self.target}")
        return True

    def on_event(self, evt: Event) -> bool:
        res = raw(self.f["res"], evt)
        data = raw(self.f["data"], evt)
        if res is None or res <= 0:
            return True
        if data is not None:
            isread = raw(self.f["isread"], evt)
            if isread and self.direction != 1:
                self.infostr = f"{self.term.red}------ Read {format_bytes(res)}"
                self.direction = 1
            elif not isread and self.direction != 2:
                self.infostr = f"{self.term.blue}------ {self.write_label} {format_bytes(res)}"
                self.direction = 2
            self.ctx.print("nil" if self.infostr is None else self.infostr)
            self.ctx.print(data if isinstance(data, bytes) else s(data))
        return True

    def on_capture_end(self, ts: int, delta: int) -> None:
        self.ctx.print(self.term.reset)


class SpyIp(_SpyNet):
    info = INFOS["spy_ip"]
    arg_name, filter_field, write_label = "host_ip", "fd.ip", "Read"


class SpyPort(_SpyNet):
    info = INFOS["spy_port"]
    arg_name, filter_field, write_label = "host_port", "fd.port", "Write"


FILE_FILTER = ("(fd.name contains .log or fd.name contains _log or fd.name contains /var/log) and not "
               "(fd.name contains .gz or fd.name contains .tgz)")


class DumpingSpy(Chisel):
    """What spy_logs and spy_syslog share: their arguments (a dump file, the range around each match,
    colour) and the state of the second run that writes the dump."""

    def __init__(self, ctx: ChiselContext) -> None:
        super().__init__(ctx)
        self.term = Terminal(True)
        self.dump_file: str | None = None
        self.dump_range_ms = "1000"
        self.entries: list[tuple[int, Any]] = []
        self.capturing = False
        self.is_tty = False
        self.print_container = False
        self.f: dict[str, FieldHandle] = {}

    def on_set_arg(self, name: str, value: str) -> bool:
        if name == "dump_file_name":
            self.dump_file = value
        elif name == "dump_range_ms":
            self.dump_range_ms = value
        elif name == "disable_color" and value == "disable_color":
            self.term.enable(False)
        else:
            return False
        return True

    def on_capture_start(self) -> bool:
        if self.dump_file is not None and self.ctx.is_live():
            self.ctx.print("events export not supported on live captures")
            return False
        self.capturing = True
        return True


def write_dump(ctx: ChiselContext, dump_file: str, entries: list[tuple[int, Any]], range_ms: str,
               message: str) -> None:
    """The dumping chisels' second run (spy_logs, spy_syslog, around): the events within range_ms of
    each (timestamp, tid) entry to dump_file, as their Lua does with ``sysdig.run_app("-F -r SOURCE
    -w FILE " .. filter)``, after printing message."""
    ctx.print(message)
    ctx.run_app(f"-F -r{ctx.get_evtsource_name()} -w{dump_file} " + around_filter(entries, range_ms))


def ts_text(ts: int) -> str:
    """common.lua ts_to_str of evt.get_ts(): seconds, then nanoseconds on 9 digits."""
    return f"{ts // 1_000_000_000}{ts % 1_000_000_000:09d}"


def around_filter(entries: list[tuple[int, Any]], range_ms: str) -> str:
    """The Lua chisels' dump filter: the events within range_ms of each (timestamp, tid) entry."""
    return " or ".join(f"(evt.around[{ts_text(ts)}]={range_ms} and thread.tid={lua_tostring(tid)})"
                       for ts, tid in entries)


class SpyLogs(DumpingSpy):
    info = INFOS["spy_logs"]

    def on_init(self) -> bool:
        for key, fld in (("buf", "evt.buffer"), ("tid", "thread.tid"), ("pname", "proc.name"),
                         ("fdname", "fd.name"), ("cname", "container.name")):
            self.f[key] = self.ctx.request_field(fld)
        self.print_container = self.ctx.is_print_container_data()
        self.ctx.set_snaplen(2000)
        self.ctx.set_output_format("ascii")
        self.ctx.set_filter(f"({FILE_FILTER}) and evt.is_io_write=true and evt.dir=< and evt.failed=false")
        self.is_tty = self.ctx.is_tty()
        return True

    def on_event(self, evt: Event) -> bool:
        t = self.term
        buf = s(raw(self.f["buf"], evt))
        cname = s(raw(self.f["cname"], evt))
        prefix = s(raw(self.f["pname"], evt)) + " " + s(raw(self.f["fdname"], evt)) + " "
        for msg in (buf + "\n").split("\n")[:-1]:
            if not msg:
                continue
            if self.is_tty:
                color = t.green
                low = msg.lower()
                if "warn" in low:
                    color = t.yellow
                elif "err" in msg:
                    color = t.red
                if self.print_container:
                    container = f"{t.blue if cname != 'host' else color} {cname}"
                    line = f"{color} {container} {color} {prefix}{msg}"
                else:
                    line = f"{color} {prefix}{msg}"
            else:
                line = f"{cname} {prefix}{msg}" if self.print_container else f"{prefix}{msg}"
            self.ctx.print(line)
        if self.dump_file is not None:
            self.entries.append((evt.ts, raw(self.f["tid"], evt)))
        return True

    def on_capture_end(self, ts: int, delta: int) -> None:
        if self.is_tty:
            self.ctx.print(self.term.reset)
        if self.dump_file is not None and self.capturing:
            write_dump(self.ctx, self.dump_file, self.entries, self.dump_range_ms,
                       f"Writing events for {len(self.entries)} log entries")


class ListLoginShells(Chisel):
    info = INFOS["list_login_shells"]

    def __init__(self, ctx: ChiselContext) -> None:
        super().__init__(ctx)
        self.comm: str | None = None
        self.argstr: str | None = None
        self.sid: Any = None
        self.cname: Any = None
        self.cid: Any = None
        self.f: dict[str, FieldHandle] = {}
        self.print_container = False

    def on_set_arg(self, name: str, value: str) -> bool:
        if name == "command" and value != "*":
            self.comm = value
        elif name == "arguments":
            self.argstr = value
        return True

    def on_init(self) -> bool:
        for key, fld in (("sid", "proc.loginshellid"), ("exe", "evt.arg.exe"), ("args", "evt.arg.args"),
                         ("cname", "container.name"), ("cid", "container.id")):
            self.f[key] = self.ctx.request_field(fld)
        self.print_container = self.ctx.is_print_container_data()
        self.ctx.set_filter("evt.type=execve")
        return True

    def on_event(self, evt: Event) -> bool:
        sid = raw(self.f["sid"], evt)
        exe = raw(self.f["exe"], evt)
        args = raw(self.f["args"], evt)
        if sid is not None and exe is not None:
            if self.comm is not None and self.comm not in s(exe):
                return True
            if self.argstr is not None and args is not None and self.argstr not in s(args):
                return True
            self.sid, self.cname, self.cid = sid, raw(self.f["cname"], evt), raw(self.f["cid"], evt)
        return True

    def on_capture_end(self, ts: int, delta: int) -> None:
        self.ctx.print(f"Shells containing {self.comm}:" if self.comm is not None else "All shells:")
        for value in (self.sid, self.cname, self.cid):
            if value is None:
                continue
            if self.print_container:
                self.ctx.print(f"{s(self.sid)} {s(self.cname)} {s(self.cid)}")
            else:
                self.ctx.print(s(self.sid))
