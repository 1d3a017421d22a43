"""Result shapes shared by the netcap modules, all in one place (as psutil keeps its named tuples in
_ntuples.py), so capture, layers, attribution and the pcapng writer agree on one spelling of each.
"""
from __future__ import annotations

from typing import NamedTuple

#: Packet.direction values. sll_pkttype PACKET_OUTGOING (4) is "out"; every other type (host, broadcast,
#: multicast, otherhost) arrived from the link and is "in".
IN = "in"
OUT = "out"


class Packet(NamedTuple):
    """One frame as read from an AF_PACKET socket.

    ts_ns: kernel receive time, CLOCK_REALTIME in ns (the clock sysdig's event timestamps use).
    length: the frame's length on the wire; len(data) is smaller when the frame was cut at the snaplen.
    data: link-layer frame (Ethernet for ether/loopback interfaces, bare IP for ARPHRD_NONE tunnels).
    protocol: sll_protocol, the ethertype in host order (0x0800 IPv4, 0x86dd IPv6, ...).
    """

    ts_ns: int
    ifindex: int
    ifname: str
    direction: str
    length: int
    data: bytes
    protocol: int


class FlowKey(NamedTuple):
    """Addresses of a packet as sent: src is the sender. Ports are 0 for protocols without ports.

    family is socket.AF_INET or AF_INET6; addresses are inet_ntop text; l4proto is the IP protocol number
    of the innermost header the dissector reached (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...).
    """

    family: int
    src: str
    sport: int
    dst: str
    dport: int
    l4proto: int


class Dissected(NamedTuple):
    """dissect() result: the flow and where the transport payload starts in the frame."""

    flow: FlowKey
    payload_offset: int


class SockTuple(NamedTuple):
    """A socket as the kernel keys it: local end first. "*" and port 0 are wildcards (bound, unconnected,
    listening). For raw sockets local_port holds the IP protocol, as /proc/net/raw shows it."""

    l4proto: int
    local_ip: str
    local_port: int
    remote_ip: str
    remote_port: int


class Owner(NamedTuple):
    """The process behind a socket. source is "traced" (told by the tracer) or "proc" (found in /proc; tid is
    then the pid, since /proc does not say which thread used the socket)."""

    pid: int
    tid: int
    comm: str
    exe: str
    args: str
    source: str


class Interface(NamedTuple):
    """A capturable interface: arphrd from /sys/class/net/NAME/type, linktype as pcap/pcapng spell it."""

    ifindex: int
    name: str
    arphrd: int
    linktype: int


class CaptureStats(NamedTuple):
    """Counts since start(), summed over interfaces, with tcpdump's meanings.

    received: packets that passed the kernel filter ("received by filter"), dropped ones included.
    dropped: packets the kernel could not queue because the ring was full ("dropped by kernel").
    delivered: packets handed to the consumer.
    """

    received: int
    dropped: int
    delivered: int
