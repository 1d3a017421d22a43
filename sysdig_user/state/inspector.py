"""The state engine's entry point: numbers events, attaches thread/enter/fd state, runs the parsers.

Per event (``Inspector.process``), following libsinsp's sinsp_parser::reset and process_event at libs
e5c53d64 (sysdig 0.29.3):

* ``evt.num`` counts every event read, hidden ones included (sysdig numbers EC_INTERNAL and STATE_ONLY
  events too); types >= 336 are not counted, because Debian sysdig skips them while reading.
* ``evt.thread``: the tid's ThreadInfo; an unknown tid gets a ``<NA>`` placeholder, except for clone
  exits and sched_switch (sinsp does not query for those) and the SKIPPARSERESET events.
* enter events reset the thread's ``lastevent_fd`` (param 0 for EF_USES_FD events) and become its
  pending enter; an exit is *paired* only when the previous event of the same thread was its enter.
  Unpaired exits get no ``enter`` and no fd lookup, so parsers needing either do nothing.
* ``evt.fdnum``/``evt.fdinfo`` for events flagged CREATES/USES/DESTROYS_FD: fd.num is the thread's
  lastevent_fd after parsing (a new fd for creators), fd info falls back to a table lookup of it.
* removals (close, procexit) are returned in a Verdict and applied after the caller has filtered and
  printed the event: explicitly with ``apply``, or automatically when the next event is processed.
"""
from __future__ import annotations

import struct
from _collections_abc import Callable, Iterable, Iterator  # (collections.abc without collections)

from sysdig_user.event import Event
from sysdig_user.event_table import (
    EC,
    EF,
    EVENTS,
    EXTENSIONS,
    LARGE_PAYLOAD_CODES,
    PARAM_COUNTS,
    PPM_EVENT_MAX,
    SC_NAMES,
    SDU_EXTENSION_BASE,
)
from sysdig_user.scap.entries import NATIVE as _NATIVE
from sysdig_user.scap.records import (
    CaptureItem,
    FdEntry,
    FdList,
    InterfaceList,
    MachineInfo,
    ProcEntry,
    ProcList,
    SectionHeader,
    UserList,
)
from sysdig_user.state import containers, fdorder, parsers_files, parsers_net, parsers_process
from sysdig_user.state.fds import (
    FdInfo,
    FdTable,
    FdType,
    Role,
    ip_str,
    is_ipv4_mapped,
    l4_name,
    port_str,
    sanitize,
    tuple_name,
)
from sysdig_user.state.interfaces import Interfaces
from sysdig_user.state.parsers_files import Handler, concatenate_paths
from sysdig_user.state.threads import (
    CL_ACTIVE,
    CL_CLONE_FILES,
    ThreadInfo,
    ThreadTable,
    env_entries,
    normalize_cgroups,
    normalize_cwd,
)
from sysdig_user.state.users import UserTable
from sysdig_user.state.verdict import Verdict

DF_STATE_ONLY = 1
PROCINFO_E = 234
SCHEDSWITCH_6_E = 152
_NO_QUERY_NAMES = frozenset({"clone", "fork", "vfork", "clone3"})

# per-code bits, computed once from the event table
F_ENTER = 1
F_USES_FD = 2
F_FD_EVENT = 4
F_SKIP = 8
F_NO_QUERY = 16
F_NO_THREAD = 32
F_MODIFIES_STATE = 64
_F_SKIP_OR_NO_THREAD = F_SKIP | F_NO_THREAD


def _code_flags() -> list[int]:
    # Worked out once per distinct flag set (the 336 rows share 33) and per name, in plain ints: IntFlag
    # operators are slow, and this runs at import.
    uses_fd, skip, modifies = int(EF.USES_FD), int(EF.SKIPPARSERESET), int(EF.MODIFIES_STATE)
    fd_event = int(EF.USES_FD | EF.CREATES_FD | EF.DESTROYS_FD)
    by_flags: dict[int, int] = {}
    out = []
    for info in EVENTS:
        code, name, flags = info.code, info.name, info.flags
        f = by_flags.get(flags)
        if f is None:
            bits = int(flags)
            f = by_flags[flags] = ((F_USES_FD if bits & uses_fd else 0) | (F_FD_EVENT if bits & fd_event else 0)
                                   | (F_SKIP if bits & skip else 0) | (F_MODIFIES_STATE if bits & modifies else 0))
        if not code & 1:
            f |= F_ENTER
        if (code & 1 and name in _NO_QUERY_NAMES) or code == SCHEDSWITCH_6_E:
            f |= F_NO_QUERY
        if name == "container" and info.category != EC.INTERNAL:
            f |= F_NO_THREAD  # container json events carry no thread (sinsp sets m_tinfo = NULL)
        out.append(f)
    return out


