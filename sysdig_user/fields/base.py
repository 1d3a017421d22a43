"""Shared shapes of the field registry: the row type, the errors, the state view, value text and literals.

A field is one ``FieldDef`` row: sysdig's name, type (``PT``), flags, print format (``PF``), description,
and a ``make`` factory. ``make(arg)`` returns the extractor closure for one use of the field (``arg`` is
the part after the name: ``"name"`` for ``evt.arg.name``, ``"1"`` for ``proc.apid[1]``, None when
absent). Factories exist because several sysdig fields keep per-use state (evt.deltatime compares with
the previous event *that use* extracted) or take arguments; every closure is built once, at bind time,
so extraction does no lookup by name.

Extractors return a python value, or None when sysdig's extractor returns NULL (printed ``<NA>``):

* integers for every numeric type; ``bool`` for PT_BOOL; ``str`` for CHARBUF;
* ``bytes`` for BYTEBUF and for IP addresses (4 or 16 bytes, network order);
* ``float`` for DOUBLE.

``value_text`` turns such a value into the text sysdig's ``rawval_to_string`` prints (libsinsp
filterchecks.cpp at libs e5c53d64): the print format only matters for integers, and a few
(type, format) pairs print nothing (``<NA>``) or abort sysdig with "wrong event type N".
"""
from __future__ import annotations

from _collections_abc import Callable, Sequence  # (collections.abc without collections)

from sysdig_user import errors
from sysdig_user.consts import FlagConst, IntConst
from sysdig_user.event_table import PF, PT
from sysdig_user.lazy_re import Regex
from sysdig_user.rows import TupleRow
from sysdig_user.state.fds import ipv4_text, ipv6_text

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)

if TYPE_CHECKING:
    from typing import Any, Protocol

    from typing_extensions import Self

    from sysdig_user.event import Event
    from sysdig_user.scap.records import Group, User
    from sysdig_user.state.threads import ThreadInfo, ThreadTable

_make = tuple.__new__

NA = "<NA>"

Extractor = Callable[["Event"], "Any"]


class Custom:
    """What a factory returns when the field needs more than an extractor.

    ``many``: the values of a multi-valued field (see registry.BoundField); ``ftype``: the type this use
    takes (evt.rawarg.X has the type of param X); ``parse``: literal parser replacing the type's;
    ``text``: printer replacing the type's (evt.buffer prints its bytes the way sysdig renders data).
    """

    __slots__ = ("extract", "ftype", "many", "parse", "text")

    def __init__(self, extract: Extractor, many: Callable[[Event], Sequence[Any]] | None = None,
                 ftype: PT | None = None, parse: Callable[[str], Any] | None = None,
                 text: Callable[[Any], str] | None = None) -> None:
        self.extract = extract
        self.many = many
        self.ftype = ftype
        self.parse = parse
        self.text = text


Factory = Callable[[str | None], "Extractor | Custom"]


class FieldFlag(FlagConst):
    """sysdig's EPF_* flags, plus ARG_OPTIONAL (fields like proc.apid that take ``[N]`` or nothing)."""

    NONE = 0
    FILTER_ONLY = 1 << 0  # EPF_FILTER_ONLY: listed with "(FILTER ONLY)", refused in -p formats
    PRINT_ONLY = 1 << 1  # EPF_PRINT_ONLY: not listed by -l (evt.outputtime)
    REQUIRES_ARGUMENT = 1 << 2  # EPF_REQUIRES_ARGUMENT
    TABLE_ONLY = 1 << 3  # EPF_TABLE_ONLY: hidden from -l but usable
    ARG_OPTIONAL = 1 << 4  # sdu: an argument may follow the name ([N], .src ...)

    @property
    def hidden(self) -> bool:
        return bool(self & (FieldFlag.PRINT_ONLY | FieldFlag.TABLE_ONLY))


