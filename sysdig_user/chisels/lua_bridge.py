"""Running sysdig's own Lua chisels unmodified, through lupa (LuaJIT 2.1 preferred, as sysdig).

Each chisel gets its own Lua state with the standard libraries, the chisel directories appended to
``package.path`` (so ``require "common"`` / ``require "ansiterminal"`` work), ``print``/``io.write``
sent to sdu's stdout, and these three libraries, with libsinsp's semantics (chisel_api.cpp):

``evt``
    field(h) (value as sysdig pushes it: numbers, booleans, strings/buffers as Lua strings,
    addresses as text; nil when absent), get_num, get_ts (-> s, ns), get_type (generic events give
    the syscall name), get_cpuid.
``chisel``
    request_field, set_filter, set_event_formatter, set_interval_s, set_interval_ns,
    set_precise_interval_ns, exec (hand over to another chisel, e.g. table_generator).
``sysdig``
    set_filter (global), get_filter, set_snaplen, set_output_format, get_output_format,
    set_fatfile_dump_mode (no-op), is_live, is_tty, get_terminal_info, get_machine_info,
    get_thread_table, get_thread_table_nofds, get_thread_table_barebone,
    get_thread_table_barebone_nofds, get_container_table (empty: no container support),
    is_print_container_data, get_evtsource_name, get_firstevent_ts, get_lastevent_ts, make_ts,
    add_ts, subtract_ts, run_app / run_sysdig, end_capture, log (no-op), udp_setpeername, udp_send,
    get_read_progress.

``os.exit`` ends the run with that status instead of killing the Python process.
"""
from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from sysdig_user.chisels.api import Chisel, ChiselArg, ChiselContext, ChiselInfo
from sysdig_user.chisels.runner import ChiselContextImpl, ChiselError
from sysdig_user.errors import SduError

if TYPE_CHECKING:
    from sysdig_user.event import Event

_lupa: ModuleType | None = None
_lupa_checked = False


def _lupa_module() -> ModuleType | None:
    global _lupa, _lupa_checked
    if not _lupa_checked:
        _lupa_checked = True
        for mod in ("lupa.luajit21", "lupa.luajit20", "lupa.lua51", "lupa"):
            try:
                _lupa = __import__(mod, fromlist=["LuaRuntime"])
                break
            except ImportError:
                continue
    return _lupa


def available() -> bool:
    """True when lupa can be imported (without it, Lua chisels are neither listed nor loaded)."""
    return _lupa_module() is not None


class ChiselExit(SduError):
    """os.exit() called by a Lua chisel: stop the run with that status and no message."""

    def __init__(self, status: int) -> None:
        super().__init__("")
        self.exit_status = status


