"""The event every source produces: the scap on-disk event, decoded lazily.

``raw`` is the ``ppm_evt_hdr`` (ts u64, tid i64, len u32, type u16, nparams u32 = 26 bytes), the param
length array (u16 each; u32 for EF_LARGE_PAYLOAD types) and the param bytes. The reader hands its bytes
over unchanged and the writer copies them back, so a capture round-trips byte for byte; a param is
decoded only when a filter, a format or a state parser asks for it.
"""
from __future__ import annotations

import struct
from _collections_abc import Callable, Sequence  # (collections.abc without collections)
from itertools import accumulate, pairwise

from sysdig_user import params as _params
from sysdig_user.event_table import EF, EVENTS, PPM_EVENT_MAX, PT, EventInfo, Param, event_info

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)

if TYPE_CHECKING:
    from functools import partial
    from typing import Any

    from sysdig_user.state.fds import FdInfo
    from sysdig_user.state.threads import ThreadInfo
else:
    from _functools import partial  # (functools.py itself costs a start ~3.5M instructions, callgrind)

HEADER = struct.Struct("<QqIHI")
HEADER_SIZE = HEADER.size  # 26
_LEN_STRUCTS: dict[tuple[int, bool], struct.Struct] = {}


def _len_struct(n: int, large: bool) -> struct.Struct:
    key = (n, large)
    st = _LEN_STRUCTS.get(key)
    if st is None:
        st = _LEN_STRUCTS[key] = struct.Struct(("<%dI" if large else "<%dH") % n)
    return st


_EF_LARGE_PAYLOAD = int(EF.LARGE_PAYLOAD)


def _is_large(code: int) -> bool:
    info = event_info(code)
    return info is not None and bool(int(info.flags) & _EF_LARGE_PAYLOAD)


_LARGE_CODES = frozenset(c for c in range(PPM_EVENT_MAX) if _is_large(c))


_EVENTS = EVENTS
_unpack_header = HEADER.unpack_from
Decoder = Callable[[bytes], "Any"]
#: per event code, the decoder of each param in the table (params.decode_param, bound to its Param)
_DECODERS: dict[int, tuple[Decoder, ...]] = {}
Bounds = tuple[tuple[int, int], ...]
#: An event's layout: its params' bounds, the struct that unpacks every param the table has from the
#: first param's start (fixed-size numbers as numbers, anything else as its bytes) and, per param
#: unpacked as bytes, the decoder that turns them into its value (see _whole_struct).
Layout = tuple[Bounds, "struct.Struct | None", tuple[tuple[int, Decoder], ...]]
#: layouts by the bytes an event's layout depends on: its type, param count and length array (raw[20:]
#: up to the params). Events of a type mostly repeat a few length arrays; all entries are dropped when
#: they reach _LAYOUTS_MAX.
_LAYOUTS: dict[bytes, Layout] = {}
_LAYOUTS_MAX = 16384
#: events longer than this decode the param asked for alone (param), not all of them (param_values):
#: a filter reading a large I/O event's return value does not copy its data
_DECODE_ALL_MAX = 4096
_PARAM_INDEX: dict[tuple[int, str], int] = {}  # (event code, param name) -> index, -1 if absent


def _decoder(param: Param) -> Decoder:
    pt = param.type
    if pt is PT.DYN:
        return partial(_params.decode_param, param)
    fmt = _params.fixed_format(pt)
    if fmt is None:
        return _params.decoder(pt)
    st = struct.Struct(fmt)
    size = st.size
    unpack = st.unpack_from
    decode = partial(_params.decode, pt)

    def fixed(raw: bytes) -> Any:
        return unpack(raw)[0] if len(raw) >= size else decode(raw)  # short: as params.decode pads
    return fixed


def _decoders(code: int, info: EventInfo | None) -> tuple[Decoder, ...]:
    if info is None:
        return ()
    decoders = _DECODERS[code] = tuple(_decoder(p) for p in info.params)
    return decoders


def _whole_struct(code: int, info: EventInfo | None, lens: tuple[int, ...]
                  ) -> tuple[struct.Struct | None, tuple[tuple[int, Decoder], ...]]:
    """One struct for the params an event has in the table (zip of the table's params and ``lens``),
    from the first param's start: a fixed-size number at least as long as its type unpacks as what
    its decoder gives (the first bytes of a longer param); any other param as its bytes, with its
    decoder in the second result (but for BYTEBUF, whose value is its bytes). None when there is no
    param to decode."""
    if info is None or not lens:
        return None, ()
    decoders = _DECODERS.get(code) or _decoders(code, info)
    fmt = "<"
    post = []
    for i, (p, n) in enumerate(zip(info.params, lens)):
        f = _params.fixed_format(p.type)
        size = struct.calcsize(f) if f is not None else -1
        if f is not None and n >= size:
            fmt += f[1:] + "x" * (n - size)
        else:
            fmt += f"{n}s"
            if decoders[i] is not bytes:
                post.append((i, decoders[i]))
    return (struct.Struct(fmt) if fmt != "<" else None), tuple(post)


