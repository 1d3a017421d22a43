"""Captures with container events, written by the tests (tests/state/test_containers_oracle.py).

The JSON is the object sinsp's container_to_json writes (``{"container": {...}}``, keys as sinsp names
them); the events are PPME_CONTAINER_JSON_2_E with tid -1, as sysdig's dumper writes them at the head
of a capture and as sinsp queues them when a container appears mid-capture.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sysdig_user.event import Event
from sysdig_user.scap.records import Group, ProcEntry, User
from sysdig_user.scap.writer import ScapWriter
from tests.state.events import mk, pair

CONTAINER_JSON_2_E = 324
WEB = "a1" * 32
CACHE = "b2" * 32
LATE = "c3" * 32


def container_json(full_id: str, name: str, image: str, ctype: int = 0, **more: Any) -> str:
    repo, _, tag = image.partition(":")
    c: dict[str, Any] = {
        "id": full_id[:12], "full_id": full_id, "type": ctype, "name": name, "image": image,
        "imageid": "f00d" + full_id[:8], "imagerepo": repo, "imagetag": tag or "latest",
        "imagedigest": "sha256:" + full_id[:16], "privileged": False, "is_pod_sandbox": False,
        "lookup_state": 1, "created_time": 1600000000,
        "Mounts": [{"Source": "/srv/" + name, "Destination": "/data", "Mode": "ro", "RW": False,
                    "Propagation": "rprivate"},
                   {"Source": "/var/log", "Destination": "/logs", "Mode": "", "RW": True,
                    "Propagation": "rslave"}],
        "ip": "172.17.0.2", "port_mappings": [], "labels": {}, "env": [], "memory_limit": 0,
        "swap_limit": 0, "cpu_shares": 1024, "cpu_quota": 0, "cpu_period": 100000, "cpuset_cpu_count": 0,
        "metadata_deadline": 0}
    c.update(more)
    return json.dumps({"container": c})


def container_event(text: str, tid: int = -1) -> Event:
    return mk(CONTAINER_JSON_2_E, True, tid, json=text)


def docker_cgroups(full_id: str, systemd: bool = False) -> list[str]:
    path = f"/system.slice/docker-{full_id}.scope" if systemd else f"/docker/{full_id}"
    return [f"cpuset={path}", f"cpu={path}", f"memory={path}"]


USERS = [User(0, 0, "root", "/root", "/bin/sh"), User(1000, 1000, "alice", "/home/alice", "/bin/bash")]
GROUPS = [Group(0, "root"), Group(1000, "alice")]
PROCS = [
    ProcEntry(tid=100, pid=100, ptid=1, comm="bash", exe="bash", exepath="/bin/bash", cwd="/root",
              uid=1000, gid=1000, vtid=100, vpid=100, cgroups=["cpuset=/", "cpu=/user.slice"]),
    ProcEntry(tid=200, pid=200, ptid=1, comm="nginx", exe="nginx", exepath="/usr/sbin/nginx", cwd="/",
              uid=0, gid=0, vtid=1, vpid=1, cgroups=docker_cgroups(WEB)),
    ProcEntry(tid=300, pid=300, ptid=1, comm="redis-server", exe="redis-server", cwd="/data", uid=0, gid=0,
              vtid=1, vpid=1, cgroups=docker_cgroups(CACHE, systemd=True)),
    ProcEntry(tid=400, pid=400, ptid=1, comm="agent", exe="agent", cwd="/", uid=0, gid=0, vtid=1, vpid=1,
              cgroups=docker_cgroups("d4" * 32)),  # a container whose JSON the capture never has
]


def _read(tid: int, res: int = 1) -> list[Event]:
    return pair("read", tid, {"fd": 0, "size": 1}, res=res, data=b"z" if res > 0 else b"")


def events(head: bool = True, mid: bool = True) -> list[Event]:
    """Head-of-file container events (two), syscalls in three containers and on the host, a container
    that appears mid-capture, and a host process whose child execs into that container."""
    e: list[Event] = []
    if head:
        e.append(container_event(container_json(WEB, "web_1", "nginx:1.19")))
        e.append(container_event(container_json(
            CACHE, "cache-db", "redis:6", Healthcheck={"exe": "redis-cli", "args": ["ping"]},
            LivenessProbe={"exe": "/bin/true", "args": []})))
    e += _read(100) + _read(200) + _read(300, res=-2) + _read(400)
    e += pair("open", 200, {"name": "/etc/nginx.conf", "flags": 1, "mode": 0}, fd=3, name="/etc/nginx.conf",
              flags=1)
    e += pair("read", 200, {"fd": 3, "size": 10}, res=10, data=b"0123456789")
    e += pair("open", 300, {"name": "/data/dump.rdb", "flags": 1, "mode": 0}, fd=-13, name="/data/dump.rdb",
              flags=1)
    if mid:
        e.append(container_event(container_json(LATE, "late_job", "alpine:3.12", privileged=True)))
    child_cg = b"cpuset=/\0cpu=/user.slice\0"
    e += [mk("clone", True, 100),
          mk("clone", False, 100, res=101, exe="bash", tid=100, pid=100, ptid=1, cwd="/root", comm="bash",
             cgroups=child_cg, uid=1000, gid=1000, vtid=100, vpid=100)]
    e += [mk("clone", False, 101, res=0, exe="bash", tid=101, pid=101, ptid=100, cwd="/root", comm="bash",
             cgroups=child_cg, uid=1000, gid=1000, vtid=101, vpid=101)]
    e += _read(101)
    late_cg = ("\0".join(docker_cgroups(LATE)) + "\0").encode()
    e += [mk("execve", True, 101, filename="/bin/sh"),
          mk("execve", False, 101, res=0, exe="/bin/sh", args=b"-c\0job\0", tid=101, pid=101, ptid=100,
             cwd="/root", comm="sh", cgroups=late_cg, env=b"HOME=/\0")]
    e += _read(101)
    e += pair("open", 101, {"name": "/etc/passwd", "flags": 1, "mode": 0}, fd=3, name="/etc/passwd", flags=1)
    e += pair("open", 101, {"name": "/nope", "flags": 1, "mode": 0}, fd=-2, name="/nope", flags=1)
    e += _read(200) + _read(300) + _read(100)
    for tick in (1, 2):  # CPU counters, for topcontainers_cpu (thread.cpu: the growth between two)
        e += [mk("procinfo", True, tid, cpu_usr=tick * usr, cpu_sys=tick * 3)
              for tid, usr in ((100, 10), (200, 40), (300, 25), (400, 5), (101, 60))]
    e += [mk("procexit", True, 101)]
    return e


def write(path: Path, evts: list[Event] | None = None, procs: list[ProcEntry] | None = None) -> Path:
    with ScapWriter(str(path)) as w:
        w.write_section(procs=PROCS if procs is None else procs, users=USERS, groups=GROUPS)
        for evt in events() if evts is None else evts:
            w.write_event(evt.cpu, evt.dump_flags, evt.raw)
    return path
