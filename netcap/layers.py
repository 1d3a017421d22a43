"""Minimal protocol headers (Ethernet, 802.1Q, IPv4, IPv6 and its extension headers, TCP, UDP), declared as
data the way scapy declares them (scapy/layers/inet.py): a layer is an ordered tuple of typed fields, each
field converting wire values to Python values (m2i), back (i2m) and to display text (i2repr).

Which layer follows which is stated apart from the layers, in the one binding table at the end of this
module; `dissect` loops over that table and knows no protocol by name. Unlike scapy, nothing registers
itself at import and no packet objects are built: the hot path is one `struct.unpack_from` per header.

Example: ``dissect(bytes(Ether()/IP(src="10.0.0.1", dst="10.0.0.2")/TCP(sport=1234, dport=80)))`` gives
``Dissected(FlowKey(AF_INET, "10.0.0.1", 1234, "10.0.0.2", 80, 6), payload_offset=54)``.
"""
from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, NamedTuple

from netcap.records import Dissected, FlowKey

# pcap/pcapng link types (https://www.tcpdump.org/linktypes.html) of the frames netcap reads.
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101

_inet_ntop = socket.inet_ntop


class Field:
    """One fixed-size header field; fmt is a network-order struct code for exactly this field."""

    default_fmt: ClassVar[str] = "B"

    def __init__(self, name: str, fmt: str | None = None) -> None:
        self.name = name
        self.fmt = fmt or self.default_fmt

    def m2i(self, raw: Any) -> Any:
        """Wire value (as struct unpacks it) -> Python value."""
        return raw

    def i2m(self, value: Any) -> Any:
        """Python value -> what struct packs."""
        return value

    def i2repr(self, value: Any) -> str:
        return str(value)


class ByteField(Field):
    default_fmt = "B"


class ShortField(Field):
    default_fmt = "H"


class IntField(Field):
    default_fmt = "I"


class XShortField(ShortField):
    def i2repr(self, value: Any) -> str:
        return f"{value:#06x}"


class EnumField(Field):
    """An integer field whose values have names (ethertypes, IP protocols)."""

    def __init__(self, name: str, names: Mapping[int, str], fmt: str = "B") -> None:
        super().__init__(name, fmt)
        self.names = dict(names)

    def i2repr(self, value: Any) -> str:
        return self.names.get(value, str(value))


class MACField(Field):
    default_fmt = "6s"

    def m2i(self, raw: Any) -> Any:
        return ":".join(f"{b:02x}" for b in raw)

    def i2m(self, value: Any) -> Any:
        return bytes.fromhex(value.replace(":", ""))


class IPv4Field(Field):
    default_fmt = "4s"

    def m2i(self, raw: Any) -> Any:
        return _inet_ntop(socket.AF_INET, raw)

    def i2m(self, value: Any) -> Any:
        return socket.inet_pton(socket.AF_INET, value)


class IPv6Field(Field):
    default_fmt = "16s"

    def m2i(self, raw: Any) -> Any:
        return _inet_ntop(socket.AF_INET6, raw)

    def i2m(self, value: Any) -> Any:
        return socket.inet_pton(socket.AF_INET6, value)


ETHERTYPES = {0x0800: "IPv4", 0x86DD: "IPv6", 0x8100: "802.1Q", 0x0806: "ARP"}
IP_PROTOS = {0: "hopopt", 1: "icmp", 6: "tcp", 17: "udp", 43: "ipv6-route", 44: "ipv6-frag", 51: "ah",
             58: "ipv6-icmp", 60: "ipv6-opts"}


class _Plan(NamedTuple):
    """What dissect() needs from a Layer, flattened into one tuple read per header."""

    st: struct.Struct
    size: int
    family: int
    has_ports: bool
    proto_index: int | None
    header_len: Callable[[tuple[Any, ...]], int] | None
    upper_key: Callable[[tuple[Any, ...]], int | None] | None
    next_index: int | None


