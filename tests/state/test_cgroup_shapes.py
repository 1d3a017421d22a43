"""Cgroup paths -> container id and type, shape by shape, in the one implementation of libsinsp's rules
(sysdig_user/state/containers.py identify and runc_id), for both of its callers: reading a capture
(resolve) and naming a live container (tracer/containers.py, ``live=True``).

The rules matched (falcosecurity/libs userspace/libsinsp):
* runc.cpp match_one_container_id: rfind(prefix) to rfind(suffix) exactly CONTAINER_ID_LENGTH = 64
  characters, only a non-hex character before index 64 of the whole path rejecting it, reported as the
  first REPORTED_CONTAINER_ID_LENGTH = 12;
* docker/docker_linux.cpp DOCKER_CGROUP_LAYOUT {"/", ""} (non-systemd docker), {"/docker-", ".scope"};
* cri.cpp CRI_CGROUP_LAYOUT {"/", ""}, {"/crio-", ""}, {"/cri-containerd-", ".scope"}, {"/crio-", ".scope"},
  {":cri-containerd:", ""} (its {"/", ""} is docker's, tried first);
* docker/podman.cpp ROOT_PODMAN_CGROUP_LAYOUT {"/libpod-", ".scope"}, and (live) rootless podman's
  "podman-%d.scope/" systemd cgroup followed by the id;
* lxc.cpp: "/lxc/" and "/lxc.payload/", the id up to the next '/', not truncated; libvirt_lxc.cpp.
What sysdig itself makes of these shapes in a capture: tests/state/test_containers_oracle.py
(test_container_id_from_cgroups_matches_sysdig).
"""
from __future__ import annotations

import pytest

from sysdig_user.state.containers import (
    CT_CONTAINERD,
    CT_CRIO,
    CT_DOCKER,
    CT_LIBVIRT_LXC,
    CT_LXC,
    CT_PODMAN,
    identify,
    runc_id,
)

ID = "0123456789abcdef" * 4
SHORT = ID[:12]
ROOTLESS = f"name=systemd=/user.slice/user-1000.slice/user@1000.service/user.slice/podman-4242.scope/{ID}"


@pytest.mark.parametrize(("cgroups", "expected"), [
    # docker, cgroup v1, non-systemd driver
    ([f"cpu=/docker/{ID}", f"memory=/docker/{ID}"], (SHORT, CT_DOCKER)),
    # docker with the systemd driver (v1 and v2 give the same path); the suffix need not end the path
    ([f"memory=/system.slice/docker-{ID}.scope"], (SHORT, CT_DOCKER)),
    ([f"memory=/system.slice/docker-{ID}.scope/sub"], (SHORT, CT_DOCKER)),
    # a bare 64-hex leaf is docker's "/" layout, tried before CRI (kubepods with cgroupfs)
    ([f"cpu=/kubepods/besteffort/pod1234-5678/{ID}"], (SHORT, CT_DOCKER)),
    # cri-o and containerd (systemd driver, and cgroupfs for cri-o): the runtime the shape names
    ([f"memory=/kubepods.slice/kubepods-besteffort.slice/crio-{ID}.scope"], (SHORT, CT_CRIO)),
    ([f"memory=/kubepods.slice/kubepods-burstable.slice/cri-containerd-{ID}.scope"], (SHORT, CT_CONTAINERD)),
    ([f"memory=/system.slice/containerd.service/kubepods-pod1.slice:cri-containerd:{ID}"], (SHORT, CT_CONTAINERD)),
    ([f"cpu=/kubepods/crio-{ID}"], (SHORT, CT_CRIO)),
    # podman (root; podman >= 4 adds /container after the scope)
    ([f"memory=/machine.slice/libpod-{ID}.scope"], (SHORT, CT_PODMAN)),
    ([f"memory=/machine.slice/libpod-{ID}.scope/container"], (SHORT, CT_PODMAN)),
    # LXC, both layouts: the name is the id; libvirt-lxc
    (["cpu=/lxc/web01", "memory=/lxc/web01/init.scope"], ("web01", CT_LXC)),
    (["memory=/lxc.payload/web02/system.slice"], ("web02", CT_LXC)),
    (["cpu=/libvirt/lxc/vm1"], ("vm1", CT_LXC)),  # (lxc's "/lxc/" is tried first)
    (["cpu=/machine/vm2.libvirt-lxc"], ("vm2", CT_LIBVIRT_LXC)),
    (["cpu=/machine.slice/machine-lxc\\x2dvm3.scope"], ("vm3", CT_LIBVIRT_LXC)),
    # the host, and near misses: 63 or 65 characters, a systemd unit
    (["cpu=/", "memory=/user.slice/user-0.slice/session-1.scope"], ("", None)),
    ([f"cpu=/docker/{ID[:-1]}"], ("", None)),
    ([f"cpu=/docker/{ID}0"], ("", None)),
    ([f"memory=/system.slice/docker-{ID}.service"], ("", None)),
    # sinsp's hex check looks before index 64 of the whole path only: a late non-hex character passes
    ([f"cpu=/docker/{ID[:-1]}g"], (ID[:12], CT_DOCKER)),
    ([f"cpu=/docker/g{ID[:-1]}"], ("", None)),
])
@pytest.mark.parametrize("live", [False, True])
def test_path_shapes(cgroups: list[str], expected: tuple[str, int | None], live: bool) -> None:
    assert identify(cgroups, live=live) == expected


def test_rootless_podman_only_live() -> None:
    """A capture has no uid map to confirm rootless podman with: docker's bare-id layout takes the path."""
    assert identify([ROOTLESS], live=True) == (SHORT, CT_PODMAN)
    assert identify([ROOTLESS], live=False) == (SHORT, CT_DOCKER)


def test_uppercase_hex_counts_and_the_last_prefix_wins() -> None:
    upper = ID.upper()
    assert runc_id(f"/docker/{upper}", "/", "") == upper[:12]
    assert runc_id(f"/docker-{'f' * 64}/x/docker-{ID}.scope", "/docker-", ".scope") == SHORT
    assert runc_id(f"/docker-{ID}.scope/x.scope", "/docker-", ".scope") is None  # the last suffix counts
