"""Small builders for hand-made scap bytes used by the scap tests (events, blocks, whole files)."""
from __future__ import annotations

import gzip
import struct
from collections.abc import Iterable, Sequence

from sysdig_user.scap.blocks import frame, section_header_block

SAMPLES = ("falco_cat_write", "libs_curl_google", "libs_single_ipv6_conn")
#: Event blocks per sample (reference/scap-format.md section 16).
SAMPLE_EVENTS = {"falco_cat_write": 345, "libs_curl_google": 1536, "libs_single_ipv6_conn": 1728}


def event(etype: int, params: Sequence[bytes], ts: int = 1_000_000_000, tid: int = 1234) -> bytes:
    """A v2 ppm event: 26-byte header, u16 lengths, values."""
    lens = b"".join(struct.pack("<H", len(p)) for p in params)
    body = lens + b"".join(params)
    return struct.pack("<QqIHI", ts, tid, 26 + len(body), etype, len(params)) + body


def v1_event(etype: int, params: Sequence[bytes], ts: int = 1_000_000_000, tid: int = 1234) -> bytes:
    """The same event in the old v1 layout (22-byte header without nparams)."""
    lens = b"".join(struct.pack("<H", len(p)) for p in params)
    body = lens + b"".join(params)
    return struct.pack("<QqIH", ts, tid, 22 + len(body), etype) + body


def ev_block(raw: bytes, cpu: int = 0, block_type: int = 0x216) -> bytes:
    return frame(block_type, struct.pack("<H", cpu) + raw)


def evf_block(raw: bytes, flags: int, cpu: int = 0, block_type: int = 0x217) -> bytes:
    return frame(block_type, struct.pack("<HI", cpu, flags) + raw)


def open_exit(fd: int = 3, name: bytes = b"/etc/passwd", tid: int = 1234, ts: int = 1_000_000_000) -> bytes:
    """open X (type 3): fd, name, flags=1 (O_RDONLY), mode, dev."""
    return event(3, [struct.pack("<q", fd), name + b"\0", struct.pack("<I", 1), struct.pack("<I", 0),
                     struct.pack("<I", 0)], ts=ts, tid=tid)


def capture(blocks: Iterable[bytes], shb: bytes | None = None) -> bytes:
    return (section_header_block() if shb is None else shb) + b"".join(blocks)


def walk_blocks(data: bytes) -> list[tuple[int, int, int]]:
    """(offset, type, length) of every block of an uncompressed capture."""
    out = []
    pos = 0
    while pos + 8 <= len(data):
        btype, blen = struct.unpack_from("<II", data, pos)
        out.append((pos, btype, blen))
        pos += blen
    return out


def gunzip_sample(path: object) -> bytes:
    with open(str(path), "rb") as f:
        return gzip.decompress(f.read())