class ArgSyntax(IntConst):
    """How sysdig reads the argument glued to a field name (each field class's parse_field_name)."""

    NONE = 0
    INDEX = 1  # name[N]                         (proc.apid, proc.aname, evt.around)
    PARAM = 2  # name[N] or name.PARAM           (evt.arg; PARAM = longest event param name)
    PARAM_NAME = 3  # name.PARAM only            (evt.rawarg)
    WORD = 4  # name.WORD, WORD = [A-Za-z_]+     (thread.cgroup)
    EVTTYPE = 5  # name.EVENT or name.NUMBER     (evt.type.is)
    SUFFIX = 6  # name, name.src or name.dst     (evt.abspath)
    BRACKET = 7  # name[TEXT]                    (container.mount*)
    LABEL = 8  # name.KEY, KEY = [A-Za-z0-9/_.-]*  (k8s.pod.label, mesos.task.label)
    TRACER = 9  # name[N] or name.REST (to the end of the text)  (span.arg, span.tag: [N] only)
    EVTIN = 10  # name[N] or name.PARAM           (evtin.span.arg, evtin.span.tag)
    TRACER_INDEX = 11  # name[N] only              (span.tag, span.idtag)
    AROUND = 12  # name[N] only, ".": its own error  (evt.around)


# FieldDef and FieldClass are TupleRows (sysdig_user/rows.py), not frozen dataclasses: every start builds
# a few hundred of them, each in one C call (as FrozenRows, a Python __init__ setting each slot: ~2.5x the
# instructions, callgrind).


class FieldDef(TupleRow):
    """One field, declared once: what ``sdu -l`` lists and how ``resolve_field`` binds it."""

    __slots__ = ()
    _fields = ("name", "ftype", "fmt", "description", "make", "flags", "arg")  # in the order __new__ takes them

    if TYPE_CHECKING:
        name: str
        ftype: PT
        fmt: PF
        description: str
        make: Factory
        flags: FieldFlag
        arg: ArgSyntax

    def __new__(cls, name: str, ftype: PT, fmt: PF, description: str, make: Factory,
                flags: FieldFlag = FieldFlag.NONE, arg: ArgSyntax = ArgSyntax.NONE) -> Self:
        return _make(cls, (name, ftype, fmt, description, make, flags, arg))


class FieldClass(TupleRow):
    """A block of ``sdu -l``: sysdig groups fields in classes with a title and a description."""

    __slots__ = ()
    _fields = ("name", "description", "fields")  # in the order __new__ takes them

    if TYPE_CHECKING:
        name: str  # "evt (All event types)", "process", "fd", ...
        description: str
        fields: tuple[FieldDef, ...]

    def __new__(cls, name: str, description: str, fields: tuple[FieldDef, ...]) -> Self:
        return _make(cls, (name, description, fields))


def plain(fn: Extractor) -> Factory:
    """Factory for a stateless field that takes no argument."""
    def make(arg: str | None) -> Extractor:
        return fn
    return make


# ------------------------------------------------------------------------------------------------ errors

class FieldError(errors.FieldError):
    """A field name, argument or literal sysdig would refuse; ``name`` is the field text."""

    def __init__(self, message: str, name: str = "") -> None:
        super().__init__(message)
        self.name = name


