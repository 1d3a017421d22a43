"""The event table: the one place where an event's shape is stated.

Rows come from ``_event_table_data.py`` (read through sysdig_user/table_data.py's cache), generated
from the dump of Debian sysdig 0.29.3's libscap (libs commit e5c53d64). Rules every row follows
(tests/test_event_table.py checks each):

* ``EVENTS[code].code == code`` for every code below ``PPM_EVENT_MAX`` (336); even codes are enter
  events, odd codes exit events (``PPME_IS_ENTER(x) = !(x & 1)``), because readers pair them that way.
* An enter/exit pair shares its name; the names ``NA*`` are used only by rows flagged UNUSED.
* Each event has exactly one category.
* Params of type FSRELPATH name the param that holds their dirfd (``Param.dirfd``); DYN params list
  the types they can take (``Param.dyn``), indexed by the first byte of the value.

sdu's own extension events (codes >= ``SDU_EXTENSION_BASE``) live in ``EXTENSIONS``: Debian sysdig skips
any type >= 336, so a capture carrying them still reads there.
"""
from __future__ import annotations

from sysdig_user.consts import FlagConst, IntConst
from sysdig_user.rows import TupleRow
from sysdig_user.table_data import ROWS as _ROWS

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    from typing_extensions import Self

_make = tuple.__new__

PPM_EVENT_MAX = 336
PPM_SC_MAX = 329
SDU_EXTENSION_BASE = 4096


class PT(IntConst):
    """Param types (``enum ppm_param_type``); values are those stored in the driver's tables."""

    NONE = 0
    INT8 = 1
    INT16 = 2
    INT32 = 3
    INT64 = 4
    UINT8 = 5
    UINT16 = 6
    UINT32 = 7
    UINT64 = 8
    CHARBUF = 9
    BYTEBUF = 10
    ERRNO = 11
    SOCKADDR = 12
    SOCKTUPLE = 13
    FD = 14
    PID = 15
    FDLIST = 16
    FSPATH = 17
    SYSCALLID = 18
    SIGTYPE = 19
    RELTIME = 20
    ABSTIME = 21
    PORT = 22
    L4PROTO = 23
    SOCKFAMILY = 24
    BOOL = 25
    IPV4ADDR = 26
    DYN = 27
    FLAGS8 = 28
    FLAGS16 = 29
    FLAGS32 = 30
    UID = 31
    GID = 32
    DOUBLE = 33
    SIGSET = 34
    CHARBUFARRAY = 35
    CHARBUF_PAIR_ARRAY = 36
    IPV4NET = 37
    IPV6ADDR = 38
    IPV6NET = 39
    IPADDR = 40
    IPNET = 41
    MODE = 42
    FSRELPATH = 43


class PF(IntConst):
    """Print formats (``enum ppm_print_format``)."""

    NA = 0
    DEC = 1
    HEX = 2
    PADDED_DEC = 3
    ID = 4
    DIR = 5
    OCT = 6


class EC(IntConst):
    """Event categories (``enum ppm_event_category``)."""

    UNKNOWN = 0
    OTHER = 1
    FILE = 2
    NET = 3
    IPC = 4
    MEMORY = 5
    PROCESS = 6
    SLEEP = 7
    SYSTEM = 8
    SIGNAL = 9
    USER = 10
    TIME = 11
    PROCESSING = 12
    IO_READ = 32
    IO_WRITE = 33
    IO_OTHER = 34
    WAIT = 64
    SCHEDULER = 128
    INTERNAL = 256


class EF(FlagConst):
    """Event flags (``enum ppm_event_flags``)."""

    NONE = 0
    CREATES_FD = 1 << 0
    DESTROYS_FD = 1 << 1
    USES_FD = 1 << 2
    READS_FROM_FD = 1 << 3
    WRITES_TO_FD = 1 << 4
    MODIFIES_STATE = 1 << 5
    UNUSED = 1 << 6
    WAITS = 1 << 7
    SKIPPARSERESET = 1 << 8
    OLD_VERSION = 1 << 9
    DROP_SIMPLE_CONS = 1 << 10
    LARGE_PAYLOAD = 1 << 11


# The row classes are TupleRows (sysdig_user/rows.py): the table builds about 1,200 of them at every
# start, each in one C call, and they are shared, immutable, by every reader.


