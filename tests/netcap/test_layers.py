"""Header layers against scapy: dissect() on packets scapy built, parse()/build() round trips, and one
header checked as literal bytes in both directions."""
from __future__ import annotations

import socket

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Packet as ScapyPacket
from scapy.packet import Raw

from netcap import layers
from netcap.layers import BINDINGS, LINKTYPE_ETHERNET, LINKTYPE_RAW, dissect
from netcap.records import FlowKey

PAYLOAD = Raw(b"payload!")


def _eth() -> Ether:
    """An Ethernet header with both addresses set: a bare Ether() makes scapy look the destination's MAC
    up, by ARP on the real network (2 s per packet, and packets a unit test has no business sending)."""
    return Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")


CASES = [
    ("ipv4-tcp", _eth() / IP(src="10.1.2.3", dst="192.0.2.9") / TCP(sport=40000, dport=443) / PAYLOAD,
     FlowKey(socket.AF_INET, "10.1.2.3", 40000, "192.0.2.9", 443, 6)),
    ("ipv4-options-tcp-options",
     _eth() / IP(src="10.0.0.1", dst="10.0.0.2", options=b"\x01\x01\x01\x00")
     / TCP(sport=1, dport=2, options=[("MSS", 1460), ("NOP", None), ("WScale", 7)]) / PAYLOAD,
     FlowKey(socket.AF_INET, "10.0.0.1", 1, "10.0.0.2", 2, 6)),
    ("ipv4-udp", _eth() / IP(src="127.0.0.1", dst="127.0.0.53") / UDP(sport=5353, dport=53) / PAYLOAD,
     FlowKey(socket.AF_INET, "127.0.0.1", 5353, "127.0.0.53", 53, 17)),
    ("ipv6-udp", _eth() / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=9, dport=10) / PAYLOAD,
     FlowKey(socket.AF_INET6, "2001:db8::1", 9, "2001:db8::2", 10, 17)),
    ("ipv6-ext-tcp", _eth() / IPv6(src="fe80::1", dst="fe80::2") / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt()
     / IPv6ExtHdrFragment() / TCP(sport=7, dport=8) / PAYLOAD,
     FlowKey(socket.AF_INET6, "fe80::1", 7, "fe80::2", 8, 6)),
    ("vlan-ipv4-udp", _eth() / Dot1Q(vlan=42) / IP(src="10.9.9.9", dst="10.8.8.8") / UDP(sport=1, dport=2)
     / PAYLOAD, FlowKey(socket.AF_INET, "10.9.9.9", 1, "10.8.8.8", 2, 17)),
    ("qinq-ipv6-tcp", _eth() / Dot1Q(vlan=1) / Dot1Q(vlan=2) / IPv6(src="::1", dst="::1") / TCP(sport=3, dport=4)
     / PAYLOAD, FlowKey(socket.AF_INET6, "::1", 3, "::1", 4, 6)),
    ("ipv4-icmp", _eth() / IP(src="10.0.0.1", dst="10.0.0.2") / ICMP() / PAYLOAD,
     FlowKey(socket.AF_INET, "10.0.0.1", 0, "10.0.0.2", 0, 1)),
]


def _payload_offset(pkt: ScapyPacket) -> int:
    return len(bytes(pkt)) - len(bytes(pkt[Raw]))


@pytest.mark.parametrize(("name", "pkt", "flow"), CASES, ids=[c[0] for c in CASES])
def test_dissect_scapy_packets(name: str, pkt: ScapyPacket, flow: FlowKey) -> None:
    got = dissect(bytes(pkt))
    assert got is not None
    assert got.flow == flow
    assert isinstance(got.flow.family, int) and type(got.flow.family) is int
    # Past the last header netcap knows: for ICMP that is the end of the IP header.
    assert got.payload_offset == (34 if flow.l4proto == 1 else _payload_offset(pkt))


def test_dissect_raw_ip_link() -> None:
    pkt = IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2) / PAYLOAD
    assert dissect(bytes(pkt), LINKTYPE_RAW) == (FlowKey(socket.AF_INET, "10.0.0.1", 1, "10.0.0.2", 2, 17), 28)
    pkt6 = IPv6(src="::1", dst="::2") / TCP(sport=1, dport=2) / PAYLOAD
    assert dissect(bytes(pkt6), LINKTYPE_RAW).flow.dport == 2  # type: ignore[union-attr]


