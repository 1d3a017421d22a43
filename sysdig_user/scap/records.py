"""Typed records of a scap capture's metadata blocks, and the items `read_capture` yields.

One record per block concept (machine, interfaces, users/groups, threads, fds). Every older
on-disk version is normalised into the newest shape, with the defaults libscap itself uses for
fields an old version lacks (sid/vpgid/vtid/vpid = -1, loginuid = -1, empty strings), so code
above this layer never needs to know which PL/FDL/IL/UL version a file used.

Events are not records: the reader yields them as plain ``(cpu, dump_flags, raw)`` tuples to
avoid one object per event (see DESIGN.md, "Event").
"""
from __future__ import annotations

from sysdig_user.consts import IntConst
from sysdig_user.rows import Record


class FdType(IntConst):
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


class SectionHeader(Record):
    """Start of a section (SHB). A concatenated capture yields one per section."""

    _fields = ("major", "minor")
    __slots__ = _fields
    major: int
    minor: int

    def __init__(self, major: int = 1, minor: int = 2) -> None:
        self.major = major
        self.minor = minor


class MachineInfo(Record):
    """MI block. Nothing sysdig prints depends on it; kept so a rewrite preserves it."""

    _fields = ("num_cpus", "memory_size_bytes", "max_pid", "hostname")
    __slots__ = _fields
    num_cpus: int
    memory_size_bytes: int
    max_pid: int
    hostname: str

    def __init__(self, num_cpus: int, memory_size_bytes: int, max_pid: int, hostname: str) -> None:
        self.num_cpus = num_cpus
        self.memory_size_bytes = memory_size_bytes
        self.max_pid = max_pid
        self.hostname = hostname


class Interface(Record):
    """One IL entry. Addresses are raw network-order bytes (4 for family 4, 16 for family 6)."""

    _fields = ("family", "name", "addr", "netmask", "bcast", "linkspeed")
    __slots__ = _fields
    family: int
    name: str
    addr: bytes
    netmask: bytes
    bcast: bytes
    linkspeed: int

    def __init__(self, family: int, name: str, addr: bytes, netmask: bytes, bcast: bytes,
                 linkspeed: int = 0) -> None:
        self.family = family
        self.name = name
        self.addr = addr
        self.netmask = netmask
        self.bcast = bcast
        self.linkspeed = linkspeed


class User(Record):
    _fields = ("uid", "gid", "name", "homedir", "shell")
    __slots__ = _fields
    uid: int
    gid: int
    name: str
    homedir: str
    shell: str

    def __init__(self, uid: int, gid: int, name: str, homedir: str = "", shell: str = "") -> None:
        self.uid = uid
        self.gid = gid
        self.name = name
        self.homedir = homedir
        self.shell = shell


class Group(Record):
    _fields = ("gid", "name")
    __slots__ = _fields
    gid: int
    name: str

    def __init__(self, gid: int, name: str) -> None:
        self.gid = gid
        self.name = name


class ProcEntry(Record):
    """One thread of a PL block, in the PL_V9 shape.

    ``args``/``env``/``cgroups`` are the NUL-separated blobs split into lists (``b"-l\\0/tmp\\0"``
    -> ``["-l", "/tmp"]``). Signed fields hold -1 where libscap stores "unknown".
    """

    _fields = ("tid", "pid", "ptid", "sid", "vpgid", "comm", "exe", "exepath", "args", "cwd", "fdlimit", "flags", "uid",
               "gid", "vmsize_kb", "vmrss_kb", "vmswap_kb", "pfmajor", "pfminor", "env", "vtid", "vpid", "cgroups",
               "root", "loginuid", "exe_writable")
    __slots__ = _fields
    tid: int
    pid: int
    ptid: int
    sid: int
    vpgid: int
    comm: str
    exe: str
    exepath: str
    args: list[str]
    cwd: str
    fdlimit: int
    flags: int
    uid: int
    gid: int
    vmsize_kb: int
    vmrss_kb: int
    vmswap_kb: int
    pfmajor: int
    pfminor: int
    env: list[str]
    vtid: int
    vpid: int
    cgroups: list[str]
    root: str
    loginuid: int
    exe_writable: bool

    def __init__(self, tid: int, pid: int, ptid: int = -1, sid: int = -1, vpgid: int = -1, comm: str = "",
                 exe: str = "", exepath: str = "", args: list[str] | None = None, cwd: str = "",
                 fdlimit: int = 0, flags: int = 0, uid: int = 0xFFFFFFFF, gid: int = 0xFFFFFFFF,
                 vmsize_kb: int = 0, vmrss_kb: int = 0, vmswap_kb: int = 0, pfmajor: int = 0, pfminor: int = 0,
                 env: list[str] | None = None, vtid: int = -1, vpid: int = -1, cgroups: list[str] | None = None,
                 root: str = "", loginuid: int = -1, exe_writable: bool = False) -> None:
        self.tid = tid
        self.pid = pid
        self.ptid = ptid
        self.sid = sid
        self.vpgid = vpgid
        self.comm = comm
        self.exe = exe
        self.exepath = exepath
        self.args = [] if args is None else args
        self.cwd = cwd
        self.fdlimit = fdlimit
        self.flags = flags
        self.uid = uid
        self.gid = gid
        self.vmsize_kb = vmsize_kb
        self.vmrss_kb = vmrss_kb
        self.vmswap_kb = vmswap_kb
        self.pfmajor = pfmajor
        self.pfminor = pfminor
        self.env = [] if env is None else env
        self.vtid = vtid
        self.vpid = vpid
        self.cgroups = [] if cgroups is None else cgroups
        self.root = root
        self.loginuid = loginuid
        self.exe_writable = exe_writable


