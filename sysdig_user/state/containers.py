"""Container state: the table of known containers, their JSON events, and a thread's container id.

Follows libsinsp (libs e5c53d64, sysdig 0.29.3), checked against sysdig on captures the tests write
(tests/state/test_containers_oracle.py):

* A container event (PPME_CONTAINER_JSON_E 272, PPME_CONTAINER_JSON_2_E 324; the old PPME_CONTAINER_E
  228 with four params) stores one ``ContainerInfo`` under its id, replacing what was there
  (sinsp_parser::parse_container_json_evt / parse_container_evt). The JSON is the object sinsp's
  container_to_json writes: ``{"container": {"id", "full_id", "type", "name", "image", "imageid",
  "imagerepo", "imagetag", "imagedigest", "privileged", "lookup_state", "Mounts": [...],
  "Healthcheck"/"LivenessProbe"/"ReadinessProbe": {"exe", "args"}, ...}}``; a key that is absent or
  of the wrong kind leaves the default. JSON that does not parse stops the capture with sinsp's message.
* The events at the head of a capture, before its first other event, are consumed while the file is
  opened (sinsp::consume_initialstate_events): numbered, parsed, never shown, filtered or counted.
* A later one is shown, attributed to a thread made for it and kept out of the thread table
  (sinsp_container_info::get_tinfo): comm ``container:ID``, tid/pid -1, vtid/vpid -2, uid/gid 0, in
  that container. A lookup_state of STARTED (rewritten to FAILED, as no lookup can finish in a file) or
  FAILED hides it (sinsp sets m_filtered_out) but still stores the container.
* A thread's container id comes from its cgroups whenever sinsp resolves it (PL entries, a clone's
  child, a successful execve): the engines are tried in sinsp's order, the first that recognises a
  cgroup path wins, and the docker-like and lxc engines also store a placeholder container (no name or
  image) when the id is unknown, as they do in a capture, where they may not ask a runtime. The CRI
  shapes give the id and nothing else (no CRI client reading a file). Mesos, rkt and bpm need runtime
  information a capture does not have; sysdig leaves those threads on the host too.
"""
from __future__ import annotations

from sysdig_user.errors import SduError
from sysdig_user.event_table import EVENTS
from sysdig_user.rows import Record
from sysdig_user.scap.container_json import (  # sinsp_container_type: one table, beside the encoder
    CT_BPM,
    CT_CONTAINERD,
    CT_CRI,
    CT_CRIO,
    CT_DOCKER,
    CT_LIBVIRT_LXC,
    CT_LXC,
    CT_MESOS,
    CT_PODMAN,
    CT_RKT,
    MountRecord,
)

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)

if TYPE_CHECKING:
    from typing import Any

    from sysdig_user.event import Event
    from sysdig_user.state.threads import ThreadInfo

#: the container event codes (old 228, JSON 272 and 324): what a capture's head may hold as state
CONTAINER_CODES = frozenset(info.code for info in EVENTS if info.name == "container" and not info.code & 1)
CONTAINER_E = 228  # PPME_CONTAINER_E: id, type, name, image

#: container.type text per type; sysdig 0.29.3 has no text for custom, static and podman (see type_text)
TYPE_NAMES = {CT_DOCKER: "docker", CT_LXC: "lxc", CT_LIBVIRT_LXC: "libvirt-lxc", CT_MESOS: "mesos",
              CT_RKT: "rkt", CT_CRI: "cri", CT_CONTAINERD: "containerd", CT_CRIO: "cri-o", CT_BPM: "bpm"}
#: the types whose privileged flag container.privileged shows (is_docker_compatible)
DOCKER_COMPATIBLE = frozenset({CT_DOCKER, CT_CRI, CT_CONTAINERD, CT_CRIO, CT_PODMAN})

# sinsp_container_lookup::state
STARTED, SUCCESSFUL, FAILED = 0, 1, 2

#: probe kinds in the order sinsp reads their JSON keys (PT_NONE's key "None" included)
PROBE_KEYS = ("None", "Healthcheck", "LivenessProbe", "ReadinessProbe")
HEALTHCHECK, LIVENESS_PROBE, READINESS_PROBE = 1, 2, 3

_HEX = frozenset("0123456789abcdefABCDEF")
ID_LENGTH = 64  # a runc container id; reported as its first 12 characters
SHORT_ID = 12


