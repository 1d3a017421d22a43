"""table_generator: the generic "sum a value per key" chisel behind every top* chisel.

The top* chisels hand over to it with ``ctx.exec("table_generator", keys, keydescs, value,
valuedesc, filter, top_number, units)``, as their Lua originals do with chisel.exec, and the table
is printed by ``print_sorted_table`` exactly as common.lua renders it, rows with equal values in the
order LuaJIT's ``pairs()`` and ``table.sort`` leave them (chisels/luaorder.py): sysdig's for number
keys (one numeric key field: fdbytes_by proc.pid, topports_server), a fixed stand-in for string keys,
whose order sysdig randomises per run.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sysdig_user.chisels.api import Chisel, FieldHandle
from sysdig_user.chisels.builtin.common import (
    Terminal,
    extend_string,
    fmt2,
    format_bytes,
    format_time_interval,
    lua_tostring,
)
from sysdig_user.chisels.builtin.metadata import INFOS
from sysdig_user.chisels.luaorder import LuaKey, pairs_top_by_val

if TYPE_CHECKING:
    from sysdig_user.chisels.api import ChiselContext
    from sysdig_user.event import Event

KEY_SEP = "\x01\x01"


def field_key_part(handle: FieldHandle, evt: Event) -> str | None:
    """A key component as the Lua chisel builds it: the pushed value converted by tostring."""
    getter = getattr(handle, "lua_value", None)
    value = getter(evt) if getter is not None else handle.get(evt)
    if value is None:
        return None
    return lua_tostring(value)


def table_key(handles: Sequence[FieldHandle], evt: Event) -> LuaKey | None:
    """The grouping key as table_generator.lua builds it: one field's value as sysdig pushes it (a
    number stays a number key), several fields' joined by "\\x01\\x01" into a string; None when
    a field has no value."""
    if len(handles) == 1:
        getter = getattr(handles[0], "lua_value", None)
        value = getter(evt) if getter is not None else handles[0].get(evt)
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 1 << 53:
            return float(value)  # a Lua number is a double
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        return lua_tostring(value)
    parts: list[str] = []
    for h in handles:
        part = field_key_part(h, evt)
        if part is None:
            return None
        parts.append(part)
    return KEY_SEP.join(parts)


def key_text(key: LuaKey) -> str:
    """The key as Lua's string functions see it (split, print): numbers through tostring."""
    return key if isinstance(key, str) else lua_tostring(key)


def numeric(value: Any) -> float | int | None:
    if value is None or isinstance(value, bool):
        return None if value is None else int(value)
    if isinstance(value, (int, float)):
        return value
    return None


def _by_value_desc(t: Mapping[Any, float], a: Any, b: Any) -> bool:
    return t[b] < t[a]


def print_sorted_table(ctx: ChiselContext, table: Mapping[Any, float], ts_s: int, ts_ns: int,
                       timedelta: int, key_flds: list[str], key_descs: list[str], value_fld: str,
                       value_desc: str, top_number: int, units: str, output_format: str) -> None:
    """common.lua print_sorted_table: the ``top_number`` largest values (0 = all), descending, in
    pairs_top_by_val's order; ``table`` in the order its keys went into the Lua table."""
    ranked = pairs_top_by_val(table, top_number, _by_value_desc)
    if output_format == "json":
        import json

        data = [[*key_text(k).split(KEY_SEP), v] for k, v in ranked]
        info: list[dict[str, Any]] = [
            {"name": name, "desc": key_descs[i] if i < len(key_descs) else None, "is_key": True}
            for i, name in enumerate(key_flds)]
        info.append({"name": value_fld, "desc": value_desc, "is_key": False})
        res = {"ts": str(ts_s * 1_000_000_000 + ts_ns), "data": data, "info": info}
        ctx.print(json.dumps(res, indent=2))
        return
    size = 20
    header = extend_string(value_desc, size)
    for desc in key_descs:
        header += extend_string(desc, size)
    ctx.print(header)
    ctx.print("-" * 80)
    for k, v in ranked:
        parts = key_text(k).split(KEY_SEP)
        keystr = ""
        for i, part in enumerate(parts):
            if i < len(parts) - 1:
                keystr += extend_string(part[:size], size)
            else:
                keystr += part
        if units == "none":
            ctx.print(extend_string(lua_tostring(v), size) + keystr)
        elif units == "bytes":
            ctx.print(extend_string(format_bytes(v), size) + keystr)
        elif units == "time":
            ctx.print(extend_string(format_time_interval(v), size) + keystr)
        elif units == "timepct":
            pct = fmt2(v / timedelta * 100) + "%" if timedelta > 0 else "0.00%"
            ctx.print(extend_string(pct, size) + keystr)


