"""The container chisels: lscontainers and topcontainers_cpu/error/file/net, as sysdig 0.29.3's Lua ones
(same names, descriptions, categories, arguments and output), and the container table both they and
the Lua bridge's ``sysdig.get_container_table`` read (sysdig's lua_cbacks::get_container_table)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sysdig_user.chisels.api import Chisel, ChiselArg, ChiselInfo
from sysdig_user.chisels.builtin.common import extend_string
from sysdig_user.chisels.builtin.tops import TopProcsCpu, _Top
from sysdig_user.state.containers import TYPE_NAMES

if TYPE_CHECKING:
    from sysdig_user.chisels.api import ChiselContext
    from sysdig_user.event import Event
    from sysdig_user.state.containers import ContainerTable

INFOS: dict[str, ChiselInfo] = {
    "lscontainers": ChiselInfo(
        name="lscontainers", short_description="List the running containers", category="System State",
        description="List the running containers and the metadata",
        args=(ChiselArg("desc", "string", "Prints the result set as a data structure", True),)),
    "topcontainers_cpu": ChiselInfo(
        name="topcontainers_cpu", short_description="Top containers by CPU usage", category="CPU Usage",
        description="Show the top containers defined by the highest CPU utilization."),
    "topcontainers_error": ChiselInfo(
        name="topcontainers_error", short_description="Top containers by number of errors",
        category="Errors", description="Shows the top container in terms of system call errors."),
    "topcontainers_file": ChiselInfo(
        name="topcontainers_file", short_description="Top containers by R+W disk bytes", category="I/O",
        description="Shows the top containers in terms of total (in+out) bytes to disk."),
    "topcontainers_net": ChiselInfo(
        name="topcontainers_net", short_description="Top containers by network I/O", category="Net",
        description="Sorted list of containers that use the most network bandwidth."),
}


def _table_of(ctx: Any) -> ContainerTable | None:
    """The state engine's container table, reached through the chisel context's engine."""
    engine = getattr(ctx, "engine", ctx)
    for source in (getattr(engine, "inspector", None), getattr(engine, "state_view", None)):
        state = getattr(source, "state", source)
        table = getattr(state, "containers", None)
        if table is not None:
            return table  # type: ignore[no-any-return]
    return None


def container_rows(ctx: Any) -> list[dict[str, str]]:
    """sysdig.get_container_table: one row (id, name, image, type) per known container, in the order
    sysdig's unordered_map iterates them (libstdc++ puts a new key first: the newest first; a replaced
    container keeps its place). The filter sysdig's chisels pass is ignored, as sysdig ignores it."""
    table = _table_of(ctx)
    if table is None:
        return []
    return [{"id": c.id, "name": c.name, "image": c.image, "type": TYPE_NAMES.get(c.type, "unknown")}
            for c in reversed(list(table))]


class LsContainers(Chisel):
    """The containers known when the first event arrives (the capture's head and its process list)."""

    info = INFOS["lscontainers"]

    def __init__(self, ctx: ChiselContext) -> None:
        super().__init__(ctx)
        self.capturing = False
        self.desc = False

    def on_set_arg(self, name: str, value: str) -> bool:
        if name == "desc" and value == "desc":
            self.desc = True
            return True
        return False

    def on_capture_start(self) -> bool:
        self.capturing = True
        return True

    def on_event(self, evt: Event) -> bool:
        self.ctx.end_capture()
        return True

    def on_capture_end(self, ts: int, delta: int) -> None:
        if not self.capturing:
            return
        rows = container_rows(self.ctx)
        p = self.ctx.print
        if self.desc:  # common.lua's st(): the rows as Lua source, each row's keys in LuaJIT's order
            p("{")
            for i, row in enumerate(rows, 1):
                p(f" {i} = {{")
                for k in ("id", "type", "name", "image"):
                    p(f"  {k} = {_lua_quoted(row[k])},")
                p(" },")
            p("}")
            return
        p(extend_string("container.type", 15) + extend_string("container.image", 16)
          + extend_string("container.name", 20) + extend_string("container.id", 13))
        p(extend_string("---------------", 15) + extend_string("----------------", 16)
          + extend_string("--------------------", 20) + extend_string("-------------", 13))
        for row in rows:
            p(extend_string(row["type"], 15) + extend_string(row["image"], 16) + extend_string(row["name"], 20)
              + extend_string(row["id"], 13))


def _lua_quoted(text: str) -> str:
    """string.format("%q", text)."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\0":
            out.append("\\0")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


class TopContainersCpu(TopProcsCpu):
    """CPU% per container from the procinfo events (topprocs_cpu keyed on container.name alone)."""

    info = INFOS["topcontainers_cpu"]

    def on_init(self) -> bool:
        self.key_flds = ["container.name"]
        self.key_descs = ["container.name"]
        self.fkeys = [self.ctx.request_field(n) for n in self.key_flds]
        self.ctx.request_field("thread.exectime")
        self.fcpu = self.ctx.request_field("thread.cpu")
        self.ctx.set_filter("evt.type=procinfo")
        return True

    def _sample_proc(self) -> None:
        """Live: the traced processes' CPU time since the last sample, summed per container (the
        process's container name; "host" when the state does not know it)."""
        before = dict(self.table)
        self.table = {}
        super()._sample_proc()
        per_pid, self.table = self.table, before
        threads = getattr(getattr(_state_of(self.ctx), "threads", None), "threads", {})
        for key, used in per_pid.items():
            pid = int(key.split("\x01\x01")[1]) if "\x01\x01" in key else -1
            name = _container_name(_state_of(self.ctx), threads.get(pid))
            self.table[name] = self.table.get(name, 0) + used


def _state_of(ctx: Any) -> Any:
    engine = getattr(ctx, "engine", ctx)
    for source in (getattr(engine, "inspector", None), getattr(engine, "state_view", None)):
        state = getattr(source, "state", source)
        if getattr(state, "containers", None) is not None:
            return state
    return None


def _container_name(state: Any, th: Any) -> str:
    from sysdig_user.state.containers import thread_container_id

    if th is None or state is None:
        return "host"
    cid = thread_container_id(th)
    if not cid:
        return "host"
    info = state.containers.get(cid)
    return info.name if info is not None and info.name else cid


class _TopContainers(_Top):
    """topcontainers_error/file/net: table_generator keyed on container.name, host left out."""

    keys = keys_container = ("container.name", "container.name")


class TopContainersError(_TopContainers):
    info = INFOS["topcontainers_error"]
    value, value_desc, top, units = "evt.count", "#Errors", "100", "none"
    filter = "evt.failed=true and container.name!=host"


class TopContainersFile(_TopContainers):
    info = INFOS["topcontainers_file"]
    value, value_desc, top, units = "evt.rawarg.res", "Bytes", "10", "bytes"
    filter = "fd.type=file and evt.is_io=true and container.name!=host"


class TopContainersNet(_TopContainers):
    info = INFOS["topcontainers_net"]
    value, value_desc, top, units = "evt.rawarg.res", "Bytes", "100", "bytes"
    filter = "(fd.type=ipv4 or fd.type=ipv6) and evt.is_io=true and container.name!=host"