def handler_registry() -> dict[str, Handler]:
    """Every handler, keyed ``name>`` / ``name<`` (one module per syscall family)."""
    out: dict[str, Handler] = {}
    for module in (parsers_process, parsers_files, parsers_net):
        for key, handler in module.HANDLERS.items():
            assert key not in out, key
            out[key] = handler
    return out


def _code_handlers(registry: dict[str, Handler]) -> list[Handler | None]:
    # (not info.dir: a property's call per row costs more than the lookup; nor a starred unpacking)
    return [registry.get(info.name + ("<" if info.code & 1 else ">")) for info in EVENTS]


_FLAGS = _code_flags()
_HANDLERS = _code_handlers(handler_registry())
#: per event code, its param count in the table (an event with fewer goes through _handle_short)
_TABLE_NPARAMS = PARAM_COUNTS
#: what a handler raises when a param it reads is missing (None where it compares, indexes or adds)
_MISSING_PARAM_ERRORS = (TypeError, IndexError, AttributeError, ValueError, KeyError, OverflowError)


def _handle_short(handler: Handler, st: State, evt: Event, th: ThreadInfo | None, scratch: Verdict) -> None:
    """A handler on an event with fewer params than its table has: a damaged capture, or an old one whose
    versions had fewer. Handlers read trailing params that old versions lack as optional, but not the
    others; sinsp then reads stale memory, sdu does what the handler could do before the missing param
    (nothing, for every handler that reads its params first) and goes on with the next event."""
    try:
        handler(st, evt, th, scratch)
    except _MISSING_PARAM_ERRORS:
        return
# what skip_raw reads of the raw bytes: ts, tid; then the fd param of an enter event (first param,
# after the u16 length array; EF_LARGE_PAYLOAD events are never skipped)
_HEADER = struct.Struct("<QqIHI")
_FD_PARAM = struct.Struct("<q")
_EC_INTERNAL = EC.INTERNAL  # (read once: a class attribute of an IntConst class per row costs ~0.1M at import)
_HIDDEN_CODES = frozenset([info.code for info in EVENTS if info.category == _EC_INTERNAL])
#: the codes is_hidden hides whatever the dump flags (sdu's extension events included)
HIDDEN_CODES = _HIDDEN_CODES | {code for code, info in EXTENSIONS.items() if info.category == EC.INTERNAL}
_LARGE = LARGE_PAYLOAD_CODES
_CONTAINER_CODES = containers.CONTAINER_CODES  # state the capture's head may hold: never skipped unparsed

#: skip_raw results
NOT_SKIPPED, SKIPPED_DROPPED, SKIPPED_HIDDEN = 0, 1, 2
_SKIPPED_IF_GENERIC = 3  # skip_table only: dropped if the generic event's syscall cannot match
_GENERIC_CODES = frozenset({0, 1})  # PPME_GENERIC_E / _X: evt.type is the name of their param 0's syscall


def _event_codes(names: Iterable[str]) -> set[int]:
    """The codes evt.type may show a name for: its events of both directions and every version
    (the generic syscall events, whose evt.type is their syscall's name, are not among them)."""
    wanted = set(names)
    return {info.code for info in EVENTS if info.name in wanted and info.code not in _GENERIC_CODES}


def _generic_ids(names: Iterable[str]) -> frozenset[int]:
    """The ppm_sc ids whose generic syscall events evt.type may show as one of ``names``."""
    wanted = set(names)
    return frozenset(i for i, sc_name in enumerate(SC_NAMES) if sc_name in wanted)