class TableGenerator(Chisel):
    info = INFOS["table_generator"]

    def __init__(self, ctx: ChiselContext) -> None:
        super().__init__(ctx)
        self.key_flds: list[str] = []
        self.key_descs: list[str] = []
        self.value_fld = ""
        self.value_desc = ""
        self.filter = ""
        self.top_number = 0
        self.units = "none"
        self.output_format = "normal"
        self.islive = False
        self.table: dict[LuaKey, float] = {}
        self.fkeys: list[FieldHandle] = []
        self.fvalue: FieldHandle | None = None
        self.term = Terminal(True)

    def on_set_arg(self, name: str, value: str) -> bool:
        if name == "keys":
            self.key_flds = value.split(",")
        elif name == "keydescs":
            self.key_descs = value.split(",")
        elif name == "value":
            self.value_fld = value
        elif name == "valuedesc":
            self.value_desc = value
        elif name == "filter":
            self.filter = value
        elif name == "top_number":
            try:
                self.top_number = int(float(value))
            except ValueError:
                self.top_number = 0
        elif name == "value_units":
            self.units = value
        else:
            return False
        return True

    def on_init(self) -> bool:
        if len(self.key_flds) != len(self.key_descs):
            self.ctx.print("error: number of entries in keys different from number entries in keydescs")
            return False
        self.fkeys = [self.ctx.request_field(n) for n in self.key_flds]
        self.fvalue = self.ctx.request_field(self.value_fld)
        if self.filter:
            self.ctx.set_filter(self.filter)
        return True

    def on_capture_start(self) -> bool:
        self.islive = self.ctx.is_live()
        self.output_format = self.ctx.get_output_format()
        if self.islive:
            self.ctx.set_interval_s(1)
            if self.output_format != "json":
                self.ctx.write(self.term.clearscreen() + self.term.hidecursor())
        return True

    def on_event(self, evt: Event) -> bool:
        key = table_key(self.fkeys, evt)
        if key is None:
            return False
        assert self.fvalue is not None
        value = numeric(self.fvalue.get(evt))
        if value is not None and value > 0:
            self.table[key] = self.table.get(key, 0) + value
        return True

    def narrow_event_codes(self, codes: set[int]) -> set[int]:
        """Of the codes its filter may pass, those this table can add to (ChiselRunner.event_codes):
        I/O enter events have no return value and a latency of 0, so with those values they add nothing
        (and the key fields read no state)."""
        if self.value_fld not in ("evt.rawarg.res", "evt.latency"):
            return codes
        from sysdig_user.event_table import EF, EVENTS

        io = int(EF.READS_FROM_FD | EF.WRITES_TO_FD)
        return {c for c in codes if c & 1 or not int(EVENTS[c].flags) & io}

    def native_table_spec(self) -> tuple[list[Any], Any, dict[LuaKey, float]] | None:
        """What the compiled loop needs to run on_event itself (ChiselRunner.native_tables): the key
        fields' and the value field's registry fields, and the dict they add to; None when a field is
        not a plain registry field."""
        keys = [getattr(h, "compiled_field", None) for h in self.fkeys]
        value = getattr(self.fvalue, "compiled_field", None)
        if value is None or any(k is None for k in keys):
            return None
        return keys, value, self.table

    def _print(self, ts: int, delta: int) -> None:
        print_sorted_table(self.ctx, self.table, ts // 1_000_000_000, 0, delta, self.key_flds,
                           self.key_descs, self.value_fld, self.value_desc, self.top_number,
                           self.units, self.output_format)

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