class Param(TupleRow):
    __slots__ = ()
    _fields = ("name", "type", "fmt", "table", "dirfd", "dyn")  # in the order __new__ takes them

    if TYPE_CHECKING:
        name: str
        type: PT
        fmt: PF
        table: str | None  # flag table name in sysdig_user.flags
        dirfd: int | None  # FSRELPATH: index of the param holding the dirfd
        dyn: tuple[PT, ...]  # DYN: the types selected by the value's first byte

    def __new__(cls, name: str, type: PT, fmt: PF, table: str | None = None,
                dirfd: int | None = None, dyn: tuple[PT, ...] = ()) -> Self:
        return _make(cls, (name, type, fmt, table, dirfd, dyn))


class EventInfo(TupleRow):
    __slots__ = ()
    _fields = ("code", "symbol", "name", "category", "flags", "params")  # in the order __new__ takes them

    if TYPE_CHECKING:
        code: int
        symbol: str
        name: str
        category: EC
        flags: EF
        params: tuple[Param, ...]

    def __new__(cls, code: int, symbol: str, name: str, category: EC, flags: EF,
                params: tuple[Param, ...]) -> Self:
        return _make(cls, (code, symbol, name, category, flags, params))

    @property
    def is_enter(self) -> bool:
        return not self.code & 1

    @property
    def dir(self) -> str:
        return ">" if not self.code & 1 else "<"

    def param_index(self, name: str) -> int:
        """Index of the param called ``name``, or -1."""
        for i, p in enumerate(self.params):
            if p.name == name:
                return i
        return -1


class SyscallRoute(TupleRow):
    """How the 2022 driver reports native syscall ``nr`` on x86_64."""

    __slots__ = ()
    _fields = ("nr", "name", "ppm_sc", "uf_flags", "enter", "exit")  # in the order __new__ takes them

    if TYPE_CHECKING:
        nr: int
        name: str  # ppm_sc name
        ppm_sc: int
        uf_flags: int  # UF_USED=1, NEVER_DROP=2, ALWAYS_DROP=4, SIMPLEDRIVER_KEEP=8
        enter: int
        exit: int

    def __new__(cls, nr: int, name: str, ppm_sc: int, uf_flags: int, enter: int, exit: int) -> Self:
        return _make(cls, (nr, name, ppm_sc, uf_flags, enter, exit))

    @property
    def is_generic(self) -> bool:
        return not (self.uf_flags & 1) or self.enter == 0


class ScInfo(TupleRow):
    __slots__ = ()
    _fields = ("name", "category")  # in the order __new__ takes them

    if TYPE_CHECKING:
        name: str
        category: EC

    def __new__(cls, name: str, category: EC) -> Self:
        return _make(cls, (name, category))


def _build_events() -> tuple[tuple[EventInfo, ...], frozenset[int], tuple[int, ...], dict[tuple[str, bool], int]]:
    """The rows, the codes flagged LARGE_PAYLOAD (worked out here, where the flags are plain ints: each
    reader testing ``int(info.flags)`` of every row again costs a start ~0.5M instructions), each row's
    param count (the reader's and the Inspector's, each walking the rows again: ~0.3M) and the current
    code of each name and direction (event_code's: the newest row neither OLD_VERSION nor UNUSED, as the
    2022 driver emits; a walk of its own cost ~0.6M)."""
    # Rows repeat the same params and flag sets many times over: each distinct one is built once and
    # shared (the rows are immutable).
    pt, pf, ec = PT.__members__, PF.__members__, EC.__members__
    params: dict[tuple[object, ...], Param] = {}
    flag_sets: dict[tuple[str, ...], EF] = {}
    large_sets: set[EF] = set()
    old_sets: set[EF] = set()
    old = int(EF.OLD_VERSION | EF.UNUSED)
    large: list[int] = []
    counts: list[int] = []
    current: dict[tuple[str, bool], int] = {}
    events = []
    for code, symbol, name, cat, flags, rows in _ROWS["EVENT_ROWS"]:
        ef = flag_sets.get(flags)
        if ef is None:
            bits = 0
            for f in flags:
                bits |= int(EF[f])
            ef = flag_sets[flags] = EF(bits)
            if bits & EF.LARGE_PAYLOAD:
                large_sets.add(ef)
            if bits & old:
                old_sets.add(ef)
        if ef in large_sets:
            large.append(code)
        if ef not in old_sets:
            current[(name, not code & 1)] = code  # (later rows are newer versions)
        built = []
        for row in rows:
            param = params.get(row)
            if param is None:
                pname, ptype, fmt, table, dirfd, dyn = row
                param = params[row] = _make(Param, (pname, pt[ptype], pf[fmt], table, dirfd,
                                                    tuple([pt[t] for t in dyn]) if dyn else ()))
            built.append(param)
        events.append(_make(EventInfo, (code, symbol, name, ec[cat], ef, tuple(built))))
        counts.append(len(built))
    return tuple(events), frozenset(large), tuple(counts), current