class Mount(MountRecord):
    """A container mount as the reader holds it (the encoder's record, with the reader's text)."""

    __slots__ = ()

    def text(self) -> str:
        """<source>:<dest>:<mode>:<rdwr>:<propagation>, as container.mount shows one."""
        return f"{self.source}:{self.dest}:{self.mode}:{'true' if self.rdwr else 'false'}:{self.propagation}"


class ContainerInfo(Record):
    """One container as sinsp's sinsp_container_info holds it (the fields sdu shows)."""

    _fields = ("id", "type", "name", "image", "full_id", "imageid", "imagerepo", "imagetag", "imagedigest",
               "privileged", "lookup_state", "mounts", "probes", "extra")
    __slots__ = _fields

    def __init__(self, id: str = "", type: int = CT_DOCKER, name: str = "", image: str = "",
                 full_id: str = "", imageid: str = "", imagerepo: str = "", imagetag: str = "",
                 imagedigest: str = "", privileged: bool = False, lookup_state: int = SUCCESSFUL,
                 mounts: list[Mount] | None = None, probes: list[tuple[int, str]] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        self.id = id
        self.type = type  # (a JSON without a type is a docker container)
        self.name = name
        self.image = image
        self.full_id = full_id
        self.imageid = imageid
        self.imagerepo = imagerepo
        self.imagetag = imagetag
        self.imagedigest = imagedigest
        self.privileged = privileged
        self.lookup_state = lookup_state
        self.mounts: list[Mount] = [] if mounts is None else mounts
        self.probes: list[tuple[int, str]] = [] if probes is None else probes  # (kind, exe and args joined)
        self.extra: dict[str, Any] = {} if extra is None else extra  # the rest of the JSON (ip, labels, ...)

    @property
    def successful(self) -> bool:
        return self.lookup_state == SUCCESSFUL

    def mount_by(self, arg: str, by_dest: bool = False) -> Mount | None:
        """container.mount*[arg]: by index when arg is a number, else the first mount whose source
        (dest with ``by_dest``) matches arg as a glob (sinsp_utils::glob_match)."""
        index = _number(arg)
        if index is not None:
            return self.mounts[index] if 0 <= index < len(self.mounts) else None
        from fnmatch import fnmatchcase  # (here: only container.mount* fields with a glob use it)

        for m in self.mounts:
            if fnmatchcase(m.dest if by_dest else m.source, arg):
                return m
        return None

    def probe(self, kind: int) -> str:
        """container.healthcheck and the probes: the command of the first probe of that kind, else NONE."""
        for k, command in self.probes:
            if k == kind:
                return command
        return "NONE"


def _number(text: str) -> int | None:
    """sinsp_numparser::parsed32: a decimal number (sdu accepts what int() does), else None."""
    try:
        return int(text, 10)
    except ValueError:
        return None


class ContainerTable:
    """The containers known so far, by id (sinsp_container_manager's map)."""

    __slots__ = ("containers", "lookups")

    def __init__(self) -> None:
        self.containers: dict[str, ContainerInfo] = {}
        self.lookups: set[tuple[int, str]] = set()  # (type, id) of every container stored (should_lookup)

    def get(self, cid: str) -> ContainerInfo | None:
        return self.containers.get(cid)

    def add(self, info: ContainerInfo) -> None:
        self.containers[info.id] = info
        self.lookups.add((info.type, info.id))

    def __iter__(self) -> Any:
        return iter(self.containers.values())

    def __len__(self) -> int:
        return len(self.containers)


def type_text(info: ContainerInfo) -> str | None:
    """container.type for a known container; None for the types sysdig 0.29.3 has no text for (custom,
    static, podman, any other number: see fields/container.py)."""
    return TYPE_NAMES.get(info.type)


# ------------------------------------------------------------------------------------------ JSON

def _as_str(value: Any) -> str | None:
    """jsoncpp's isConvertibleTo(stringValue) then asString() (null: not present)."""
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _as_uint(value: Any) -> int | None:
    if value is None or isinstance(value, (str, dict, list)):
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        return int(value) if 0 <= value < 2 ** 32 else None
    return value if 0 <= value < 2 ** 32 else None


def _as_bool(value: Any) -> bool | None:
    if value is None or isinstance(value, (str, dict, list)):
        return None
    return bool(value)


def _json_string(value: Any) -> str:
    """A mount's string member: only an actual string counts."""
    return value if isinstance(value, str) else ""


def parse_json(text: str, in_file: bool = True) -> ContainerInfo:
    """The ContainerInfo a container JSON event describes; SduError with sinsp's message when the JSON
    does not parse. ``in_file``: the event came from a capture (no lookup of its own can finish, so
    STARTED is read as FAILED)."""
    from json import JSONDecoder  # (here: a run that meets no container event never imports json)

    body = text.split("\0", 1)[0]
    try:
        root, _end = JSONDecoder().raw_decode(body.lstrip(" \t\r\n"))
    except ValueError:
        raise SduError(f"Invalid JSON encountered while parsing container info: {_one_line(body)}") from None
    obj = root.get("container") if isinstance(root, dict) else None
    c: dict[str, Any] = obj if isinstance(obj, dict) else {}
    info = ContainerInfo()
    for key, attr in (("id", "id"), ("full_id", "full_id"), ("name", "name"), ("image", "image"),
                      ("imageid", "imageid"), ("imagerepo", "imagerepo"), ("imagetag", "imagetag"),
                      ("imagedigest", "imagedigest")):
        s = _as_str(c.get(key))
        if s is not None:
            setattr(info, attr, s)
    t = _as_uint(c.get("type"))
    if t is not None:
        info.type = t
    for key, attr in (("privileged", "privileged"),):
        b = _as_bool(c.get(key))
        if b is not None:
            setattr(info, attr, b)
    state = _as_uint(c.get("lookup_state"))
    if state is not None:
        info.lookup_state = state if state in (STARTED, SUCCESSFUL, FAILED) else SUCCESSFUL
        if in_file and info.lookup_state == STARTED:
            info.lookup_state = FAILED
    mounts = c.get("Mounts")
    if isinstance(mounts, list):
        for m in mounts:
            m = m if isinstance(m, dict) else {}
            rw = m.get("RW")
            info.mounts.append(Mount(_json_string(m.get("Source")), _json_string(m.get("Destination")),
                                     _json_string(m.get("Mode")), rw if isinstance(rw, bool) else False,
                                     _json_string(m.get("Propagation"))))
    for kind, key in enumerate(PROBE_KEYS):
        probe = c.get(key)
        if not isinstance(probe, dict):
            continue
        exe = _as_str(probe.get("exe"))
        if exe is None:
            continue
        args = probe.get("args")
        words = [exe]
        if isinstance(args, list):
            words += [s for s in (_as_str(a) for a in args) if s is not None]
        info.probes.append((kind, " ".join(words)))
    info.extra = {k: v for k, v in c.items() if k not in _PARSED_KEYS}
    return info


def _one_line(text: str) -> str:
    """The text as sysdig prints it in its message, with what is not printable ASCII (a line break, a
    byte that is not UTF-8) written as \\xNN, so that the message stays one line."""
    raw = text.encode("utf-8", "surrogateescape")
    return "".join(chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}" for b in raw)


_PARSED_KEYS = frozenset({"id", "full_id", "name", "image", "imageid", "imagerepo", "imagetag", "imagedigest",
                          "type", "privileged", "lookup_state", "Mounts", *PROBE_KEYS})


def container_thread(info: ContainerInfo) -> ThreadInfo:
    """The thread sinsp attributes a container event to (sinsp_container_info::get_tinfo): not in the
    thread table, comm container:ID, tid/pid -1, vtid/vpid -2, root, in that container."""
    from sysdig_user.state.threads import ThreadInfo

    th = ThreadInfo(tid=-1, pid=-1, ptid=0, comm="container:" + info.id, exe="", uid=0, gid=0, vtid=-2,
                    vpid=-2)
    th.extra["container_id"] = info.id
    th.extra["container_cgroups"] = th.cgroups
    return th


def parse_event(table: ContainerTable, evt: Event) -> ContainerInfo:
    """Store the container an event describes (JSON or the old four-param form) and return it."""
    if evt.type == CONTAINER_E:
        info = ContainerInfo()
        values = [evt.param(i) for i in range(min(evt.nparams, 4))]
        if len(values) == 4:
            info.id, info.type, info.name, info.image = (
                values[0] or "", values[1] or 0, values[2] or "", values[3] or "")
    else:
        raw = evt.param(0) if evt.nparams else ""
        info = parse_json(raw if isinstance(raw, str) else "")
    table.add(info)
    return info


# ------------------------------------------------------------------------------- cgroups -> id
# The one home of libsinsp's cgroup-path rules for container identity, used when reading captures
# (resolve, below) and by the live tracer (tracer/containers.py), checked against sysdig in
# tests/state/test_containers_oracle.py and tests/state/test_cgroup_shapes.py.

def runc_id(path: str, prefix: str, suffix: str) -> str | None:
    """libsinsp runc.cpp match_one_container_id: the 12-character id if ``path`` holds prefix + 64 hex
    digits + suffix, else None. Like sinsp, the id starts after the *last* occurrence of the prefix and
    ends at the *last* occurrence of the suffix (not necessarily the end of the path: sysdig takes
    ``/docker-<id>.scope/sub`` as docker's), and the hex check is sinsp's: only a non-hex character
    before index 64 of the whole path rejects the id (sysdig takes "/docker/" + 63 hex digits + "g")."""
    start = path.rfind(prefix)
    if start < 0:
        return None
    start += len(prefix)
    end = path.rfind(suffix)
    if end - start != ID_LENGTH:  # (also when the suffix is not found, or found before the id)
        return None
    for i in range(start, min(end, ID_LENGTH)):
        if path[i] not in _HEX:
            return None
    return path[start:start + SHORT_ID]


#: The runc-style cgroup layouts of the engines that use them, in the order sinsp tries the engines
#: (container.cpp create_engines: podman, docker, CRI). Each row is (prefix, suffix, the container type
#: the shape implies). Podman: podman.cpp ROOT_PODMAN_CGROUP_LAYOUT (podman >= 4's ``.scope/container``
#: is found through the last ``.scope``); docker: docker_linux.cpp DOCKER_CGROUP_LAYOUT; CRI: cri.cpp
#: CRI_CGROUP_LAYOUT, where sinsp takes the type from the runtime that answers (get_cri_runtime_type):
#: the type here is the runtime the shape names (its ``("/", "")``, non-systemd containerd, is never
#: reached, docker's identical row being tried first).
RUNC_ENGINES: tuple[tuple[tuple[str, str, int], ...], ...] = (
    (("/libpod-", ".scope", CT_PODMAN),),
    (("/", "", CT_DOCKER), ("/docker-", ".scope", CT_DOCKER)),
    (("/", "", CT_CONTAINERD), ("/crio-", "", CT_CRIO), ("/cri-containerd-", ".scope", CT_CONTAINERD),
     ("/crio-", ".scope", CT_CRIO), (":cri-containerd:", "", CT_CONTAINERD)),
)
#: the types only a CRI runtime's answer makes a container of (sinsp stores none without one)
CRI_TYPES = frozenset({CT_CRI, CT_CONTAINERD, CT_CRIO})


def _rootless_podman(cgroups: list[str], paths: list[str]) -> str | None:
    """podman.cpp detect_podman for a rootless container: the systemd cgroup
    ``.../podman-<pid>.scope/<64 hex>``."""
    for entry, path in zip(cgroups, paths, strict=True):
        if entry.startswith("name=systemd=") and "/podman-" in path and ".scope/" in path:
            cid = runc_id(path, ".scope/", "")
            if cid is not None:
                return cid
    return None


def _lxc(paths: list[str]) -> str | None:
    """lxc.cpp: ``/lxc/<name>`` or ``/lxc.payload/<name>``; the name (up to the next '/') is the id."""
    for path in paths:
        for marker in ("/lxc/", "/lxc.payload/"):
            pos = path.find(marker)
            if pos >= 0:
                start = pos + len(marker)
                end = path.find("/", start)
                return path[start:] if end < 0 else path[start:end]
    return None


def _libvirt_lxc(paths: list[str]) -> str | None:
    """libvirt_lxc.cpp: ``<name>.libvirt-lxc``, systemd's ``...-lxc\\x2d<name>.scope`` and
    ``/libvirt/lxc/<name>``."""
    for path in paths:
        if path.endswith(".libvirt-lxc"):
            slash = path.rfind("/")
            if slash >= 0:
                return path[slash + 1:len(path) - len(".libvirt-lxc")]
        pos = path.find("-lxc\\x2")
        if pos >= 0 and path.endswith(".scope"):
            start = pos + len("-lxc\\x2") + 1  # past the 'd' of \x2d
            return path[start:len(path) - len(".scope")]
        pos = path.find("/libvirt/lxc/")
        if pos >= 0:
            return path[pos + len("/libvirt/lxc/"):]
    return None


def identify(cgroups: list[str], live: bool = False) -> tuple[str, int | None]:
    """(container id, the type its cgroup shape implies) for a thread's cgroups (``subsys=path``
    entries); ("", None) for the host. The engines are tried in sinsp's order, the first that
    recognises a path wins. A CRI type (CRI_TYPES) is the runtime the shape names: only a runtime's
    answer makes it a container.

    ``live``: naming a container of this machine (tracer/containers.py) rather than reading a capture.
    Only then is rootless podman recognised: sinsp confirms it from the uid map of the live process
    (/proc/<tid>/uid_map), which a capture read elsewhere, or later, does not have."""
    answers = _IDENTIFIED[live]
    key = "\0".join(cgroups)  # (an entry never holds a NUL: scap stores each as a C string)
    known = answers.get(key)
    if known is None:
        if len(answers) >= _IDENTIFIED_MAX:
            answers.clear()
        known = answers[key] = _identify(cgroups, live)
    return known


#: identify's answers by cgroup list (joined: one string to hash and compare, not a tuple of ~14, which
#: cost 3x as much on a section's new strings), for captures (False) and live threads (True): a
#: capture's process lists repeat the same lists in every section (an uncached identify of every thread
#: was a third of a default-line read of a 200-section capture)
_IDENTIFIED: dict[bool, dict[str, tuple[str, int | None]]] = {False: {}, True: {}}
_IDENTIFIED_MAX = 4096


def _identify(cgroups: list[str], live: bool) -> tuple[str, int | None]:
    paths = [entry.partition("=")[2] for entry in cgroups]
    # (a runc id is 64 characters after its prefix: a shorter path, "/" or a systemd slice, holds none)
    long_paths = [path for path in paths if len(path) >= ID_LENGTH]
    for i, engine in enumerate(RUNC_ENGINES):
        for path in long_paths:
            for prefix, suffix, kind in engine:
                cid = runc_id(path, prefix, suffix)
                if cid is not None:
                    return cid, kind
        if i == 0 and live:  # podman's second way, before docker
            cid = _rootless_podman(cgroups, paths)
            if cid is not None:
                return cid, CT_PODMAN
    cid = _lxc(paths)
    if cid is not None:
        return cid, CT_LXC
    cid = _libvirt_lxc(paths)
    if cid is not None:
        return cid, CT_LIBVIRT_LXC
    return "", None


def resolve(table: ContainerTable, th: ThreadInfo) -> str:
    """Set and return the thread's container id from its cgroups (sinsp's resolve_container, where
    sinsp calls it), storing the engine's placeholder container if the id is new."""
    cid, kind = identify(th.cgroups)
    th.extra["container_id"] = cid
    th.extra["container_cgroups"] = th.cgroups
    if kind is None or kind in CRI_TYPES:  # the id without a container: no CRI client reads a file
        return cid
    if kind in (CT_LXC, CT_LIBVIRT_LXC):
        # these engines store the container unless one of their own type is known (it may replace one
        # of another type under the same id)
        if (kind, cid) not in table.lookups:
            table.add(ContainerInfo(id=cid, type=kind, name=cid))
    elif cid not in table.containers:  # the docker-like engines: unless any container has the id
        table.add(ContainerInfo(id=cid, type=kind, lookup_state=FAILED))
    return cid


def thread_container_id(th: ThreadInfo) -> str:
    """The thread's container id ("" for the host), as last resolved; resolved from its cgroups when
    they changed since (a thread built outside the parsers)."""
    extra = th.extra
    if extra.get("container_cgroups") is th.cgroups:
        cid = extra.get("container_id")
        if isinstance(cid, str):
            return cid
    cid = identify(th.cgroups)[0]
    extra["container_id"] = cid
    extra["container_cgroups"] = th.cgroups
    return cid
