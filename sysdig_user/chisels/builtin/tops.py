"""The top* chisels: each one a table_generator configuration, as in sysdig's Lua originals
(the container variants apply with -pc)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from sysdig_user.chisels.api import Chisel, FieldHandle
from sysdig_user.chisels.builtin.common import Terminal
from sysdig_user.chisels.builtin.metadata import INFOS
from sysdig_user.chisels.builtin.table_generator import (
    KEY_SEP,
    field_key_part,
    key_text,
    print_sorted_table,
    table_key,
)
from sysdig_user.chisels.luaorder import LuaKey, pairs_top_by_val

if TYPE_CHECKING:
    from sysdig_user.chisels.api import ChiselContext
    from sysdig_user.event import Event

NET = "(fd.type=ipv4 or fd.type=ipv6) and evt.is_io=true"
FILE_IO = "fd.type=file and evt.is_io=true"
PROC_KEYS = ("proc.name,proc.pid", "Process,PID")
PROC_KEYS_C = ("proc.name,proc.pid,thread.vtid,container.name", "Process,Host_pid,Container_pid,container.name")


class _Top(Chisel):
    """A table_generator hand-over: (keys, keydescs) plain and with -pc, value, desc, filter, top, units."""

    keys: tuple[str, str]
    keys_container: tuple[str, str]
    value: str
    value_desc: str
    filter: str
    top: str
    units: str

    def on_set_arg(self, name: str, value: str) -> bool:
        return False

    def on_init(self) -> bool:
        keys, descs = self.keys_container if self.ctx.is_print_container_data() else self.keys
        self.ctx.exec("table_generator", keys, descs, self.value, self.value_desc, self.filter, self.top,
                      self.units)
        return True


class TopFilesBytes(_Top):
    info = INFOS["topfiles_bytes"]
    keys = ("fd.name", "Filename")
    keys_container = ("container.name,fd.name", "container.name,Filename")
    value, value_desc, filter, top, units = "evt.rawarg.res", "Bytes", FILE_IO, "10", "bytes"


class TopFilesTime(_Top):
    info = INFOS["topfiles_time"]
    keys = ("fd.name", "Filename")
    keys_container = ("fd.name,container.name", "Filename,container.name")
    value, value_desc, filter, top, units = "evt.latency", "Time", FILE_IO, "10", "time"


class TopFilesErrors(_Top):
    info = INFOS["topfiles_errors"]
    keys = ("fd.name", "Filename")
    keys_container = ("fd.name,container.name", "Filename,container.name")
    value, value_desc, filter, top, units = ("evt.count", "#Errors", "fd.type=file and evt.failed=true",
                                             "100", "none")


class TopProcsNet(_Top):
    info = INFOS["topprocs_net"]
    keys, keys_container = PROC_KEYS, PROC_KEYS_C
    value, value_desc, filter, top, units = "evt.rawarg.res", "Bytes", NET, "100", "bytes"


class TopProcsFile(_Top):
    info = INFOS["topprocs_file"]
    keys, keys_container = PROC_KEYS, PROC_KEYS_C
    value, value_desc, filter, top, units = "evt.rawarg.res", "Bytes", FILE_IO, "10", "bytes"


class TopProcsErrors(_Top):
    info = INFOS["topprocs_errors"]
    keys, keys_container = PROC_KEYS, PROC_KEYS_C
    value, value_desc, filter, top, units = "evt.count", "#Errors", "evt.failed=true", "100", "none"


class TopConns(_Top):
    info = INFOS["topconns"]
    keys = ("fd.l4proto,fd.name", "Proto,Conn")
    keys_container = ("container.name,fd.l4proto,fd.name", "container.name,Proto,Conn")
    value, value_desc, filter, top, units = "evt.rawarg.res", "Bytes", NET, "30", "bytes"


class TopPortsServer(_Top):
    info = INFOS["topports_server"]
    keys = ("fd.sport", "Srv Port")
    keys_container = ("fd.sport,container.name", "Srv Port,container.name")
    value, value_desc, filter, top, units = "evt.rawarg.res", "Bytes", NET, "100", "bytes"


class TopScalls(_Top):
    info = INFOS["topscalls"]
    keys = ("evt.type", "Syscall")
    keys_container = ("evt.type,container.name", "Syscall,container.name")
    value, value_desc, filter, top, units = "evt.count", "# Calls", "evt.type!=switch", "30", "none"


class TopScallsTime(_Top):
    info = INFOS["topscalls_time"]
    keys = ("evt.type", "Syscall")
    keys_container = ("evt.type,container.name", "Syscall,container.name")
    value, value_desc, filter, top, units = "evt.latency", "Time", "", "30", "time"


class FdBytesBy(Chisel):
    info = INFOS["fdbytes_by"]
    value, value_desc, filter, units = "evt.rawarg.res", "Bytes", "evt.is_io=true and evt.failed=false", "bytes"
    top = "30"

    def on_set_arg(self, name: str, value: str) -> bool:
        if name == "key":
            self.args["key"] = value
            return True
        return False

    def on_init(self) -> bool:
        key = self.args.get("key", "")
        self.ctx.exec("table_generator", key, key, self.value, self.value_desc, self.filter, self.top,
                      self.units)
        return True


class FdTimeBy(FdBytesBy):
    info = INFOS["fdtime_by"]
    value, value_desc, filter, units = "evt.latency", "Time", "evt.is_io=true", "time"
    top = "10"


class FdCountBy(Chisel):
    """Distinct (fd number, fd name) pairs per key value, printed at the end: "key<TAB>count", most
    first, equal counts in pairs_top_by_val's order."""

    info = INFOS["fdcount_by"]

    def __init__(self, ctx: ChiselContext) -> None:
        super().__init__(ctx)
        self.table: dict[LuaKey, set[str]] = {}
        self.fkey: FieldHandle | None = None
        self.fnum: FieldHandle | None = None
        self.fname: FieldHandle | None = None

    def on_set_arg(self, name: str, value: str) -> bool:
        if name == "key":
            self.args["key"] = value
            return True
        return False

    def on_init(self) -> bool:
        self.fkey = self.ctx.request_field(self.args.get("key", ""))
        self.fnum = self.ctx.request_field("fd.num")
        self.fname = self.ctx.request_field("fd.name")
        return True

    def on_event(self, evt: Event) -> bool:
        assert self.fkey is not None and self.fnum is not None and self.fname is not None
        key = table_key([self.fkey], evt)
        num = self.fnum.get(evt)
        name = self.fname.get(evt)
        if key is not None and isinstance(num, int) and num > 0 and name:
            self.table.setdefault(key, set()).add(f"{num}{name}")
        return True

    def on_capture_end(self, ts: int, delta: int) -> None:
        def by_count(t: Mapping[LuaKey, set[str]], a: LuaKey, b: LuaKey) -> bool:
            return len(t[b]) < len(t[a])

        for key, fds in pairs_top_by_val(self.table, 0, by_count):
            self.ctx.print(key_text(key), str(len(fds)))


