"""Streaming scap reader: every block type and version sysdig 0.29.3 reads, plain or gzip.

`read_capture` yields, in file order, a `SectionHeader`, the section's metadata records
(`MachineInfo`, `InterfaceList`, `UserList`, `ProcList`, `FdList`) and then its events as
``(cpu, dump_flags, raw)`` tuples; a concatenated capture repeats that per section.

It follows libscap's reader (scap_savefile.c at e5c53d64, reference/scap-format.md section 2):
metadata blocks until the first event block, trailers checked on metadata blocks only, unknown
metadata blocks skipped, events with a type >= PPM_EVENT_MAX dropped, v1 events converted to the v2
layout. A damaged file yields everything before the damage and then raises `CaptureError`.

Speed matters (captures hold millions of events), so the event loop works on a large bytes buffer
with precompiled structs and creates nothing per event but the yielded tuple and its raw slice.
"""
from __future__ import annotations

import os
import struct
from _collections_abc import Callable, Iterator  # (collections.abc without collections)

from sysdig_user.event_table import PARAM_COUNTS
from sysdig_user.scap import blocks as B
from sysdig_user.scap.blocks import CaptureError
from sysdig_user.scap.metadata import (
    parse_fds,
    parse_interfaces,
    parse_machine_info,
    parse_procs,
    parse_users,
)
from sysdig_user.scap.records import CaptureItem, FdList, InterfaceList, ProcList, SectionHeader, UserList

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    from typing import BinaryIO

    Source = str | os.PathLike[str] | BinaryIO
EventRun = Callable[[bytes, int, int], int]  # read_capture's ``events``

#: Bytes asked of the (decompressed) stream at a time; large so the event loop rarely refills.
CHUNK = 1 << 20  # small enough for -P to report progress in steps, large enough to cost nothing
_GZIP_MAGIC = b"\x1f\x8b"

_HDR = struct.Struct("<II")
_EV2 = struct.Struct("<IIH16xIH")        # EV_V2 block: type, length, cpu, event len, event type
_EVF2 = struct.Struct("<HI16xIH")        # at block+8 for EVF_V2: cpu, flags, event len, event type
_EV1 = struct.Struct("<H16xIH")          # at block+8 for EV v1: cpu, event len, event type
_EVF1 = struct.Struct("<HI16xIH")        # at block+8 for EVF v1
_SHB_BODY = struct.Struct("<IHH")        # magic, major, minor
_U16S = struct.Struct("<H")
_V1_FIXED = struct.Struct("<16sIH")      # ts+tid, len, type of a v1 event header
_V2_HDR = struct.Struct("<16sIHI")
_NPARAMS = struct.Struct("<I")
_U32 = struct.Struct("<I")
_LEN_ARRAYS: dict[int, struct.Struct] = {}  # the u16 length array of n params, by n

# In captures that old, these two events carry a len 3 bytes too large (libscap fixes it up too).
_PPME_NOTIFICATION_E = 280
_PPME_INFRASTRUCTURE_EVENT_E = 286
_V1_EVENT_BLOCKS = frozenset({B.EV_V1, B.EV_V1_INT, B.EVF_V1})
_FLAGGED_BLOCKS = frozenset({B.EVF_V1, B.EVF_V2, B.EVF_V2_LARGE})
_LARGE_BLOCKS = frozenset({B.EV_V2_LARGE, B.EVF_V2_LARGE})


def read_capture(source: Source, extension_types: frozenset[int] = frozenset(),
                 events: EventRun | None = None) -> Iterator[CaptureItem]:
    """Open a capture (path or binary file object) and return an iterator over its items.

    ``extension_types`` lists event types >= 336 to pass through instead of dropping them (sdu's
    own extension events). A missing or unreadable path raises `CaptureError` right away; format
    errors are raised while iterating, after every item that precedes the damage. ``events(buf, pos,
    end) -> pos``, when given, takes the complete EV_V2 blocks it can from ``pos`` on before the
    reader looks at them (the compiled default line, sysdig_user/output/fastline.py): the events
    it took are not yielded.
    """
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        try:
            f: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by the generator below
        except OSError as exc:
            raise CaptureError(f"can't open file {path}: {exc.strerror or exc}") from None
        return _Reader(f, True, extension_types, events).items()
    return _Reader(source, False, extension_types, events).items()