def skip_table(prefilter: Callable[[Event], bool] | None, skip_hidden: bool,
               keep_internal: bool = False) -> bytes | None:
    """Per event code, what `Inspector.skip_raw` may do without building the Event (see there).

    With a filter whose possible event types are known (``prefilter.event_types``, set by
    sysdig_user.filter.compile), a code that cannot match is SKIPPED_DROPPED when process() would
    drop it before parsing: not EF_MODIFIES_STATE, not F_NO_QUERY (clone exits, sched_switch: an
    unknown thread is not created and the parser runs) and not a large-payload event. The generic
    syscall events are _SKIPPED_IF_GENERIC: dropped unless their syscall's name may match (skip_raw
    reads it), or never skipped when their own name ("syscall", what an unknown syscall shows) may.
    Without a filter, and when the caller does not show hidden events (``skip_hidden``), the
    EC_INTERNAL events process() does not parse (SKIPPARSERESET ones) are SKIPPED_HIDDEN. With
    ``keep_internal`` (a -w file keeps the EC_INTERNAL events the filter drops) those are never
    skipped. None when nothing can be skipped.
    """
    table = bytearray(PPM_EVENT_MAX)
    if prefilter is not None:
        names = getattr(prefilter, "event_types", None)
        if names is None:
            return None
        possible = _event_codes(names)
        for code, fl in enumerate(_FLAGS):
            if code in possible or fl & F_NO_QUERY or code in _LARGE or code in _CONTAINER_CODES:
                continue
            if keep_internal and code in _HIDDEN_CODES:
                continue
            if code in _GENERIC_CODES:
                if EVENTS[code].name not in names and not fl & F_MODIFIES_STATE:
                    table[code] = _SKIPPED_IF_GENERIC
            elif fl & (F_SKIP | F_NO_THREAD) or not fl & F_MODIFIES_STATE:
                table[code] = SKIPPED_DROPPED
    elif skip_hidden:
        for code, fl in enumerate(_FLAGS):
            if code in _HIDDEN_CODES and fl & F_SKIP and code not in _CONTAINER_CODES:
                table[code] = SKIPPED_HIDDEN
    return bytes(table) if any(table) else None


class State:
    """What parsers read and update: the thread table (with fd tables), users, interfaces."""

    __slots__ = ("containers", "first_ts", "fresh_fds", "interfaces", "machine", "output_time_flag",
                 "resolve_ports", "threads", "users")

    def __init__(self) -> None:
        self.threads = ThreadTable()
        self.containers = containers.ContainerTable()
        self.users = UserTable()
        self.interfaces = Interfaces()
        self.machine: MachineInfo | None = None
        # evt.reltime's origin (sinsp m_firstevent_ts): the ts of the first event read, hidden ones
        # included (the PL-time procinfo events of a capture), None before any event
        self.first_ts: int | None = None
        # -t flag for evt.outputtime and -N (port names) for fd.*proto; the CLI may override them
        self.output_time_flag = "h"
        self.resolve_ports = False
        # fds added while parsing the current event, with the name sinsp's copy holds as m_oldname
        # ("" for a new fdinfo, the source's name for a dup): what fd.name_changed compares against
        self.fresh_fds: list[tuple[FdInfo, str]] = []

    def add_fd(self, th: ThreadInfo, info: FdInfo, oldname: str = "") -> FdInfo:
        """sinsp_threadinfo::add_fd: insert (replacing) and make it the thread's lastevent_fd."""
        th.fdtable.add(info)
        th.lastevent_fd = info.fd
        self.fresh_fds.append((info, oldname))
        return info


