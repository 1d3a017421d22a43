"""The one CRI call sdu makes: RuntimeService/ContainerStatus over the runtime's unix socket (``--cri``).

libsinsp asks a CRI runtime (containerd, cri-o) for a container's name and image with gRPC
(container_engine/cri.cpp ``parse_cri``: ``status.metadata.name``, ``status.image.image``,
``status.image_ref``, ``status.labels``, ``status.mounts``). sdu has no gRPC library at run time, and
one unary call needs little of it, so this module speaks just that much:

* HTTP/2 over the socket (RFC 9113): the client preface, an empty SETTINGS, one HEADERS frame whose
  header block is HPACK literals without indexing and without Huffman coding (RFC 7541 6.2.2, which any
  decoder must accept), one DATA frame carrying the gRPC message (a 0 compression byte, a big-endian
  u32 length, the protobuf bytes); the server's SETTINGS and PINGs are acknowledged, its header blocks
  are not decoded (only the DATA of stream 1 is read, to END_STREAM, RST_STREAM or GOAWAY);
* protobuf (the wire format's varint and length-delimited fields) for ContainerStatusRequest
  ``{container_id = 1, verbose = 2}`` and the parts of ContainerStatusResponse
  ``{status = 1: ContainerStatus}`` sinsp reads, numbered as in the CRI's api.proto: ContainerStatus
  ``metadata = 2 {name = 1}``, ``image = 8 {image = 1}``, ``image_ref = 9``, ``labels = 12``
  (map entries ``{key = 1, value = 2}``), ``mounts = 14 {container_path = 1, host_path = 2,
  readonly = 3, propagation = 5}``.

The runtime.v1 service is asked first, then runtime.v1alpha2 (what sysdig 0.29's libs speak; a runtime
that lacks one answers UNIMPLEMENTED, with no message). Every failure (no socket, timeout, a runtime that
does not know the id) is None: the container then keeps its id and type only.
"""
from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass, field

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, CONTINUATION = 0, 1, 3, 4, 6, 7, 9
END_STREAM, ACK, END_HEADERS, PADDED = 0x1, 0x1, 0x4, 0x8
SERVICES = ("runtime.v1.RuntimeService", "runtime.v1alpha2.RuntimeService")
# CRI MountPropagation enum -> the text sinsp stores (parse_cri_mounts)
PROPAGATION = {0: "private", 1: "rslave", 2: "rshared"}


@dataclass
class CriStatus:
    """What ContainerStatus told of a container (the parts sinsp keeps)."""

    name: str = ""
    image: str = ""
    image_ref: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    mounts: list[tuple[str, str, bool, str]] = field(default_factory=list)  # (dest, source, readonly, prop)


# ---- protobuf wire format --------------------------------------------------------------------------

def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_request(container_id: str) -> bytes:
    """ContainerStatusRequest{container_id = 1} (verbose left false: sinsp's parse_containerd reads the
    verbose info only for limits, which sdu does not show)."""
    cid = container_id.encode()
    return b"\x0a" + _varint(len(cid)) + cid


def _fields(data: bytes) -> dict[int, list[int | bytes]]:
    """Field number -> its values (ints for varints and fixed ints, bytes for length-delimited)."""
    out: dict[int, list[int | bytes]] = {}
    pos, end = 0, len(data)
    while pos < end:
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, pos = _read_varint(data, pos)
        elif wire == 2:
            size, pos = _read_varint(data, pos)
            value, pos = data[pos:pos + size], pos + size
        elif wire == 1:
            value, pos = struct.unpack_from("<Q", data, pos)[0], pos + 8
        elif wire == 5:
            value, pos = struct.unpack_from("<I", data, pos)[0], pos + 4
        else:
            raise ValueError(f"protobuf wire type {wire}")
        out.setdefault(number, []).append(value)
    return out


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _text(fields: dict[int, list[int | bytes]], number: int) -> str:
    values = fields.get(number)
    value = values[-1] if values else b""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ""


def _message(fields: dict[int, list[int | bytes]], number: int) -> dict[int, list[int | bytes]]:
    values = fields.get(number)
    value = values[-1] if values else b""
    return _fields(value) if isinstance(value, bytes) else {}