class TopProcsCpu(Chisel):
    """CPU% per process from the procinfo events (thread.cpu), summed per interval or capture.

    Live, ptrace sees no scheduler events (sysdig's driver emits procinfo at context switches), so
    each interval the traced processes' user+system time is read from /proc (psutil) instead: the
    table holds the CPU time each one used since the previous sample, the processes that used none
    left out (as sysdig's, where a process that did not run has no procinfo event)."""

    info = INFOS["topprocs_cpu"]

    def __init__(self, ctx: ChiselContext) -> None:
        super().__init__(ctx)
        self.table: dict[str, float] = {}
        self.key_flds = ["proc.name", "proc.pid"]
        self.key_descs = ["Process", "PID"]
        self.fkeys: list[FieldHandle] = []
        self.fcpu: FieldHandle | None = None
        self.islive = False
        self.output_format = "normal"
        self.term = Terminal(True)
        self.cpu_seen: dict[int, int] = {}  # live: pid -> user+system ns at the last sample

    def on_init(self) -> bool:
        if self.ctx.is_print_container_data():
            self.key_flds = ["proc.name", "proc.pid", "proc.vpid", "container.name"]
            self.key_descs = ["Process", "Host_pid", "Container_pid", "container.name"]
        self.fkeys = [self.ctx.request_field(n) for n in self.key_flds]
        self.ctx.request_field("thread.exectime")
        self.fcpu = self.ctx.request_field("thread.cpu")
        self.ctx.set_filter("evt.type=procinfo")
        return True

    def on_capture_start(self) -> bool:
        self.islive = self.ctx.is_live()
        self.output_format = self.ctx.get_output_format()
        if self.islive:
            self.ctx.set_interval_s(1)
            self._sample_proc()
            self.table = {}
            if self.output_format != "json":
                self.ctx.write(self.term.clearscreen() + self.term.hidecursor())
        return True

    def _sample_proc(self) -> None:
        """Live: add each traced process's CPU time since the last sample (a process first seen
        was born during the capture: all its time counts)."""
        procs = self.ctx.traced_processes()
        if procs is None:
            return
        import psutil

        seen: dict[int, int] = {}
        for pid, name in procs.items():
            try:
                proc = psutil.Process(pid)
                times = proc.cpu_times()
                if not name:
                    name = proc.name()
            except (psutil.Error, OSError):
                continue
            total = round((times.user + times.system) * 1e9)
            seen[pid] = total
            used = total - self.cpu_seen.get(pid, 0)
            if used <= 0:
                continue
            parts = [name, str(pid)]
            if len(self.key_flds) == 4:
                parts += [str(pid), "host"]
            key = KEY_SEP.join(parts)
            self.table[key] = self.table.get(key, 0) + used
        self.cpu_seen = seen

    def on_event(self, evt: Event) -> bool:
        parts = []
        for h in self.fkeys:
            part = field_key_part(h, evt)
            if part is None:
                return False
            parts.append(part)
        key = KEY_SEP.join(parts)
        assert self.fcpu is not None
        cpu = self.fcpu.get(evt)
        cpu = float(cpu) if isinstance(cpu, (int, float)) else 0.0
        self.table[key] = self.table.get(key, 0) + cpu * 10000000
        return True

    def _print(self, ts: int, delta: int) -> None:
        print_sorted_table(self.ctx, self.table, ts // 1_000_000_000, 0, delta, self.key_flds, self.key_descs,
                           "thread.exectime", "CPU%", 10, "timepct", self.output_format)

    def on_interval(self, ts: int, delta: int, evt: Event | None) -> bool:
        if self.islive:
            self._sample_proc()
        if self.output_format != "json":
            self.ctx.write(self.term.clearscreen() + self.term.moveto(0, 0))
        self._print(ts, delta)
        self.table = {}
        return True

    def on_capture_end(self, ts: int, delta: int) -> None:
        if self.islive and self.output_format != "json" and self.term.repaints:  # sysdig's endless view
            self.ctx.write(self.term.clearscreen() + self.term.moveto(0, 0) + self.term.showcursor())
            return
        self._print(ts, delta)
