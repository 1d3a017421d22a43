"""Packet readers for one interface: a TPACKET_V3 memory-mapped ring (the default) and a plain
recvmsg() socket (kept to measure the ring against, and as a fallback where PACKET_RX_RING fails).

Layout facts used here come from linux/if_packet.h and Documentation/networking/packet_mmap.rst:

- The ring is tp_block_nr blocks of tp_block_size bytes. The kernel fills one block at a time and hands
  it over by setting block_status (offset 8 of struct tpacket_block_desc) to TP_STATUS_USER, either when
  it is full or tp_retire_blk_tov ms after its first packet. We read every packet of the block and give
  it back by writing TP_STATUS_KERNEL. Blocks are handed over in order, so we only watch the next one.
- struct tpacket_hdr_v1 (inside the block descriptor): block_status u32 @8, num_pkts u32 @12,
  offset_to_first_pkt u32 @16.
- struct tpacket3_hdr (48 bytes): tp_next_offset, tp_sec, tp_nsec, tp_snaplen, tp_len, tp_status (u32
  each), tp_mac, tp_net (u16), then hv1 {tp_rxhash u32 @28, tp_vlan_tci u32 @32, tp_vlan_tpid u16 @36}.
  The struct sockaddr_ll follows at TPACKET_ALIGN(48) = 48: sll_protocol (big-endian u16) @2,
  sll_pkttype u8 @10.
- When the NIC strips the 802.1Q tag (rx-vlan-offload), the kernel reports it in tp_vlan_tci with
  TP_STATUS_VLAN_VALID; we put it back into the frame, as libpcap does, so the bytes match the wire.
"""
from __future__ import annotations

import mmap
import socket
import struct
from collections.abc import Sequence

from netcap import packetsock
from netcap.bpf import Insn
from netcap.errors import NetCapError
from netcap.layers import LINKTYPE_ETHERNET
from netcap.records import IN, OUT, Interface, Packet

PACKET_VERSION = 10
PACKET_RX_RING = 5
TPACKET_V3 = 2
TP_STATUS_KERNEL = 0
TP_STATUS_USER = 1
TP_STATUS_VLAN_VALID = 1 << 4
TP_STATUS_VLAN_TPID_VALID = 1 << 6
PACKET_OUTGOING = 4
ETH_P_8021Q = 0x8100
SO_TIMESTAMPNS = 35
PACKET_AUXDATA = 8

TPACKET3_HDRLEN = 48
_U32 = struct.Struct("<I")
_BLOCK = struct.Struct("<II")                 # num_pkts, offset_to_first_pkt
_HDR = struct.Struct("<IIIIIIHH")             # tp_next_offset .. tp_net
_VLAN = struct.Struct("<IH")                  # tp_vlan_tci, tp_vlan_tpid
_SLL = struct.Struct("!2xH6xB")               # sll_protocol, sll_pkttype
_TIMESPEC = struct.Struct("@qq")
_AUXDATA = struct.Struct("@III")              # struct tpacket_auxdata: tp_status, tp_len, tp_snaplen, ...
_VLAN_TAG = struct.Struct("!HH")