class Inspector:
    """Feeds metadata and events through the state engine. See the module docstring."""

    # (slots: the compiled line reads and writes num, _pending and _fix_sockets on every event, at their
    # offsets; an instance dict made each of those a dict lookup and each write of num a dict insert)
    __slots__ = ("_consumed", "_fix_sockets", "_generic_kept", "_keep_internal", "_pending", "_prefilter",
                 "_scratch", "_skip", "_skip_hidden", "_unresolved", "consumed_event", "num", "state")

    def __init__(self) -> None:
        self.state = State()
        self.num = 0
        self._pending: Verdict | None = None
        self._scratch = Verdict()
        self._fix_sockets = False  # FDL sockets loaded since the last fix_sockets pass
        # sinsp runs the capture filter inside the parser: an event that does not modify state and
        # fails it is dropped before parsing, and its thread forgets the pending enter, so the exit
        # that follows is unpaired (visible in evt.category of I/O exits). Events flagged
        # EF_MODIFIES_STATE are parsed first and filtered by the caller.
        self._prefilter: Callable[[Event], bool] | None = None
        self._skip_hidden = False
        self._keep_internal = False
        self._skip: bytes | None = None  # per code, what skip_raw may do (skip_table)
        self._generic_kept: frozenset[int] = frozenset()  # ppm_sc ids of the generic events it keeps
        # the container events at the head of the capture, consumed as state (state/containers.py)
        self._consumed = 0
        self.consumed_event: Event | None = None
        self._unresolved: list[ThreadInfo] = []  # PL threads whose container is resolved after the head

    @property
    def prefilter(self) -> Callable[[Event], bool] | None:
        return self._prefilter

    @prefilter.setter
    def prefilter(self, predicate: Callable[[Event], bool] | None) -> None:
        self._prefilter = predicate
        self._skip = skip_table(predicate, self._skip_hidden, self._keep_internal)
        self._generic_kept = _generic_ids(getattr(predicate, "event_types", None) or ())

    @property
    def skip_hidden(self) -> bool:
        """Set by a caller that never looks at hidden events that pass the filter (no -D, no writer, no
        chisels, no summary): skip_raw may then skip the unparsed internal ones (procinfo)."""
        return self._skip_hidden

    @skip_hidden.setter
    def skip_hidden(self, value: bool) -> None:
        self._skip_hidden = value
        self._skip = skip_table(self._prefilter, value, self._keep_internal)

    @property
    def keep_internal(self) -> bool:
        """Set by a caller that writes the EC_INTERNAL events its filter drops (-w, as sinsp's
        get_dump_flags): skip_raw then leaves them to process()."""
        return self._keep_internal

    @keep_internal.setter
    def keep_internal(self, value: bool) -> None:
        self._keep_internal = value
        self._skip = skip_table(self._prefilter, self._skip_hidden, value)

    @property
    def skip_codes(self) -> bytes | None:
        """Per event code below PPM_EVENT_MAX, non-zero where skip_raw may skip the event (skip_table):
        a caller may call skip_raw for those codes only. None when it skips nothing."""
        return self._skip

    @property
    def threads(self) -> ThreadTable:
        return self.state.threads

    # ------------------------------------------------------------------------------------ metadata
    def feed_records(self, item: CaptureItem) -> None:
        """Load one metadata record. A new section (concatenated captures) merges into the current
        state and keeps numbering, as sysdig does (verified on ``cat a.scap b.scap``)."""
        if isinstance(item, FdList):  # (one per process: the most frequent)
            self._load_fds(item)
        elif isinstance(item, ProcList):
            self._load_procs(item.entries)
        elif isinstance(item, UserList):
            self.state.users.load(item)
        elif isinstance(item, InterfaceList):
            self.state.interfaces.load(item)
        elif isinstance(item, MachineInfo):
            self.state.machine = item
        elif isinstance(item, SectionHeader):
            pass

    def _load_procs(self, entries: list[ProcEntry]) -> None:
        threads = self.state.threads.threads
        order = self.state.threads.order
        if _NATIVE is not None:  # the same ThreadInfo objects, built in C (sysdig_user/_sections.c)
            built = _NATIVE.thread_infos(entries, _thread_from_entry)
        else:
            built = [_thread_from_entry(e) for e in entries]
        for th in built:
            tid = th.tid
            if tid not in threads:
                order.insert(tid)
            threads[tid] = th
            if th.cgroups:
                if self.num == self._consumed:  # sinsp resolves them once the head's containers are in
                    self._unresolved.append(th)
                else:
                    containers.resolve(self.state.containers, th)
        self.state.threads.link_all()

    def _load_fds(self, block: FdList) -> None:
        """FDL entries, named as sinsp's add_fd_from_scap names them. A thread that shares its main
        thread's table (CLONE_FILES) has its own list ignored, as sinsp never consults it."""
        threads = self.state.threads.threads
        th = threads.get(block.tid)
        if th is None:
            return
        if th.tid != th.pid and th.flags & CL_CLONE_FILES and th.pid in threads:
            return
        if _NATIVE is not None:  # the same FdInfo objects, built and loaded in C (sysdig_user/_sections.c)
            _NATIVE.load_fds(th.fdtable, block.fds, self._fd_from_entry)
        else:
            interfaces = self.state.interfaces
            load = th.fdtable.load
            for entry in block.fds:
                info = _fd_from_entry(entry, interfaces)
                if info is not None:
                    load(info)
        self._fix_sockets = True

    def _fd_from_entry(self, entry: FdEntry) -> FdInfo | None:
        """_fd_from_entry with this state's interfaces: _sections.c's load_fds calls it for the entries
        it leaves to Python (one bound method, not a closure made per FDL block)."""
        return _fd_from_entry(entry, self.state.interfaces)

    def begin_events(self, ts: int) -> None:
        """What comes before the capture's first event (its time the state's first_ts, the containers of the
        threads the metadata loaded) and before the first after new metadata (fix_sockets): process() does it,
        and the compiled line (output/fastline.py) for an event it handles itself."""
        st = self.state
        if st.first_ts is None:
            st.first_ts = ts
            self._resolve_containers()
        if self._fix_sockets:
            self._fix_sockets_from_proc()

    def _fix_sockets_from_proc(self) -> None:
        """sinsp_thread_manager::fix_sockets_coming_from_proc, run once the metadata is loaded (before
        the first event): an IPv4 connection whose local port is a listening port of *any* process is
        the server end (its tuple is swapped to client->server), every other one a client."""
        self._fix_sockets = False
        tables = {id(th.fdtable): th.fdtable for th in self.state.threads}.values()
        servsock, sock = FdType.IPV4_SERVSOCK, FdType.IPV4_SOCK
        if _NATIVE is not None:  # the same two walks over every fd, in C (~300 fds a section)
            server_ports, socks = _NATIVE.ip_sockets(tables, servsock, sock)
        else:
            server_ports = {info.sport for table in tables for info in table.fds.values() if info.type == servsock}
            socks = [info for table in tables for info in table.fds.values() if info.type == sock and not info.role]
        for info in socks:
            if info.role:
                continue  # (an fd two tables share: done at its first)
            if info.sport in server_ports:
                info.sip, info.sport, info.dip, info.dport = info.dip, info.dport, info.sip, info.sport
                info.name = tuple_name(info.sip, info.sport, info.dip, info.dport, l4_name(info.l4proto))
                info.role = Role.SERVER
            else:
                info.role = Role.CLIENT

    # ------------------------------------------------------------------------------------ events
    def skip_raw(self, raw: bytes) -> int:
        """Fast path for an event nobody will look at: do, from its raw bytes, exactly the state
        bookkeeping process() would do for it, and return SKIPPED_DROPPED (the filter cannot match its
        type: the caller drops it) or SKIPPED_HIDDEN (no filter; an unparsed internal event the caller
        counts but does not show). NOT_SKIPPED (0): nothing was done, build the Event and process() it.

        For a dropped event process() numbers it, applies the previous removals, creates the thread
        placeholder and, for a thread event, leaves what a prefiltered event leaves: no pending enter
        (lastevent_type -1), the enter's time for evt.latency, lastevent_fd from an enter's fd param.
        """
        skip = self._skip
        if skip is None:
            return NOT_SKIPPED
        code = raw[20] | (raw[21] << 8)
        if code >= PPM_EVENT_MAX:
            return NOT_SKIPPED
        kind = skip[code]
        if not kind or self.state.first_ts is None or self._fix_sockets:
            return NOT_SKIPPED  # the first event (and the first after metadata) goes the long way
        fl = _FLAGS[code]
        if not fl & (F_SKIP | F_NO_THREAD):
            ts, tid, _len, _code, nparams = _HEADER.unpack_from(raw)
            fd = -1
            if kind == _SKIPPED_IF_GENERIC:
                # param 0 must be a whole u16 ppm_sc id, and its name one the filter cannot match
                # (an id past the table shows as "syscall", which skip_table checked)
                p = 26 + 2 * nparams
                if not nparams or len(raw) < p + 2 or raw[26] | (raw[27] << 8) != 2:
                    return NOT_SKIPPED
                sc = raw[p] | (raw[p + 1] << 8)
                if sc in self._generic_kept:
                    return NOT_SKIPPED
                kind = SKIPPED_DROPPED
            elif fl & F_USES_FD and fl & F_ENTER:
                # param 0 must be a whole 8-byte fd, else let Event.param decide what it is
                if not nparams or raw[26] | (raw[27] << 8) != 8:
                    return NOT_SKIPPED
                fd = _FD_PARAM.unpack_from(raw, 26 + 2 * nparams)[0]
            if self._pending is not None:
                self.apply(self._pending)
            threads = self.state.threads
            th = threads.threads.get(tid)
            if th is None:  # (F_NO_QUERY codes, which would not create it, are never skipped)
                th = threads.placeholder(tid)
            if fl & F_ENTER:
                th.last_latency_entertime = ts
                th.latency = 0
                th.lastevent_fd = fd
            elif th.last_latency_entertime:
                th.latency = ts - th.last_latency_entertime
            th.lastevent_type = -1
            th.last_enter = None
        elif self._pending is not None:
            self.apply(self._pending)
        self.num += 1
        return kind

    def process(self, evt: Event) -> Verdict | None:
        """Update state for one event and attach it; returns the deferred removals (None if none)."""
        if self._pending is not None:
            self.apply(self._pending)
        code = evt.type
        st = self.state
        evt._state = st
        if code >= PPM_EVENT_MAX:
            evt.num = self.num  # not counted: Debian sysdig skips these types
            if code == SDU_EXTENSION_BASE:
                from sysdig_user.state.parsers_packet import parse_packet  # (a packet capture's own import)

                parse_packet(st, evt)
            return None
        self.num += 1
        evt.num = self.num
        if code in _CONTAINER_CODES:
            return self._container_event(evt)
        if st.first_ts is None or self._fix_sockets:
            self.begin_events(evt.ts)
        fl = _FLAGS[code]
        if fl & _F_SKIP_OR_NO_THREAD:
            evt.thread = st.threads.get(evt.tid) if code == PROCINFO_E else None
            return self._finish(evt, None)
        th = st.threads.threads.get(evt.tid)
        if th is None and not fl & F_NO_QUERY:
            th = st.threads.placeholder(evt.tid)
        evt.thread = th
        if th is not None and code != SCHEDSWITCH_6_E:
            if fl & F_ENTER:
                th.lastevent_type = code
                th.last_latency_entertime = evt.ts
                th.latency = 0
                th.last_enter = evt
                if fl & F_USES_FD:
                    fd = evt.param(0)
                    th.lastevent_fd = fd
                    evt.fdinfo = th.fdtable.fds.get(fd)
                else:
                    th.lastevent_fd = -1
            else:
                if th.last_latency_entertime:
                    th.latency = evt.ts - th.last_latency_entertime
                if code == th.lastevent_type + 1:
                    ent = th.last_enter
                    if ent.__class__ is tuple:  # kept unbuilt by output/fastline.py's Core
                        ent = _stashed_enter(st, th, ent)  # type: ignore[arg-type]
                    if ent is not None and ent.type == code - 1:
                        evt.enter = ent
                    th.last_enter = None
                    if fl & F_USES_FD:
                        evt.fdinfo = th.fdtable.fds.get(th.lastevent_fd)
        evt.parsed_fdinfo = evt.fdinfo
        prefilter = self._prefilter
        if prefilter is not None and not fl & F_MODIFIES_STATE and th is not None:
            if fl & F_FD_EVENT:
                evt.fdnum = th.lastevent_fd
                if evt.fdinfo is None and evt.fdnum != -1:
                    evt.fdinfo = th.fdtable.fds.get(evt.fdnum)
            evt.filtered_out = not prefilter(evt)
            if evt.filtered_out:
                if code != SCHEDSWITCH_6_E and not fl & F_SKIP:
                    th.lastevent_type = -1
                    th.last_enter = None
                return self._finish(evt, None)
        handler = _HANDLERS[code]
        scratch = self._scratch
        if handler is not None:
            pre = evt.fdinfo
            pre_name = pre.name if pre is not None else ""
            if evt.nparams < _TABLE_NPARAMS[code]:
                _handle_short(handler, st, evt, th, scratch)
            else:
                handler(st, evt, th, scratch)
            info = evt.fdinfo
            if info is not None and (info is not pre or info.name != pre_name):
                _mark_name_changed(st, evt, info, pre, pre_name)
            if st.fresh_fds:
                st.fresh_fds.clear()
        th = evt.thread
        if fl & F_FD_EVENT and th is not None:
            fdn = th.lastevent_fd
            evt.fdnum = fdn
            if evt.fdinfo is None and fdn != -1:
                evt.fdinfo = th.fdtable.fds.get(fdn)
        if th is not None:
            th.last_event_ts = evt.ts
        if not (evt.dump_flags or scratch.fds_to_remove or scratch.hidden) and scratch.tid_to_remove is None:
            return None  # nothing to defer (_finish's common case)
        return self._finish(evt, scratch)

    def _container_event(self, evt: Event) -> Verdict | None:
        """A container event: the container is stored. At the head of the capture (only container
        events before it) the event is consumed: ``consumed(evt)`` is then true and the caller shows,
        filters and counts nothing. Later it is shown on its container's own thread, or hidden
        (filtered out) when its lookup did not succeed; the old PPME_CONTAINER_E is an event of its tid."""
        st = self.state
        info = containers.parse_event(st.containers, evt)
        if self.num - 1 == self._consumed:
            self._consumed += 1
            self.consumed_event = evt
            evt.thread = None
            return None
        if st.first_ts is None:
            st.first_ts = evt.ts
            self._resolve_containers()
        if evt.type == containers.CONTAINER_E:  # an ordinary event of its tid (an unknown one: -1)
            evt.thread = st.threads.threads.get(evt.tid) or st.threads.placeholder(evt.tid)
        else:
            evt.thread = containers.container_thread(info)
            if not info.successful:
                evt.filtered_out = True
        return self._finish(evt, None)

    def _resolve_containers(self) -> None:
        """The container of each thread of the capture's process list, now that the containers at the
        capture's head are known (sinsp resolves them after consuming those: an lxc-style engine may
        then replace a container the head described under another type)."""
        table = self.state.containers
        for th in self._unresolved:
            containers.resolve(table, th)
        self._unresolved.clear()

    def consumed(self, evt: Event) -> bool:
        """The event was container state at the head of the capture, consumed while opening it."""
        return self.consumed_event is evt

    def _finish(self, evt: Event, scratch: Verdict | None) -> Verdict | None:
        if evt.dump_flags & DF_STATE_ONLY:
            scratch = scratch or self._scratch
            scratch.hidden = True
        if scratch is None or scratch.empty:
            return None
        self._scratch = Verdict()
        self._pending = scratch
        return scratch

    def apply(self, verdict: Verdict | None) -> None:
        """Perform the removals recorded while processing an event (idempotent)."""
        if verdict is None or verdict.applied:
            return
        verdict.applied = True
        if self._pending is verdict:
            self._pending = None
        for table, fd in verdict.fds_to_remove:
            table.remove(fd)
        if verdict.tid_to_remove is not None:
            self.state.threads.remove(verdict.tid_to_remove)

    def flush(self) -> None:
        """Apply what the last event left pending (end of a capture)."""
        if self._pending is not None:
            self.apply(self._pending)

    def events(self, source: Iterable[CaptureItem]) -> Iterator[Event]:
        """Iterate a ``read_capture`` stream: metadata is loaded, events are processed and yielded.
        The previous event's removals are applied when the next one is processed, so the caller only
        has to handle each event before asking for the next."""
        for item in source:
            if isinstance(item, tuple):
                cpu, dump_flags, raw = item
                evt = Event(raw, cpu, dump_flags)
                self.process(evt)
                yield evt
            else:
                self.feed_records(item)
        self.flush()

    @staticmethod
    def is_hidden(evt: Event) -> bool:
        """Not shown without -D: STATE_ONLY events and EC_INTERNAL events (still numbered)."""
        if evt.dump_flags & DF_STATE_ONLY:
            return True
        code = evt.type
        if code < PPM_EVENT_MAX:
            return code in _HIDDEN_CODES
        info = evt.info
        return info is not None and info.category == EC.INTERNAL