#: The most asked of the file in one read: a block's declared length is read piecewise, so a damaged
#: length (up to 4 GiB) costs what the file holds, not an allocation of the declared size.
_READ_MAX = 4 * CHUNK


def _read_full(f: BinaryIO, n: int) -> bytes:
    """Read n bytes unless EOF comes first (file objects such as pipes may return short reads)."""
    try:
        data = f.read(min(n, _READ_MAX))
        if len(data) >= n or not data:
            return data
        parts = [data]
        got = len(data)
        while got < n:
            more = f.read(min(n - got, _READ_MAX))
            if not more:
                break
            parts.append(more)
            got += len(more)
        return b"".join(parts)
    except OSError as exc:
        raise CaptureError(f"error reading file: {exc.strerror or exc}") from None


class _Stream:
    """The decompressed byte stream. `damage` is a message to raise once all good bytes are used."""

    damage: str | None = None

    def read(self, n: int) -> bytes:
        raise NotImplementedError


class _PlainStream(_Stream):
    def __init__(self, f: BinaryIO, head: bytes) -> None:
        self._f = f
        self._head = head

    def read(self, n: int) -> bytes:
        head, self._head = self._head, b""
        return head + _read_full(self._f, n - len(head)) if head else _read_full(self._f, n)


class _GzipStream(_Stream):
    """gzip like zlib's gzread: any number of members, trailing non-gzip bytes ignored.

    Decompressing here rather than through `gzip.GzipFile` lets a truncated or corrupt stream
    hand over every byte that did decompress before the error is reported.
    """

    def __init__(self, f: BinaryIO, head: bytes) -> None:
        import zlib  # (here: reading a plain capture never loads the extension)

        self._zlib = zlib
        self._f = f
        self._pending = head  # compressed bytes not yet fed to a decompressor
        self._d = zlib.decompressobj(wbits=31)
        self._in_member = True
        self._out = b""
        self._done = False

    def read(self, n: int) -> bytes:
        out = [self._out]
        have = len(self._out)
        while have < n and not self._done:
            chunk = self._next_output()
            out.append(chunk)
            have += len(chunk)
        data = b"".join(out)
        self._out = data[n:]
        return data[:n]

    def _next_output(self) -> bytes:
        if not self._in_member:
            # Between members: a new one must start with the gzip magic, else the rest is ignored.
            while len(self._pending) < 2:
                more = _read_full(self._f, 1 << 16)
                if not more:
                    break
                self._pending += more
            if not self._pending.startswith(_GZIP_MAGIC):
                self._done = True
                return b""
            self._d = self._zlib.decompressobj(wbits=31)
            self._in_member = True
        data = self._pending or _read_full(self._f, 1 << 18)
        self._pending = b""
        if not data:
            self.damage = "unexpected end of file in compressed data. Is the file truncated?"
            self._done = True
            return b""
        try:
            out = self._d.decompress(data)
        except self._zlib.error as exc:
            self.damage = f"error reading file: corrupted compressed data ({exc})"
            self._done = True
            return b""
        if self._d.eof:
            self._pending = self._d.unused_data
            self._in_member = False
        return out


def _truncated(expected: int, got: int) -> CaptureError:
    return CaptureError(f"expecting {expected} bytes, read {got}. Is the file truncated?")


