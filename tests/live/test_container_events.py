"""Live -w writes container events as libsinsp does, so sysdig reads sdu's file with the same container
fields (sysdig_user/scap/container_json.py, tracer/containers.py).

A command runs in a cgroup whose path has docker's shape (``.../docker/<64 hex>``, made by the test in a
cgroup v1 hierarchy); sdu records it with -w. The container's name and image come from a fake docker API
on a unix socket under HOST_ROOT (the test's directory: sinsp's and sdu's way to find /var/run elsewhere),
or from nowhere (no socket: sysdig's <NA>). The oracle is sysdig reading sdu's file: its container fields
for the command's events must be what the API served (or <NA>), with the id the cgroup path names.
"""
from __future__ import annotations

import importlib.util
import json
import os
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.support import ROOT, require_tool

pytestmark = [pytest.mark.ptrace, pytest.mark.oracle]

FULL_ID = "5f2a" * 16
FORMAT = ("*%container.id %container.type %container.name %container.image %container.image.repository "
          "%container.image.tag %container.privileged %proc.name")
INSPECT = {"Id": FULL_ID, "Name": "/web-1", "Image": "sha256:" + "9c" * 32,
           "Config": {"Image": "nginx:1.25", "Labels": {"team": "sdu"}},
           "HostConfig": {"Privileged": False},
           "Mounts": [{"Source": "/srv", "Destination": "/data", "Mode": "", "RW": True, "Propagation": "rprivate"}]}


def _cgroup(relative: str) -> Iterator[Path]:
    base = Path("/sys/fs/cgroup/pids")
    if os.geteuid() != 0 or not (base / "cgroup.procs").exists():
        pytest.skip("needs root and a cgroup v1 pids hierarchy to make a container-shaped cgroup")
    top = base / f"sdu-test-{os.getpid()}"
    leaf = top / relative
    try:
        leaf.mkdir(parents=True)
    except OSError as exc:
        pytest.skip(f"cannot make a cgroup: {exc}")
    try:
        yield leaf
    finally:
        for d in (leaf, leaf.parent, top):
            try:
                d.rmdir()
            except OSError:
                pass


@pytest.fixture
def docker_cgroup() -> Iterator[Path]:
    yield from _cgroup(f"docker/{FULL_ID}")


@pytest.fixture
def crio_cgroup() -> Iterator[Path]:
    yield from _cgroup(f"kubepods/crio-{FULL_ID}")


class _Api(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/containers/") and self.path.split("/")[2] in (FULL_ID, FULL_ID[:12]):
            body = json.dumps(INSPECT).encode()
            self.send_response(200)
        else:
            body = b'{"message": "No such container"}'
            self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self) -> tuple[object, tuple[str, int]]:
        conn, _ = self.socket.accept()
        return conn, ("local", 0)


