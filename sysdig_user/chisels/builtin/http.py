# ruff: noqa: UP031  (printf-style formats are the point: they mirror the Lua chisels' string.format)
"""HTTP chisels: httplog and httptop, with the request/response matching of sysdig's http.lua
(first buffer of a pid+fd that starts with "METHOD url" opens a transaction, the next one that
looks like "HTTP/x CODE" closes it)."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sysdig_user.chisels.api import Chisel, FieldHandle
from sysdig_user.chisels.builtin.common import Terminal, lua_tostring
from sysdig_user.chisels.builtin.iochisels import raw
from sysdig_user.chisels.builtin.metadata import INFOS
from sysdig_user.chisels.builtin.table_generator import KEY_SEP, print_sorted_table

if TYPE_CHECKING:
    from sysdig_user.chisels.api import ChiselContext
    from sysdig_user.event import Event

_G = r"[\x21-\x7e]"
_REQ = re.compile(rb"^([A-Z]+) (" + _G.encode() + rb"+)")
_HOST = re.compile(rb"Host: (" + _G.encode() + rb"+)\.\.")
_RESP = re.compile(rb"HTTP/" + _G.encode() + rb"+ ([0-9]+)")
_CLEN = re.compile(rb"Content-Length: ([0-9]+)\.\.")


class _Http(Chisel):
    def __init__(self, ctx: ChiselContext) -> None:
        super().__init__(ctx)
        self.partial: dict[str, dict[str, Any]] = {}
        self.f: dict[str, FieldHandle] = {}
        self.print_container = False

    def http_init(self) -> None:
        self.ctx.set_filter("evt.is_io = true and evt.buflen > 0 and (fd.sockfamily = ip or fd.sockfamily = unix)")
        for key, fld in (("buf", "evt.buffer"), ("fd", "fd.num"), ("pid", "proc.pid"), ("rawtime", "evt.rawtime"),
                         ("datetime", "evt.datetime"), ("dir", "evt.io_dir"), ("cname", "container.name")):
            self.f[key] = self.ctx.request_field(fld)
        self.ctx.set_snaplen(1024)
        self.print_container = self.ctx.is_print_container_data()

    def on_event(self, evt: Event) -> bool:
        buf = raw(self.f["buf"], evt)
        if isinstance(buf, str):
            buf = buf.encode("utf-8", "surrogateescape")
        if not isinstance(buf, bytes):
            buf = b""
        key = f"{lua_tostring(raw(self.f['pid'], evt))}\x01\x01{lua_tostring(raw(self.f['fd'], evt))}"
        ts = raw(self.f["rawtime"], evt)
        tr = self.partial.get(key)
        if tr is None:
            m = _REQ.match(buf)
            if m:
                url = m.group(2)
                host = _HOST.search(buf)
                if host:
                    url = host.group(1) + url
                d = lua_tostring(raw(self.f["dir"], evt))
                self.partial[key] = {
                    "request": {"method": m.group(1).decode("latin-1"), "url": url.decode("latin-1"), "ts": ts},
                    "dir": "<" if d == "read" else ">" if d == "write" else "<NA>",
                    "container": lua_tostring(raw(self.f["cname"], evt)),
                }
        else:
            m = _RESP.search(buf)
            if m:
                clen = _CLEN.search(buf)
                tr["response"] = {"code": int(m.group(1)), "length": int(clen.group(1)) if clen else 0, "ts": ts}
                self.on_transaction(tr, evt)
                del self.partial[key]
        return False

    def on_transaction(self, tr: dict[str, Any], evt: Event) -> None:
        raise NotImplementedError


class HttpLog(_Http):
    info = INFOS["httplog"]

    def on_init(self) -> bool:
        self.http_init()
        return True

    def on_transaction(self, tr: dict[str, Any], evt: Event) -> None:
        container = f" {tr['container']} " if self.print_container else " "
        req, resp = tr["request"], tr["response"]
        self.ctx.print("%s%s%s method=%s url=%s response_code=%d latency=%dms size=%dB" % (
            lua_tostring(raw(self.f["datetime"], evt)), container, tr["dir"], req["method"], req["url"],
            resp["code"], (resp["ts"] - req["ts"]) / 1_000_000, resp["length"]))


class HttpTop(_Http):
    info = INFOS["httptop"]

    def __init__(self, ctx: ChiselContext) -> None:
        super().__init__(ctx)
        self.by = "ncalls"
        self.units = "none"
        self.key_flds = ["method", "url"]
        self.table: dict[str, list[dict[str, Any]]] = {}
        self.islive = False
        self.output_format = "normal"
        self.term = Terminal(True)

    def on_set_arg(self, name: str, value: str) -> bool:
        if name != "by":
            return None  # type: ignore[return-value]
        units = {"time": "time", "ncalls": "none", "bytes": "bytes"}.get(value)
        if units is None:
            self.ctx.print("Invalid argument! Valid options: ncalls, bytes, time")
            return False
        self.by, self.units = value, units
        return True

    def on_init(self) -> bool:
        self.http_init()
        if self.print_container:
            self.key_flds = ["container", *self.key_flds]
        return True

    def on_capture_start(self) -> bool:
        self.islive = self.ctx.is_live()
        self.output_format = self.ctx.get_output_format()
        if self.islive:
            self.ctx.set_interval_s(1)
            if self.output_format != "json":
                self.ctx.write(self.term.clearscreen() + self.term.hidecursor())
        return True

    def on_transaction(self, tr: dict[str, Any], evt: Event) -> None:
        key = f"{tr['container']}{KEY_SEP}" if self.print_container else ""
        key += f"{tr['request']['method']}{KEY_SEP}{tr['request']['url']}"
        self.table.setdefault(key, []).append(tr)

    def _aggregate(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for key, trs in self.table.items():
            if self.by == "ncalls":
                out[key] = len(trs)
            elif self.by == "bytes":
                out[key] = sum(t["response"]["length"] for t in trs)
            else:
                out[key] = sum(t["response"]["ts"] - t["request"]["ts"] for t in trs) / len(trs)
        return out

    def _print(self, ts: int, delta: int) -> None:
        print_sorted_table(self.ctx, self._aggregate(), ts // 1_000_000_000, 0, delta, self.key_flds,
                           self.key_flds, self.by, self.by, 30, self.units, self.output_format)

    def on_interval(self, ts: int, delta: int, evt: Event | None) -> bool:
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
