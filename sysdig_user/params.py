"""On-disk encoding of event parameters, one decoder and one encoder per PT type.

Layouts follow scap-format.md §10 (all little-endian except IP addresses, which stay in network order;
ports are host order). Python values:

* integers for every numeric, flag, fd, pid, errno, uid/gid, mode, time and signal type (signed types
  sign-extended; RELTIME/ABSTIME unsigned ns);
* ``str`` for CHARBUF/FSPATH/FSRELPATH, decoded as UTF-8 with ``surrogateescape`` so every byte survives a
  round trip to output; the trailing NUL is dropped;
* ``bytes`` for BYTEBUF;
* SOCKADDR: ``None`` (empty), ``(family, ip_bytes, port)`` for AF_INET/AF_INET6, ``(1, path)`` for
  AF_UNIX, ``(family,)`` otherwise;
* SOCKTUPLE: ``None`` (empty), ``(family, sip, sport, dip, dport)`` for INET/INET6,
  ``(1, source, dest, path)`` for AF_UNIX, ``(family,)`` otherwise;
* FDLIST: tuple of ``(fd, flags)``;
* DYN: ``(index, value)`` where the value is decoded as ``Param.dyn[index]``.
"""
from __future__ import annotations

import struct
from _collections_abc import Callable  # (collections.abc without collections)

from sysdig_user.event_table import PT, Param

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    from typing import Any

AF_UNIX = 1
AF_INET = 2
AF_INET6 = 10

_S = {PT.INT8: "<b", PT.INT16: "<h", PT.INT32: "<i", PT.INT64: "<q",
      PT.UINT8: "<B", PT.UINT16: "<H", PT.UINT32: "<I", PT.UINT64: "<Q",
      PT.ERRNO: "<q", PT.FD: "<q", PT.PID: "<q", PT.SYSCALLID: "<H", PT.SIGTYPE: "<B",
      PT.RELTIME: "<Q", PT.ABSTIME: "<Q", PT.PORT: "<H", PT.L4PROTO: "<B", PT.SOCKFAMILY: "<B",
      PT.BOOL: "<I", PT.FLAGS8: "<B", PT.FLAGS16: "<H", PT.FLAGS32: "<I", PT.UID: "<I", PT.GID: "<I",
      PT.DOUBLE: "<d", PT.SIGSET: "<I", PT.MODE: "<I"}

_INT_DECODERS: dict[PT, Callable[[bytes], Any]] = {}


def _fixed(fmt: str) -> Callable[[bytes], Any]:
    st = struct.Struct(fmt)
    size = st.size

    def dec(raw: bytes) -> Any:
        if len(raw) < size:  # short values appear in old captures; pad as the C reader would read
            raw = bytes(raw) + b"\0" * (size - len(raw))
        return st.unpack_from(raw)[0]
    return dec


for _pt, _fmt in _S.items():
    _INT_DECODERS[_pt] = _fixed(_fmt)

INTEGER_TYPES = frozenset(pt for pt in _S if pt is not PT.DOUBLE)


def fixed_format(pt: PT) -> str | None:
    """The struct format ("<I") of a fixed-size param type, None for variable-size types."""
    return _S.get(pt)

STRING_TYPES = frozenset({PT.CHARBUF, PT.FSPATH, PT.FSRELPATH})


def decode_str(raw: bytes) -> str:
    end = raw.find(b"\0")
    if end >= 0:
        raw = raw[:end]
    return raw.decode("utf-8", "surrogateescape")


#: the bytes of a sockaddr / socktuple of each family, its family byte included: a shorter one (a damaged
#: capture) is read padded with zeros, as sinsp reads past it into its zeroed buffer
_SOCKADDR_SIZE = {AF_INET: 7, AF_INET6: 19}
_SOCKTUPLE_SIZE = {AF_INET: 13, AF_INET6: 37, AF_UNIX: 17}


def _padded(raw: bytes, sizes: dict[int, int]) -> bytes:
    size = sizes.get(raw[0], 0)
    return bytes(raw) + b"\0" * (size - len(raw)) if len(raw) < size else raw


def decode_sockaddr(raw: bytes) -> tuple[Any, ...] | None:
    if not raw:
        return None
    raw = _padded(raw, _SOCKADDR_SIZE)
    fam = raw[0]
    if fam == AF_INET and len(raw) >= 7:
        return (AF_INET, bytes(raw[1:5]), int.from_bytes(raw[5:7], "little"))
    if fam == AF_INET6 and len(raw) >= 19:
        return (AF_INET6, bytes(raw[1:17]), int.from_bytes(raw[17:19], "little"))
    if fam == AF_UNIX:
        return (AF_UNIX, decode_str(raw[1:]))
    return (fam,)


def decode_socktuple(raw: bytes) -> tuple[Any, ...] | None:
    if not raw:
        return None
    raw = _padded(raw, _SOCKTUPLE_SIZE)
    fam = raw[0]
    if fam == AF_INET and len(raw) >= 13:
        return (AF_INET, bytes(raw[1:5]), int.from_bytes(raw[5:7], "little"),
                bytes(raw[7:11]), int.from_bytes(raw[11:13], "little"))
    if fam == AF_INET6 and len(raw) >= 37:
        return (AF_INET6, bytes(raw[1:17]), int.from_bytes(raw[17:19], "little"),
                bytes(raw[19:35]), int.from_bytes(raw[35:37], "little"))
    if fam == AF_UNIX and len(raw) >= 17:
        return (AF_UNIX, int.from_bytes(raw[1:9], "little"), int.from_bytes(raw[9:17], "little"),
                decode_str(raw[17:]))
    return (fam,)


