"""Captures for the fuzz tests: small base captures written with the repo's scap writer, and seeded
mutations of them (bit flips, byte values, truncations, block and event length fields, event types,
param counts and lengths, block splices).

A mutation reports the offset of its first changed byte in the uncompressed file: every event block
wholly before it is intact, so sdu must print those events exactly as for the base capture before it
reports anything (None when the base is gzip-compressed: only truncations keep a known prefix there).
"""
from __future__ import annotations

import io
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass

from sysdig_user.scap import blocks as B
from sysdig_user.scap.blocks import frame
from sysdig_user.scap.metadata import build_procs
from sysdig_user.scap.writer import ScapWriter
from tests.scap.scapdata import capture, ev_block, walk_blocks
from tests.state import scenario
from tests.state.events import mk


@dataclass(frozen=True)
class Base:
    name: str
    data: bytes
    gzip: bool
    blocks: tuple[tuple[int, int, int], ...]  # (offset, type, length) of the uncompressed blocks


@dataclass(frozen=True)
class Mutant:
    data: bytes
    kind: str
    offset: int | None  # first changed byte of the uncompressed stream; None: unknown
    truncated: bool = False


def _written(sections: int = 1, compress: bool = False) -> bytes:
    buf = io.BytesIO()
    w = ScapWriter(buf, compress=compress)
    events = scenario.events()
    for _ in range(sections):
        w.write_section(interfaces=scenario.INTERFACES, procs=scenario.PROCS, fds=scenario.FDS)
        for evt in events:
            w.write_event(evt.cpu, evt.dump_flags, evt.raw)
    w.close()
    return buf.getvalue()


def _v1_raw(raw: bytes) -> bytes:
    """An event in the old v1 layout (no nparams), as old captures hold it."""
    return raw[:16] + struct.pack("<I", len(raw) - 4) + raw[20:22] + raw[26:]


def _old_blocks() -> bytes:
    """v1 event blocks (plain and flagged), an EV_V2_LARGE block and a PL_V9 block, by hand."""
    procs = frame(B.PL_V9, build_procs(list(scenario.PROCS)))
    events = [e.raw for e in scenario.events()[:30]]
    blocks = [procs]
    for i, raw in enumerate(events):
        if i % 3 == 0:
            blocks.append(ev_block(_v1_raw(raw), block_type=B.EV_V1))
        elif i % 3 == 1:
            blocks.append(frame(B.EVF_V1, struct.pack("<HI", 0, 0) + _v1_raw(raw)))
        else:
            blocks.append(ev_block(raw, block_type=B.EV_V2_LARGE))
    blocks.append(ev_block(mk("getcwd", False, 100, res=0, path="/home/u").raw))
    return capture(blocks)


def bases() -> list[Base]:
    plain = _written()
    out = [Base("scenario", plain, False, tuple(walk_blocks(plain))),
           Base("scenario_gz", _written(compress=True), True, tuple(walk_blocks(plain))),
           Base("two_sections", two := _written(sections=2), False, tuple(walk_blocks(two))),
           Base("old_blocks", old := _old_blocks(), False, tuple(walk_blocks(old)))]
    return out


def event_blocks(base: Base) -> list[tuple[int, int, int]]:
    return [b for b in base.blocks if b[1] in B.EVENT_TYPES]


def _event_start(btype: int) -> int:
    """Offset of the event in a block of this type (after the header, cpu and flags)."""
    return 14 if btype in (B.EVF_V1, B.EVF_V2, B.EVF_V2_LARGE) else 10


_U32 = (0, 1, 7, 8, 12, 26, 0x7FFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0xFFFFFFFF, 0xFFFFFFF0)
_U16 = (0, 1, 2, 7, 8, 0x7FFF, 0xFFFF)


def _put(data: bytearray, offset: int, fmt: str, value: int) -> None:
    size = struct.calcsize(fmt)
    if 0 <= offset and offset + size <= len(data):
        struct.pack_into(fmt, data, offset, value & ((1 << (8 * size)) - 1))


def _bitflip(rng: random.Random, base: Base, data: bytearray) -> int:
    first = len(data)
    evs = event_blocks(base)
    for _ in range(rng.randint(1, 3)):
        if evs and rng.random() < 0.7:
            off, _t, length = rng.choice(evs)
            pos = off + rng.randrange(max(1, length))
        else:
            pos = rng.randrange(len(data))
        pos = min(pos, len(data) - 1)
        data[pos] ^= 1 << rng.randrange(8)
        first = min(first, pos)
    return first