def decode_response(data: bytes) -> CriStatus | None:
    """The CriStatus of a ContainerStatusResponse; None without a status."""
    status = _message(_fields(data), 1)
    if not status:
        return None
    out = CriStatus(_text(_message(status, 2), 1), _text(_message(status, 8), 1), _text(status, 9))
    for entry in status.get(12, []):
        if isinstance(entry, bytes):
            kv = _fields(entry)
            out.labels[_text(kv, 1)] = _text(kv, 2)
    for entry in status.get(14, []):
        if isinstance(entry, bytes):
            m = _fields(entry)
            prop = m.get(5, [0])[-1]
            readonly = m.get(3, [0])[-1]
            out.mounts.append((_text(m, 1), _text(m, 2), bool(readonly),
                               PROPAGATION.get(prop if isinstance(prop, int) else 0, "private")))
    return out


# ---- HTTP/2 and gRPC ----------------------------------------------------------------------------------

def _frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes((kind, flags)) + struct.pack(">I", stream) + payload


def _hpack_int(value: int, prefix_bits: int, first: int = 0) -> bytes:
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((first | value,))
    out = bytearray((first | limit,))
    value -= limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def _hpack_literal(name: str, value: str) -> bytes:
    """RFC 7541 6.2.2 literal header field without indexing, new name, no Huffman."""
    n, v = name.encode(), value.encode()
    return b"\x00" + _hpack_int(len(n), 7) + n + _hpack_int(len(v), 7) + v


def request_frames(service: str, message: bytes, authority: str = "localhost") -> bytes:
    """Everything the client sends for one unary call on stream 1."""
    block = b"".join(_hpack_literal(k, v) for k, v in (
        (":method", "POST"), (":scheme", "http"), (":path", f"/{service}/ContainerStatus"),
        (":authority", authority), ("content-type", "application/grpc"), ("te", "trailers")))
    body = b"\x00" + struct.pack(">I", len(message)) + message
    return PREFACE + _frame(SETTINGS, 0, 0) + _frame(HEADERS, END_HEADERS, 1, block) \
        + _frame(DATA, END_STREAM, 1, body)


def _unary(sock_path: str, service: str, message: bytes, timeout_s: float) -> bytes | None:
    """The response message of one call, None if there is none (an error status, a broken connection)."""
    deadline = time.monotonic() + timeout_s
    data = bytearray()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout_s)
        s.connect(sock_path)
        s.sendall(request_frames(service, message))
        buf = b""
        while True:
            while len(buf) < 9 or len(buf) < 9 + int.from_bytes(buf[:3], "big"):
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                s.settimeout(left)
                chunk = s.recv(65536)
                if not chunk:
                    return _grpc_message(bytes(data))
                buf += chunk
            size = int.from_bytes(buf[:3], "big")
            kind, flags, stream = buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
            payload, buf = buf[9:9 + size], buf[9 + size:]
            if kind == SETTINGS and not flags & ACK:
                s.sendall(_frame(SETTINGS, ACK, 0))
            elif kind == PING and not flags & ACK:
                s.sendall(_frame(PING, ACK, 0, payload))
            elif kind == GOAWAY or (kind == RST_STREAM and stream == 1):
                return _grpc_message(bytes(data))
            elif stream == 1 and kind == DATA:
                if flags & PADDED and payload:
                    payload = payload[1:len(payload) - payload[0]]
                data += payload
            if stream == 1 and kind in (DATA, HEADERS, CONTINUATION) and flags & END_STREAM:
                return _grpc_message(bytes(data))


def _grpc_message(data: bytes) -> bytes | None:
    """The first gRPC length-prefixed message (uncompressed), None if there is none."""
    if len(data) < 5 or data[0] != 0:
        return None
    size = int.from_bytes(data[1:5], "big")
    return data[5:5 + size] if len(data) >= 5 + size else None


def container_status(sock_path: str, container_id: str, timeout_s: float) -> CriStatus | None:
    """ContainerStatus of `container_id` from the runtime on `sock_path` (v1, then v1alpha2); None when
    neither answers within the timeout."""
    request = encode_request(container_id)
    for service in SERVICES:
        try:
            got = _unary(sock_path, service, request, timeout_s)
        except (OSError, ValueError, IndexError, struct.error):
            return None
        if got is not None:
            try:
                return decode_response(got)
            except (ValueError, IndexError, struct.error):
                return None
    return None


__all__ = ["CriStatus", "container_status", "decode_response", "encode_request", "request_frames"]