class RingReader:
    """One AF_PACKET socket bound to one interface, reading through a TPACKET_V3 ring."""

    def __init__(self, iface: Interface, program: Sequence[Insn], snaplen: int, *, block_size: int = 1 << 20,
                 block_nr: int = 8, retire_ms: int = 10, promisc: bool = False) -> None:
        self.iface = iface
        self.snaplen = snaplen
        self.block_size = block_size
        self.block_nr = block_nr
        self.retire_ms = retire_ms
        self._next = 0
        self._vlan = iface.linktype == LINKTYPE_ETHERNET
        self.sock = packetsock.open_socket(program)
        try:
            self.sock.setsockopt(packetsock.SOL_PACKET, PACKET_VERSION, TPACKET_V3)
            # tp_frame_size/tp_frame_nr are unused by V3 but must describe the same memory
            # (packet_set_ring checks frame_nr == blocks * frames-per-block).
            frame_size = 1 << 11
            req = struct.pack("7I", block_size, block_nr, frame_size, block_size // frame_size * block_nr,
                              retire_ms, 0, 0)
            self.sock.setsockopt(packetsock.SOL_PACKET, PACKET_RX_RING, req)
            self.mm = mmap.mmap(self.sock.fileno(), block_size * block_nr, mmap.MAP_SHARED,
                                mmap.PROT_READ | mmap.PROT_WRITE)
        except OSError as err:
            self.sock.close()
            raise NetCapError(f"cannot set up a TPACKET_V3 ring on {iface.name}: {err.strerror}") from None
        packetsock.bind(self.sock, iface, promisc)

    def fileno(self) -> int:
        return self.sock.fileno()

    def drain(self, out: list[Packet]) -> int:
        """Append the packets of every block the kernel has handed over; return how many."""
        mm, bsize, snaplen = self.mm, self.block_size, self.snaplen
        ifindex, ifname, vlan = self.iface.ifindex, self.iface.name, self._vlan
        append = out.append
        total = 0
        while True:
            base = self._next * bsize
            if not _U32.unpack_from(mm, base + 8)[0] & TP_STATUS_USER:
                return total
            num, off = _BLOCK.unpack_from(mm, base + 12)
            off += base
            for _ in range(num):
                nxt, sec, nsec, caplen, wirelen, status, mac, _net = _HDR.unpack_from(mm, off)
                proto, pkttype = _SLL.unpack_from(mm, off + TPACKET3_HDRLEN)
                start = off + mac
                data = mm[start:start + min(caplen, snaplen)]
                if vlan and status & TP_STATUS_VLAN_VALID:
                    data, wirelen = self._retag(data, off, status), wirelen + 4
                append(Packet(sec * 1_000_000_000 + nsec, ifindex, ifname,
                              OUT if pkttype == PACKET_OUTGOING else IN, wirelen, data, proto))
                off += nxt
            total += num
            _U32.pack_into(mm, base + 8, TP_STATUS_KERNEL)
            self._next = (self._next + 1) % self.block_nr

    def _retag(self, data: bytes, hdr_off: int, status: int) -> bytes:
        tci, tpid = _VLAN.unpack_from(self.mm, hdr_off + 32)
        if not status & TP_STATUS_VLAN_TPID_VALID:
            tpid = ETH_P_8021Q
        return data[:12] + _VLAN_TAG.pack(tpid, tci & 0xFFFF) + data[12:]

    def stats(self) -> tuple[int, int]:
        return packetsock.read_stats(self.sock)

    def close(self) -> None:
        # The ring stays mapped until munmap, and the socket cannot be torn down under a mapping.
        self.mm.close()
        self.sock.close()


class RecvReader:
    """The same contract over plain recvmsg(): one system call and one copy per packet, timestamps from
    SO_TIMESTAMPNS, the wire length from PACKET_AUXDATA's tp_len (the filter has already cut the skb to
    the snaplen, so the received length is not the wire length). VLAN tags stripped by the NIC are not
    put back on this path."""

    def __init__(self, iface: Interface, program: Sequence[Insn], snaplen: int, *, rcvbuf: int = 8 << 20,
                 promisc: bool = False) -> None:
        self.iface = iface
        self.snaplen = snaplen
        self.sock = packetsock.open_socket(program)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.setsockopt(packetsock.SOL_PACKET, PACKET_AUXDATA, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.setblocking(False)
        self._buf = bytearray(snaplen)
        self._cmsg = socket.CMSG_SPACE(_TIMESPEC.size) + socket.CMSG_SPACE(32)
        packetsock.bind(self.sock, iface, promisc)

    def fileno(self) -> int:
        return self.sock.fileno()

    def drain(self, out: list[Packet]) -> int:
        total = 0
        buf, view, snaplen = self._buf, memoryview(self._buf), self.snaplen
        ifindex, ifname = self.iface.ifindex, self.iface.name
        while True:
            try:
                caplen, anc, _flags, addr = self.sock.recvmsg_into([view], self._cmsg)
            except BlockingIOError:
                return total
            ts_ns = 0
            wirelen = caplen
            for level, kind, cdata in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = _TIMESPEC.unpack_from(cdata)
                    ts_ns = sec * 1_000_000_000 + nsec
                elif level == packetsock.SOL_PACKET and kind == PACKET_AUXDATA:
                    wirelen = _AUXDATA.unpack_from(cdata)[1]
            caplen = min(caplen, snaplen)
            out.append(Packet(ts_ns, ifindex, ifname, OUT if addr[2] == PACKET_OUTGOING else IN, wirelen,
                              bytes(buf[:caplen]), addr[1]))
            total += 1

    def stats(self) -> tuple[int, int]:
        return packetsock.read_stats(self.sock)

    def close(self) -> None:
        self.sock.close()