def convert_v1_event(data: bytes) -> bytes:
    """Turn a v1 event (22-byte header, no nparams) into the v2 layout, as libscap does on read.

    nparams is the unique n for which n u16 lengths plus the n values they describe fill the event
    exactly; libscap searches down from the table's count and finds the same n (the filled size
    grows strictly with n), so no event table is needed here.
    """
    fixed, length, etype = _V1_FIXED.unpack_from(data)
    new_len = length + 4
    if etype in (_PPME_NOTIFICATION_E, _PPME_INFRASTRUCTURE_EVENT_E):
        new_len -= 3
    payload = new_len - B.EVT_HDR_SIZE
    if payload < 0 or B.EVT_HDR_V1_SIZE + payload > len(data):
        raise CaptureError("cannot convert v1 event block to v2 (corrupted trace file - event length)")
    nparams = 0
    filled = 0
    unpack = _U16S.unpack_from
    base = B.EVT_HDR_V1_SIZE
    while filled < payload:
        if 2 * nparams + 2 > payload:
            filled = payload + 1
            break
        filled += 2 + unpack(data, base + 2 * nparams)[0]
        nparams += 1
    if filled != payload:
        raise CaptureError("cannot convert v1 event block to v2 (corrupted trace file - can't calculate nparams).")
    return _V2_HDR.pack(fixed, new_len, etype, nparams) + data[base:base + payload]


def _len_array(n: int) -> struct.Struct:
    st = _LEN_ARRAYS.get(n)
    if st is None:
        st = _LEN_ARRAYS[n] = struct.Struct(f"<{n}H")
    return st


def _nparams_table() -> list[tuple[int, struct.Struct]]:
    """Per event code: its param count in the event table and the struct of that many u16 lengths."""
    pairs = {n: (n, _len_array(n)) for n in set(PARAM_COUNTS)}  # (a dozen counts: not a call per code)
    return [pairs[n] for n in PARAM_COUNTS]


#: per event code, the param count (and its length array) v1 events of that code had last: the table's
#: until an event has another (captures that old often have fewer params than today's table)
_V1_GUESS = _nparams_table()
_V1_ODD = (_PPME_NOTIFICATION_E, _PPME_INFRASTRUCTURE_EVENT_E)
_V1_GROWTH = 4 - B.EVT_HDR_SIZE  # v2 payload = v1 len + 4 (nparams) - the v2 header
_V1_HDR = B.EVT_HDR_V1_SIZE


def _convert_v1_at(buf: bytes, start: int, end: int) -> bytes:
    """convert_v1_event(buf[start:end]) without the copy, trying the param count of the last event of
    that type first (one unpack; the filled size grows strictly with n, so a count that fills the
    event is the one)."""
    fixed, length, etype = _V1_FIXED.unpack_from(buf, start)
    if etype < len(_V1_GUESS) and etype not in _V1_ODD:
        n, lens = _V1_GUESS[etype]
        payload = length + _V1_GROWTH
        base = start + _V1_HDR
        if 2 * n <= payload and base + payload <= end and 2 * n + sum(lens.unpack_from(buf, base)) == payload:
            return _V2_HDR.pack(fixed, length + 4, etype, n) + buf[base:base + payload]
        raw = convert_v1_event(buf[start:end])
        n = _NPARAMS.unpack_from(raw, 22)[0]
        _V1_GUESS[etype] = (n, _len_array(n))
        return raw
    return convert_v1_event(buf[start:end])