def test_non_ip_and_unknown_links_give_none() -> None:
    assert dissect(bytes(_eth() / ARP())) is None
    assert dissect(bytes(_eth() / IP()), linktype=147) is None
    assert dissect(b"") is None
    assert dissect(bytes(_eth() / IP())[:20]) is None        # cut inside the IP header


def test_later_fragments_and_cut_transport_have_no_ports() -> None:
    frag = bytes(_eth() / IP(src="10.0.0.1", dst="10.0.0.2", frag=100, proto=17) / PAYLOAD)
    assert dissect(frag) == (FlowKey(socket.AF_INET, "10.0.0.1", 0, "10.0.0.2", 0, 17), 34)
    cut = bytes(_eth() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=5, dport=6))[:40]
    assert dissect(cut) == (FlowKey(socket.AF_INET, "10.0.0.1", 0, "10.0.0.2", 0, 6), 34)


LAYER_CASES = [
    (layers.Ether, Ether(dst="01:02:03:04:05:06", src="0a:0b:0c:0d:0e:0f", type=0x86DD), 0,
     {"dst": "01:02:03:04:05:06", "src": "0a:0b:0c:0d:0e:0f", "type": 0x86DD}),
    (layers.IPv4, _eth() / IP(src="1.2.3.4", dst="5.6.7.8", ttl=9, id=77, flags="DF") / UDP(), 14,
     {"src": "1.2.3.4", "dst": "5.6.7.8", "ttl": 9, "id": 77, "proto": 17, "flags_frag": 0x4000}),
    (layers.IPv6, _eth() / IPv6(src="2001:db8::5", dst="ff02::1", hlim=3) / UDP(), 14,
     {"src": "2001:db8::5", "dst": "ff02::1", "hlim": 3, "nh": 17}),
    (layers.TCP, _eth() / IP() / TCP(sport=11, dport=22, seq=33, ack=44, flags="SA", window=55), 34,
     {"sport": 11, "dport": 22, "seq": 33, "ack": 44, "window": 55, "dataofs_flags": 0x5012}),
    (layers.UDP, _eth() / IP() / UDP(sport=11, dport=22) / PAYLOAD, 34,
     {"sport": 11, "dport": 22, "len": 16}),
    (layers.Dot1Q, _eth() / Dot1Q(prio=5, vlan=42) / IP(), 14, {"tci": (5 << 13) | 42, "type": 0x0800}),
]


@pytest.mark.parametrize(("layer", "pkt", "offset", "expect"), LAYER_CASES, ids=[c[0].name for c in LAYER_CASES])
def test_parse_build_round_trip(layer: type[layers.Layer], pkt: ScapyPacket, offset: int,
                                expect: dict[str, object]) -> None:
    wire = bytes(pkt)
    values = layer.parse(wire, offset)
    assert {k: values[k] for k in expect} == expect
    assert layer.build(values) == wire[offset:offset + layer.st.size]
    assert all(f"{f.name}=" in layer.show(values) for f in layer.fields)


def test_ipv4_header_literal_bytes() -> None:
    wire = bytes.fromhex("4500001c00014000401126ce0a0000010a000002")
    values = {"version_ihl": 0x45, "tos": 0, "len": 28, "id": 1, "flags_frag": 0x4000, "ttl": 64, "proto": 17,
              "chksum": 0x26CE, "src": "10.0.0.1", "dst": "10.0.0.2"}
    assert layers.IPv4.parse(wire) == values
    assert layers.IPv4.build(values) == wire
    assert layers.IPv4.show(values).startswith("version_ihl=69 tos=0 len=28 id=1 flags_frag=0x4000 ttl=64 proto=udp")


def test_binding_table_is_consistent() -> None:
    """Every lower layer in the table names the field its key is read from, and no binding is stated
    twice with different uppers."""
    seen: dict[tuple[type[layers.Layer], int], type[layers.Layer]] = {}
    for lower, value, upper in BINDINGS:
        assert lower.next_field is not None or lower is layers.RawIP
        assert seen.setdefault((lower, value), upper) is upper
    assert set(layers.LINK_LAYERS) == {LINKTYPE_ETHERNET, LINKTYPE_RAW}
