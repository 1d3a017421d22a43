"""The container.* fields, from the thread's cgroups (sdu has no container runtime metadata).

libsinsp sinsp_filter_check_container (libs e5c53d64): a thread outside any container has id, name and
type "host" and no other value. A thread whose cgroups name a docker, cri-o, containerd or podman scope
has that 12-character id; name, image and mounts need runtime metadata sdu does not collect, so they
are None (sinsp's answer when the container manager has no entry).
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sysdig_user.event_table import PF, PT
from sysdig_user.fields.base import ArgSyntax, Extractor, FieldClass, FieldDef, FieldFlag, plain

if TYPE_CHECKING:
    from sysdig_user.event import Event
    from sysdig_user.state.threads import ThreadInfo

# cgroup paths that mark a container (docker, kubepods/cri-o, containerd, libpod); the id is 64 hex.
_ID_RE = re.compile(r"(?:/docker/|/docker-|/crio-|/cri-containerd-|/libpod-|/kubepods[^ ]*/pod[^/]*/)"
                    r"([0-9a-f]{64})")


def container_id(t: ThreadInfo) -> str:
    """The 12-character container id found in the thread's cgroups, or "" for the host."""
    cached = t.extra.get("container_id")
    if isinstance(cached, str):
        return cached
    cid = ""
    for entry in t.cgroups:
        m = _ID_RE.search(entry)
        if m is not None:
            cid = m.group(1)[:12]
            break
    t.extra["container_id"] = cid
    return cid


def _id(evt: Event) -> str | None:
    t = evt.thread
    if t is None:
        return None
    return container_id(t) or "host"


def _name(evt: Event) -> str | None:
    t = evt.thread
    if t is None:
        return None
    return "host" if not container_id(t) else None


def _type(evt: Event) -> str | None:
    t = evt.thread
    if t is None:
        return None
    return "host" if not container_id(t) else None


def _none(evt: Event) -> None:
    return None


_image = _image_id = _privileged = _mounts = _image_repository = _image_tag = _image_digest = _none
_healthcheck = _liveness_probe = _readiness_probe = _none


def _none_factory(arg: str | None) -> Extractor:
    return _none


_mount = _mount_source = _mount_dest = _mount_mode = _mount_rdwr = _mount_propagation = _none_factory


CLASS = FieldClass(
    "container",
    "Container information. If the event is not happening inside a container, both id and name will be "
    "set to 'host'.", (
    FieldDef("container.id", PT.CHARBUF, PF.NA,
        'the container id.',
        plain(_id)),
    FieldDef("container.name", PT.CHARBUF, PF.NA,
        'the container name.',
        plain(_name)),
    FieldDef("container.image", PT.CHARBUF, PF.NA,
        'the container image name (e.g. falcosecurity/falco:latest for docker).',
        plain(_image)),
    FieldDef("container.image.id", PT.CHARBUF, PF.NA,
        'the container image id (e.g. 6f7e2741b66b).',
        plain(_image_id)),
    FieldDef("container.type", PT.CHARBUF, PF.NA,
        'the container type, eg: docker or rkt',
        plain(_type)),
    FieldDef("container.privileged", PT.BOOL, PF.NA,
        'true for containers running as privileged, false otherwise',
        plain(_privileged)),
    FieldDef("container.mounts", PT.CHARBUF, PF.NA,
        'A space-separated list of mount information. Each item in the list has the format '
        '<source>:<dest>:<mode>:<rdrw>:<propagation>',
        plain(_mounts)),
    FieldDef("container.mount", PT.CHARBUF, PF.NA,
        'Information about a single mount, specified by number (e.g. container.mount[0]) or mount'
        ' source (container.mount[/usr/local]). The pathname can be a glob '
        '(container.mount[/usr/local/*]), in which case the first matching mount will be '
        'returned. The information has the format <source>:<dest>:<mode>:<rdrw>:<propagation>. If'
        ' there is no mount with the specified index or matching the provided source, returns the'
        ' string "none" instead of a NULL value.',
        _mount, FieldFlag.REQUIRES_ARGUMENT, ArgSyntax.BRACKET),
    FieldDef("container.mount.source", PT.CHARBUF, PF.NA,
        'the mount source, specified by number (e.g. container.mount.source[0]) or mount '
        'destination (container.mount.source[/host/lib/modules]). The pathname can be a glob.',
        _mount_source, FieldFlag.REQUIRES_ARGUMENT, ArgSyntax.BRACKET),
    FieldDef("container.mount.dest", PT.CHARBUF, PF.NA,
        'the mount destination, specified by number (e.g. container.mount.dest[0]) or mount '
        'source (container.mount.dest[/lib/modules]). The pathname can be a glob.',
        _mount_dest, FieldFlag.REQUIRES_ARGUMENT, ArgSyntax.BRACKET),
    FieldDef("container.mount.mode", PT.CHARBUF, PF.NA,
        'the mount mode, specified by number (e.g. container.mount.mode[0]) or mount source '
        '(container.mount.mode[/usr/local]). The pathname can be a glob.',
        _mount_mode, FieldFlag.REQUIRES_ARGUMENT, ArgSyntax.BRACKET),
    FieldDef("container.mount.rdwr", PT.CHARBUF, PF.NA,
        'the mount rdwr value, specified by number (e.g. container.mount.rdwr[0]) or mount source'
        ' (container.mount.rdwr[/usr/local]). The pathname can be a glob.',
        _mount_rdwr, FieldFlag.REQUIRES_ARGUMENT, ArgSyntax.BRACKET),
    FieldDef("container.mount.propagation", PT.CHARBUF, PF.NA,
        'the mount propagation value, specified by number (e.g. container.mount.propagation[0]) '
        'or mount source (container.mount.propagation[/usr/local]). The pathname can be a glob.',
        _mount_propagation, FieldFlag.REQUIRES_ARGUMENT, ArgSyntax.BRACKET),
    FieldDef("container.image.repository", PT.CHARBUF, PF.NA,
        'the container image repository (e.g. falcosecurity/falco).',
        plain(_image_repository)),
    FieldDef("container.image.tag", PT.CHARBUF, PF.NA,
        'the container image tag (e.g. stable, latest).',
        plain(_image_tag)),
    FieldDef("container.image.digest", PT.CHARBUF, PF.NA,
        'the container image registry digest (e.g. '
        'sha256:d977378f890d445c15e51795296e4e5062f109ce6da83e0a355fc4ad8699d27).',
        plain(_image_digest)),
    FieldDef("container.healthcheck", PT.CHARBUF, PF.NA,
        'The container\'s health check. Will be the null value ("N/A") if no healthcheck '
        'configured, "NONE" if configured but explicitly not created, and the healthcheck command'
        ' line otherwise',
        plain(_healthcheck)),
    FieldDef("container.liveness_probe", PT.CHARBUF, PF.NA,
        'The container\'s liveness probe. Will be the null value ("N/A") if no liveness probe '
        'configured, the liveness probe command line otherwise',
        plain(_liveness_probe)),
    FieldDef("container.readiness_probe", PT.CHARBUF, PF.NA,
        'The container\'s readiness probe. Will be the null value ("N/A") if no readiness probe '
        'configured, the readiness probe command line otherwise',
        plain(_readiness_probe)),
))