def _byteset(rng: random.Random, base: Base, data: bytearray) -> int:
    pos = rng.randrange(len(data))
    n = rng.randint(1, 4)
    data[pos:pos + n] = bytes([rng.choice((0, 0xFF, 0x80, 0x7F, 1))] * n)[:len(data) - pos]
    return pos


def _block_length(rng: random.Random, base: Base, data: bytearray) -> int:
    off, _t, length = rng.choice(base.blocks)
    value = rng.choice(_U32 + (length - 4, length + 4, length - 1, length * 2, rng.getrandbits(32)))
    _put(data, off + 4, "<I", value)
    return off + 4


def _event_field(rng: random.Random, base: Base, data: bytearray) -> int:
    off, btype, length = rng.choice(event_blocks(base))
    ev = off + _event_start(btype)
    v1 = btype in (B.EV_V1, B.EV_V1_INT, B.EVF_V1)
    choice = rng.randrange(5)
    if choice == 0:  # event len
        pos, fmt, value = ev + 16, "<I", rng.choice(_U32 + (length - 14, length - 10, length))
    elif choice == 1:  # type
        pos, fmt, value = ev + 20, "<H", rng.randrange(400)
    elif choice == 2 and not v1:  # nparams
        pos, fmt, value = ev + 22, "<I", rng.choice(_U32 + tuple(range(30)))
    else:  # one param length
        lens = ev + (22 if v1 else 26)
        pos, fmt, value = lens + 2 * rng.randrange(8), "<H", rng.choice(_U16 + tuple(range(40)))
    _put(data, pos, fmt, value)
    return pos


def _event_type(rng: random.Random, base: Base, data: bytearray) -> int:
    """Another type for the same params: every parser and field meets layouts it does not expect."""
    off, btype, _length = rng.choice(event_blocks(base))
    pos = off + _event_start(btype) + 20
    _put(data, pos, "<H", rng.randrange(2, 336))
    return pos


def _splice(rng: random.Random, base: Base, data: bytearray) -> int:
    i = rng.randrange(1, len(base.blocks))
    j = rng.randrange(1, len(base.blocks))
    (a, _ta, la), (b, _tb, lb) = base.blocks[i], base.blocks[j]
    block_a, block_b = bytes(data[a:a + la]), bytes(data[b:b + lb])
    kind = rng.randrange(3)
    if kind == 0:  # duplicate a block
        data[a:a] = block_a
    elif kind == 1:  # drop one
        del data[a:a + la]
    elif a != b:  # swap two
        lo, hi = (a, b) if a < b else (b, a)
        llo, lhi = (la, lb) if a < b else (lb, la)
        first, second = bytes(data[lo:lo + llo]), bytes(data[hi:hi + lhi])
        data[hi:hi + lhi] = first
        data[lo:lo + llo] = second
        return lo
    del block_b
    return a


MUTATORS: tuple[tuple[str, Callable[[random.Random, Base, bytearray], int]], ...] = (
    ("bitflip", _bitflip), ("byteset", _byteset), ("block_length", _block_length),
    ("event_field", _event_field), ("event_field", _event_field), ("event_type", _event_type),
    ("splice", _splice),
)


def mutate(rng: random.Random, base: Base) -> Mutant:
    """One seeded mutation of ``base`` (truncations one time in six)."""
    if rng.random() < 1 / 6:
        cut = rng.randrange(len(base.data))
        if not base.gzip and rng.random() < 0.3:  # at a block boundary, or one byte either side of it
            cut = max(0, min(len(base.data), rng.choice(base.blocks)[0] + rng.choice((-1, 0, 1))))
        return Mutant(base.data[:cut], "truncate", None if base.gzip else cut, truncated=True)
    data = bytearray(base.data)
    if base.gzip:
        _bitflip(rng, Base(base.name, base.data, True, ()), data)
        return Mutant(bytes(data), "gzip_bitflip", None)
    kind, mutator = rng.choice(MUTATORS)
    first = mutator(rng, base, data)
    return Mutant(bytes(data), kind, first)


def events_before(base: Base, offset: int) -> int:
    """How many event blocks end before ``offset`` (all intact in a mutant that changes nothing before)."""
    return sum(1 for off, _t, length in event_blocks(base) if off + length <= offset)
