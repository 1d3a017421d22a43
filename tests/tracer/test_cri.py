"""tracer/cri.py against a real gRPC server (grpcio): the HTTP/2 and gRPC framing must be what a gRPC
stack accepts and answers, and the response's fields come out as the CRI's api.proto numbers them."""
from __future__ import annotations

from pathlib import Path

from tests.tracer.cri_server import serve, status_response
from tracer.cri import container_status, encode_request

FULL = "c0ffee" * 10 + "abcd"
RESPONSE = status_response(FULL, "web", "docker.io/library/nginx:1.25", "docker.io/library/nginx@sha256:" + "ab" * 32,
                           {"io.kubernetes.pod.name": "web-pod"})


def test_v1_answer(tmp_path: Path) -> None:
    sock = str(tmp_path / "cri.sock")
    with serve(sock, {FULL[:12]}, RESPONSE, ("runtime.v1.RuntimeService",)) as requests:
        got = container_status(sock, FULL[:12], 5.0)
    assert requests == [encode_request(FULL[:12])]
    assert got is not None
    assert (got.name, got.image, got.image_ref) == ("web", "docker.io/library/nginx:1.25",
                                                     "docker.io/library/nginx@sha256:" + "ab" * 32)
    assert got.labels == {"io.kubernetes.pod.name": "web-pod"}
    assert got.mounts == [("/data", "/srv", False, "private")]


def test_v1alpha2_when_v1_is_unimplemented(tmp_path: Path) -> None:
    sock = str(tmp_path / "cri.sock")
    with serve(sock, {FULL[:12]}, RESPONSE, ("runtime.v1alpha2.RuntimeService",)) as requests:
        got = container_status(sock, FULL[:12], 5.0)
    assert got is not None and got.name == "web" and len(requests) == 1


def test_unknown_container_and_no_runtime(tmp_path: Path) -> None:
    sock = str(tmp_path / "cri.sock")
    with serve(sock, {FULL[:12]}, RESPONSE, ("runtime.v1.RuntimeService",)):
        assert container_status(sock, "0123456789ab", 5.0) is None
    assert container_status(str(tmp_path / "none.sock"), FULL[:12], 0.5) is None
