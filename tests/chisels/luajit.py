"""Debian's libluajit-5.1 (the Lua sysdig runs its chisels in) driven through ctypes: fill a table
from ``{}`` with keys in a given order, as table_generator.lua does, walk it with ``pairs()`` and
``table.sort`` the keys by value with common.lua's comparator ``t[b] < t[a]``.

The string IDs LuaJIT gave the string keys (``GCstr.sid``: a table places a string key by it) are read
from the string headers: ``lua_tolstring`` returns ``strdata(s)``, just past the ``GCstr``, whose last
three fields are ``sid``, ``hash`` and ``len`` (uint32 each; lj_obj.h), in either GC64 layout."""
from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass

from sysdig_user.chisels.luaorder import LuaKey

LIB = "/usr/lib/x86_64-linux-gnu/libluajit-5.1.so.2"

_T_BOOLEAN, _T_NUMBER, _T_STRING = 1, 3, 4

# keys, values -> the keys in pairs() order, and sorted by value (descending) with table.sort.
# ``vals`` may be nil: then only the array ``keys`` is sorted, with "<" (lua_lessthan).
CHUNK = b"""
local keys, vals = ...
if vals == nil then
  table.sort(keys)
  return keys, keys
end
local t = {}
for i = 1, #keys do
  local k = keys[i]
  local v = t[k]
  if v == nil then t[k] = vals[i] else t[k] = v + vals[i] end
end
local order = {}
for k in pairs(t) do order[#order + 1] = k end
local sorted = {}
for i = 1, #order do sorted[i] = order[i] end
table.sort(sorted, function(a, b) return t[b] < t[a] end)
return order, sorted
"""


@dataclass
class Result:
    order: list[LuaKey]  # pairs()
    ranked: list[LuaKey]  # table.sort by value, descending
    sids: dict[str, int]  # the string keys' IDs


class LuaJIT:
    """One lua_State with the libraries open and CHUNK loaded (at stack index 1)."""

    def __init__(self, path: str = LIB) -> None:
        lib = ctypes.CDLL(path)
        vp, i = ctypes.c_void_p, ctypes.c_int
        lib.luaL_newstate.restype = vp
        for name, args in {
            "luaL_openlibs": [vp], "lua_close": [vp], "lua_settop": [vp, i], "lua_gettop": [vp],
            "lua_pushvalue": [vp, i], "lua_createtable": [vp, i, i], "lua_rawseti": [vp, i, i],
            "lua_rawgeti": [vp, i, i], "lua_pushnumber": [vp, ctypes.c_double],
            "lua_pushboolean": [vp, i], "lua_pushlstring": [vp, ctypes.c_char_p, ctypes.c_size_t],
            "lua_pushnil": [vp], "luaL_loadstring": [vp, ctypes.c_char_p], "lua_pcall": [vp, i, i, i],
            "lua_type": [vp, i], "lua_toboolean": [vp, i], "lua_tonumber": [vp, i], "lua_objlen": [vp, i],
            "lua_tolstring": [vp, i, ctypes.POINTER(ctypes.c_size_t)],
        }.items():
            getattr(lib, name).argtypes = args
        lib.lua_tonumber.restype = ctypes.c_double
        lib.lua_objlen.restype = ctypes.c_size_t
        lib.lua_tolstring.restype = ctypes.c_void_p
        self.lib = lib
        self.state = lib.luaL_newstate()
        lib.luaL_openlibs(self.state)
        if lib.luaL_loadstring(self.state, CHUNK) != 0:
            raise RuntimeError(self._string(-1)[0])

    def close(self) -> None:
        if self.state:
            self.lib.lua_close(self.state)
            self.state = None

    def _push(self, key: LuaKey) -> None:
        lib, L = self.lib, self.state
        if isinstance(key, bool):
            lib.lua_pushboolean(L, int(key))
        elif isinstance(key, str):
            raw = key.encode("utf-8", "surrogateescape")
            lib.lua_pushlstring(L, raw, len(raw))
        else:
            lib.lua_pushnumber(L, float(key))

    def _array(self, items: list[LuaKey] | list[float]) -> None:
        self.lib.lua_createtable(self.state, len(items), 0)
        for n, item in enumerate(items, 1):
            self._push(item)
            self.lib.lua_rawseti(self.state, -2, n)

    def _string(self, idx: int) -> tuple[str, int]:
        size = ctypes.c_size_t()
        ptr = self.lib.lua_tolstring(self.state, idx, ctypes.byref(size))
        raw = ctypes.string_at(ptr, size.value)
        sid, _hash, length = (ctypes.c_uint32 * 3).from_address(ptr - 12)
        assert length == size.value, "unexpected GCstr layout"
        return raw.decode("utf-8", "surrogateescape"), sid

    def _read(self, idx: int, sids: dict[str, int]) -> list[LuaKey]:
        lib, L = self.lib, self.state
        out: list[LuaKey] = []
        for n in range(1, lib.lua_objlen(L, idx) + 1):
            lib.lua_rawgeti(L, idx, n)
            kind = lib.lua_type(L, -1)
            if kind == _T_STRING:
                text, sid = self._string(-1)
                sids[text] = sid
                out.append(text)
            elif kind == _T_NUMBER:
                num = lib.lua_tonumber(L, -1)
                out.append(int(num) if num.is_integer() else num)
            elif kind == _T_BOOLEAN:
                out.append(bool(lib.lua_toboolean(L, -1)))
            else:
                raise AssertionError(f"unexpected Lua type {kind}")
            lib.lua_settop(L, -2)
        return out

    def _call(self, keys: list[LuaKey], values: list[float] | None) -> Result:
        lib, L = self.lib, self.state
        lib.lua_settop(L, 1)
        lib.lua_pushvalue(L, 1)
        self._array(keys)
        if values is None:
            lib.lua_pushnil(L)
        else:
            self._array(values)
        if lib.lua_pcall(L, 2, 2, 0) != 0:
            raise RuntimeError(self._string(-1)[0])
        sids: dict[str, int] = {}
        order = self._read(2, sids)
        ranked = self._read(3, sids)
        lib.lua_settop(L, 1)
        return Result(order, ranked, sids)

    def table(self, keys: list[LuaKey], values: list[float]) -> Result:
        """``t[k] = (t[k] or 0) + v`` for each key and value in turn, then pairs() and table.sort."""
        assert len(keys) == len(values)
        return self._call(keys, values)

    def sort(self, items: list[LuaKey]) -> list[LuaKey]:
        """``table.sort(items)`` with Lua's "<"."""
        return self._call(items, None).ranked


def load() -> LuaJIT | None:
    """A LuaJIT, or None when the library is not installed."""
    try:
        return LuaJIT()
    except OSError:
        return None
