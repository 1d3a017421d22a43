"""System state chisels: lsof, ps, netstat. Each stops the capture at the first event that passes
the filter (sysdig.end_capture) and prints the thread table at that point.

Rows come in the order sysdig's lsof.lua/netstat.lua print them: ``pairs()`` over the LuaJIT tables
``get_thread_table`` fills (chisels/luaorder.py) from sysdig's hash tables (state/fdorder.py); lsof
and ps sort the threads by tid first (pairs_top_by_val), netstat does not."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sysdig_user.chisels.api import Chisel
from sysdig_user.chisels.builtin.common import extend_string, format_bytes, lua_tostring
from sysdig_user.chisels.builtin.metadata import INFOS
from sysdig_user.chisels.luaorder import lua_pairs_order

if TYPE_CHECKING:
    from sysdig_user.chisels.api import ChiselContext
    from sysdig_user.event import Event


class _Snapshot(Chisel):
    def __init__(self, ctx: ChiselContext) -> None:
        super().__init__(ctx)
        self.filter: str | None = None
        self.capturing = False
        self.match = False

    def on_set_arg(self, name: str, value: str) -> bool:
        if name == "filter":
            self.filter = value
            return True
        return False

    def on_capture_start(self) -> bool:
        self.capturing = True
        return True

    def on_event(self, evt: Event) -> bool:
        self.ctx.end_capture()
        self.match = True
        return False

    def on_capture_end(self, ts: int, delta: int) -> None:
        if not self.capturing:
            return
        if not self.match:
            self.ctx.print("empty capture or no event matching the filter")
            return
        self.render(self.ctx.get_thread_table(self.filter))

    def render(self, table: dict[int, dict[str, Any]]) -> None:
        raise NotImplementedError


class Lsof(_Snapshot):
    info = INFOS["lsof"]

    def render(self, table: dict[int, dict[str, Any]]) -> None:
        p = self.ctx.print
        p(extend_string("COMMAND", 20) + extend_string("PID", 8) + extend_string("TID", 8)
          + extend_string("USER", 8) + extend_string("FD", 8) + extend_string("TYPE", 12) + "NAME")
        for tid in sorted(table):
            proc = table[tid]
            fdtable = proc["fdtable"]
            for fd in lua_pairs_order(fdtable):
                fdinfo = fdtable[fd]
                p(extend_string(proc["comm"], 20) + extend_string(str(proc["pid"]), 8)
                  + extend_string(str(tid), 8) + extend_string(proc["username"], 8)
                  + extend_string(str(fd), 8) + extend_string(str(fdinfo.get("type")), 12)
                  + str(fdinfo.get("name")))


class Ps(_Snapshot):
    info = INFOS["ps"]

    def render(self, table: dict[int, dict[str, Any]]) -> None:
        p = self.ctx.print
        p(extend_string("TID", 8) + extend_string("PID", 8) + extend_string("USER", 12)
          + extend_string("VIRT", 11) + extend_string("RES", 11) + extend_string("FDLIMIT", 10)
          + extend_string("CMD", 20))
        for tid in sorted(table):
            proc = table[tid]
            p(extend_string(str(tid), 8) + extend_string(str(proc["pid"]), 8)
              + extend_string(proc["username"], 12) + extend_string(format_bytes(proc["vmsize_kb"] * 1024), 11)
              + extend_string(format_bytes(proc["vmrss_kb"] * 1024), 11)
              + extend_string(str(proc["fdlimit"]), 10) + proc["comm"])


class Netstat(_Snapshot):
    info = INFOS["netstat"]

    def __init__(self, ctx: ChiselContext) -> None:
        super().__init__(ctx)
        self.filter = "(fd.type=ipv4 or fd.type=ipv6)"

    def on_set_arg(self, name: str, value: str) -> bool:
        if name == "filter":
            self.filter = f"{self.filter}and ({value})"
            return True
        return False

    def render(self, table: dict[int, dict[str, Any]]) -> None:
        p = self.ctx.print
        p(extend_string("Proto", 6) + extend_string("Server Address", 25) + extend_string("Client Address", 25)
          + extend_string("State", 15) + "TID/PID/Program Name")
        for tid in lua_pairs_order(table):
            proc = table[tid]
            fdtable = proc["fdtable"]
            for fd in lua_pairs_order(fdtable):
                fdinfo = fdtable[fd]
                cip = fdinfo.get("cip")
                cport: Any = fdinfo.get("cport")
                state = "ESTABLISHED"
                if cip is None:
                    cip, cport, state = "0.0.0.0", "*", "LISTEN"
                p(extend_string(str(fdinfo.get("l4proto")), 6)
                  + extend_string(f"{fdinfo.get('sip')}:{lua_tostring(fdinfo.get('sport'))}", 25)
                  + extend_string(f"{cip}:{lua_tostring(cport)}", 25)
                  + extend_string(state, 15) + f"{tid}/{proc['pid']}/{proc['comm']}")