class UnknownFieldError(FieldError):
    """No field class knows ``name`` (sysdig: "unrecognized field NAME")."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unrecognized field {name}", name)


class FieldValueError(FieldError):
    """A value sysdig cannot print for this field type: sysdig stops with this same message."""


# ------------------------------------------------------------------------------------------------ state

if TYPE_CHECKING:  # (mypy's protocols: as classes at run time they cost a start ~0.15M instructions each and
    # nothing reads them there)
    class UserLookup(Protocol):
        def user(self, uid: int) -> User | None: ...
        def group(self, gid: int) -> Group | None: ...


    class LocalAddresses(Protocol):
        def is_local_ipv4(self, addr: bytes) -> bool: ...
        def is_local_ipv6(self, addr: bytes) -> bool: ...


    class StateView(Protocol):
        """What fields read from the state engine besides the event's own thread/fd slots: the
        Inspector's ``State`` (sysdig_user.state.inspector) satisfies it. Read-only by contract.

        Optional attributes, read with defaults: ``first_ts`` (sinsp m_firstevent_ts, origin of
        evt.reltime; default: the event's own ts), ``output_time_flag`` (-t: h a r d D; default h) and
        ``resolve_ports`` (port names in fd.*proto; default True, sysdig without -N).
        """

        threads: ThreadTable
        users: UserLookup
        interfaces: LocalAddresses


def view_of(evt: Event) -> StateView | None:
    """The state view the Inspector attached to ``evt`` (None for a bare event, e.g. in unit tests).

    ``Event`` reserves the ``_state`` slot for exactly this; it is the one place fields read it.
    """
    return evt._state  # type: ignore[no-any-return]


def lookup_thread(evt: Event, tid: int) -> ThreadInfo | None:
    view = evt._state
    if view is None:
        return None
    return view.threads.get(tid)  # type: ignore[no-any-return]


def main_thread(evt: Event, tinfo: ThreadInfo) -> ThreadInfo | None:
    """sinsp get_main_thread(): the thread itself when tid == pid, else the table's pid entry."""
    if tinfo.tid == tinfo.pid:
        return tinfo
    return lookup_thread(evt, tinfo.pid)


# ------------------------------------------------------------------------------------------------ text

_INT_TYPES = frozenset({PT.INT8, PT.INT16, PT.INT32, PT.INT64, PT.PID, PT.ERRNO})
_UINT_TYPES = frozenset({PT.UINT8, PT.UINT16, PT.UINT32, PT.UINT64, PT.RELTIME, PT.ABSTIME, PT.PORT,
                         PT.L4PROTO})
_WIDTH = {PT.INT8: 8, PT.INT16: 16, PT.INT32: 32, PT.INT64: 64, PT.PID: 64, PT.ERRNO: 64, PT.UINT8: 8,
          PT.L4PROTO: 8, PT.UINT16: 16, PT.PORT: 16, PT.UINT32: 32, PT.UINT64: 64, PT.RELTIME: 64,
          PT.ABSTIME: 64}

TextFn = Callable[["Any"], "str | None"]


def _bytes_text(v: Any) -> str:
    """BYTEBUF printed as a C string: up to the first NUL."""
    if isinstance(v, str):
        return v
    raw = bytes(v)
    end = raw.find(b"\0")
    if end >= 0:
        raw = raw[:end]
    return raw.decode("utf-8", "surrogateescape")


def ip_text(v: bytes) -> str:
    if len(v) == 4:
        return ipv4_text(v)
    if len(v) == 16:
        return ipv6_text(v)
    raise FieldValueError(f"rawval_to_string called with IP address of incorrect size {len(v)}")


def _int_text_fn(pt: PT, fmt: PF) -> TextFn | None:
    """The printf sysdig picks for an integer type and format; None where it returns NULL."""
    bits = _WIDTH[pt]
    mask = (1 << bits) - 1
    signed = pt in _INT_TYPES
    if fmt is PF.OCT:
        return lambda v: f"{v & mask:o}"
    if fmt in (PF.DEC, PF.ID):
        return str
    if fmt is PF.PADDED_DEC and bits == 64:
        return lambda v: f"{v:09d}"
    if fmt is PF.HEX:
        if signed or bits == 64:
            return lambda v: f"{v & mask:X}"
        return str  # PRIu for unsigned 8/16/32 "hex": sysdig prints decimal
    if pt in (PT.INT64, PT.PID, PT.ERRNO):
        return str  # the INT64 branch has a decimal default
    return None


def text_fn(pt: PT, fmt: PF) -> Callable[[Any], str]:
    """The function printing a value of (pt, fmt) as sysdig does; may return NA or raise FieldValueError."""
    if pt in _WIDTH:
        fn = _int_text_fn(pt, fmt)
        if fn is None:
            return lambda v: NA
        return fn  # type: ignore[return-value]
    if pt in (PT.CHARBUF, PT.FSPATH, PT.FSRELPATH):
        return str
    if pt is PT.BYTEBUF:
        return _bytes_text
    if pt is PT.BOOL:
        return lambda v: "true" if v else "false"
    if pt is PT.IPV4ADDR:
        return ipv4_text
    if pt is PT.IPV6ADDR:
        return lambda v: ipv6_text(v) if len(v) == 16 else NA
    if pt is PT.IPADDR:
        return ip_text
    if pt is PT.DOUBLE:
        return lambda v: f"{v:.1f}"
    if pt in (PT.SOCKADDR, PT.SOCKFAMILY):
        return lambda v: NA

    def refuse(v: Any) -> str:
        raise FieldValueError(f"wrong event type {int(pt)}")
    return refuse


# ------------------------------------------------------------------------------------------------ literals

_SIGNED_RE = Regex(r"\s*([+-]?\d+)")
_NUMBER_RE = Regex(r"\s*([+-]?\d+)\Z")


def parse_number(text: str) -> int:
    """sinsp_numparser (sscanf "%d%c" must read exactly the number): blanks and a sign may lead,
    nothing may follow ("1.5", "1x", "1 " and "" are not valid numbers)."""
    m = _NUMBER_RE.match(text)
    if m is None:
        raise FieldError(f"{text} is not a valid number")
    return int(m.group(1))


_parse_int = parse_number


class NetLiteral:
    """A ``a.b.c.d/n`` literal for the fd.*net fields: equal to any address inside the network."""

    __slots__ = ("address", "net")

    def __init__(self, text: str) -> None:
        import ipaddress  # (here: only a filter on a network imports it)

        self.address = ipaddress.ip_address
        try:
            self.net = ipaddress.ip_network(text, strict=False)
        except ValueError as exc:
            raise FieldError(f"unrecognized IP network {text}") from exc

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (bytes, bytearray)) and len(other) in (4, 16):
            return self.address(bytes(other)) in self.net
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        res = self.__eq__(other)
        return res if res is NotImplemented else not res

    def __hash__(self) -> int:
        return hash(self.net)

    def __repr__(self) -> str:
        return f"NetLiteral({str(self.net)!r})"


