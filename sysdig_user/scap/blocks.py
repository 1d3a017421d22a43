"""Block type ids, framing and limits of the scap format (reference/scap-format.md sections 2-3, 9).

Values are those of libscap commit e5c53d64 (scap_savefile.h), the one Debian's sysdig 0.29.3 uses.
"""
from __future__ import annotations

import struct

from sysdig_user.errors import SduError


class CaptureError(SduError):
    """A capture file cannot be opened or is damaged; the message reads like sysdig's."""


SHB = 0x0A0D0D0A
SHB_MAGIC = 0x1A2B3C4D
#: Readers refuse a newer major version ("Upgrade your version"); minor is ignored.
CURRENT_MAJOR = 1
WRITE_MINOR = 2
#: The SHB is read as exactly 28 bytes whatever its length field says (no options in 0.29.3).
SHB_SIZE = 28

MI = 0x201
MI_INT = 0x8002ABCD
#: sizeof(scap_machine_info): libscap reads exactly this, whatever the block length.
MI_BODY_SIZE = 180

PL_V1, PL_V1_INT = 0x202, 0x8000ABCD
PL_V2, PL_V2_INT = 0x207, 0x8013ABCD
PL_V3, PL_V3_INT = 0x209, 0x8014ABCD
PL_V4, PL_V5, PL_V6, PL_V7, PL_V8, PL_V9 = 0x210, 0x211, 0x212, 0x213, 0x214, 0x215
#: PL block type -> layout version 1..9 (the _INT variants share their version's layout).
PL_VERSIONS: dict[int, int] = {
    PL_V1: 1, PL_V1_INT: 1, PL_V2: 2, PL_V2_INT: 2, PL_V3: 3, PL_V3_INT: 3,
    PL_V4: 4, PL_V5: 5, PL_V6: 6, PL_V7: 7, PL_V8: 8, PL_V9: 9,
}

FDL_V1, FDL_V1_INT, FDL_V2 = 0x203, 0x8001ABCD, 0x218
FDL_TYPES = frozenset({FDL_V1, FDL_V1_INT, FDL_V2})

IL_V1, IL_V1_INT, IL_V2 = 0x205, 0x8011ABCD, 0x219
IL_TYPES = frozenset({IL_V1, IL_V1_INT, IL_V2})

UL_V1, UL_V1_INT, UL_V2 = 0x206, 0x8012ABCD, 0x220
UL_TYPES = frozenset({UL_V1, UL_V1_INT, UL_V2})

# Event blocks. v1 events have a 22-byte header without nparams; EVF adds u32 dump flags.
EV_V1, EV_V1_INT, EVF_V1 = 0x204, 0x8010ABCD, 0x208
EV_V2, EVF_V2 = 0x216, 0x217
EV_V2_LARGE, EVF_V2_LARGE = 0x221, 0x222
EVENT_TYPES = frozenset({EV_V1, EV_V1_INT, EVF_V1, EV_V2, EVF_V2, EV_V2_LARGE, EVF_V2_LARGE})

#: READER_BUF_SIZE (scap-int.h): a non-LARGE event block body (block_total_length - 8) must fit.
READER_BUF_SIZE = 65536
#: PPM_EVENT_MAX of this event table: the reader silently skips events with a type >= this.
PPM_EVENT_MAX = 336
EVT_HDR_SIZE = 26
EVT_HDR_V1_SIZE = 22

# Dump flags of EVF blocks.
DF_STATE_ONLY = 1
DF_TRACER = 2

# String limits enforced by the reader (scap_savefile.c / scap.h), applied by the writer too.
MAX_PATH_SIZE = 1024
MAX_ARGS_SIZE = 4096
MAX_ENV_SIZE = 4096
MAX_CGROUPS_SIZE = 4096
MAX_CREDENTIALS_STR_LEN = 256

_HEADER = struct.Struct("<II")


def padded(length: int) -> int:
    """Round a length up to a multiple of 4, the alignment of every block."""
    return (length + 3) & ~3


def frame(block_type: int, body: bytes) -> bytes:
    """Wrap a body into a block: type, total length, body, zero padding, trailing length."""
    total = padded(8 + len(body) + 4)
    return b"".join((_HEADER.pack(block_type, total), body, bytes(total - 12 - len(body)),
                     total.to_bytes(4, "little")))


def section_header_block(major: int = CURRENT_MAJOR, minor: int = WRITE_MINOR) -> bytes:
    """The 28-byte SHB; section_length is -1 ("unknown"), as sysdig writes it."""
    return struct.pack("<IIIHHqI", SHB, SHB_SIZE, SHB_MAGIC, major, minor, -1, SHB_SIZE)
