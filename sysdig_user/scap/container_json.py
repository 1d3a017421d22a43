"""The container JSON event a live capture writes, as libsinsp's container manager writes it.

libsinsp (sinsp_container_manager::container_to_json and container_to_sinsp_event, container.cpp of the
libs sysdig 0.29.3 builds on) turns a container it learned about into one event: tid -1, type
PPME_CONTAINER_JSON_E (272, one u16-length CHARBUF param, NUL-terminated), the JSON object
``{"container": {...}}`` with the key names below, written with jsoncpp's FastWriter (compact, one
trailing newline). Those written at the start of a -w file (dump_containers) carry the time they were
made; a capture's readers (sysdig's parse_container_json_evt, sdu's state/containers.py) take the same
keys. A JSON text too long for a u16 length goes in PPME_CONTAINER_JSON_2_E (324, u32 lengths), the
large-payload form of the same event.

This module is the one place sdu encodes that JSON; the reader's parser lives in state/containers.py.
"""
from __future__ import annotations

import struct

from sysdig_user.rows import Record

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    from typing import Any

CONTAINER_JSON_E = 272
CONTAINER_JSON_2_E = 324
_HEADER = struct.Struct("<QqIHI")  # ts, tid, len, type, nparams (the 26-byte ppm_evt_hdr)

# sinsp_container_type (container_engine/sinsp_container_type.h): the "type" member
CT_DOCKER, CT_LXC, CT_LIBVIRT_LXC, CT_MESOS, CT_RKT, CT_CUSTOM = 0, 1, 2, 3, 4, 5
CT_CRI, CT_CONTAINERD, CT_CRIO, CT_BPM, CT_STATIC, CT_PODMAN = 6, 7, 8, 9, 10, 11


class MountRecord(Record):
    _fields = ("source", "dest", "mode", "rdwr", "propagation")
    __slots__ = _fields
    source: str
    dest: str
    mode: str
    rdwr: bool
    propagation: str

    def __init__(self, source: str = "", dest: str = "", mode: str = "", rdwr: bool = False,
                 propagation: str = "") -> None:
        self.source = source
        self.dest = dest
        self.mode = mode
        self.rdwr = rdwr
        self.propagation = propagation


class ContainerRecord(Record):
    """What sdu knows of one container: its id and type from cgroups, the rest from a runtime (or empty:
    sinsp's readers show an empty name or image as <NA>)."""

    _fields = ("id", "type", "name", "image", "imageid", "imagerepo", "imagetag", "imagedigest", "privileged",
               "mounts", "labels")
    __slots__ = _fields
    id: str
    type: int
    name: str
    image: str
    imageid: str
    imagerepo: str
    imagetag: str
    imagedigest: str
    privileged: bool
    mounts: list[MountRecord]
    labels: dict[str, str]

    def __init__(self, id: str, type: int, name: str = "", image: str = "", imageid: str = "",
                 imagerepo: str = "", imagetag: str = "", imagedigest: str = "", privileged: bool = False,
                 mounts: list[MountRecord] | None = None, labels: dict[str, str] | None = None) -> None:
        self.id = id
        self.type = type
        self.name = name
        self.image = image
        self.imageid = imageid
        self.imagerepo = imagerepo
        self.imagetag = imagetag
        self.imagedigest = imagedigest
        self.privileged = privileged
        self.mounts = [] if mounts is None else mounts
        self.labels = {} if labels is None else labels


def to_json(rec: ContainerRecord) -> str:
    """The JSON text container_to_json makes for `rec` (its keys, in its order, compact)."""
    import json  # (only a capture that meets a container writes one)

    c: dict[str, Any] = {
        "id": rec.id, "type": rec.type, "name": rec.name, "image": rec.image, "imageid": rec.imageid,
        "imagerepo": rec.imagerepo, "imagetag": rec.imagetag, "imagedigest": rec.imagedigest,
        "privileged": rec.privileged, "is_pod_sandbox": False,
        "Mounts": [{"Source": m.source, "Destination": m.dest, "Mode": m.mode, "RW": m.rdwr,
                    "Propagation": m.propagation} for m in rec.mounts],
        "ip": "0.0.0.0", "port_mappings": [], "labels": dict(rec.labels) or None, "env": [],
        "memory_limit": 0, "swap_limit": 0, "cpu_shares": 1024, "cpu_quota": 0, "cpu_period": 100000,
        "metadata_deadline": 0,
    }
    return json.dumps({"container": c}, separators=(",", ":"), ensure_ascii=False) + "\n"


def event_raw(ts: int, text: str) -> bytes:
    """The event's scap bytes (header, length array, the NUL-terminated JSON), tid -1."""
    body = text.encode("utf-8", "surrogateescape") + b"\0"
    if len(body) <= 0xFFFF:
        return _HEADER.pack(ts, -1, _HEADER.size + 2 + len(body), CONTAINER_JSON_E, 1) \
            + struct.pack("<H", len(body)) + body
    return _HEADER.pack(ts, -1, _HEADER.size + 4 + len(body), CONTAINER_JSON_2_E, 1) \
        + struct.pack("<I", len(body)) + body


__all__ = ["CONTAINER_JSON_2_E", "CONTAINER_JSON_E", "ContainerRecord", "MountRecord", "event_raw", "to_json"]
