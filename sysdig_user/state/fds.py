"""File descriptor state: one FdInfo per open fd, in tables shared by the threads of a process.

Mirrors libsinsp's sinsp_fdinfo: the fd type decides which of the name or socket-tuple fields are set.
Parsers (state/parsers*.py) create and update these; fields read them through ``Event.fdinfo``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum


class FdType(IntEnum):
    """scap_fd_type values (as stored in FDL blocks, scap-format.md §8.2)."""

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


# The character sysdig shows in fd=N(<c>name) and fd.typechar.
TYPE_CHARS: dict[FdType, str] = {
    FdType.FILE: "f", FdType.FILE_V2: "f", FdType.DIRECTORY: "d",
    FdType.IPV4_SOCK: "4", FdType.IPV4_SERVSOCK: "4", FdType.IPV6_SOCK: "6", FdType.IPV6_SERVSOCK: "6",
    FdType.FIFO: "p", FdType.UNIX_SOCK: "u", FdType.EVENT: "e", FdType.UNSUPPORTED: "X",
    FdType.SIGNALFD: "s", FdType.EVENTPOLL: "l", FdType.INOTIFY: "i", FdType.TIMERFD: "t",
    FdType.NETLINK: "n", FdType.BPF: "b", FdType.USERFAULTFD: "u",
}


class Role(IntEnum):
    """Which end of a connection this fd is (sinsp FLAGS_ROLE_CLIENT / FLAGS_ROLE_SERVER)."""

    NONE = 0
    CLIENT = 1
    SERVER = 2


@dataclass(slots=True)
class FdInfo:
    fd: int
    type: FdType
    name: str = ""
    open_flags: int = 0  # PPM_O_* bits
    dev: int = 0
    ino: int = 0
    # sockets: addresses are raw network-order bytes (4 or 16), ports host order
    sip: bytes = b""
    sport: int = 0
    dip: bytes = b""
    dport: int = 0
    l4proto: int = 0  # scap l4 proto: 0 unknown, 1 n/a, 2 tcp, 3 udp, 4 icmp, 5 raw
    role: Role = Role.NONE
    unix_source: int = 0
    unix_dest: int = 0
    # per-fd counters some fields and chisels use
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def typechar(self) -> str:
        return TYPE_CHARS.get(self.type, "o")


class FdTable:
    """fd number -> FdInfo for one process (threads created with CLONE_FILES share the table)."""

    __slots__ = ("fds",)

    def __init__(self) -> None:
        self.fds: dict[int, FdInfo] = {}

    def get(self, fd: int) -> FdInfo | None:
        return self.fds.get(fd)

    def add(self, info: FdInfo) -> FdInfo:
        self.fds[info.fd] = info
        return info

    def remove(self, fd: int) -> FdInfo | None:
        return self.fds.pop(fd, None)

    def __len__(self) -> int:
        return len(self.fds)
