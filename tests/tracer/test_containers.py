"""Cgroup paths -> container id and type (tracer/containers.py), shape by shape.

The rules matched (falcosecurity/libs userspace/libsinsp):
* runc.cpp match_one_container_id (0.29-era form): rfind(prefix), the suffix at the end, exactly
  CONTAINER_ID_LENGTH = 64 characters of CONTAINER_ID_VALID_CHARACTERS, reported as the first
  REPORTED_CONTAINER_ID_LENGTH = 12;
* docker/docker_linux.cpp DOCKER_CGROUP_LAYOUT {"/", ""} (non-systemd docker), {"/docker-", ".scope"};
* cri.cpp CRI_CGROUP_LAYOUT {"/crio-", ""}, {"/cri-containerd-", ".scope"}, {"/crio-", ".scope"},
  {":cri-containerd:", ""} (its {"/", ""} is docker's, tried first);
* docker/podman.cpp ROOT_PODMAN_CGROUP_LAYOUT {"/libpod-", ".scope"}, and rootless podman's
  "podman-%d.scope/" systemd cgroup followed by the id;
* lxc.cpp: "/lxc/" and "/lxc.payload/", the id up to the next '/', not truncated.
"""
from __future__ import annotations

import pytest

from sysdig_user.scap.container_json import CT_CONTAINERD, CT_CRIO, CT_DOCKER, CT_LXC, CT_PODMAN
from tracer.containers import Detector, identify, runc_id

ID = "0123456789abcdef" * 4
SHORT = ID[:12]


@pytest.mark.parametrize(("cgroups", "expected"), [
    # docker, cgroup v1, non-systemd driver
    ([f"cpu=/docker/{ID}", f"memory=/docker/{ID}"], (SHORT, CT_DOCKER)),
    # docker with the systemd driver (v1 and v2 give the same path)
    ([f"memory=/system.slice/docker-{ID}.scope"], (SHORT, CT_DOCKER)),
    # a bare 64-hex leaf is docker's "/" layout, tried before CRI (kubepods with cgroupfs)
    ([f"cpu=/kubepods/besteffort/pod1234-5678/{ID}"], (SHORT, CT_DOCKER)),
    # cri-o and containerd (systemd driver, and cgroupfs for cri-o): the runtime the shape names
    ([f"memory=/kubepods.slice/kubepods-besteffort.slice/crio-{ID}.scope"], (SHORT, CT_CRIO)),
    ([f"memory=/kubepods.slice/kubepods-burstable.slice/cri-containerd-{ID}.scope"], (SHORT, CT_CONTAINERD)),
    ([f"memory=/system.slice/containerd.service/kubepods-pod1.slice:cri-containerd:{ID}"], (SHORT, CT_CONTAINERD)),
    ([f"cpu=/kubepods/crio-{ID}"], (SHORT, CT_CRIO)),
    # podman, root and rootless (v2: systemd's user slice)
    ([f"memory=/machine.slice/libpod-{ID}.scope"], (SHORT, CT_PODMAN)),
    ([f"memory=/machine.slice/libpod-{ID}.scope/container"], (SHORT, CT_PODMAN)),
    ([f"name=systemd=/user.slice/user-1000.slice/user@1000.service/user.slice/podman-4242.scope/{ID}"],
     (SHORT, CT_PODMAN)),
    # LXC, both layouts: the name is the id
    (["cpu=/lxc/web01", "memory=/lxc/web01/init.scope"], ("web01", CT_LXC)),
    (["memory=/lxc.payload/web02/system.slice"], ("web02", CT_LXC)),
    # the host, and near misses: 63 or 65 characters, non-hex, a systemd unit
    (["cpu=/", "memory=/user.slice/user-0.slice/session-1.scope"], ("", None)),
    ([f"cpu=/docker/{ID[:-1]}"], ("", None)),
    ([f"cpu=/docker/{ID}0"], ("", None)),
    ([f"cpu=/docker/{ID[:-1]}g"], ("", None)),
    ([f"memory=/system.slice/docker-{ID}.service"], ("", None)),
])
def test_path_shapes(cgroups: list[str], expected: tuple[str, int | None]) -> None:
    assert identify(cgroups) == expected


def test_uppercase_hex_counts_and_the_last_prefix_wins() -> None:
    upper = ID.upper()
    assert runc_id(f"/docker/{upper}", "/", "") == upper[:12]
    assert runc_id(f"/docker-{'f' * 64}/x/docker-{ID}.scope", "/docker-", ".scope") == SHORT


def test_detector_reports_each_container_once_without_a_runtime(tmp_path: object) -> None:
    det = Detector(timeout_ms=50, root=str(tmp_path))  # no socket under this root
    recs = det.new_records([[f"cpu=/docker/{ID}"], [f"cpu=/docker/{ID}"], ["cpu=/lxc/web01"], ["cpu=/"],
                            [f"cpu=/kubepods/crio-{'e' * 64}"]])  # (no CRI runtime answers: no record)
    assert [(r.id, r.type, r.name, r.image) for r in recs] == [(SHORT, CT_DOCKER, "", ""),
                                                              ("web01", CT_LXC, "web01", "")]
    assert det.new_records([[f"cpu=/docker/{ID}"]]) == []