class Layer:
    """A header: `fields` in wire order. Subclasses override the hooks when a header's length or its
    upper-layer key is not simply a field value.

    next_field: the field whose value selects the upper layer in BINDINGS.
    proto_field: a field holding the IP protocol of what follows (recorded in FlowKey.l4proto).
    family: AF_INET/AF_INET6 when the layer carries the L3 "src"/"dst" addresses.
    has_ports: the first two fields are the source and destination ports.
    """

    name: ClassVar[str]
    fields: ClassVar[tuple[Field, ...]]
    next_field: ClassVar[str | None] = None
    proto_field: ClassVar[str | None] = None
    family: ClassVar[int] = 0
    has_ports: ClassVar[bool] = False
    # Derived once per class in __init_subclass__.
    st: ClassVar[struct.Struct]
    index: ClassVar[dict[str, int]]
    next_index: ClassVar[int | None]
    proto_index: ClassVar[int | None]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.st = struct.Struct("!" + "".join(f.fmt for f in cls.fields))
        cls.index = {f.name: i for i, f in enumerate(cls.fields)}
        cls.next_index = cls.index[cls.next_field] if cls.next_field else None
        cls.proto_index = cls.index[cls.proto_field] if cls.proto_field else None
        if cls.family:
            cls.src_index, cls.dst_index = cls.index["src"], cls.index["dst"]
        # The hooks are called only where a subclass overrides them, which keeps dissect() to one
        # unpack_from and a few tuple reads for fixed-size headers.
        own_len = cls.header_len.__func__ is not Layer.header_len.__func__  # type: ignore[attr-defined]
        own_key = cls.upper_key.__func__ is not Layer.upper_key.__func__  # type: ignore[attr-defined]
        cls.plan = _Plan(cls.st, cls.st.size, int(cls.family), cls.has_ports, cls.proto_index,
                         cls.header_len if own_len else None, cls.upper_key if own_key else None,
                         cls.next_index)

    src_index: ClassVar[int] = 4
    dst_index: ClassVar[int] = 5
    plan: ClassVar[_Plan]

    @classmethod
    def header_len(cls, vals: tuple[Any, ...]) -> int:
        """Bytes this header occupies, options included."""
        return cls.st.size

    @classmethod
    def upper_key(cls, vals: tuple[Any, ...]) -> int | None:
        """Value looked up in BINDINGS, or None when no upper header is present."""
        return None if cls.next_index is None else vals[cls.next_index]

    @classmethod
    def parse(cls, data: bytes, offset: int = 0) -> dict[str, Any]:
        """Fixed part of the header at offset -> {field name: Python value}."""
        raw = cls.st.unpack_from(data, offset)
        return {f.name: f.m2i(v) for f, v in zip(cls.fields, raw)}

    @classmethod
    def build(cls, values: Mapping[str, Any]) -> bytes:
        """{field name: Python value} -> the fixed part of the header, the inverse of parse()."""
        return cls.st.pack(*(f.i2m(values[f.name]) for f in cls.fields))

    @classmethod
    def show(cls, values: Mapping[str, Any]) -> str:
        return " ".join(f"{f.name}={f.i2repr(values[f.name])}" for f in cls.fields)


class Ether(Layer):
    name = "Ethernet"
    fields = (MACField("dst"), MACField("src"), EnumField("type", ETHERTYPES, "H"))
    next_field = "type"


class Dot1Q(Layer):
    """802.1Q tag as it sits inside the frame (after the MAC addresses). capture.py puts back the tags the
    kernel stripped into tp_vlan_tci, so a tagged frame always reaches the dissector with this header."""

    name = "802.1Q"
    fields = (ShortField("tci"), EnumField("type", ETHERTYPES, "H"))
    next_field = "type"


class RawIP(Layer):
    """A zero-length pseudo-header for LINKTYPE_RAW frames: the IP version nibble picks IPv4 or IPv6."""

    name = "RawIP"
    fields = (ByteField("version_ihl"),)

    @classmethod
    def header_len(cls, vals: tuple[Any, ...]) -> int:
        return 0

    @classmethod
    def upper_key(cls, vals: tuple[Any, ...]) -> int | None:
        return int(vals[0]) >> 4


class IPv4(Layer):
    name = "IPv4"
    fields = (ByteField("version_ihl"), ByteField("tos"), ShortField("len"), ShortField("id"),
              XShortField("flags_frag"), ByteField("ttl"), EnumField("proto", IP_PROTOS),
              XShortField("chksum"), IPv4Field("src"), IPv4Field("dst"))
    next_field = "proto"
    proto_field = "proto"
    family = socket.AF_INET

    @classmethod
    def header_len(cls, vals: tuple[Any, ...]) -> int:
        return (int(vals[0]) & 0x0F) * 4

    @classmethod
    def upper_key(cls, vals: tuple[Any, ...]) -> int | None:
        # Only the first fragment carries the transport header; later ones start mid-payload.
        return None if vals[4] & 0x1FFF else int(vals[6])


class IPv6(Layer):
    name = "IPv6"
    fields = (IntField("version_tc_fl"), ShortField("plen"), EnumField("nh", IP_PROTOS),
              ByteField("hlim"), IPv6Field("src"), IPv6Field("dst"))
    next_field = "nh"
    proto_field = "nh"
    family = socket.AF_INET6


class IPv6ExtHdr(Layer):
    """Hop-by-hop, routing and destination options headers (RFC 8200 4.3-4.6): length in 8-octet units
    not counting the first 8."""

    name = "IPv6ExtHdr"
    fields = (EnumField("nh", IP_PROTOS), ByteField("len"))
    next_field = "nh"
    proto_field = "nh"

    @classmethod
    def header_len(cls, vals: tuple[Any, ...]) -> int:
        return (int(vals[1]) + 1) * 8


