# ruff: noqa: UP031  (printf-style formats are the point: they mirror the Lua chisels' string.format)
"""I/O chisels: echo_fds, stdin/stdout/stderr, spy_file, iobytes, iobytes_file, iobytes_net."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sysdig_user.chisels.api import Chisel, FieldHandle
from sysdig_user.chisels.builtin.common import Terminal, format_bytes, lua_tostring
from sysdig_user.chisels.builtin.metadata import INFOS

if TYPE_CHECKING:
    from sysdig_user.chisels.api import ChiselContext
    from sysdig_user.event import Event


def raw(handle: FieldHandle | None, evt: Event) -> Any:
    """The value as the Lua chisel would see it (bytes for strings and buffers)."""
    if handle is None:
        return None
    getter = getattr(handle, "lua_value", None)
    return getter(evt) if getter is not None else handle.get(evt)


def text(value: Any) -> str:
    return lua_tostring(value)


class EchoFds(Chisel):
    info = INFOS["echo_fds"]

    def __init__(self, ctx: ChiselContext) -> None:
        super().__init__(ctx)
        self.term = Terminal(True)
        self.f: dict[str, FieldHandle] = {}
        self.print_container = False

    def on_set_arg(self, name: str, value: str) -> bool:
        if name == "disable_color" and value == "disable_color":
            self.term.enable(False)
        return True

    def on_init(self) -> bool:
        for key, fld in (("buf", "evt.rawarg.data"), ("isread", "evt.is_io_read"), ("res", "evt.rawarg.res"),
                         ("name", "fd.name"), ("pname", "proc.name"), ("cname", "container.name"),
                         ("cid", "container.id")):
            self.f[key] = self.ctx.request_field(fld)
        self.print_container = self.ctx.is_print_container_data()
        self.ctx.set_snaplen(2000)
        self.ctx.set_filter("evt.is_io=true and evt.dir=< and evt.rawres>0")
        self.ctx.set_event_formatter("%evt.arg.data")
        return True

    def on_event(self, evt: Event) -> bool:
        t = self.term
        isread = raw(self.f["isread"], evt)
        res = raw(self.f["res"], evt)
        name = raw(self.f["name"], evt)
        pname = raw(self.f["pname"], evt)
        if name is None:
            name = "<NA>"
        if res is None or res <= 0:
            return True
        container = ""
        if self.print_container:
            cname = raw(self.f["cname"], evt)
            cid = raw(self.f["cid"], evt)
            color = t.green if text(cname) == "host" else t.cyan
            container = f"{color} [{text(cname)}] [{text(cid)}]"
        if isread:
            name_pname = f"{t.red} {text(name)} ({text(pname)})"
            info = f"{t.red}------ Read {format_bytes(res)} from {container} {name_pname}"
        else:
            name_pname = f"{t.blue} {text(name)} ({text(pname)})"
            info = f"{t.blue}------ Write {format_bytes(res)} to {container} {name_pname}"
        self.ctx.print(info)
        return True

    def on_capture_end(self, ts: int, delta: int) -> None:
        self.ctx.print(self.term.reset)


class _StdFd(Chisel):
    fd = 1

    def __init__(self, ctx: ChiselContext) -> None:
        super().__init__(ctx)
        self.fbuf: FieldHandle | None = None

    def on_init(self) -> bool:
        self.fbuf = self.ctx.request_field("evt.rawarg.data")
        self.ctx.set_snaplen(2000)
        self.ctx.set_filter(f"fd.num={self.fd} and evt.is_io=true")
        return True

    def on_event(self, evt: Event) -> bool:
        buf = raw(self.fbuf, evt)
        if buf is not None:
            self.ctx.print(buf if isinstance(buf, bytes) else text(buf))
        return True


class Stdout(_StdFd):
    info = INFOS["stdout"]
    fd = 1


class Stdin(_StdFd):
    info = INFOS["stdin"]
    fd = 0


class Stderr(_StdFd):
    info = INFOS["stderr"]
    fd = 2

    def __init__(self, ctx: ChiselContext) -> None:
        super().__init__(ctx)
        self.term = Terminal(True)
        self.fcname: FieldHandle | None = None
        self.fcid: FieldHandle | None = None
        self.print_container = False

    def on_set_arg(self, name: str, value: str) -> bool:
        if name == "disable_color" and value == "disable_color":
            self.term.enable(False)
            return True
        return False

    def on_init(self) -> bool:
        self.fbuf = self.ctx.request_field("evt.rawarg.data")
        self.fcname = self.ctx.request_field("container.name")
        self.fcid = self.ctx.request_field("container.id")
        self.print_container = self.ctx.is_print_container_data()
        self.ctx.set_snaplen(2000)
        self.ctx.set_filter("fd.num=2 and evt.is_io=true")
        return True

    def on_event(self, evt: Event) -> bool:
        buf = raw(self.fbuf, evt)
        if buf is None:
            return True
        if self.print_container:
            cname = raw(self.fcname, evt)
            color = self.term.green if text(cname) == "host" else self.term.blue
            self.ctx.print(color + "%-20.20s %-20.20s %s" % (text(raw(self.fcid, evt)), text(cname), text(buf)))
        else:
            self.ctx.print(buf if isinstance(buf, bytes) else text(buf))
        return True


class SpyFile(Chisel):
    info = INFOS["spy_file"]

    def __init__(self, ctx: ChiselContext) -> None:
        super().__init__(ctx)
        self.f: dict[str, FieldHandle] = {}

    def on_set_arg(self, name: str, value: str) -> bool:
        if name in ("read_or_write", "spy_on_file_name"):
            self.args[name] = value
            return True
        return False

    def on_init(self) -> bool:
        for key, fld in (("buf", "evt.buffer"), ("data", "evt.arg.data"), ("fdname", "fd.name"),
                         ("isw", "evt.is_io_write"), ("pid", "proc.pid"), ("pname", "proc.name"),
                         ("res", "evt.rawarg.res"), ("tid", "thread.tid"), ("ts", "evt.time")):
            self.f[key] = self.ctx.request_field(fld)
        self.ctx.set_snaplen(2000)
        self.ctx.set_output_format("ascii")
        spy = self.args.get("spy_on_file_name")
        if spy:
            flt = f"(fd.name={spy}) and "
        else:
            flt = "(not fd.name contains /dev/pt and not fd.name contains /dev/tty) and "
        rw = self.args.get("read_or_write")
        if rw in ("R", "r"):
            flt += "evt.is_io_read=true and "
        elif rw in ("W", "w"):
            flt += "evt.is_io_write=true and "
        else:
            flt += "evt.is_io=true and "
        flt += "fd.type=file and evt.dir=< and evt.failed=false"
        self.ctx.set_filter(flt)
        return True

    def on_event(self, evt: Event) -> bool:
        f = self.f
        data = raw(f["data"], evt)
        rw = "W" if raw(f["isw"], evt) is True else "R"
        res = raw(f["res"], evt)
        self.ctx.print("%s %s(%s) %s %s %s %s" % (
            text(raw(f["ts"], evt)), text(raw(f["pname"], evt)), text(raw(f["pid"], evt)), rw,
            format_bytes(res if isinstance(res, (int, float)) else 0), text(raw(f["fdname"], evt)),
            text(data)))
        return True


class _IoBytes(Chisel):
    """Per-second totals: "TIME in:N out:N tot:N" on each interval."""

    filter = "evt.is_io=true"

    def __init__(self, ctx: ChiselContext) -> None:
        super().__init__(ctx)
        self.tot: float = 0
        self.totin: float = 0
        self.totout: float = 0
        self.fbytes: FieldHandle | None = None
        self.ftime: FieldHandle | None = None
        self.fisread: FieldHandle | None = None

    def on_init(self) -> bool:
        self.fbytes = self.ctx.request_field("evt.rawarg.res")
        self.ftime = self.ctx.request_field("evt.time.s")
        self.fisread = self.ctx.request_field("evt.is_io_read")
        self.ctx.set_filter(self.filter)
        self.ctx.set_interval_s(1)
        return True

    def on_event(self, evt: Event) -> bool:
        n = raw(self.fbytes, evt)
        if isinstance(n, (int, float)) and not isinstance(n, bool) and n > 0:
            self.tot += n
            if raw(self.fisread, evt):
                self.totin += n
            else:
                self.totout += n
        return True

    def on_interval(self, ts: int, delta: int, evt: Event | None) -> bool:
        etime = raw(self.ftime, evt) if evt is not None else None
        if etime is None:
            raise RuntimeError("attempt to concatenate global 'etime' (a nil value)")
        self.ctx.print(f"{text(etime)} in:{text(self.totin)} out:{text(self.totout)} tot:{text(self.tot)}")
        self.tot = self.totin = self.totout = 0
        return True


class IoBytes(_IoBytes):
    info = INFOS["iobytes"]
    filter = "evt.is_io=true"


class IoBytesFile(_IoBytes):
    info = INFOS["iobytes_file"]
    filter = "evt.is_io=true and fd.type=file"


class IoBytesNet(_IoBytes):
    info = INFOS["iobytes_net"]
    filter = "evt.is_io=true and (fd.type=ipv4 or fd.type=ipv6)"