class _Reader:
    """State of one pass over a stream: the buffer, and the tids defined by this section's PLs."""

    def __init__(self, f: BinaryIO, owned: bool, extension_types: frozenset[int],
                 events: EventRun | None = None) -> None:
        self.f = f
        self.events = events
        self.owned = owned  # closed once read
        self.stream: _Stream = _Stream()
        self.ext = extension_types
        self.buf = b""
        self.pos = 0
        self.tids: set[int] = set()

    # -- buffer ---------------------------------------------------------------------------------

    def _fill(self, need: int) -> int:
        """Make `need` bytes available from `pos` if the stream has them; return what is available."""
        avail = len(self.buf) - self.pos
        if avail >= need:
            return avail
        more = self.stream.read(max(CHUNK, need - avail))
        self.buf = self.buf[self.pos:] + more
        self.pos = 0
        return len(self.buf)

    def _need(self, n: int, expected: int | None = None) -> None:
        """Like `_fill`, but a short stream is a truncated file (reporting what libscap reports)."""
        avail = self._fill(n)
        if avail < n:
            self._raise_damage()
            if expected is None:
                raise _truncated(n, avail)
            raise _truncated(expected, avail - (n - expected))

    def _raise_damage(self) -> None:
        if self.stream.damage:
            raise CaptureError(self.stream.damage)

    def _at_eof(self) -> bool:
        if self._fill(1) == 0:
            self._raise_damage()
            return True
        return False

    # -- sections -------------------------------------------------------------------------------

    def items(self) -> Iterator[CaptureItem]:
        """Every item of the stream, section by section: its header, its metadata, its events.

        The event loop, the reader's hot path, is inline here (a generator delegating to another
        costs a resumption per item): event blocks until EOF or a non-event block, i.e. a new
        section. Complete EV_V2 blocks (what sysdig writes, so what dominates large files) are
        decoded inline with everything in locals; other event blocks that are complete in the
        buffer go through `_decode_event`; only a block that straddles the buffer end reaches the
        refill.
        """
        try:
            head = _read_full(self.f, 2)
            self.stream = _GzipStream(self.f, head) if head == _GZIP_MAGIC else _PlainStream(self.f, head)
            first = True
            while True:
                yield self._section_header(first)
                self.tids = set()
                yield from self._metadata()
                first = False
                ext = self.ext
                ev2 = B.EV_V2
                ev1 = B.EV_V1
                max_v1 = B.READER_BUF_SIZE
                convert_v1 = _convert_v1_at
                v1_guess = _V1_GUESS
                v1_odd = _V1_ODD
                v1_growth = _V1_GROWTH
                pack_v2 = _V2_HDR.pack
                unpack_ev2 = _EV2.unpack_from
                unpack_hdr = _HDR.unpack_from
                event_types = B.EVENT_TYPES
                max_type = B.PPM_EVENT_MAX
                max_block = B.READER_BUF_SIZE + 8
                buf = self.buf
                pos = self.pos
                end = len(buf)
                events = self.events
                while True:
                    if events is not None and end - pos >= 32:
                        pos = events(buf, pos, end)
                    avail = end - pos
                    if avail >= 32:
                        btype, blen, cpu, elen, etype = unpack_ev2(buf, pos)
                        # elen <= blen - 14 implies blen >= 40, libscap's minimum for this block type.
                        if btype == ev2 and 26 <= elen <= blen - 14 and blen <= avail and blen <= max_block:
                            if etype < max_type or etype in ext:
                                start = pos + 10
                                yield (cpu, 0, buf[start:start + elen])
                            pos += blen
                            continue
                        # the same layout for an EV v1 block; its event is converted to v2 (_convert_v1_at,
                        # inlined for the common case: the param count last seen for the type fits)
                        if btype == ev1 and 34 <= blen <= avail and blen + 4 - 8 <= max_v1:
                            if etype < max_type and etype not in v1_odd:
                                start = pos + 10
                                base = start + 22
                                payload = elen + v1_growth
                                n, lens = v1_guess[etype]
                                if 2 * n <= payload and base + payload <= pos + blen \
                                        and 2 * n + sum(lens.unpack_from(buf, base)) == payload:
                                    yield (cpu, 0, pack_v2(buf[start:start + 16], elen + 4, etype, n)
                                           + buf[base:base + payload])
                                else:
                                    yield (cpu, 0, convert_v1(buf, start, pos + blen))
                            elif etype < max_type or etype in ext:
                                yield (cpu, 0, convert_v1(buf, pos + 10, pos + blen))
                            pos += blen
                            continue
                    if avail >= 8:
                        btype, blen = unpack_hdr(buf, pos)
                        if btype not in event_types:
                            self.buf, self.pos = buf, pos
                            break  # a new section
                        _check_event_block(btype, blen)
                        if blen <= avail:
                            event = self._decode_event(buf, pos, btype, blen)
                            pos += blen
                            if event is not None:
                                yield event
                            continue
                        self.buf, self.pos = buf, pos
                        self._need(blen, blen - 8)
                    else:
                        self.buf, self.pos = buf, pos
                        if self._at_eof():
                            return  # EOF
                        self._need(8)
                    buf, pos = self.buf, self.pos
                    end = len(buf)
        finally:
            if self.owned:
                self.f.close()

    def _section_header(self, first: bool) -> SectionHeader:
        avail = self._fill(B.SHB_SIZE)
        if avail < 8 or _HDR.unpack_from(self.buf, self.pos)[0] != B.SHB:
            if first:
                self._raise_damage()
                raise CaptureError("not a scap capture file (invalid block type)" if avail >= 8
                                   else "not a scap capture file (too short)")
            raise CaptureError("could not restart capture: invalid block type")
        if avail < B.SHB_SIZE:
            self._raise_damage()
            raise _truncated(B.SHB_SIZE - 8, avail - 8)
        magic, major, minor = _SHB_BODY.unpack_from(self.buf, self.pos + 8)
        if magic != B.SHB_MAGIC:
            raise CaptureError("invalid magic number")
        if major > B.CURRENT_MAJOR:
            raise CaptureError("cannot correctly parse the capture. Upgrade your version.")
        self.pos += B.SHB_SIZE  # the SHB length field is not used (no options in 0.29.3)
        return SectionHeader(major, minor)

    def _metadata(self) -> Iterator[CaptureItem]:
        """Metadata blocks up to (not including) the section's first event block.

        A block whose whole length is in the buffer (every one but a block that straddles its end) is
        read inline with the checks below, in their order; the rest, and an MI block, the long way."""
        unpack_hdr = _HDR.unpack_from
        unpack_u32 = _U32.unpack_from
        event_types = B.EVENT_TYPES
        mi_types = (B.MI, B.MI_INT)
        parse = self._parse_metadata
        while True:
            buf, pos = self.buf, self.pos
            if len(buf) - pos >= 8:
                btype, blen = unpack_hdr(buf, pos)
                if 12 <= blen <= len(buf) - pos and btype not in event_types and btype not in mi_types:
                    end = pos + blen
                    item = parse(btype, buf[pos + 8:end - 4])
                    trailer = unpack_u32(buf, end - 4)[0]
                    if trailer != blen:
                        raise CaptureError(f"wrong block total length, header={blen}, trailer={trailer}")
                    self.pos = end
                    if item is not None:
                        yield item
                    continue
            if self._at_eof():
                raise CaptureError("no events in file")
            self._need(8)
            btype, blen = _HDR.unpack_from(self.buf, self.pos)
            if btype in B.EVENT_TYPES:
                return
            if btype in (B.MI, B.MI_INT):
                # libscap reads sizeof(scap_machine_info) whatever the block says, then the trailer.
                size = 8 + B.MI_BODY_SIZE + 4
                self._need(size, size - 8)
                start = self.pos + 8
                machine = parse_machine_info(self.buf[start:start + B.MI_BODY_SIZE])
                self._check_trailer(blen, self.pos + size - 4)
                self.pos += size
                yield machine
                continue
            if blen < 12:
                raise CaptureError(f"block length too short {blen}")
            self._need(blen, blen - 8)
            body = self.buf[self.pos + 8:self.pos + blen - 4]
            item = self._parse_metadata(btype, body)
            self._check_trailer(blen, self.pos + blen - 4)
            self.pos += blen
            if item is not None:
                yield item

    def _parse_metadata(self, btype: int, body: bytes) -> CaptureItem | None:
        key = (btype, len(body), body[:_KEY_BYTES])
        known = _PARSED.get(key)
        item: CaptureItem | None
        if known is not None and known[0] == body:
            item = known[1]
        else:
            item = _parse_block(btype, body)
            if item is None:
                return None  # unknown block type: skipped, like libscap
            _remember(key, body, item)
        if isinstance(item, ProcList):
            self.tids.update(p.tid for p in item.entries)
        elif isinstance(item, FdList) and item.tid not in self.tids:
            raise CaptureError(
                f"corrupted trace file. FD block references TID {item.tid & ((1 << 64) - 1)}, "
                "which doesn't exist.")
        return item

    def _check_trailer(self, blen: int, at: int) -> None:
        trailer = int.from_bytes(self.buf[at:at + 4], "little")
        if trailer != blen:
            raise CaptureError(f"wrong block total length, header={blen}, trailer={trailer}")

    # -- events ---------------------------------------------------------------------------------

    def _decode_event(self, buf: bytes, pos: int, btype: int, blen: int) -> tuple[int, int, bytes] | None:
        """Any complete event block at `pos`, already length-checked. None if the event is dropped."""
        if btype in _FLAGGED_BLOCKS:
            cpu, flags, elen, etype = _EVF2.unpack_from(buf, pos + 8)
            start = pos + 14
        else:
            cpu, elen, etype = _EV1.unpack_from(buf, pos + 8)
            flags = 0
            start = pos + 10
        if etype >= B.PPM_EVENT_MAX and etype not in self.ext:
            return None
        if btype in _V1_EVENT_BLOCKS:
            if blen - 8 + 4 > B.READER_BUF_SIZE:
                raise CaptureError(f"cannot convert v1 event block to v2 ({blen - 8 + 4} greater than read "
                                   f"buffer size {B.READER_BUF_SIZE})")
            return (cpu, flags, convert_v1_event(buf[start:pos + blen]))
        if elen < B.EVT_HDR_SIZE or start + elen > pos + blen:
            raise CaptureError(f"corrupted event block: event length {elen} does not fit its block of {blen}")
        return (cpu, flags, buf[start:start + elen])