def _parse_ip(text: str, families: Sequence[str]) -> bytes:
    """``text`` as the address of the first of these families (_socket's names) that reads it."""
    import _socket  # (on first use)

    for fam in families:
        try:
            return _socket.inet_pton(getattr(_socket, fam), text)
        except OSError:
            continue
    raise FieldError(f"unrecognized IP address {text}")


def _parse_bool(text: str) -> bool:
    if text == "true":
        return True
    if text == "false":
        return False
    raise FieldError(f"filter error: unrecognized boolean value {text}")


def _parse_port(text: str) -> int:
    m = _SIGNED_RE.match(text)
    if m is not None:
        return int(m.group(1)) & 0xFFFF
    import _socket  # (on first use)

    try:
        return _socket.getservbyname(text)
    except OSError as exc:
        raise FieldError(f"unrecognized protocol {text}") from exc


def literal_fn(pt: PT) -> Callable[[str], Any]:
    """Filter literal text -> a value comparable with what a field of type ``pt`` extracts."""
    if pt in _WIDTH or pt in (PT.FD, PT.UID, PT.GID, PT.SYSCALLID, PT.SIGTYPE, PT.MODE, PT.FLAGS8,
                              PT.FLAGS16, PT.FLAGS32, PT.SIGSET):
        return _parse_port if pt is PT.PORT else _parse_int
    if pt is PT.BOOL:
        return _parse_bool
    if pt is PT.DOUBLE:
        return float
    if pt is PT.BYTEBUF:
        return lambda t: t.encode("utf-8", "surrogateescape")
    if pt is PT.IPV4ADDR:
        return lambda t: _parse_ip(t, ("AF_INET",))
    if pt is PT.IPV6ADDR:
        return lambda t: _parse_ip(t, ("AF_INET6",))
    if pt is PT.IPADDR:
        return lambda t: _parse_ip(t, ("AF_INET", "AF_INET6"))
    if pt in (PT.IPNET, PT.IPV4NET, PT.IPV6NET):
        return NetLiteral
    return str
