"""Reading captures with container events (state/containers.py), compared line by line with sysdig.

The captures are written here (tests/state/containers_scenario.py): container JSON events at the head
of the file and in mid-capture, threads in docker containers (known and unknown to the JSON), a host
process whose child execs into a container, and edge cases of the JSON and of the cgroup paths.
No shared sample carries container events (checked: none of /work/shared/samples has one).
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.state import containers_scenario as sc
from tests.state.events import mk, pair
from tests.support import line_diff, require_tool, run_sdu

pytestmark = pytest.mark.oracle  # every test here compares with sysdig

ENV = {**os.environ, "TZ": "UTC"}
CONTAINER_FIELDS = ("*%evt.num %evt.type %proc.name %thread.tid %proc.pid %thread.vtid %proc.vpid %proc.exe "
                    "%user.uid %user.name %container.id %container.name %container.image %container.type "
                    "%container.image.id %container.image.repository %container.image.tag "
                    "%container.image.digest %container.privileged %container.mounts %container.mount[1] "
                    "%container.mount[/srv/*] %container.mount.source[/logs] %container.mount.dest[0] "
                    "%container.mount.mode[0] %container.mount.rdwr[/var/log] "
                    "%container.mount.propagation[1] %container.mount[7] %container.healthcheck "
                    "%container.liveness_probe %container.readiness_probe %fd.containername "
                    "%fd.containerdirectory")


def compare(path: Path, *args: str) -> None:
    """sysdig -r and sdu -r print the same lines and exit with the same status."""
    sysdig = require_tool("sysdig")
    theirs = subprocess.run([sysdig, "-r", str(path), *args], capture_output=True, text=True, env=ENV,
                            check=False)
    ours = run_sdu("-r", str(path), *args, environ=ENV)
    diff = line_diff(theirs.stdout.splitlines(), ours.stdout.splitlines())
    assert not diff, diff
    assert ours.status == theirs.returncode, ours.stderr


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sc.write(tmp_path_factory.mktemp("containers") / "containers.scap")


@pytest.mark.parametrize("args", [
    [],  # head events consumed (numbered, not shown); mid-capture event on container:ID (-1)
    ["-p", "%container.id %container.name %container.image %proc.name"],
    ["-p", CONTAINER_FIELDS],
    ["-pc"], ["-pcontainer"], ["-pk"], ["-pm"],
    ["container.name contains _"],
    ["container.id != host and evt.dir = <"],
    ["-p", "*%evt.num %proc.name %container.name", "container.image startswith redis or proc.pid = -1"],
    ["evt.num <= 5"],
    ["-t", "r"], ["-t", "d"], ["-t", "D"],
    ["-p", "%evt.num %evt.reltime %evt.deltatime %evt.rawtime"],
    ["-n", "3"],
    ["-S", "-q"],
    ["-D"],
    ["-c", "lscontainers"], ["-c", "topcontainers_cpu"], ["-c", "topcontainers_error"],
    ["-c", "topcontainers_file"], ["-c", "topcontainers_net"],
    ["-pc", "-c", "topprocs_file"], ["-pc", "-c", "topprocs_cpu"],
], ids=lambda a: " ".join(a) or "default")
def test_container_capture_matches_sysdig(scenario: Path, args: list[str]) -> None:
    compare(scenario, *args)


@pytest.mark.parametrize("chisel", ["lscontainers", "topcontainers_error", "topcontainers_file",
                                    "topcontainers_net", "topcontainers_cpu"])
def test_lua_container_chisels_match_sysdig(scenario: Path, chisel: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """sysdig's own Lua scripts through the Lua bridge (sysdig.get_container_table takes the filter
    argument lscontainers passes)."""
    pytest.importorskip("lupa")
    monkeypatch.setenv("SDU_CHISEL_ENGINE", "lua")
    compare(scenario, "-c", chisel)


def test_without_head_events_the_fields_come_from_the_placeholders(tmp_path: Path) -> None:
    """No head events: docker threads have their id and the docker engine's placeholder (type docker,
    no name) until the mid-capture JSON; the execve still moves the child into a container."""
    path = sc.write(tmp_path / "nohead.scap", sc.events(head=False))
    compare(path, "-p", CONTAINER_FIELDS)
    compare(path)


def test_rewritten_capture_keeps_its_containers(tmp_path: Path) -> None:
    """sdu -r -w: the head containers go to the new file, which sysdig reads with the same names."""
    src = sc.write(tmp_path / "in.scap")
    out = tmp_path / "out.scap"
    ours = run_sdu("-r", str(src), "-w", str(out), environ=ENV)
    assert ours.status == 0, ours.stderr
    sysdig = require_tool("sysdig")
    theirs = subprocess.run([sysdig, "-r", str(src), "-p", "%evt.num %container.name %proc.name"],
                            capture_output=True, text=True, env=ENV, check=True)
    again = subprocess.run([sysdig, "-r", str(out), "-p", "%evt.num %container.name %proc.name"],
                           capture_output=True, text=True, env=ENV, check=True)
    assert again.stdout == theirs.stdout


@pytest.mark.parametrize("every", [3, 8])
def test_every_rotated_file_opens_with_the_containers(tmp_path: Path, every: int) -> None:
    """sdu -r -w -e N: each new file opens with the containers known so far (sinsp's dumper writes its
    table into every file it opens), outside -e's count (sysdig counts the events next() returns, not
    the ones its table writes). Oracle: sysdig's own -r -w -e N of the same capture: the same files
    holding the same events; and sysdig, reading sdu's files one after another, names every event's
    container as it does reading the whole capture (its own rotated files are not the reference there:
    its section at a rotation loses a thread's exec'd cgroups, sysdig's defect)."""
    src = sc.write(tmp_path / "in.scap")
    (tmp_path / "sdu").mkdir()
    (tmp_path / "sysdig").mkdir()
    ours = run_sdu("-r", str(src), "-w", str(tmp_path / "sdu/out"), "-e", str(every), environ=ENV)
    assert ours.status == 0, ours.stderr
    sysdig = require_tool("sysdig")
    subprocess.run([sysdig, "-r", str(src), "-w", str(tmp_path / "sysdig/out"), "-e", str(every)],
                   capture_output=True, env=ENV, check=True)

    def files(where: str) -> list[Path]:
        return sorted((tmp_path / where).iterdir(), key=lambda p: int(p.name[len("out"):]))

    def read(path: Path, fmt: str, *flt: str) -> list[str]:
        return subprocess.run([sysdig, "-r", str(path), "-p", fmt, *flt], capture_output=True, text=True,
                              env=ENV, check=True).stdout.splitlines()

    mine, theirs = files("sdu"), files("sysdig")
    assert [p.name for p in mine] == [p.name for p in theirs] and len(mine) > 2
    events = "%thread.tid %evt.type %evt.dir %evt.arg.res"
    for ours_file, their_file in zip(mine, theirs, strict=True):
        assert read(ours_file, events) == read(their_file, events), ours_file.name
    names = "%thread.tid %evt.type %evt.dir %container.id %container.name %container.image"
    # (a container event a rotation put at a file's head is consumed there, as sysdig's own files show)
    syscalls = "evt.type != container"
    assert [line for p in mine for line in read(p, names, syscalls)] == read(src, names, syscalls)


def _json(**fields: object) -> str:
    return json.dumps({"container": fields})


def _one_thread(cgroup: str) -> list[sc.ProcEntry]:
    return [sc.ProcEntry(tid=5, pid=5, ptid=1, comm="p", exe="p", uid=0, gid=0, cgroups=[f"cpuset={cgroup}"])]


HEX = "0123456789abcdef" * 4
ID = HEX[:12]


@pytest.mark.parametrize("cgroup", [
    f"/docker/{HEX}", f"/system.slice/docker-{HEX}.scope", f"/kubepods/besteffort/pod12-34/{HEX}",
    f"/kubepods.slice/kubepods-pod1.slice/cri-containerd-{HEX}.scope", f"/crio-{HEX}", f"/crio-{HEX}.scope",
    f"/system.slice/containerd.service/kubepods-pod1.slice:cri-containerd:{HEX}",
    f"/machine.slice/libpod-{HEX}.scope", f"/user.slice/user@1000.service/libpod-{HEX}.scope/container",
    "/lxc/web", "/lxc/web/sub", "/lxc.payload/web", "/lxc.payload.web", "/machine.slice/machine-lxc\\x2dvm1.scope",
    "/libvirt/lxc/vm1", "/machine/vm1.libvirt-lxc", "/mesos/1234", f"/docker/{HEX[:12]}", f"/docker/{HEX}/sub",
    f"/docker/{HEX[:-1]}g", "/", "/user.slice",
    # sinsp finds the suffix from its last occurrence, not only at the end
    f"/system.slice/docker-{HEX}.scope/sub", f"/crio-{HEX}.scope/x.scope", f"/machine.slice/libpod-{HEX}.scope/sub",
])
def test_container_id_from_cgroups_matches_sysdig(tmp_path: Path, cgroup: str) -> None:
    """One thread per capture: which engine recognises the path, the id, and its placeholder fields."""
    path = sc.write(tmp_path / "cg.scap", pair("read", 5, {"fd": 0, "size": 1}, res=1, data=b"z"),
                    procs=_one_thread(cgroup))
    compare(path, "-p", "*%container.id %container.name %container.type %container.image "
                        "%container.privileged %container.mounts %container.healthcheck")


@pytest.mark.parametrize("fields", [
    {"id": ID, "name": "n", "image": "i", "lookup_state": 0},  # STARTED, read as FAILED: hidden
    {"id": ID, "name": "n", "image": "i", "lookup_state": 2},  # FAILED: hidden, still stored
    {"id": ID, "name": "n", "image": "i", "lookup_state": 7},  # unknown: SUCCESSFUL
    *({"id": ID, "name": "n", "type": t, "privileged": True} for t in (1, 3, 6, 7, 8, 9, 11)),
    {"id": ID, "name": "", "image": "", "Mounts": []},
    {"id": ID, "name": True, "image": None, "imagetag": 7},  # converted or ignored as jsoncpp does
    {"id": ID, "Healthcheck": {"exe": "curl", "args": ["-f", "http://x/"]},
     "ReadinessProbe": {"exe": "cat", "args": ["/ready"]}, "LivenessProbe": {"args": ["no-exe"]}},
    {"id": ID, "Mounts": [{"Source": "/a", "Destination": "/b", "RW": True, "Mode": "rw"}, {}]},
    {"id": "other", "name": "elsewhere"},
    {"name": "no id"},
])
def test_container_json_fields_match_sysdig(tmp_path: Path, fields: dict[str, object]) -> None:
    """The same JSON at the head (consumed) and in mid-capture (shown on container:ID unless its lookup
    failed), then a thread of that container."""
    procs = _one_thread(f"/docker/{HEX}")
    # (sysdig leaves the type of a JSON without one uninitialised: what it shows then varies with the
    # format; sinsp's own JSON always has one)
    text = _json(**{"type": 0, **fields})
    read = pair("read", 5, {"fd": 0, "size": 1}, res=1, data=b"z")
    fmt = CONTAINER_FIELDS
    compare(sc.write(tmp_path / "head.scap", [sc.container_event(text), *read], procs), "-p", fmt)
    compare(sc.write(tmp_path / "mid.scap", [*read, sc.container_event(text), *read], procs), "-p", fmt)


def test_old_container_events_match_sysdig(tmp_path: Path) -> None:
    """PPME_CONTAINER_E (228, id/type/name/image) and PPME_CONTAINER_JSON_E (272, with a tid)."""
    procs = _one_thread(f"/docker/{sc.WEB}")
    read = pair("read", 5, {"fd": 0, "size": 1}, res=1, data=b"z")
    evts = [mk(228, True, -1, id=sc.WEB[:12], type=0, name="old", image="img"), *read,
            mk(228, True, -1, id=sc.WEB[:12], type=1, name="older", image="img2"), *read,
            mk(272, True, 5, json=sc.container_json(sc.WEB, "j272", "x:1")), *read]
    path = sc.write(tmp_path / "old.scap", evts, procs)
    compare(path, "-p", CONTAINER_FIELDS)
    compare(path, "-D")


@pytest.mark.parametrize("where", ["head", "mid"])
@pytest.mark.parametrize("text", ['{"container": {"id": ', '{\n"container"', ""], ids=["cut", "newline", "empty"])
def test_bad_container_json_stops_like_sysdig(tmp_path: Path, where: str, text: str) -> None:
    """sysdig stops with sinsp's message (and status 1) after the events before it; sdu prints the same
    message, in one line (a line break in the JSON written as \\x0a)."""
    sysdig = require_tool("sysdig")
    read = pair("read", 5, {"fd": 0, "size": 1}, res=1, data=b"z")
    bad = sc.container_event(text)
    evts = [bad, *read] if where == "head" else [*read, bad, *read]
    path = sc.write(tmp_path / "bad.scap", evts, _one_thread("/"))
    compare(path)
    theirs = subprocess.run([sysdig, "-r", str(path)], capture_output=True, text=True, env=ENV, check=False)
    ours = run_sdu("-r", str(path), environ=ENV)
    message = theirs.stderr.rstrip("\n")
    assert message.startswith("Invalid JSON encountered while parsing container info: ")
    assert ours.stderr.rstrip("\n") == message.replace("\n", "\\x0a")


def test_pp_prints_the_default_format_like_sysdig() -> None:
    """-pp (next to -pc/-pk in sysdig's -p handling): the default format, and nothing is read."""
    sysdig = require_tool("sysdig")
    theirs = subprocess.run([sysdig, "-pp"], capture_output=True, text=True, env=ENV, check=False)
    ours = run_sdu("-pp", environ=ENV)
    assert (ours.stdout, ours.status) == (theirs.stdout, theirs.returncode)