def _new_layout(raw: bytes, code: int, n: int, large: bool, info: EventInfo | None, key: bytes) -> Layout:
    """The layout of an event with ``n`` params in its header, as libsinsp's load_params reads it: the
    lengths of the first min(n, params in the table) params, the values after all ``n`` lengths. In a
    damaged event (a count or lengths running past its end) whatever lies past the end reads as zeros,
    what sysdig reads there from its zeroed buffer: missing lengths are 0 and values past the end empty
    (each decoder pads what it gets)."""
    width = 4 if large else 2
    count = min(n, len(info.params)) if info is not None else min(n, max(0, len(raw) - HEADER_SIZE) // width)
    st = _len_struct(count, large)
    if HEADER_SIZE + st.size <= len(raw):
        lens = st.unpack_from(raw, HEADER_SIZE) if count else ()
    else:
        lens = st.unpack(raw[HEADER_SIZE:HEADER_SIZE + st.size].ljust(st.size, b"\0"))
    bounds = tuple(pairwise(accumulate(lens, initial=HEADER_SIZE + width * n)))
    layout = (bounds, *_whole_struct(code, info, lens))
    if len(_LAYOUTS) >= _LAYOUTS_MAX:
        _LAYOUTS.clear()
    _LAYOUTS[key] = layout
    return layout


class Event:
    """One event. Source-independent fields are set at construction; the Inspector sets ``num``,
    ``thread``, ``enter``, ``fdinfo`` and ``fdnum`` before filtering."""

    __slots__ = ("_bounds", "_state", "_vals", "cpu", "dump_flags", "enter", "fdinfo", "fdnum",
                 "filtered_out", "info", "nparams", "num", "parsed_fdinfo", "raw", "thread", "tid", "ts",
                 "type")

    def __init__(self, raw: bytes, cpu: int = 0, dump_flags: int = 0) -> None:
        self.raw = raw
        self.cpu = cpu
        self.dump_flags = dump_flags
        self.ts, self.tid, _len, code, self.nparams = _unpack_header(raw, 0)
        self.type = code
        self.info: EventInfo | None = _EVENTS[code] if code < PPM_EVENT_MAX else event_info(code)
        self.num = 0
        self._bounds: Bounds | None = None
        # decoded params: a dict of those asked one at a time (param), or, once param_values ran,
        # the list of all of them; a source may fill in a dict of the values it encoded
        self._vals: dict[int, Any] | Sequence[Any] | None = None
        self.thread: ThreadInfo | None = None
        self.enter: Event | None = None
        self.fdinfo: FdInfo | None = None
        self.fdnum = -1
        self._state: Any = None
        # libsinsp's m_fdinfo: set for enter events and paired exits only; ``fdinfo`` also resolves an
        # unpaired exit through the thread's last fd (what fd.* fields show), this does not (what
        # evt.category's I/O sub-category uses)
        self.parsed_fdinfo: FdInfo | None = None
        # the filter's verdict when an Inspector ran it before parsing (see Inspector.prefilter);
        # None when it did not (the caller filters after parsing)
        self.filtered_out: bool | None = None

    # ------------------------------------------------------------------------------------------ params
    def _layout(self) -> Layout:
        """The event's Layout (its bounds are also stored in ``_bounds``)."""
        code = self.type
        large = code in _LARGE_CODES
        # type, param count and length array; a truncated length array is shorter than any
        # complete one of the same count, so it is never found (_new_layout pads it)
        key = self.raw[20:HEADER_SIZE + (4 if large else 2) * self.nparams]
        layout = _LAYOUTS.get(key)
        if layout is None:
            layout = _new_layout(self.raw, code, self.nparams, large, self.info, key)
        self._bounds = layout[0]
        return layout

    def param_values(self) -> Sequence[Any]:
        """``[param(0), ..., param(param_count - 1)]``, each decoded once (and cached) like param(i).
        The sequence is the event's cache of its values: callers must not change it."""
        vals = self._vals
        if vals is not None and vals.__class__ is not dict:
            return vals  # type: ignore[return-value]
        code = self.type  # (_layout, inline: this runs for nearly every event)
        large = code in _LARGE_CODES
        key = self.raw[20:HEADER_SIZE + (4 if large else 2) * self.nparams]
        layout = _LAYOUTS.get(key)
        if layout is None:
            layout = _new_layout(self.raw, code, self.nparams, large, self.info, key)
        bounds, whole, post = layout
        self._bounds = bounds
        out: Sequence[Any]
        if whole is None:
            out = ()
        else:
            try:  # (each param's bytes when it is not a number; post decodes them)
                out = whole.unpack_from(self.raw, bounds[0][0])
            except struct.error:  # params cut short: each decoder sees what is left of its bytes
                out = self._sliced_values(bounds)
            else:
                if post:
                    out = list(out)
                    for i, dec in post:
                        out[i] = dec(out[i])
            if vals:  # a source's values (the same ones)
                out = list(out)
                for i, v in vals.items():  # type: ignore[union-attr]
                    if i < len(out):
                        out[i] = v
        self._vals = out  # complete: param(i) reads it from now on
        return out

    def _sliced_values(self, bounds: Bounds) -> list[Any]:
        raw = self.raw
        decoders = _DECODERS.get(self.type) or _decoders(self.type, self.info)
        return [dec(raw[start:end]) for dec, (start, end) in zip(decoders, bounds)]

    @property
    def param_count(self) -> int:
        """Params that sinsp would use: min(params in the event, params in the table)."""
        info = self.info
        return min(self.nparams, len(info.params)) if info is not None else 0

    def rawparam(self, i: int) -> bytes:
        bounds = self._bounds
        if bounds is None:
            bounds = self._layout()[0]
        start, end = bounds[i]
        return self.raw[start:end]

    def param(self, i: int) -> Any:
        """Decoded value of param ``i`` (None when the event has fewer params)."""
        vals = self._vals
        if vals is None:
            if len(self.raw) <= _DECODE_ALL_MAX:  # all of them at once, through one struct
                vals = self.param_values()
                return vals[i] if i < len(vals) else None
            vals = self._vals = {}
        elif vals.__class__ is not dict:  # every value, from param_values
            return vals[i] if i < len(vals) else None  # type: ignore[call-overload]
        elif i in vals:
            return vals[i]  # type: ignore[call-overload]
        decoders = _DECODERS.get(self.type)
        if decoders is None:
            decoders = _decoders(self.type, self.info)
        if i >= self.nparams or i >= len(decoders):
            v = None
        else:
            bounds = self._bounds
            if bounds is None:
                bounds = self._layout()[0]
            start, end = bounds[i]
            v = decoders[i](self.raw[start:end])
        vals[i] = v  # type: ignore[index]
        return v

    def param_by_name(self, name: str) -> Any:
        info = self.info
        if info is None:
            return None
        key = (self.type, name)
        idx = _PARAM_INDEX.get(key)
        if idx is None:
            idx = _PARAM_INDEX[key] = info.param_index(name)
        return None if idx < 0 else self.param(idx)

    # ------------------------------------------------------------------------------------------ shape
    @property
    def is_enter(self) -> bool:
        return not self.type & 1

    @property
    def name(self) -> str:
        return self.info.name if self.info is not None else "NA"

    @property
    def length(self) -> int:
        return len(self.raw)

    @classmethod
    def build(cls, code: int, ts: int, tid: int, cpu: int, values: list[Any] | tuple[Any, ...],
              dump_flags: int = 0) -> Event:
        """Encode ``values`` (python values, see sysdig_user.params) as event ``code``'s params."""
        info = event_info(code)
        if info is None:
            raise ValueError(f"unknown event type {code}")
        if len(values) != len(info.params):
            raise ValueError(f"{info.name}: {len(values)} values for {len(info.params)} params")
        blobs = [_params.encode_param(p, v) for p, v in zip(info.params, values)]
        return cls(encode_raw(code, ts, tid, blobs), cpu, dump_flags)


def encode_raw(code: int, ts: int, tid: int, blobs: list[bytes]) -> bytes:
    """The on-disk bytes of an event whose params are already encoded."""
    n = len(blobs)
    large = code in _LARGE_CODES
    lens = _len_struct(n, large).pack(*(len(b) for b in blobs)) if n else b""
    body = b"".join(blobs)
    total = HEADER_SIZE + len(lens) + len(body)
    return HEADER.pack(ts, tid, total, code, n) + lens + body
