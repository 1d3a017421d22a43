"""The live container detector (tracer/containers.py): one record per container, from the engine's
cgroup rules (their shapes: tests/state/test_cgroup_shapes.py) and the runtime that answers.
"""
from __future__ import annotations

from sysdig_user.scap.container_json import CT_CONTAINERD, CT_DOCKER, CT_LXC, CT_PODMAN
from tracer.containers import Detector, identify

ID = "0123456789abcdef" * 4
SHORT = ID[:12]


def test_detector_reports_each_container_once_without_a_runtime(tmp_path: object) -> None:
    det = Detector(timeout_ms=50, root=str(tmp_path))  # no socket under this root
    recs = det.new_records([[f"cpu=/docker/{ID}"], [f"cpu=/docker/{ID}"], ["cpu=/lxc/web01"], ["cpu=/"],
                            [f"cpu=/kubepods/crio-{'e' * 64}"]])  # (no CRI runtime answers: no record)
    assert [(r.id, r.type, r.name, r.image) for r in recs] == [(SHORT, CT_DOCKER, "", ""),
                                                              ("web01", CT_LXC, "web01", "")]
    assert det.new_records([[f"cpu=/docker/{ID}"]]) == []


def test_identify_takes_procfs_entries_and_plain_paths() -> None:
    """tracer/procfs.py's "subsys=path" entries, plain paths, and rootless podman, which is live only."""
    assert identify([f"memory=/kubepods.slice/cri-containerd-{ID}.scope"]) == (SHORT, CT_CONTAINERD)
    assert identify([f"/docker/{ID}"]) == (SHORT, CT_DOCKER)
    assert identify([f"name=systemd=/user.slice/user@1000.service/podman-42.scope/{ID}"]) == (SHORT, CT_PODMAN)
