"""Live container identity without a container runtime library: id and type from cgroups, name and image
from the runtime's socket when one answers.

Cgroup paths (/proc/PID/cgroup, cgroup v1 "N:ctrl:path" and v2 "0::path", as tracer/procfs.py lists them)
are matched as libsinsp matches them (falcosecurity/libs userspace/libsinsp):

* runc.cpp ``match_one_container_id``: the path holds ``prefix + id + suffix``, found from the *last*
  occurrence of the prefix to the suffix at the end, with the id exactly 64 characters long
  (CONTAINER_ID_LENGTH) of ``0123456789abcdefABCDEF``, reported as its first 12 (REPORTED_...LENGTH);
* the engines in the order sinsp tries them (container.cpp ``create_engines``, podman added before docker
  in later libs), each with its layouts:
  - podman (docker/podman.cpp ROOT_PODMAN_CGROUP_LAYOUT): ``/libpod-<id>.scope``; rootless podman:
    a systemd cgroup ``.../podman-<pid>.scope/<id>``;
  - docker (docker/docker_linux.cpp DOCKER_CGROUP_LAYOUT): ``/<id>`` (non-systemd docker: this also
    claims any bare 64-hex leaf, e.g. containerd under kubepods without systemd) and
    ``/docker-<id>.scope``;
  - CRI (cri.cpp CRI_CGROUP_LAYOUT): ``/crio-<id>``, ``/crio-<id>.scope`` (cri-o),
    ``/cri-containerd-<id>.scope``, ``:cri-containerd:<id>`` (containerd): sinsp stores the container
    (and so writes its event) only when the CRI runtime answers; without one, the thread has the id and
    no container;
  - LXC (lxc.cpp): ``/lxc/<name>/...`` and ``/lxc.payload/<name>/...``: the name is the id (not
    truncated) and the container's name.

Name and image: docker's and podman's HTTP API on their unix sockets (GET /containers/<id>/json, as
docker/connection_linux.cpp asks), the CRI runtime's ContainerStatus (tracer/cri.py) on the ``--cri``
sockets (default: containerd's, as sinsp's), within --cri-timeout milliseconds; when a docker or podman
socket does not answer, the container is stored with an empty name and image, which readers show as
<NA>, as sysdig does when its lookup fails.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from sysdig_user.scap.container_json import (
    CT_CONTAINERD,
    CT_CRIO,
    CT_DOCKER,
    CT_LXC,
    CT_PODMAN,
    ContainerRecord,
    MountRecord,
)

ID_LENGTH = 64  # runc.cpp CONTAINER_ID_LENGTH
SHORT_ID = 12  # runc.cpp REPORTED_CONTAINER_ID_LENGTH
_HEX = frozenset("0123456789abcdefABCDEF")  # runc.cpp CONTAINER_ID_VALID_CHARACTERS
DOCKER_SOCK = "/var/run/docker.sock"  # docker_linux.cpp m_docker_sock
PODMAN_SOCK = "/run/podman/podman.sock"  # podman.cpp m_api_sock
CRI_SOCK = "/run/containerd/containerd.sock"  # cri.cpp: the socket tried when --cri names none

_PODMAN_LAYOUT = (("/libpod-", ".scope"), ("/libpod-", ".scope/container"))  # (the second: podman >= 4)
_DOCKER_LAYOUT = (("/", ""), ("/docker-", ".scope"))
# CRI layouts, with the runtime each one names (cri-o, containerd): sinsp asks the runtime for the type
_CRI_LAYOUT = (("/crio-", "", CT_CRIO), ("/cri-containerd-", ".scope", CT_CONTAINERD), ("/crio-", ".scope", CT_CRIO),
               (":cri-containerd:", "", CT_CONTAINERD))


def runc_id(path: str, prefix: str, suffix: str) -> str | None:
    """runc.cpp match_one_container_id: the 12-character id if `path` ends with prefix + 64 hex + suffix."""
    start = path.rfind(prefix)
    if start < 0 or not path.endswith(suffix):
        return None
    start += len(prefix)
    end = len(path) - len(suffix)
    cid = path[start:end]
    if len(cid) != ID_LENGTH or not _HEX.issuperset(cid):
        return None
    return cid[:SHORT_ID]


def _paths(cgroups: Iterable[str]) -> list[str]:
    """The paths of "subsys=path" entries (tracer/procfs.py), or of plain paths."""
    return [c.partition("=")[2] if "=" in c else c for c in cgroups]


def identify(cgroups: Sequence[str]) -> tuple[str, int | None]:
    """(container id, type) for a process's cgroups: ("", None) on the host; for a CRI shape, the type of
    the runtime it names (CT_CRIO, CT_CONTAINERD), which only a CRI answer confirms."""
    paths = _paths(cgroups)
    entries = list(zip(cgroups, paths, strict=True))
    for path in paths:
        for prefix, suffix in _PODMAN_LAYOUT:
            cid = runc_id(path, prefix, suffix)
            if cid is not None:
                return cid, CT_PODMAN
    for entry, path in entries:  # rootless podman: name=systemd:/user.slice/.../podman-<pid>.scope/<id>
        if entry.startswith("name=systemd=") and "/podman-" in path and ".scope/" in path:
            cid = runc_id(path, ".scope/", "")
            if cid is not None:
                return cid, CT_PODMAN
    for path in paths:
        for prefix, suffix in _DOCKER_LAYOUT:
            cid = runc_id(path, prefix, suffix)
            if cid is not None:
                return cid, CT_DOCKER
    for path in paths:
        for prefix, suffix, kind in _CRI_LAYOUT:
            cid = runc_id(path, prefix, suffix)
            if cid is not None:
                return cid, kind
    for path in paths:
        for marker in ("/lxc/", "/lxc.payload/"):
            pos = path.find(marker)
            if pos >= 0:
                start = pos + len(marker)
                end = path.find("/", start)
                return (path[start:] if end < 0 else path[start:end]), CT_LXC
    return "", None


def _http_get(sock_path: str, target: str, timeout_s: float) -> dict[str, object] | None:
    """One HTTP/1.0 GET over a unix socket; the JSON body of a 200 answer, else None."""
    import json  # (a live run imports neither unless it meets a docker or podman container)
    import socket

    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout_s)
            s.connect(sock_path)
            s.sendall(f"GET {target} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
    except OSError:
        return None
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split()
    if len(status) < 2 or status[1] != b"200":
        return None
    try:
        got = json.loads(body)
    except ValueError:
        return None
    return got if isinstance(got, dict) else None


def _split_image(image: str) -> tuple[str, str, str]:
    """(repo, tag, digest) of an image reference "repo[:tag][@digest]" (docker_common.cpp's split)."""
    rest, _, digest = image.partition("@")
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        return rest[:colon], rest[colon + 1:], digest
    return rest, ("latest" if not digest else ""), digest


def docker_record(cid: str, kind: int, sock_path: str, timeout_s: float) -> ContainerRecord:
    """The container as docker's (or podman's) API describes it; only id and type if it does not answer."""
    rec = ContainerRecord(cid, kind)
    got = _http_get(sock_path, f"/containers/{cid}/json", timeout_s)
    if got is None:
        return rec
    config = got.get("Config") if isinstance(got.get("Config"), dict) else {}
    host = got.get("HostConfig") if isinstance(got.get("HostConfig"), dict) else {}
    assert isinstance(config, dict) and isinstance(host, dict)
    name = got.get("Name")
    rec.name = name[1:] if isinstance(name, str) and name.startswith("/") else str(name or "")
    image = config.get("Image")
    rec.image = image if isinstance(image, str) else ""
    image_id = got.get("Image")
    if isinstance(image_id, str):
        rec.imageid = image_id.partition(":")[2][:SHORT_ID] if ":" in image_id else image_id[:SHORT_ID]
    rec.imagerepo, rec.imagetag, rec.imagedigest = _split_image(rec.image)
    rec.privileged = bool(host.get("Privileged"))
    labels = config.get("Labels")
    if isinstance(labels, dict):
        rec.labels = {str(k): str(v) for k, v in labels.items()}
    mounts = got.get("Mounts")
    for m in mounts if isinstance(mounts, list) else []:
        if isinstance(m, dict):
            rec.mounts.append(MountRecord(str(m.get("Source", "")), str(m.get("Destination", "")),
                                          str(m.get("Mode", "")), bool(m.get("RW", False)),
                                          str(m.get("Propagation", ""))))
    return rec


def cri_record(cid: str, kind: int, sockets: Sequence[str], timeout_s: float) -> ContainerRecord | None:
    """The container as the first CRI runtime that answers describes it (cri.cpp parse_cri); None if none
    does (sinsp then stores no container)."""
    from tracer.cri import container_status

    for sock_path in sockets:
        got = container_status(sock_path, cid, timeout_s)
        if got is None:
            continue
        rec = ContainerRecord(cid, kind, name=got.name, image=got.image)
        rec.imagerepo, rec.imagetag, rec.imagedigest = _split_image(got.image)
        ref = got.image_ref
        if "@" in ref:
            rec.imagedigest = ref.partition("@")[2]
        if "sha256:" in ref and "@" not in ref:
            rec.imageid = ref.partition("sha256:")[2]
        rec.labels = dict(got.labels)
        rec.mounts = [MountRecord(source, dest, "", not readonly, prop) for dest, source, readonly, prop in got.mounts]
        return rec
    return None


class Detector:
    """The containers a live capture has seen: each new one becomes one ContainerRecord (written once)."""

    def __init__(self, timeout_ms: int = 1000, docker_sock: str = DOCKER_SOCK, podman_sock: str = PODMAN_SOCK,
                 root: str | None = None, cri: Sequence[str] = ()) -> None:
        self.timeout_s = max(timeout_ms, 1) / 1000
        prefix = root if root is not None else os.environ.get("HOST_ROOT", "")  # sinsp's scap_get_host_root
        self.docker_sock = prefix + docker_sock
        self.podman_sock = prefix + podman_sock
        self.cri_socks = [prefix + path for path in (cri or (CRI_SOCK,)) if path]
        self.seen: set[str] = set()

    def new_records(self, cgroup_lists: Iterable[Sequence[str]]) -> list[ContainerRecord]:
        """Records for the containers these cgroup lists name that were not seen before."""
        out: list[ContainerRecord] = []
        for cgroups in cgroup_lists:
            cid, kind = identify(cgroups)
            if not cid or kind is None or cid in self.seen:
                continue
            self.seen.add(cid)
            if kind in (CT_CRIO, CT_CONTAINERD):
                rec = cri_record(cid, kind, self.cri_socks, self.timeout_s)
                if rec is not None:
                    out.append(rec)
            elif kind == CT_LXC:
                out.append(ContainerRecord(cid, kind, name=cid))
            elif kind == CT_PODMAN:
                out.append(docker_record(cid, kind, self.podman_sock, self.timeout_s))
            else:
                out.append(docker_record(cid, kind, self.docker_sock, self.timeout_s))
        return out


__all__ = ["Detector", "docker_record", "identify", "runc_id"]