def _parse_block(btype: int, body: bytes) -> CaptureItem | None:
    """The record of one PL, FDL, IL or UL block body; None for another block type."""
    if btype in B.PL_VERSIONS:
        return ProcList(parse_procs(body, btype))
    if btype in B.FDL_TYPES:
        return FdList(*parse_fds(body, btype))
    if btype in B.IL_TYPES:
        return InterfaceList(parse_interfaces(body, btype))
    if btype in B.UL_TYPES:
        return UserList(*parse_users(body, btype))
    return None


#: Records of the metadata blocks read, with their bodies, by (block type, body length, the body's first
#: _KEY_BYTES): sections often repeat blocks byte for byte (each file a rotating -w writes starts with the
#: state at that point, concatenated captures repeat it), and nothing modifies records, so a block seen
#: before is parsed once. A record is used only for a body equal to its own (one memcmp), so a key
#: shared by two bodies costs a parse, never a wrong record; keying on a prefix rather than the whole
#: body spares hashing every block read (siphash of 29 MB on issue 14's 200-section capture, 2.4% of
#: its instructions by callgrind). _remember bounds its size.
_PARSED: dict[tuple[int, int, bytes], tuple[bytes, CaptureItem]] = {}
_KEY_BYTES = 32  # an FDL body's tid and its first entry's header; a PL body's first tid, pid and ptid
_PARSED_MAX_BYTES = 4 << 20  # of block bodies (their records take a few times that)
_parsed_bytes = 0


def _remember(key: tuple[int, int, bytes], body: bytes, item: CaptureItem) -> None:
    global _parsed_bytes
    if _parsed_bytes + len(body) > _PARSED_MAX_BYTES:
        _PARSED.clear()
        _parsed_bytes = 0
    _PARSED[key] = (body, item)
    _parsed_bytes += len(body)


def _check_event_block(btype: int, blen: int) -> None:
    """libscap's checks on an event block's length, made before its body is read."""
    hdr_len = B.EVT_HDR_V1_SIZE if btype in _V1_EVENT_BLOCKS else B.EVT_HDR_SIZE
    if btype in _FLAGGED_BLOCKS:
        hdr_len += 4  # libscap does not count the flags here; we must, or the unpack would overrun
    if blen < 8 + hdr_len + 4:
        raise CaptureError(f"block length too short {blen}")
    if btype not in _LARGE_BLOCKS and blen - 8 > B.READER_BUF_SIZE:
        raise CaptureError(f"event block length {blen - 8} greater than NON-LARGE read buffer size "
                           f"{B.READER_BUF_SIZE}")
