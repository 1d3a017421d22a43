"""AF_PACKET socket setup shared by the ring and recvfrom readers, in the order that lets nothing
unfiltered in: the socket is created with protocol 0 (it receives nothing), the filter is attached, the
reader sets up its buffers, and only then bind() to (ETH_P_ALL, ifindex) starts delivery. Created with
ETH_P_ALL directly, it would queue packets from every interface before the bind and the filter.
"""
from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Sequence

from netcap.bpf import Insn, attach
from netcap.errors import CaptureNotPermitted, NetCapError
from netcap.records import Interface

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_STATISTICS = 6
PACKET_MR_PROMISC = 1

NEED_CAP = ("packet capture needs CAP_NET_RAW (run as root or give the interpreter cap_net_raw); "
            "continuing without it means syscalls only")


def open_socket(program: Sequence[Insn]) -> socket.socket:
    """An AF_PACKET SOCK_RAW socket with program attached, not yet bound (so not yet receiving)."""
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    except PermissionError:
        raise CaptureNotPermitted(NEED_CAP) from None
    except OSError as err:
        if err.errno in (errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT):
            raise NetCapError("this kernel has no AF_PACKET sockets (CONFIG_PACKET)") from None
        raise NetCapError(f"cannot open a packet socket: {err.strerror}") from None
    try:
        attach(sock, program)
    except OSError as err:
        sock.close()
        raise NetCapError(f"the kernel refused the capture filter: {err.strerror}") from None
    return sock


def bind(sock: socket.socket, iface: Interface, promisc: bool) -> None:
    """Start delivery from iface; promisc adds a PACKET_MR_PROMISC membership, which the kernel drops
    (and so turns promiscuous mode back off) when the socket closes."""
    try:
        sock.bind((iface.name, ETH_P_ALL))
        if promisc:
            mreq = struct.pack("iHH8s", iface.ifindex, PACKET_MR_PROMISC, 0, b"")
            sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
    except OSError as err:
        raise NetCapError(f"cannot capture on {iface.name}: {err.strerror}") from None


def read_stats(sock: socket.socket) -> tuple[int, int]:
    """(received, dropped) since the previous call: PACKET_STATISTICS resets the kernel's counters on
    every read. tp_packets already includes tp_drops (af_packet.c adds them before copying out), which
    is what tcpdump calls "received by filter". struct tpacket_stats (8 bytes) for plain and V1/V2
    sockets, tpacket_stats_v3 (12 bytes, plus tp_freeze_q_cnt) for V3 rings; both start the same way."""
    raw = sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 12)
    packets, drops = struct.unpack_from("II", raw)
    return packets, drops
