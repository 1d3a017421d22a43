"""A CRI runtime stand-in for the tests: a real gRPC server (grpcio) on a unix socket that answers
RuntimeService/ContainerStatus for one container, with a protobuf response encoded here, field by field
from the CRI's api.proto (independently of tracer/cri.py's decoder)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _len_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _str_field(number: int, text: str) -> bytes:
    return _len_field(number, text.encode())


def status_response(full_id: str, name: str, image: str, image_ref: str, labels: dict[str, str]) -> bytes:
    """ContainerStatusResponse{status: ContainerStatus{id 1, metadata 2 {name 1, attempt 2}, state 3,
    created_at 4, image 8 {image 1}, image_ref 9, labels 12, mounts 14}}."""
    status = _str_field(1, full_id)
    status += _len_field(2, _str_field(1, name) + _varint(2 << 3) + _varint(1))
    status += _varint(3 << 3) + _varint(1)  # CONTAINER_RUNNING
    status += _varint(4 << 3) + _varint(1_700_000_000_000_000_000)
    status += _len_field(8, _str_field(1, image))
    status += _str_field(9, image_ref)
    for k, v in labels.items():
        status += _len_field(12, _str_field(1, k) + _str_field(2, v))
    status += _len_field(14, _str_field(1, "/data") + _str_field(2, "/srv") + _varint(3 << 3) + _varint(0))
    return _len_field(1, status)


@contextmanager
def serve(sock_path: str, ids: set[str], response: bytes, services: tuple[str, ...]) -> Iterator[list[bytes]]:
    """Serve ContainerStatus for `ids` (a request naming another id gets NOT_FOUND) under `services`;
    yields the list of request messages received."""
    grpc: Any = pytest.importorskip("grpc")
    from concurrent import futures

    requests: list[bytes] = []

    def status(request: bytes, context: Any) -> bytes:
        requests.append(request)
        cid = request[2:2 + request[1]].decode()
        if cid not in ids:
            context.abort(grpc.StatusCode.NOT_FOUND, "no such container")
        return response

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    for service in services:
        handler = grpc.unary_unary_rpc_method_handler(status)  # bytes in, bytes out
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, {"ContainerStatus": handler}),))
    server.add_insecure_port(f"unix:{sock_path}")
    server.start()
    try:
        yield requests
    finally:
        server.stop(None)
