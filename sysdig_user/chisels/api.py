"""The Python chisel API, modelled on sysdig's Lua one (chisel.cpp / chisel_api.cpp in libsinsp).

A chisel is a class with metadata (``info``) and callbacks. The engine drives it exactly as sysdig
drives a Lua chisel, so a Python chisel and its Lua original produce the same output:

1. ``on_set_arg(name, value)`` once per argument given after the chisel name (sysdig splits the one
   argument word on spaces, honouring '...' and `...` quoting);
2. ``on_init()``: request fields (``ctx.request_field``), set the chisel filter, snaplen, interval,
   event formatter; or hand over to another chisel with ``ctx.exec`` (how the top* chisels reuse
   table_generator);
3. ``on_capture_start()`` once the source is open;
4. for every event that passed the global filter: interval check (``on_interval``), the chisel's own
   filter, ``on_event(evt)``, then the event formatter if one was set and on_event returned True;
5. ``on_capture_end(ts, delta)`` with the last event's timestamp and last-first delta (ns).

Everything a chisel may touch in the engine goes through its ``ChiselContext`` (``self.ctx``), so a
chisel never imports the inspector, the filter compiler or the formatter itself.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from sysdig_user.rows import FrozenRow, set_slot

if TYPE_CHECKING:
    from sysdig_user.event import Event


class ChiselArg(FrozenRow):
    """One argument, as a Lua chisel's ``args`` table entry (argtype is shown as [type] by -i).
    (A FrozenRow, not a dataclass: a chisel run imports this module, see sysdig_user/rows.py.)"""

    __slots__ = _fields = ("name", "type", "description", "optional")
    name: str
    type: str
    description: str
    optional: bool

    def __init__(self, name: str, type: str, description: str, optional: bool = False) -> None:
        set_slot(self, "name", name)
        set_slot(self, "type", type)
        set_slot(self, "description", description)
        set_slot(self, "optional", optional)


class ChiselInfo(FrozenRow):
    """What -cl and -i print; ``hidden`` chisels (table_generator) are loadable but never listed."""

    __slots__ = _fields = ("name", "short_description", "category", "description", "args", "hidden")
    name: str
    short_description: str
    category: str
    description: str
    args: tuple[ChiselArg, ...]
    hidden: bool

    def __init__(self, name: str, short_description: str, category: str, description: str,
                 args: tuple[ChiselArg, ...] = (), hidden: bool = False) -> None:
        set_slot(self, "name", name)
        set_slot(self, "short_description", short_description)
        set_slot(self, "category", category)
        set_slot(self, "description", description)
        set_slot(self, "args", args)
        set_slot(self, "hidden", hidden)

    @property
    def n_required_args(self) -> int:
        return sum(1 for a in self.args if not a.optional)

    @property
    def n_optional_args(self) -> int:
        return sum(1 for a in self.args if a.optional)


class FieldHandle(Protocol):
    """A requested field: ``get`` is the raw value sysdig would push to Lua (None when the field
    does not apply to the event), ``text`` its rendering as in -p output."""

    name: str

    def get(self, evt: Event) -> Any: ...

    def text(self, evt: Event) -> str | None: ...


class ChiselContext(Protocol):
    """The engine as one chisel sees it (implemented by runner.ChiselContextImpl)."""

    name: str

    # -- on_init configuration (chisel.* in Lua)
    def request_field(self, name: str) -> FieldHandle: ...

    def set_filter(self, text: str) -> None: ...

    def set_event_formatter(self, fmt: str) -> None: ...

    def set_interval_ns(self, interval: int) -> None: ...

    def set_interval_s(self, interval: int) -> None: ...

    def set_precise_interval_ns(self, interval: int) -> None: ...

    def exec(self, chisel: str, *args: str) -> None: ...

    # -- engine-wide settings (sysdig.* in Lua)
    def set_global_filter(self, text: str) -> None: ...

    def get_filter(self) -> str: ...

    def set_snaplen(self, snaplen: int) -> None: ...

    def set_output_format(self, fmt: str) -> None: ...

    def get_output_format(self) -> str: ...

    def is_live(self) -> bool: ...

    def is_tty(self) -> bool: ...

    def is_print_container_data(self) -> bool: ...

    def get_machine_info(self) -> dict[str, Any] | None: ...

    def get_evtsource_name(self) -> str: ...

    def first_event_ts(self) -> int: ...

    def last_event_ts(self) -> int: ...

    def end_capture(self) -> None: ...

    def run_app(self, args: str) -> None: ...

    # -- state
    def get_thread_table(self, filter_text: str | None = None, include_fds: bool = True,
                         barebone: bool = False) -> dict[int, dict[str, Any]]:
        """sysdig.get_thread_table: tid -> thread row, each with its "fdtable" (fd -> fd row). Both
        dicts are in the order sysdig's own tables iterate (not sorted); ``luaorder.lua_pairs_order``
        of a dict's keys gives the order a sysdig Lua chisel's ``pairs()`` would see."""
        ...

    def traced_processes(self) -> dict[int, str] | None:
        """Live capture: pid -> name of the processes being traced (None when reading a file)."""
        ...

    # -- output
    def write(self, data: str | bytes) -> None: ...

    def print(self, *parts: str | bytes) -> None: ...


class Chisel:
    """Base class of the Python chisels; callbacks default to sysdig's behaviour for a Lua chisel
    that does not define them."""

    #: set as a class attribute by Python chisels, per instance by Lua ones
    info: ChiselInfo
    #: False when the chisel has no on_event at all (sysdig then skips the call, and the formatter
    #: runs for every event that passed the chisel filter)
    has_on_event: bool = True
    #: where the chisel came from: "python", or the path of its .lua file
    origin: str = "python"

    def __init__(self, ctx: ChiselContext) -> None:
        self.ctx = ctx
        self.args: dict[str, str] = {}

    def on_set_arg(self, name: str, value: str) -> bool:
        self.args[name] = value
        return True

    def on_init(self) -> bool:
        return True

    def on_capture_start(self) -> bool:
        return True

    def on_event(self, evt: Event) -> bool:
        return True

    def on_interval(self, ts: int, delta: int, evt: Event | None) -> bool:
        """``ts`` in ns (sample time for precise intervals), ``delta`` ns since the last call.
        ``evt`` is the event that triggered the call (Lua chisels read it through evt.field)."""
        return True

    def has_on_interval(self) -> bool:
        return type(self).on_interval is not Chisel.on_interval

    def on_capture_end(self, ts: int, delta: int) -> None:
        return None
