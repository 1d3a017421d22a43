"""A pcapng writer: one section, an Interface Description Block per interface (written the first time a
packet from it arrives), one Enhanced Packet Block per packet, Interface Statistics Blocks at close.

Block and option layouts follow draft-ietf-opsawg-pcapng (github.com/IETF-OPSAWG-WG/draft-ietf-opsawg-pcap):
every block is type u32, total length u32, body, total length u32 again, padded to 32 bits; options are
code u16, length u16, value padded to 32 bits, ended by opt_endofopt (0, 0). Written in host byte order,
which the Section Header's byte-order magic announces.

Per packet:
- opt_comment (1): "pid=.. tid=.. comm=.. exe=.. args=.." of the owner (plus peer_pid/peer_tid/peer_comm
  when the other end is local too), so Wireshark shows it as the frame comment;
- epb_flags (2): bits 0-1 direction, 01 inbound, 10 outbound;
- epb_processid_threadid (8): u32 process id, u32 thread id (0 means unknown).
"""
from __future__ import annotations

import struct
import time
from types import TracebackType
from typing import BinaryIO, final

from netcap.records import IN, OUT, Owner, Packet

BT_SHB = 0x0A0D0D0A
BT_IDB = 0x00000001
BT_ISB = 0x00000005
BT_EPB = 0x00000006
BYTE_ORDER_MAGIC = 0x1A2B3C4D

OPT_ENDOFOPT = 0
OPT_COMMENT = 1
SHB_USERAPPL = 4
IF_NAME = 2
IF_TSRESOL = 9
EPB_FLAGS = 2
EPB_PROCESSID_THREADID = 8
ISB_STARTTIME = 2
ISB_ENDTIME = 3
ISB_FILTERACCEPT = 6
ISB_OSDROP = 7

DIRECTION_FLAGS = {IN: 0b01, OUT: 0b10}
_TSRESOL_NS = 9                    # if_tsresol: 10^-9 s, so timestamps are Packet.ts_ns as is


def _pad(n: int) -> int:
    return -n & 3


def option(code: int, value: bytes) -> bytes:
    return struct.pack("=HH", code, len(value)) + value + b"\0" * _pad(len(value))


def block(block_type: int, body: bytes) -> bytes:
    total = 12 + len(body) + _pad(len(body))
    return struct.pack("=II", block_type, total) + body + b"\0" * _pad(len(body)) + struct.pack("=I", total)


def owner_comment(owner: Owner, peer: Owner | None = None) -> str:
    """The text Wireshark shows as the frame comment. Control characters would break one-line tools
    reading the comments (tshark -T fields), so they become spaces."""
    text = f"pid={owner.pid} tid={owner.tid} comm={owner.comm} exe={owner.exe} args={owner.args}"
    if peer is not None:
        text += f" peer_pid={peer.pid} peer_tid={peer.tid} peer_comm={peer.comm}"
    return "".join(c if c.isprintable() else " " for c in text)


@final
class PcapngWriter:
    """Write packets to a binary stream; use as a context manager or call close()."""

    def __init__(self, out: BinaryIO, application: str = "sdu netcap") -> None:
        self.out = out
        self.ids: dict[int, int] = {}             # ifindex -> interface id in this section
        self.stats: dict[int, tuple[int, int]] = {}
        self.started_ns = time.time_ns()
        opts = option(SHB_USERAPPL, application.encode()) + option(OPT_ENDOFOPT, b"")
        self.out.write(block(BT_SHB, struct.pack("=IHHq", BYTE_ORDER_MAGIC, 1, 0, -1) + opts))

    def interface(self, ifindex: int, name: str, linktype: int, snaplen: int = 0) -> int:
        """Interface id for ifindex, writing its IDB the first time."""
        found = self.ids.get(ifindex)
        if found is not None:
            return found
        opts = (option(IF_NAME, name.encode()) + option(IF_TSRESOL, bytes([_TSRESOL_NS]))
                + option(OPT_ENDOFOPT, b""))
        self.out.write(block(BT_IDB, struct.pack("=HHI", linktype, 0, snaplen) + opts))
        self.ids[ifindex] = len(self.ids)
        return self.ids[ifindex]

    def write(self, pkt: Packet, linktype: int, owner: Owner | None = None, peer: Owner | None = None,
              snaplen: int = 0) -> None:
        """One EPB; pid/tid/comment options only when the owner is known."""
        if_id = self.interface(pkt.ifindex, pkt.ifname, linktype, snaplen)
        data = pkt.data
        opts = option(EPB_FLAGS, struct.pack("=I", DIRECTION_FLAGS.get(pkt.direction, 0)))
        if owner is not None:
            opts = (option(OPT_COMMENT, owner_comment(owner, peer).encode()) + opts
                    + option(EPB_PROCESSID_THREADID, struct.pack("=II", owner.pid, owner.tid)))
        body = (struct.pack("=IIIII", if_id, pkt.ts_ns >> 32, pkt.ts_ns & 0xFFFFFFFF, len(data), pkt.length)
                + data + b"\0" * _pad(len(data)) + opts + option(OPT_ENDOFOPT, b""))
        self.out.write(block(BT_EPB, body))

    def note_stats(self, ifindex: int, received: int, dropped: int) -> None:
        """Counts for an ISB written at close (tcpdump's "received by filter" and "dropped by kernel")."""
        self.stats[ifindex] = (received, dropped)

    def close(self) -> None:
        end_ns = time.time_ns()
        for ifindex, (received, dropped) in self.stats.items():
            if_id = self.ids.get(ifindex)
            if if_id is None:
                continue
            opts = (option(ISB_STARTTIME, struct.pack("=II", self.started_ns >> 32, self.started_ns & 0xFFFFFFFF))
                    + option(ISB_ENDTIME, struct.pack("=II", end_ns >> 32, end_ns & 0xFFFFFFFF))
                    + option(ISB_FILTERACCEPT, struct.pack("=Q", received))
                    + option(ISB_OSDROP, struct.pack("=Q", dropped)) + option(OPT_ENDOFOPT, b""))
            self.out.write(block(BT_ISB, struct.pack("=III", if_id, end_ns >> 32, end_ns & 0xFFFFFFFF) + opts))
        self.out.flush()

    def __enter__(self) -> PcapngWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
