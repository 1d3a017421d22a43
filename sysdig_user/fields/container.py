"""The container.* fields: the thread's container id and what the capture's container events say of it.

libsinsp sinsp_filter_check_container (libs e5c53d64): a thread outside any container has id, name and
type "host" and no other value. A thread in a container has its id (state/containers.py resolves it
from the cgroups); the rest comes from the container table (container JSON events, or the placeholder
a container engine stores for an id it could not look up): no entry, or an empty string, is None.
"""
from __future__ import annotations

from _collections_abc import Callable  # (collections.abc without collections)

from sysdig_user.event_table import PF, PT
from sysdig_user.fields.base import ArgSyntax, Extractor, FieldClass, FieldDef, FieldFlag, plain, view_of
from sysdig_user.state.containers import (
    DOCKER_COMPATIBLE,
    HEALTHCHECK,
    LIVENESS_PROBE,
    READINESS_PROBE,
    ContainerInfo,
    Mount,
    thread_container_id,
    type_text,
)

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)

if TYPE_CHECKING:
    from sysdig_user.event import Event
    from sysdig_user.state.threads import ThreadInfo


def container_id(t: ThreadInfo) -> str:
    """The thread's 12-character container id, or "" for the host."""
    return thread_container_id(t)


def _info(evt: Event) -> ContainerInfo | None:
    """The event's thread's container, None on the host or when the table has no entry for it."""
    t = evt.thread
    if t is None:
        return None
    cid = thread_container_id(t)
    if not cid:
        return None
    table = getattr(view_of(evt), "containers", None)
    return None if table is None else table.get(cid)  # type: ignore[no-any-return]


def _id(evt: Event) -> str | None:
    t = evt.thread
    if t is None:
        return None
    return thread_container_id(t) or "host"


def _name(evt: Event) -> str | None:
    """"host" on the host, the container's name otherwise (None if unknown or empty)."""
    t = evt.thread
    if t is None:
        return None
    if not thread_container_id(t):
        return "host"
    info = _info(evt)
    return None if info is None else info.name or None


def _type(arg: str | None) -> Extractor:
    """container.type. sysdig 0.29.3 keeps the text in its field object's string buffer, and for the
    types its switch does not name (custom, static, podman, unknown) leaves that buffer as it was: such a
    container shows what this same use of the field showed last ("" at first). Each use of the field
    (a -p token, a filter comparison) keeps its own."""
    last = [""]

    def get(evt: Event) -> str | None:
        t = evt.thread
        if t is None:
            return None
        if not thread_container_id(t):
            last[0] = "host"
            return "host"
        info = _info(evt)
        if info is None:
            return None
        text = type_text(info)
        if text is None:
            return last[0]
        last[0] = text
        return text
    return get


def _text(attr: str) -> Extractor:
    def get(evt: Event) -> str | None:
        info = _info(evt)
        value = None if info is None else getattr(info, attr)
        return value or None
    return get


_image = _text("image")
_image_id = _text("imageid")
_image_repository = _text("imagerepo")
_image_tag = _text("imagetag")
_image_digest = _text("imagedigest")


def _privileged(evt: Event) -> bool | None:
    info = _info(evt)
    if info is None or info.type not in DOCKER_COMPATIBLE:
        return None
    return info.privileged


def _mounts(evt: Event) -> str | None:
    info = _info(evt)
    return None if info is None else ",".join(m.text() for m in info.mounts)


def _probe(kind: int) -> Extractor:
    def get(evt: Event) -> str | None:
        info = _info(evt)
        return None if info is None else info.probe(kind)
    return get


_healthcheck = _probe(HEALTHCHECK)
_liveness_probe = _probe(LIVENESS_PROBE)
_readiness_probe = _probe(READINESS_PROBE)


def _mount_field(part: str, by_dest: bool = False) -> Callable[[str | None], Extractor]:
    """container.mount[ARG] and its parts: ARG is an index, else a glob on the source (on the
    destination for mount.source)."""
    def factory(arg: str | None) -> Extractor:
        key = arg or ""

        def get(evt: Event) -> str | None:
            info = _info(evt)
            m = None if info is None else info.mount_by(key, by_dest)
            return None if m is None else _mount_part(m, part)
        return get
    return factory


def _mount_part(m: Mount, part: str) -> str:
    if part == "all":
        return m.text()
    if part == "rdwr":
        return "true" if m.rdwr else "false"
    return getattr(m, part)  # type: ignore[no-any-return]


_mount = _mount_field("all")
_mount_source = _mount_field("source", by_dest=True)
_mount_dest = _mount_field("dest")
_mount_mode = _mount_field("mode")
_mount_rdwr = _mount_field("rdwr")
_mount_propagation = _mount_field("propagation")


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
        _type),
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