def _stashed_enter(st: State, th: ThreadInfo, stash: tuple[bytes, int, int]) -> Event:
    """The enter event the compiled default line kept as (raw, cpu, num), as process() would have kept it."""
    raw, cpu, num = stash
    ent = Event(raw, cpu)
    ent.num = num
    ent.thread = th
    ent._state = st
    return ent


def _mark_name_changed(st: State, evt: Event, info: FdInfo, pre: FdInfo | None, pre_name: str) -> None:
    """fd.name_changed: sinsp compares the event's final fdinfo name with its m_oldname, which every
    table lookup (get_fd) resets to the current name; a new fdinfo starts with an empty oldname and a
    dup'd one copies its source's. An fdinfo the parser merely looked up keeps oldname == name."""
    if info is pre:
        changed = info.name != pre_name
    else:
        changed = False
        for fresh, oldname in st.fresh_fds:
            if fresh is info:
                changed = info.name != oldname
                break
    if changed:
        info.extra["name_changed_at"] = evt.num


_FD_TYPES = {int(t): t for t in FdType}
# FdType members read per FDL entry, as module constants (a member lookup on its class is slow in 3.11)
_FILE_V2, _IPV4_SOCK, _IPV6_SOCK = FdType.FILE_V2, FdType.IPV4_SOCK, FdType.IPV6_SOCK
_IPV4_SERVSOCK, _IPV6_SERVSOCK, _UNIX_SOCK = FdType.IPV4_SERVSOCK, FdType.IPV6_SERVSOCK, FdType.UNIX_SOCK
_ROLE_CLIENT, _ROLE_SERVER = Role.CLIENT, Role.SERVER