class IPv6Frag(Layer):
    """RFC 8200 4.5; a non-first fragment carries no transport header."""

    name = "IPv6Frag"
    fields = (EnumField("nh", IP_PROTOS), ByteField("res"), XShortField("offset_flags"), IntField("id"))
    next_field = "nh"
    proto_field = "nh"

    @classmethod
    def upper_key(cls, vals: tuple[Any, ...]) -> int | None:
        return None if vals[2] & 0xFFF8 else int(vals[0])


class AH(Layer):
    """IP Authentication Header (RFC 4302): length in 4-octet units minus 2."""

    name = "AH"
    fields = (EnumField("nh", IP_PROTOS), ByteField("len"), ShortField("res"), IntField("spi"),
              IntField("seq"))
    next_field = "nh"
    proto_field = "nh"

    @classmethod
    def header_len(cls, vals: tuple[Any, ...]) -> int:
        return (int(vals[1]) + 2) * 4


class TCP(Layer):
    name = "TCP"
    fields = (ShortField("sport"), ShortField("dport"), IntField("seq"), IntField("ack"),
              XShortField("dataofs_flags"), ShortField("window"), XShortField("chksum"), ShortField("urgptr"))
    has_ports = True

    @classmethod
    def header_len(cls, vals: tuple[Any, ...]) -> int:
        return (int(vals[4]) >> 12) * 4


class UDP(Layer):
    name = "UDP"
    fields = (ShortField("sport"), ShortField("dport"), ShortField("len"), XShortField("chksum"))
    has_ports = True


def dissect(data: bytes, linktype: int = LINKTYPE_ETHERNET) -> Dissected | None:
    """Frame -> its flow and payload offset, or None when no IP header is reachable (ARP, LLDP, an
    unknown link type, or a frame cut before the end of its IP header).

    A transport header cut by the snaplen leaves the ports at 0 and the payload offset at the end of the
    last whole header; the l4proto is still known from the IP header.
    """
    layer = LINK_LAYERS.get(linktype)
    off = 0
    size = len(data)
    family = sport = dport = proto = 0
    src = dst = ""
    nxt = _NEXT
    while layer is not None:
        st, hsize, fam, ports, proto_i, hlen, ukey, next_i = layer.plan
        if off + hsize > size:
            break
        vals = st.unpack_from(data, off)
        if fam:
            family = fam
            src = _inet_ntop(fam, vals[layer.src_index])
            dst = _inet_ntop(fam, vals[layer.dst_index])
        elif ports:
            sport, dport = vals[0], vals[1]
        if proto_i is not None:
            proto = vals[proto_i]
        off += hsize if hlen is None else hlen(vals)
        key = vals[next_i] if ukey is None and next_i is not None else (ukey(vals) if ukey else None)
        layer = None if key is None else nxt.get((layer, key))
    if not family:
        return None
    return Dissected(FlowKey(family, src, sport, dst, dport, proto), min(off, size))


# ---------------------------------------------------------------------------------------------------------
# The binding table: (lower layer, value of its next_field, upper layer). The only place that says which
# header follows which; dissect() does nothing else but follow it.
# ---------------------------------------------------------------------------------------------------------
LINK_LAYERS: dict[int, type[Layer]] = {LINKTYPE_ETHERNET: Ether, LINKTYPE_RAW: RawIP}

BINDINGS: tuple[tuple[type[Layer], int, type[Layer]], ...] = (
    (Ether, 0x0800, IPv4),
    (Ether, 0x86DD, IPv6),
    (Ether, 0x8100, Dot1Q),
    (Ether, 0x88A8, Dot1Q),          # 802.1ad outer tag: same layout, QinQ
    (Dot1Q, 0x0800, IPv4),
    (Dot1Q, 0x86DD, IPv6),
    (Dot1Q, 0x8100, Dot1Q),
    (RawIP, 4, IPv4),
    (RawIP, 6, IPv6),
    (IPv4, 6, TCP),
    (IPv4, 17, UDP),
    (IPv4, 51, AH),
    (IPv6, 0, IPv6ExtHdr),
    (IPv6, 43, IPv6ExtHdr),
    (IPv6, 44, IPv6Frag),
    (IPv6, 51, AH),
    (IPv6, 60, IPv6ExtHdr),
    (IPv6, 6, TCP),
    (IPv6, 17, UDP),
    (IPv6ExtHdr, 0, IPv6ExtHdr),
    (IPv6ExtHdr, 43, IPv6ExtHdr),
    (IPv6ExtHdr, 44, IPv6Frag),
    (IPv6ExtHdr, 60, IPv6ExtHdr),
    (IPv6ExtHdr, 6, TCP),
    (IPv6ExtHdr, 17, UDP),
    (IPv6Frag, 60, IPv6ExtHdr),
    (IPv6Frag, 6, TCP),
    (IPv6Frag, 17, UDP),
    (AH, 6, TCP),
    (AH, 17, UDP),
)

_NEXT: dict[tuple[type[Layer], int], type[Layer]] = {(lo, v): up for lo, v, up in BINDINGS}