EVENTS: tuple[EventInfo, ...]
#: the codes of EVENTS whose flags hold LARGE_PAYLOAD (32-bit param lengths)
LARGE_PAYLOAD_CODES: frozenset[int]
#: per code of EVENTS, its number of params
PARAM_COUNTS: tuple[int, ...]
EVENTS, LARGE_PAYLOAD_CODES, PARAM_COUNTS, _CURRENT = _build_events()

if TYPE_CHECKING:
    SYSCALLS: dict[int, SyscallRoute]  # by native syscall number; built on first use (__getattr__)
    PPM_SC: tuple[ScInfo, ...]  # by ppm_sc id; built on first use (__getattr__)

#: the ppm_sc names by id: PPM_SC's names, without its rows (what the printed lines need of it)
SC_NAMES: tuple[str, ...] = tuple([name for _id, name, _cat in _ROWS["PPM_SC_ROWS"]])


def __getattr__(name: str) -> object:
    """``SYSCALLS`` and ``PPM_SC``, built the first time they are read: only the tracer routes syscalls,
    and reading a capture never does (its 294 rows cost a start ~0.6M instructions, callgrind); a read
    needs only the names of PPM_SC's 329 rows (SC_NAMES; the rows cost ~0.6M)."""
    if name == "SYSCALLS":
        routes = {row[0]: _make(SyscallRoute, row) for row in _ROWS["SYSCALL_ROWS"]}
        globals()["SYSCALLS"] = routes
        return routes
    if name == "PPM_SC":
        ec = EC.__members__
        rows = tuple([_make(ScInfo, (sc_name, ec[cat])) for _id, sc_name, cat in _ROWS["PPM_SC_ROWS"]])
        globals()["PPM_SC"] = rows
        return rows
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# sdu's own event types. Debian sysdig 0.29.3 skips types >= 336, so captures holding them still read.
EXTENSIONS: dict[int, EventInfo] = {
    SDU_EXTENSION_BASE: EventInfo(
        SDU_EXTENSION_BASE, "SDU_PACKET_E", "packet", EC.NET, EF.NONE,
        # dir "in"/"out"; len: bytes on the wire; tuple: sender first; proto: IP protocol number
        # (6 tcp, 17 udp, ...; 0 no IP header); data: the transport payload, cut at the snaplen
        (Param("dir", PT.CHARBUF, PF.NA), Param("ifindex", PT.UINT32, PF.DEC),
         Param("iface", PT.CHARBUF, PF.NA), Param("len", PT.UINT32, PF.DEC),
         Param("tuple", PT.SOCKTUPLE, PF.NA), Param("proto", PT.UINT8, PF.DEC),
         Param("data", PT.BYTEBUF, PF.NA))),
}


def event_info(code: int) -> EventInfo | None:
    """The row for ``code``: a table row, an sdu extension, or None for an unknown type."""
    if code < PPM_EVENT_MAX:
        return EVENTS[code]
    return EXTENSIONS.get(code)


for _info in EXTENSIONS.values():  # (sdu's own types: their names current too)
    _CURRENT[(_info.name, _info.is_enter)] = _info.code


def event_code(name: str, enter: bool) -> int:
    """Code of the current version of event ``name`` in the given direction (KeyError if none).

    Names shared by two syscalls resolve to the later row (``accept`` -> the accept4 pair, 248/249):
    the tracer routes syscalls through ``SYSCALLS`` instead, which is exact.
    """
    return _CURRENT[(name, enter)]


def names_to_codes() -> dict[str, frozenset[int]]:
    """Every code (all versions, both directions) for each event name; generic events by ppm_sc name
    are not included (they share codes 0/1)."""
    out: dict[str, set[int]] = {}
    for info in EVENTS:
        out.setdefault(info.name, set()).add(info.code)
    return {k: frozenset(v) for k, v in out.items()}