def _thread_from_entry(e: ProcEntry) -> ThreadInfo:
    """One PL entry as a ThreadInfo (sinsp's thread from scap's proc table)."""
    cwd = e.cwd
    # else it is already in canonical form (set_cwd's concatenate_paths also turns each byte that is not
    # printable ASCII into a '.')
    if cwd[:1] != "/" or "//" in cwd or "/." in cwd or not (cwd.isascii() and cwd.isprintable()):
        cwd = concatenate_paths("", cwd)
    # positional, in ThreadInfo's field order (a keyword call costs twice as much)
    return ThreadInfo(
        e.tid, e.pid, e.ptid, e.sid, e.vpgid, e.comm, e.exe, e.exepath, list(e.args),
        normalize_cwd(cwd), env_entries(list(e.env)), normalize_cgroups(e.cgroups), e.root, e.fdlimit,
        e.flags | CL_ACTIVE, e.uid, e.gid, e.loginuid, e.vtid, e.vpid, 0, e.vmsize_kb, e.vmrss_kb,
        e.vmswap_kb, e.pfmajor, e.pfminor, e.exe_writable)


def _fd_from_entry(e: FdEntry, ifaces: Interfaces) -> FdInfo | None:
    """One FDL entry as an FdInfo (sinsp add_fd_from_scap). FdInfo's leading fields are passed by
    position: fd, type, name, open_flags, dev, ino. sysdig shows the names of a capture's fds without
    the bytes that are not printable ASCII (a unix socket's name read from /proc/net/unix with its
    line's newline, a file named in UTF-8): measured, tests/state/test_state_corners.py."""
    t = e.type
    name = e.name
    if not (name.isascii() and name.isprintable()):
        name = sanitize(name)
    if t == _FILE_V2:  # the most frequent
        return FdInfo(e.fd, _FILE_V2, name, e.open_flags, e.dev, e.ino)
    if t == _IPV6_SOCK and is_ipv4_mapped(e.sip) and is_ipv4_mapped(e.dip):
        info = FdInfo(e.fd, _IPV4_SOCK, sip=e.sip[12:], sport=e.sport, dip=e.dip[12:],
                      dport=e.dport, l4proto=e.l4proto, ino=e.ino)
    elif t == _IPV4_SOCK or t == _IPV6_SOCK:
        info = FdInfo(e.fd, FdType(t), sip=e.sip, sport=e.sport, dip=e.dip, dport=e.dport,
                      l4proto=e.l4proto, ino=e.ino)
    elif t == _IPV4_SERVSOCK or t == _IPV6_SERVSOCK:
        info = FdInfo(e.fd, FdType(t), sip=e.sip, sport=e.sport, l4proto=e.l4proto, ino=e.ino)
        info.name = f"{ip_str(e.sip)}:{port_str(e.sport, l4_name(e.l4proto))}"
        return info
    elif t == _UNIX_SOCK:
        info = FdInfo(e.fd, _UNIX_SOCK, name, 0, 0, e.ino)
        info.unix_source, info.unix_dest = e.source, e.dest
        info.role = _ROLE_CLIENT if not name else _ROLE_SERVER
        return info
    elif 0 < t < _FILE_V2:
        return FdInfo(e.fd, _FD_TYPES.get(t) or FdType(t), name, 0, 0, e.ino)
    else:
        return None
    info.connected = info.l4proto == 2
    ifaces.update_fd(info)
    info.name = tuple_name(info.sip, info.sport, info.dip, info.dport, l4_name(info.l4proto))
    return info


# _NATIVE: the compiled PL/FDL loader (sysdig_user/_sections.c, configured by scap/entries.py): _thread_from_entry
# and _fd_from_entry, calling them back for the entries it leaves to them. None when not built.
if _NATIVE is not None:
    _NATIVE.configure_state(FdInfo(0, _FILE_V2), FdInfo._fields, _FD_TYPES, _ROLE_CLIENT, _ROLE_SERVER)
    _NATIVE.configure_threads(ThreadInfo(0, 0), ThreadInfo.__slots__, (FdTable, fdorder.OrderLog), CL_ACTIVE)
    _NATIVE.configure_fdload(fdorder.ERASE, fdorder.FOLD_AT)