#: ProcEntry's fields with their defaults (a fresh list for the three list fields), in order.
PROC_ENTRY_DEFAULTS: tuple[tuple[str, object], ...] = (
    ("ptid", -1), ("sid", -1), ("vpgid", -1), ("comm", ""), ("exe", ""), ("exepath", ""), ("args", list),
    ("cwd", ""), ("fdlimit", 0), ("flags", 0), ("uid", 0xFFFFFFFF), ("gid", 0xFFFFFFFF), ("vmsize_kb", 0),
    ("vmrss_kb", 0), ("vmswap_kb", 0), ("pfmajor", 0), ("pfminor", 0), ("env", list), ("vtid", -1),
    ("vpid", -1), ("cgroups", list), ("root", ""), ("loginuid", -1), ("exe_writable", False))


class FdEntry(Record):
    """One FDL entry.

    Which fields matter depends on ``type``: names for file-like types (FILE_V2 also has
    ``open_flags``, PPM_O_* encoded, and ``dev``); ``sip``/``dip``/``sport``/``dport``/``l4proto``
    for sockets (raw address bytes, ports as numbers); server sockets keep their one address in
    ``sip``/``sport``; unix sockets have kernel ``source``/``dest`` pointers plus ``name``.
    """

    _fields = ("fd", "ino", "type", "name", "open_flags", "dev", "sip", "dip", "sport", "dport", "l4proto", "source",
               "dest")
    __slots__ = _fields
    fd: int
    ino: int
    type: int
    name: str
    open_flags: int
    dev: int
    sip: bytes
    dip: bytes
    sport: int
    dport: int
    l4proto: int
    source: int
    dest: int

    def __init__(self, fd: int, ino: int = 0, type: int = FdType.FILE_V2, name: str = "", open_flags: int = 0,
                 dev: int = 0, sip: bytes = b"", dip: bytes = b"", sport: int = 0, dport: int = 0,
                 l4proto: int = 0, source: int = 0, dest: int = 0) -> None:
        self.fd = fd
        self.ino = ino
        self.type = type
        self.name = name
        self.open_flags = open_flags
        self.dev = dev
        self.sip = sip
        self.dip = dip
        self.sport = sport
        self.dport = dport
        self.l4proto = l4proto
        self.source = source
        self.dest = dest


class InterfaceList(Record):
    _fields = ("interfaces",)
    __slots__ = _fields
    interfaces: list[Interface]

    def __init__(self, interfaces: list[Interface]) -> None:
        self.interfaces = interfaces


class UserList(Record):
    _fields = ("users", "groups")
    __slots__ = _fields
    users: list[User]
    groups: list[Group]

    def __init__(self, users: list[User], groups: list[Group]) -> None:
        self.users = users
        self.groups = groups


class ProcList(Record):
    _fields = ("entries",)
    __slots__ = _fields
    entries: list[ProcEntry]

    def __init__(self, entries: list[ProcEntry]) -> None:
        self.entries = entries


class FdList(Record):
    _fields = ("tid", "fds")
    __slots__ = _fields
    tid: int
    fds: list[FdEntry]

    def __init__(self, tid: int, fds: list[FdEntry]) -> None:
        self.tid = tid
        self.fds = fds


#: An event as the reader yields it: (cpu, dump_flags, raw ppm event with the 26-byte v2 header).
EventTuple = tuple[int, int, bytes]

#: Everything `read_capture` yields, in file order.
CaptureItem = SectionHeader | MachineInfo | InterfaceList | UserList | ProcList | FdList | EventTuple
