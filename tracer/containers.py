"""Live container identity without a container runtime library: id and type from cgroups, name and image
from the runtime's socket when one answers.

Cgroup paths (/proc/PID/cgroup, cgroup v1 "N:ctrl:path" and v2 "0::path", as tracer/procfs.py lists them)
are matched by the engine's one implementation of libsinsp's rules, sysdig_user/state/containers.py
``identify`` (runc.cpp's id matching, the podman, docker and CRI layouts with the type each shape implies,
lxc and libvirt-lxc), called with ``live=True`` (rootless podman is recognised only live). A CRI shape
(cri-o, containerd) is a container only when the CRI runtime answers: without one, sinsp's thread has the
id and no container is stored.

Name and image: docker's and podman's HTTP API on their unix sockets (GET /containers/<id>/json, as
docker/connection_linux.cpp asks), the CRI runtime's ContainerStatus (tracer/cri.py) on the ``--cri``
sockets (default: containerd's, as sinsp's), within --cri-timeout milliseconds; when a docker or podman
socket does not answer, the container is stored with an empty name and image, which readers show as
<NA>, as sysdig does when its lookup fails.
"""
from __future__ import annotations

import os
from _collections_abc import Iterable, Sequence  # (collections.abc without collections)

from sysdig_user.scap.container_json import CT_LIBVIRT_LXC, CT_LXC, CT_PODMAN, ContainerRecord, MountRecord
from sysdig_user.state.containers import CRI_TYPES, SHORT_ID
from sysdig_user.state.containers import identify as _identify

DOCKER_SOCK = "/var/run/docker.sock"  # docker_linux.cpp m_docker_sock
PODMAN_SOCK = "/run/podman/podman.sock"  # podman.cpp m_api_sock
CRI_SOCK = "/run/containerd/containerd.sock"  # cri.cpp: the socket tried when --cri names none


def identify(cgroups: Sequence[str]) -> tuple[str, int | None]:
    """(container id, type) for a live process's cgroups, ("", None) on the host: the engine's rules
    (sysdig_user/state/containers.py identify, live). Entries are "subsys=path" (tracer/procfs.py) or
    plain paths."""
    return _identify([c if "=" in c else "=" + c for c in cgroups], live=True)


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
            if kind in CRI_TYPES:
                rec = cri_record(cid, kind, self.cri_socks, self.timeout_s)
                if rec is not None:
                    out.append(rec)
            elif kind in (CT_LXC, CT_LIBVIRT_LXC):  # (lxc.cpp, libvirt_lxc.cpp: the name is the id)
                out.append(ContainerRecord(cid, kind, name=cid))
            elif kind == CT_PODMAN:
                out.append(docker_record(cid, kind, self.podman_sock, self.timeout_s))
            else:
                out.append(docker_record(cid, kind, self.docker_sock, self.timeout_s))
        return out


__all__ = ["Detector", "docker_record", "identify"]