def decode_fdlist(raw: bytes) -> tuple[tuple[int, int], ...]:
    if len(raw) < 2:
        return ()
    n = int.from_bytes(raw[0:2], "little")
    out = []
    off = 2
    for _ in range(n):
        if off + 10 > len(raw):
            break
        fd, flags = struct.unpack_from("<qH", raw, off)
        out.append((fd, flags))
        off += 10
    return tuple(out)


def decode(pt: PT, raw: bytes) -> Any:
    """Decode the bytes of one param of type ``pt`` (not DYN: use decode_param for those)."""
    dec = _INT_DECODERS.get(pt)
    if dec is not None:
        return dec(raw)
    if pt in STRING_TYPES:
        return decode_str(raw)
    if pt is PT.BYTEBUF:
        return bytes(raw)
    if pt is PT.SOCKADDR:
        return decode_sockaddr(raw)
    if pt is PT.SOCKTUPLE:
        return decode_socktuple(raw)
    if pt is PT.FDLIST:
        return decode_fdlist(raw)
    if pt is PT.IPV4ADDR:
        return bytes(raw[:4])
    if pt is PT.IPV6ADDR:
        return bytes(raw[:16])
    return bytes(raw)


def decoder(pt: PT) -> Callable[[bytes], Any]:
    """``decode(pt, raw)`` as a function of ``raw`` alone, the type's branch chosen once (not DYN)."""
    dec = _INT_DECODERS.get(pt)
    if dec is not None:
        return dec
    if pt in STRING_TYPES:
        return decode_str
    if pt is PT.SOCKADDR:
        return decode_sockaddr
    if pt is PT.SOCKTUPLE:
        return decode_socktuple
    if pt is PT.FDLIST:
        return decode_fdlist
    if pt is PT.IPV4ADDR:
        return lambda raw: bytes(raw[:4])
    if pt is PT.IPV6ADDR:
        return lambda raw: bytes(raw[:16])
    return bytes  # BYTEBUF, and the types decode keeps as bytes


def decode_param(param: Param, raw: bytes) -> Any:
    """Decode one param, resolving DYN params through the table's list of alternatives."""
    if param.type is PT.DYN:
        if not raw:
            return None
        idx = raw[0]
        sub = param.dyn[idx] if idx < len(param.dyn) else PT.BYTEBUF
        return (idx, decode(sub, raw[1:]))
    return decode(param.type, raw)


# ---------------------------------------------------------------------------------------------- encode

def encode_str(value: str | bytes | None) -> bytes:
    if value is None:
        return b"(NULL)\0"
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogateescape")
    return value + b"\0"


def encode_sockaddr(value: tuple[Any, ...] | None) -> bytes:
    if value is None:
        return b""
    fam = value[0]
    if fam in (AF_INET, AF_INET6):
        return bytes([fam]) + value[1] + int(value[2]).to_bytes(2, "little")
    if fam == AF_UNIX:
        return b"\x01" + encode_str(value[1])
    return bytes([fam])


def encode_socktuple(value: tuple[Any, ...] | None) -> bytes:
    if value is None:
        return b""
    fam = value[0]
    if fam in (AF_INET, AF_INET6):
        return (bytes([fam]) + value[1] + int(value[2]).to_bytes(2, "little")
                + value[3] + int(value[4]).to_bytes(2, "little"))
    if fam == AF_UNIX:
        return (b"\x01" + int(value[1]).to_bytes(8, "little") + int(value[2]).to_bytes(8, "little")
                + encode_str(value[3]))
    return bytes([fam])


def encode_fdlist(value: tuple[tuple[int, int], ...] | list[tuple[int, int]]) -> bytes:
    out = [len(value).to_bytes(2, "little")]
    out += [struct.pack("<qH", fd, flags) for fd, flags in value]
    return b"".join(out)


_ENCODERS: dict[PT, Callable[[Any], bytes]] = {}
for _pt, _fmt in _S.items():
    _ENCODERS[_pt] = struct.Struct(_fmt).pack


def _mask_pack(pt: PT) -> Callable[[Any], bytes]:
    """Integers are stored modulo their width, as the C driver's casts do (-1 as u32 is 0xffffffff)."""
    st = struct.Struct(_S[pt])
    bits = st.size * 8
    signed = _S[pt][1].islower()

    def pack(v: Any) -> bytes:
        v = int(v) & ((1 << bits) - 1)
        if signed and v >= 1 << (bits - 1):
            v -= 1 << bits
        return st.pack(v)
    return pack


for _pt in INTEGER_TYPES:
    _ENCODERS[_pt] = _mask_pack(_pt)


def encode(pt: PT, value: Any) -> bytes:
    """Encode a python value (see the module docstring) as param type ``pt``."""
    enc = _ENCODERS.get(pt)
    if enc is not None:
        return enc(value)
    if pt in STRING_TYPES:
        return encode_str(value)
    if pt is PT.BYTEBUF:
        return bytes(value)
    if pt is PT.SOCKADDR:
        return encode_sockaddr(value)
    if pt is PT.SOCKTUPLE:
        return encode_socktuple(value)
    if pt is PT.FDLIST:
        return encode_fdlist(value)
    return bytes(value)


def encode_param(param: Param, value: Any) -> bytes:
    if param.type is PT.DYN:
        if value is None:
            return b""
        idx, sub = value
        return bytes([idx]) + encode(param.dyn[idx], sub)
    return encode(param.type, value)
