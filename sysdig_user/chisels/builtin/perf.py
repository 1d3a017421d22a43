# ruff: noqa: UP031  (printf-style formats are the point: they mirror the Lua chisels' string.format)
"""Performance chisels: proc_exec_time, bottlenecks, fileslower, netlower, scallslower."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sysdig_user.chisels.api import Chisel, FieldHandle
from sysdig_user.chisels.builtin.common import Terminal, format_time_interval, lua_format, lua_tostring
from sysdig_user.chisels.builtin.iochisels import raw
from sysdig_user.chisels.builtin.metadata import INFOS
from sysdig_user.chisels.runner import ChiselError

if TYPE_CHECKING:
    from sysdig_user.chisels.api import ChiselContext
    from sysdig_user.event import Event


def s(value: Any) -> str:
    return lua_tostring(value)


class _Fields(Chisel):
    fields: tuple[tuple[str, str], ...] = ()  # (key, field name) pairs requested in on_init

    def __init__(self, ctx: ChiselContext) -> None:
        super().__init__(ctx)
        self.f: dict[str, FieldHandle] = {}
        self.term = Terminal(True)
        self.print_container = False

    def request(self) -> None:
        for key, fld in self.fields:
            self.f[key] = self.ctx.request_field(fld)
        self.print_container = self.ctx.is_print_container_data()

    def v(self, key: str, evt: Event) -> Any:
        return raw(self.f[key], evt)


class ProcExecTime(_Fields):
    info = INFOS["proc_exec_time"]
    fields = (("etype", "evt.type"), ("exe", "proc.name"), ("args", "proc.args"), ("dtime", "evt.time.s"),
              ("duration", "proc.duration"), ("cname", "container.name"), ("cid", "container.id"))

    def on_set_arg(self, name: str, value: str) -> bool:
        if value == "disable_colors":
            self.term.enable(False)
        return True

    def on_init(self) -> bool:
        self.request()
        self.ctx.set_filter("evt.type=procexit")
        p = self.ctx.print
        if self.print_container:
            fmt = "%-13.13s %-20.20s %-20.20s %-12.12s %s"
            p(fmt % ("proc.duration", "container.id", "container.name", "proc.name", "proc.args"))
            p(fmt % ("-" * 13, "-" * 20, "-" * 20, "-" * 12, "-" * 20))
        else:
            fmt = "%-13.13s %-12.12s %s"
            p(fmt % ("proc.duration", "proc.name", "proc.args"))
            p(fmt % ("-" * 13, "-" * 12, "-" * 20))
        return True

    def on_event(self, evt: Event) -> bool:
        duration = self.v("duration", evt)
        if duration is None:
            return True
        t = self.term
        color = t.green
        if duration > 10_000_000_000:
            color = t.red
        elif duration > 3_000_000_000:
            color = t.yellow
        elif s(self.v("cname", evt)) != "host":
            color = t.blue
        if self.print_container:
            self.ctx.print(color + "%-13.13s %-20.20s %-20.20s %-12.12s %s" % (
                format_time_interval(duration), s(self.v("cid", evt)), s(self.v("cname", evt)),
                s(self.v("exe", evt)), s(self.v("args", evt))))
        else:
            self.ctx.print(color + "%-13.13s %-12.12s %s" % (
                format_time_interval(duration), s(self.v("exe", evt)), s(self.v("args", evt))))
        return True

    def on_capture_end(self, ts: int, delta: int) -> None:
        self.ctx.print(self.term.reset)


class Bottlenecks(_Fields):
    """The 10 slowest syscalls, each with the enter line of its thread."""

    info = INFOS["bottlenecks"]
    fields = (("num", "evt.num"), ("time", "evt.time"), ("type", "evt.type"), ("args", "evt.args"),
              ("latency", "evt.latency"), ("pname", "proc.name"), ("tid", "thread.tid"))
    HOW_MANY = 10

    def __init__(self, ctx: ChiselContext) -> None:
        super().__init__(ctx)
        self.slow: list[tuple[float, str | None, str]] = []
        self.last_lines: dict[Any, str] = {}

    def on_init(self) -> bool:
        self.request()
        return True

    def on_event(self, evt: Event) -> bool:
        latency = self.v("latency", evt)
        tid = self.v("tid", evt)
        etype = self.v("type", evt)
        if s(etype) == "switch":
            return True
        pname = self.v("pname", evt)
        pname_s = "" if pname is None else s(pname)
        if latency == 0:
            self.last_lines[tid] = "%d) 0.%.9d %s (%d) > %s %s" % (
                int(self.v("num", evt) or 0), 0, pname_s, int(tid or 0), s(etype), s(self.v("args", evt)))
        elif latency is not None:
            for j in range(self.HOW_MANY):
                if j >= len(self.slow) or latency > self.slow[j][0]:
                    line = "%d) %d.%.9d %s (%d) < %s %s" % (
                        int(self.v("num", evt) or 0), latency // 1_000_000_000, latency % 1_000_000_000,
                        pname_s, int(tid or 0), s(etype), s(self.v("args", evt)))
                    self.slow.insert(j, (latency, self.last_lines.get(tid), line))
                    break
            if len(self.slow) > self.HOW_MANY:
                self.slow.pop()
        return True

    def on_capture_end(self, ts: int, delta: int) -> None:
        for _lat, enter, exit_line in self.slow:
            self.ctx.print("nil" if enter is None else enter)
            self.ctx.print(exit_line)


class _Slower(_Fields):
    """Shared by fileslower, netlower, scallslower: a min_ms threshold and a table of slow calls."""

    filter = ""
    fields: tuple[tuple[str, str], ...] = (
              ("etype", "evt.type"), ("dir", "evt.dir"), ("datetime", "evt.datetime"), ("fname", "fd.name"),
              ("pname", "proc.name"), ("latency", "evt.latency"), ("cname", "container.name"),
              ("cid", "container.id"))
    min_ms: float = 0

    def on_set_arg(self, name: str, value: str) -> bool:
        if name == "disable_color" and value == "disable_color":
            self.term.enable(False)
        elif name == "min_ms":
            try:
                self.min_ms = float(value)
            except ValueError:
                self.ctx.print(f"Input {name} must be a number.")
                raise ChiselError("") from None
        return True

    def header(self) -> None:
        p = self.ctx.print
        if self.print_container:
            fmt = "%-23.23s %-20.20s %-20.20s %-12.12s %-8s %-12s %s"
            p(fmt % ("evt.datetime", "container.id", "container.name", "proc.name", "evt.type", "LATENCY(ms)",
                     "fd.name"))
            p(fmt % ("-" * 23, "-" * 30, "-" * 30, "-" * 12, "-" * 8, "-" * 12, "-" * 41))
        else:
            fmt = "%-23.23s %-12.12s %-8s %-12s %s"
            p(fmt % ("evt.datetime", "proc.name", "evt.type", "LATENCY(ms)", "fd.name"))
            p(fmt % ("-" * 23, "-" * 12, "-" * 8, "-" * 12, "-" * 41))

    def on_init(self) -> bool:
        self.request()
        self.ctx.set_filter(self.filter)
        self.header()
        return True

    def skip(self, fn: str) -> bool:
        return False

    def on_event(self, evt: Event) -> bool:
        latency = self.v("latency", evt)
        if latency is None:
            raise ChiselError(f"{self.info.name} chisel error: attempt to perform arithmetic on a nil value")
        lat = latency / 1_000_000
        fn = s(self.v("fname", evt))
        if s(self.v("dir", evt)) == "<" and lat > self.min_ms and not self.skip(fn):
            color = self.term.green if s(self.v("cname", evt)) == "host" else self.term.blue
            if self.print_container:
                line = lua_format(
                    "%-23.23s %-20.20s %-20.20s %-12.12s %-8s %12d %s", s(self.v("datetime", evt)),
                    s(self.v("cid", evt)), s(self.v("cname", evt)), s(self.v("pname", evt)),
                    s(self.v("etype", evt)), int(lat), fn)
            else:
                line = lua_format("%-23.23s %-12.12s %-8s %12d %s", s(self.v("datetime", evt)),
                                  s(self.v("pname", evt)), s(self.v("etype", evt)), int(lat), fn)
            self.ctx.print(color + line)
        return True


class FilesSlower(_Slower):
    info = INFOS["fileslower"]
    filter = "evt.is_io=true and fd.type=file"

    def skip(self, fn: str) -> bool:
        return fn[:5] == "/dev/"


class NetLower(_Slower):
    info = INFOS["netlower"]
    filter = "evt.is_io=true and (fd.type=ipv4 or fd.type=ipv6)"


class ScallsSlower(_Slower):
    info = INFOS["scallslower"]
    fields = (("etype", "evt.type"), ("dir", "evt.dir"), ("datetime", "evt.datetime"), ("pname", "proc.name"),
              ("latency", "evt.latency"), ("cname", "container.name"), ("cid", "container.id"))

    def header(self) -> None:
        p = self.ctx.print
        if self.print_container:
            p("%-23.23s %-20.20s  %-20.20s %-23.23s %-20s %s" % (
                "evt.datetime", "container.id", "container.name", "proc.name", "LATENCY(ms)", "evt.type"))
            p("%-23.23s %-20.20s %-20.20s %-23.23s %-20s %s" % ("-" * 23, "-" * 20, "-" * 20, "-" * 23, "-" * 20,
                                                                 "-" * 20))
        else:
            p("%-23.23s %-23.23s %-20s %s" % ("evt.datetime", "proc.name", "LATENCY(ms)", "evt.type"))
            p("%-23.23s %-23.23s %-20s %s" % ("-" * 23, "-" * 23, "-" * 20, "-" * 20))

    def on_init(self) -> bool:
        self.request()
        self.header()
        return True

    def on_event(self, evt: Event) -> bool:
        latency = self.v("latency", evt)
        if latency is None:
            return False
        lat = latency / 1_000_000
        if lat > self.min_ms:
            color = self.term.green if s(self.v("cname", evt)) == "host" else self.term.blue
            if self.print_container:
                line = "%-23.23s %-20.20s %-20.20s %-23.23s %-20s %s" % (
                    s(self.v("datetime", evt)), s(self.v("cid", evt)), s(self.v("cname", evt)),
                    s(self.v("pname", evt)), s(lat), s(self.v("etype", evt)))
            else:
                line = "%-23.23s %-23.23s %-20s %s" % (
                    s(self.v("datetime", evt)), s(self.v("pname", evt)), s(lat), s(self.v("etype", evt)))
            self.ctx.print(color + line)
        return False