def _record(tmp: Path, cgroup: Path, host_root: Path, moves: bool = False, extra: str = "") -> Path:
    """sdu -w of `cat /etc/hostname` in the container's cgroup: sdu started there, or (`moves`) sdu on the
    host tracing a shell that moves itself into the cgroup and then execs cat."""
    out = tmp / "c.scap"
    script = f'echo $$ > {cgroup}/cgroup.procs && exec "$0" -m sysdig_user {extra} -w {out} -- cat /etc/hostname'
    if moves:
        inner = f"echo \\$\\$ > {cgroup}/cgroup.procs && exec cat /etc/hostname"  # (\$: the inner shell's)
        script = f'exec "$0" -m sysdig_user -w {out} -- sh -c "{inner}"'
    env = dict(os.environ, PYTHONPATH=str(ROOT), HOST_ROOT=str(host_root))
    res = subprocess.run(["sh", "-c", script, sys.executable], capture_output=True, text=True, env=env,
                         timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    return out


def _lines(argv: list[str]) -> list[str]:
    res = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    return [line for line in res.stdout.splitlines() if line.strip()]


def _compare(path: Path, expected: str) -> None:
    sysdig = require_tool("sysdig")
    flt = "evt.type=openat and proc.name=cat"
    theirs = _lines([sysdig, "-r", str(path), "-p", FORMAT, flt])
    assert theirs and set(theirs) == {expected}, theirs
    ours = _lines([sys.executable, "-m", "sysdig_user", "-r", str(path), "-p", FORMAT, flt])
    if importlib.util.find_spec("sysdig_user.state.containers") is not None:
        assert ours == theirs  # the reader of container events is there: every field as sysdig's
    else:
        assert [line.split()[0] for line in ours] == [line.split()[0] for line in theirs]


def test_container_from_the_docker_api(tmp_path: Path, docker_cgroup: Path) -> None:
    host_root = tmp_path / "root"
    (host_root / "var/run").mkdir(parents=True)
    server = _UnixServer(str(host_root / "var/run/docker.sock"), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        path = _record(tmp_path, docker_cgroup, host_root)
    finally:
        server.shutdown()
        server.server_close()
    _compare(path, f"{FULL_ID[:12]} docker web-1 nginx:1.25 nginx 1.25 false cat")


def test_an_execve_into_a_new_container(tmp_path: Path, docker_cgroup: Path) -> None:
    """The container event follows the execve that brought the new cgroups (sinsp resolves the thread's
    container at that exit): sysdig shows the container's fields from then on, and host before it."""
    host_root = tmp_path / "root"
    (host_root / "var/run").mkdir(parents=True)
    server = _UnixServer(str(host_root / "var/run/docker.sock"), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        path = _record(tmp_path, docker_cgroup, host_root, moves=True)
    finally:
        server.shutdown()
        server.server_close()
    _compare(path, f"{FULL_ID[:12]} docker web-1 nginx:1.25 nginx 1.25 false cat")
    sysdig = require_tool("sysdig")
    before = _lines([sysdig, "-r", str(path), "-p", "*%container.id %proc.name", "evt.type=openat and proc.name=sh"])
    assert before and set(before) == {"host sh"}, before


def test_container_without_a_runtime(tmp_path: Path, docker_cgroup: Path) -> None:
    path = _record(tmp_path, docker_cgroup, tmp_path / "nothing")
    _compare(path, f"{FULL_ID[:12]} docker <NA> <NA> <NA> <NA> false cat")


def test_container_from_a_cri_runtime(tmp_path: Path, crio_cgroup: Path) -> None:
    """A cri-o-shaped cgroup and a CRI runtime (a real gRPC server, tests/tracer/cri_server.py) on the
    --cri socket (under HOST_ROOT, as sinsp looks for it): sysdig reads the name and image it gave."""
    from tests.tracer.cri_server import serve, status_response

    host_root = tmp_path / "root"
    host_root.mkdir()
    response = status_response(FULL_ID, "web", "quay.io/sdu/web:2.1", "quay.io/sdu/web@sha256:" + "ab" * 32, {})
    with serve(str(host_root / "cri.sock"), {FULL_ID[:12]}, response, ("runtime.v1.RuntimeService",)):
        path = _record(tmp_path, crio_cgroup, host_root, extra="--cri /cri.sock --cri-timeout 5000")
    _compare(path, f"{FULL_ID[:12]} cri-o web quay.io/sdu/web:2.1 quay.io/sdu/web 2.1 false cat")


def test_every_rotated_file_opens_with_the_containers(tmp_path: Path, docker_cgroup: Path) -> None:
    """-e rotation: each new file starts with its section and the container events known so far (sinsp's
    dumper writes its containers into every file it opens), so sysdig reads each file's events in the
    container with its name."""
    host_root = tmp_path / "root"
    (host_root / "var/run").mkdir(parents=True)
    server = _UnixServer(str(host_root / "var/run/docker.sock"), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        _record(tmp_path, docker_cgroup, host_root, extra="-e 40")
    finally:
        server.shutdown()
        server.server_close()
    files = sorted(tmp_path.glob("c.scap[0-9]*"), key=lambda p: int(p.name[len("c.scap"):]))
    assert len(files) >= 3, files
    sysdig = require_tool("sysdig")
    for path in files:
        lines = _lines([sysdig, "-r", str(path), "-p", "*%container.id %container.name %proc.name",
                        "proc.name=cat and evt.type!=execve"])
        assert lines and set(lines) == {f"{FULL_ID[:12]} web-1 cat"}, (path.name, lines[:3])