def _b(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def _s(v: Any) -> str:
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8", "surrogateescape")
    if isinstance(v, float) and v == int(v):
        return str(int(v))
    return "" if v is None else str(v)


_PRELUDE = b"""
local __write, __exit = ...
print = function(...)
  local n = select('#', ...)
  local t = {}
  for i = 1, n do t[i] = tostring((select(i, ...))) end
  __write(table.concat(t, "\\t") .. "\\n")
end
io.write = function(...)
  for i = 1, select('#', ...) do
    local v = select(i, ...)
    if type(v) == "number" then v = string.format("%.14g", v) end
    __write(v)
  end
  return io.stdout
end
do
  -- sysdig's LuaJIT rounds exact %f ties away from zero (10.625 -> "10.63"); newer LuaJIT and C
  -- round them to even: nudge exact ties so both print what sysdig printed
  local fmt = string.format
  string.format = function(f, ...)
    local args = {...}
    local n = select('#', ...)
    if type(f) == "string" and f:find("f", 1, true) then
      local i = 0
      for spec in f:gmatch("%%([-+ #0]*%d*%.?%d*[%a%%])") do
        if spec ~= "%" then
          i = i + 1
          local prec = spec:match("%.(%d+)f$")
          if prec == nil and spec:sub(-1) == "f" then prec = "6" end
          local x = args[i]
          if prec and type(x) == "number" then
            local scaled = x * 10 ^ tonumber(prec)
            if math.abs(scaled) % 1 == 0.5 then
              args[i] = x + (x < 0 and -1 or 1) * 10 ^ -(tonumber(prec) + 3)
            end
          end
        end
      end
    end
    return fmt(f, unpack(args, 1, n))
  end
end
os.exit = function(code)
  if code == nil or code == true then code = 0 elseif code == false then code = 1 end
  __exit(code)
end
"""


def _new_runtime(dirs: list[Path]) -> Any:
    lupa = _lupa_module()
    if lupa is None:
        raise ChiselError("Lua chisels need the lupa package")
    rt = lupa.LuaRuntime(encoding=None, unpack_returned_tuples=True)
    package = rt.globals().package
    path = _s(package.path)
    for d in dirs:
        path += ";" + str(d).rstrip("/") + "/?.lua"
    package.path = _b(path)
    return rt


_SCREEN_POLICY = b"""
  local color, repaint = ...
  local ok, term = pcall(require, "ansiterminal")
  if not ok or type(term) ~= "table" then return end
  if color ~= nil then
    local enable = term.enable_color
    term.enable_color = function(_) enable(color) end
    enable(color)
  end
  if not repaint then
    for _, name in ipairs({"clearscreen", "moveto", "moveup", "clearline", "hidecursor", "showcursor"}) do
      term[name] = function() end
    end
  end
"""


def _screen_policy(rt: Any) -> None:
    """The run's ScreenPolicy (builtin/common.py) over sysdig's ansiterminal.lua, before the chisel's
    own ``require`` gets it: --color/NO_COLOR fix its colours, and outside the live view its screen
    codes write nothing."""
    from sysdig_user.chisels.builtin.common import ScreenPolicy

    rt.execute(_SCREEN_POLICY, ScreenPolicy.color, ScreenPolicy.repaint)


def _lua_dirs() -> list[Path]:
    from sysdig_user.chisels.registry import lua_dirs
    return lua_dirs()


def _table(rt: Any, obj: Any) -> Any:
    """Python dict/list (nested) -> Lua table; strings become Lua strings."""
    if isinstance(obj, dict):
        t = rt.table()
        for k, v in obj.items():
            t[_b(k) if isinstance(k, str) else k] = _table(rt, v)
        return t
    if isinstance(obj, (list, tuple)):
        t = rt.table()
        for i, v in enumerate(obj, 1):
            t[i] = _table(rt, v)
        return t
    if isinstance(obj, str):
        return _b(obj)
    return obj


def _stub_api(rt: Any) -> None:
    """Inert chisel/sysdig/evt libraries for reading a script's metadata (-cl, -i)."""
    rt.execute(b"""
      local function nop() end
      local mt = { __index = function() return nop end }
      sysdig = setmetatable({}, mt); chisel = setmetatable({}, mt); evt = setmetatable({}, mt)
    """)


def read_info(path: Path, include_hidden: bool = False) -> ChiselInfo | None:
    """A .lua file's chisel metadata, as sysdig's init_lua_chisel reads it: None for files that
    fail to load, csysdig views (no ``description``), hidden chisels (unless include_hidden) and
    files without ``short_description`` or ``args``."""
    try:
        rt = _new_runtime(_lua_dirs())
        _stub_api(rt)
        rt.execute(_PRELUDE, lambda *_: None, lambda *_: None)
        code = path.read_bytes()
        fn = rt.eval(b"function(code, name) return assert(loadstring(code, name)) end")
        fn(code, _b("@" + str(path)))()
    except Exception:  # noqa: BLE001 - sysdig skips any script that does not load
        return None
    return _info_from_globals(rt, path.stem, include_hidden)


def _info_from_globals(rt: Any, name: str, include_hidden: bool) -> ChiselInfo | None:
    g = rt.globals()
    desc = g.description
    if not isinstance(desc, (bytes, int, float)):
        return None
    short = g.short_description
    if not isinstance(short, (bytes, int, float)):
        return None
    category = g.category
    hidden = g.hidden
    if hidden is True and not include_hidden:
        return None
    args_t = g.args
    if args_t is None:
        return None
    try:
        args, override_desc = _parse_args(rt, args_t)
    except ChiselError:
        return None
    return ChiselInfo(
        name=name,
        short_description=_s(short),
        category=_s(category) if isinstance(category, (bytes, int, float)) else "",
        description=override_desc if override_desc is not None else _s(desc),
        args=tuple(args),
        hidden=hidden is True,
    )


def _parse_args(rt: Any, args_t: Any) -> tuple[list[ChiselArg], str | None]:
    """parse_lua_chisel_args: table entries describe args; a string entry replaces the description."""
    out: list[ChiselArg] = []
    desc: str | None = None
    lua_type = rt.globals().type
    if _s(lua_type(args_t)) != "table":
        raise ChiselError("args is not a table")
    for v in args_t.values():
        t = _s(lua_type(v))
        if t in ("string", "number"):
            desc = _s(v)
        elif t == "table":
            name = type_ = description = ""
            optional = False
            for fk, fv in v.items():
                key = _s(fk)
                if isinstance(fv, bool):
                    if key == "optional":
                        optional = fv
                elif isinstance(fv, (bytes, int, float)):
                    if key == "name":
                        name = _s(fv)
                    elif key == "argtype":
                        type_ = _s(fv)
                    elif key == "description":
                        description = _s(fv)
                else:
                    raise ChiselError(f"{key} is not a string")
            out.append(ChiselArg(name, type_, description, optional))
        else:
            raise ChiselError("bad args entry")
    return out, desc


class LuaChisel(Chisel):
    """A sysdig .lua chisel running in its own Lua state behind the Python chisel interface."""

    def __init__(self, path: Path, ctx: ChiselContext) -> None:
        super().__init__(ctx)
        self.origin = str(path)
        self.path = path
        self.name = path.stem.removesuffix(".lua")
        self._evt: Event | None = None
        self._udp: tuple[socket.socket, tuple[str, int]] | None = None
        self.rt = _new_runtime(_lua_dirs())
        self.rt.execute(_PRELUDE, self._write, self._exit)
        self._install_api()
        _screen_policy(self.rt)
        try:
            fn = self.rt.eval(b"function(code, name) return assert(loadstring(code, name)) end")
            fn(path.read_bytes(), _b("@" + str(path)))()
        except ChiselExit:
            raise
        except Exception as exc:
            raise ChiselError(f"Failed to load chisel {self.name}: {_lua_msg(exc)}") from exc
        g = self.rt.globals()
        if _s(g.type(g.args)) != "table":
            raise ChiselError(f"Failed to load chisel {self.name}: args table missing")
        args, override = _parse_args(self.rt, g.args)
        desc = g.description
        self.info = ChiselInfo(
            name=self.name,
            short_description=_s(g.short_description),
            category=_s(g.category),
            description=override if override is not None else _s(desc),
            args=tuple(args),
            hidden=g.hidden is True,
        )
        self.has_on_event = self._is_function("on_event")

    # ------------------------------------------------------------------ plumbing
    def _is_function(self, name: str) -> bool:
        g = self.rt.globals()
        return _s(g.type(g[_b(name)])) == "function"

    def _impl(self) -> ChiselContextImpl:
        ctx = self.ctx
        if not isinstance(ctx, ChiselContextImpl):
            raise ChiselError("Lua chisels need the sdu engine context")
        return ctx

    def _write(self, data: Any) -> None:
        self.ctx.write(data if isinstance(data, bytes) else _b(_s(data)))

    @staticmethod
    def _exit(code: Any) -> None:
        raise ChiselExit(int(code) if isinstance(code, (int, float)) else 0)

    def _callback(self, name: str, *args: Any) -> Any:
        g = self.rt.globals()
        fn = g[_b(name)]
        try:
            return fn(*args)
        except (SduError, BrokenPipeError):  # lupa re-raises a write's EPIPE as itself: not a chisel error
            raise
        except Exception as exc:
            if isinstance(exc.__cause__, SduError):
                raise exc.__cause__ from None
            raise ChiselError(f"{self.name} chisel error: {_lua_msg(exc)}") from exc

    def _install_api(self) -> None:
        rt = self.rt
        g = rt.globals()
        evt_lib = {
            "field": self._evt_field, "get_num": self._evt_get_num, "get_ts": self._evt_get_ts,
            "get_type": self._evt_get_type, "get_cpuid": self._evt_get_cpuid,
        }
        chisel_lib = {
            "request_field": self._request_field,
            "set_filter": lambda f: self._impl().set_filter(_s(f)),
            "set_event_formatter": lambda f: self._impl().set_event_formatter(_s(f)),
            "set_interval_ns": lambda n: self._impl().set_interval_ns(int(n or 0)),
            "set_interval_s": lambda n: self._impl().set_interval_s(int(n or 0)),
            "set_precise_interval_ns": lambda n: self._impl().set_precise_interval_ns(int(n or 0)),
            "exec": self._exec,
        }
        sysdig_lib = {
            "set_filter": lambda f: self._impl().set_global_filter(_s(f)),
            "get_filter": lambda: _b(self._impl().get_filter()),
            "set_snaplen": lambda n: self._impl().set_snaplen(int(n or 0)),
            "set_output_format": lambda f: self._impl().set_output_format(_s(f)),
            "get_output_format": lambda: _b(self._impl().get_output_format()),
            "set_fatfile_dump_mode": lambda *_: None,
            "is_live": lambda: self._impl().is_live(),
            "is_tty": lambda: self._impl().is_tty(),
            "get_terminal_info": self._terminal_info,
            "get_machine_info": self._machine_info,
            "get_thread_table": lambda f=None: self._thread_table(f, True, False),
            "get_thread_table_nofds": lambda f=None: self._thread_table(f, False, False),
            "get_thread_table_barebone": lambda f=None: self._thread_table(f, True, True),
            "get_thread_table_barebone_nofds": lambda f=None: self._thread_table(f, False, True),
            "get_container_table": lambda: rt.table(),
            "is_print_container_data": lambda: self._impl().is_print_container_data(),
            "get_evtsource_name": lambda: _b(self._impl().get_evtsource_name()),
            "get_firstevent_ts": lambda: _b(str(self._impl().first_event_ts())),
            "get_lastevent_ts": lambda: _b(str(self._impl().last_event_ts())),
            "make_ts": lambda s, ns: _b(str((int(s or 0) & 0xFFFFFFFF) * 1_000_000_000
                                            + (int(ns or 0) & 0xFFFFFFFF))),
            "add_ts": lambda a, b: _b(str((int(_s(a)) + int(_s(b))) & 0xFFFFFFFFFFFFFFFF)),
            "subtract_ts": lambda a, b: _b(str((int(_s(a)) - int(_s(b))) & 0xFFFFFFFFFFFFFFFF)),
            "run_app": lambda a: self._impl().run_app(_s(a)),
            "run_sysdig": lambda a: self._impl().run_app(_s(a)),
            "end_capture": lambda *_: self._impl().end_capture(),
            "log": lambda *_: None,
            "udp_setpeername": self._udp_setpeername,
            "udp_send": self._udp_send,
            "get_read_progress": lambda: 0,
        }
        for libname, lib in (("evt", evt_lib), ("chisel", chisel_lib), ("sysdig", sysdig_lib)):
            t = rt.table()
            for k, v in lib.items():
                t[_b(k)] = v
            g[_b(libname)] = t

    # ------------------------------------------------------------------ evt.*
    def _evt_field(self, handle: Any = None) -> Any:
        if handle is None or self._evt is None:
            return None
        return handle.lua_value(self._evt)

    def _evt_get_num(self) -> Any:
        return self._evt.num if self._evt is not None else None

    def _evt_get_ts(self) -> Any:
        if self._evt is None:
            return None
        ts = self._evt.ts
        return (ts // 1_000_000_000) & 0xFFFFFFFF, (ts % 1_000_000_000)

    def _evt_get_type(self) -> Any:
        if self._evt is None:
            return None
        try:
            h = self.ctx.request_field("evt.type")
            text = h.text(self._evt)
        except SduError:
            text = None
        return _b(text if text is not None else self._evt.name)

    def _evt_get_cpuid(self) -> Any:
        return self._evt.cpu if self._evt is not None else None

    # ------------------------------------------------------------------ chisel.*
    def _request_field(self, name: Any = None) -> Any:
        if name is None:
            raise ChiselError("chisel requesting nil field")
        return self.ctx.request_field(_s(name))

    def _exec(self, name: Any = None, *args: Any) -> None:
        if name is None:
            raise ChiselError(f"invalid exec field name in chisel {self.name}")
        vals: list[str] = []
        for a in args:
            if a is None or isinstance(a, bool) or not isinstance(a, (bytes, int, float)):
                break
            vals.append(_s(a))
        self._impl().exec(_s(name), *vals)

    # ------------------------------------------------------------------ sysdig.*
    def _terminal_info(self) -> Any:
        width = height = -1
        if self._impl().is_tty():
            size = shutil.get_terminal_size((-1, -1))
            width, height = size.columns, size.lines
        return _table(self.rt, {"width": width, "height": height})

    def _machine_info(self) -> Any:
        info = self._impl().get_machine_info()
        if info is None:
            info = {"num_cpus": os.cpu_count() or 1, "memory_size_bytes": 0, "max_pid": 0,
                    "hostname": socket.gethostname()}
        return _table(self.rt, info)

    def _thread_table(self, flt: Any, include_fds: bool, barebone: bool) -> Any:
        text = _s(flt) if isinstance(flt, (bytes, int, float)) else None
        return _table(self.rt, self._impl().get_thread_table(text, include_fds, barebone))

    def _udp_setpeername(self, addr: Any, port: Any) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp = (sock, (_s(addr), int(_s(port))))

    def _udp_send(self, msg: Any) -> None:
        if self._udp is not None:
            sock, peer = self._udp
            sock.sendto(msg if isinstance(msg, bytes) else _b(_s(msg)), peer)

    # ------------------------------------------------------------------ callbacks
    def on_set_arg(self, name: str, value: str) -> bool:
        if not self._is_function("on_set_arg"):
            raise ChiselError(f"chisel {self.name} misses a set_arg() function.")
        res = self._callback("on_set_arg", _b(name), _b(value))
        if not isinstance(res, bool):
            raise ChiselError(f"{self.name} chisel error: wrong set_arg() return value.")
        return res

    def on_init(self) -> bool:
        if not self._is_function("on_init"):
            return True
        try:
            res = self._callback("on_init")
        except ChiselError as exc:
            raise ChiselError(f"{self.name}: error in init(): {exc}") from exc
        return res if isinstance(res, bool) else None  # type: ignore[return-value]

    def on_capture_start(self) -> bool:
        if not self._is_function("on_capture_start"):
            return True
        res = self._callback("on_capture_start")
        return res if isinstance(res, bool) else None  # type: ignore[return-value]

    def on_event(self, evt: Event) -> bool:
        self._evt = evt
        res = self._callback("on_event")
        return res is not None and res is not False

    def has_on_interval(self) -> bool:
        return self._is_function("on_interval")

    def on_interval(self, ts: int, delta: int, evt: Event | None) -> bool:
        if evt is not None:
            self._evt = evt
        try:
            res = self._callback("on_interval", ts // 1_000_000_000, ts % 1_000_000_000, delta)
        except ChiselError as exc:
            raise ChiselError(f"{self.name} chisel error: calling on_interval() failed:{exc}") from exc
        return res is not None and res is not False

    def on_capture_end(self, ts: int, delta: int) -> None:
        if self._is_function("on_capture_end"):
            self._callback("on_capture_end", ts // 1_000_000_000, ts % 1_000_000_000, delta)


def _lua_msg(exc: BaseException) -> str:
    msg = exc.args[0] if exc.args else str(exc)
    text = _s(msg)
    return text.split("\nstack traceback:")[0]
