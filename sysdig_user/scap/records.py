"""Typed records of a scap capture's metadata blocks, and the items `read_capture` yields.

One record per block concept (machine, interfaces, users/groups, threads, fds). Every older
on-disk version is normalised into the newest shape, with the defaults libscap itself uses for
fields an old version lacks (sid/vpgid/vtid/vpid = -1, loginuid = -1, empty strings), so code
above this layer never needs to know which PL/FDL/IL/UL version a file used.

Events are not records: the reader yields them as plain ``(cpu, dump_flags, raw)`` tuples to
avoid one object per event (see DESIGN.md, "Event").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum


class FdType(IntEnum):
    """`scap_fd_type` (libscap e5c53d64, scap.h): the fd types FDL entries store and the state engine
    keeps. The one definition; sysdig_user.state.fds re-exports it."""

    UNINITIALIZED = -1
    UNKNOWN = 0
    FILE = 1
    DIRECTORY = 2
    IPV4_SOCK = 3
    IPV6_SOCK = 4
    IPV4_SERVSOCK = 5
    IPV6_SERVSOCK = 6
    FIFO = 7
    UNIX_SOCK = 8
    EVENT = 9
    UNSUPPORTED = 10
    SIGNALFD = 11
    EVENTPOLL = 12
    INOTIFY = 13
    TIMERFD = 14
    NETLINK = 15
    FILE_V2 = 16
    BPF = 17
    USERFAULTFD = 18


@dataclass(slots=True)
class SectionHeader:
    """Start of a section (SHB). A concatenated capture yields one per section."""

    major: int = 1
    minor: int = 2


@dataclass(slots=True)
class MachineInfo:
    """MI block. Nothing sysdig prints depends on it; kept so a rewrite preserves it."""

    num_cpus: int
    memory_size_bytes: int
    max_pid: int
    hostname: str


@dataclass(slots=True)
class Interface:
    """One IL entry. Addresses are raw network-order bytes (4 for family 4, 16 for family 6)."""

    family: int
    name: str
    addr: bytes
    netmask: bytes
    bcast: bytes
    linkspeed: int = 0


@dataclass(slots=True)
class User:
    uid: int
    gid: int
    name: str
    homedir: str = ""
    shell: str = ""


@dataclass(slots=True)
class Group:
    gid: int
    name: str


@dataclass(slots=True)
class ProcEntry:
    """One thread of a PL block, in the PL_V9 shape.

    ``args``/``env``/``cgroups`` are the NUL-separated blobs split into lists (``b"-l\\0/tmp\\0"``
    -> ``["-l", "/tmp"]``). Signed fields hold -1 where libscap stores "unknown".
    """

    tid: int
    pid: int
    ptid: int = -1
    sid: int = -1
    vpgid: int = -1
    comm: str = ""
    exe: str = ""
    exepath: str = ""
    args: list[str] = field(default_factory=list)
    cwd: str = ""
    fdlimit: int = 0
    flags: int = 0
    uid: int = 0xFFFFFFFF
    gid: int = 0xFFFFFFFF
    vmsize_kb: int = 0
    vmrss_kb: int = 0
    vmswap_kb: int = 0
    pfmajor: int = 0
    pfminor: int = 0
    env: list[str] = field(default_factory=list)
    vtid: int = -1
    vpid: int = -1
    cgroups: list[str] = field(default_factory=list)
    root: str = ""
    loginuid: int = -1
    exe_writable: bool = False


@dataclass(slots=True)
class FdEntry:
    """One FDL entry.

    Which fields matter depends on ``type``: names for file-like types (FILE_V2 also has
    ``open_flags``, PPM_O_* encoded, and ``dev``); ``sip``/``dip``/``sport``/``dport``/``l4proto``
    for sockets (raw address bytes, ports as numbers); server sockets keep their one address in
    ``sip``/``sport``; unix sockets have kernel ``source``/``dest`` pointers plus ``name``.
    """

    fd: int
    ino: int = 0
    type: int = FdType.FILE_V2
    name: str = ""
    open_flags: int = 0
    dev: int = 0
    sip: bytes = b""
    dip: bytes = b""
    sport: int = 0
    dport: int = 0
    l4proto: int = 0
    source: int = 0
    dest: int = 0


@dataclass(slots=True)
class InterfaceList:
    interfaces: list[Interface]


@dataclass(slots=True)
class UserList:
    users: list[User]
    groups: list[Group]


@dataclass(slots=True)
class ProcList:
    entries: list[ProcEntry]


@dataclass(slots=True)
class FdList:
    tid: int
    fds: list[FdEntry]


#: An event as the reader yields it: (cpu, dump_flags, raw ppm event with the 26-byte v2 header).
EventTuple = tuple[int, int, bytes]

#: Everything `read_capture` yields, in file order.
CaptureItem = SectionHeader | MachineInfo | InterfaceList | UserList | ProcList | FdList | EventTuple
