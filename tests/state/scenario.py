"""A synthetic capture exercising the state rules: PL/FDL seeding, clone (both sides, inverted),
execve, open/dup/fcntl/close, pipe, sockets (connect, unix connect, UDP sendto/recvfrom, bind/accept), threads with and
without CLONE_FILES, unpaired exits, procexit, unknown tids, a STATE_ONLY event."""
from __future__ import annotations

from sysdig_user.event import Event
from sysdig_user.scap.records import FdEntry, Interface, ProcEntry
from tests.state.events import mk, pair

AF_UNIX, AF_INET = 1, 2
LOCAL = bytes([10, 0, 0, 2])
REMOTE = bytes([93, 184, 216, 34])
DNS = bytes([8, 8, 8, 8])

INTERFACES = [Interface(4, "eth0", LOCAL, bytes([255, 255, 255, 0]), bytes([10, 0, 0, 255]))]
PROCS = [
    ProcEntry(tid=100, pid=100, ptid=1, comm="bash", exe="bash", exepath="/bin/bash", cwd="/home/u",
              fdlimit=1024, uid=1000, gid=1000, vtid=100, vpid=100),
    ProcEntry(tid=102, pid=100, ptid=1, comm="bash", exe="bash", cwd="/home/u", flags=0x2001,
              uid=1000, gid=1000),
    ProcEntry(tid=103, pid=100, ptid=1, comm="bashx", exe="bash", cwd="/srv", flags=0x2000,
              uid=1000, gid=1000),
]
FDS = {100: [FdEntry(fd=0, type=16, name="/dev/pts/0", open_flags=3),
             FdEntry(fd=1, type=16, name="/dev/pts/0", open_flags=3)]}


def _clone(tid: int, res: int, flags: int = 0, pid: int = 100, ptid: int = 1) -> Event:
    return mk("clone", False, tid, res=res, exe="bash", args=b"-c\0x\0", tid=tid, pid=pid, ptid=ptid,
              cwd="/home/u", fdlimit=1024, comm="bash", flags=flags, uid=1000, gid=1000, vtid=tid,
              vpid=pid)


def events() -> list[Event]:
    e: list[Event] = []
    e += [mk("clone", True, 100), _clone(100, 101)]
    e += [_clone(101, 0, pid=101, ptid=100)]
    e += [mk("execve", True, 101, filename="/bin/cat"),
          mk("execve", False, 101, res=0, exe="cat", args=b"foo.txt\0", tid=101, pid=101, ptid=100,
             cwd="/home/u", fdlimit=1024, comm="cat")]
    e += pair("openat", 101, {"dirfd": -100, "name": "foo.txt", "flags": 1},
              fd=3, dirfd=-100, name="foo.txt", flags=1)
    e += pair("openat", 101, {"dirfd": 3, "name": "../x//./y/", "flags": 1},
              fd=4, dirfd=3, name="../x//./y/", flags=1)
    e += pair("openat", 101, {"dirfd": -100, "name": "/nope", "flags": 1},
              fd=-2, dirfd=-100, name="/nope", flags=1)
    e += pair("read", 101, {"fd": 3, "size": 10}, res=10, data=b"0123456789")
    e += pair("dup", 101, {"fd": 3}, res=5)
    e += pair("close", 101, {"fd": 3}, res=0)
    e += pair("read", 101, {"fd": 3, "size": 10}, res=-9)
    e += pair("fcntl", 101, {"fd": 5, "cmd": 1}, res=6)
    e += pair("pipe", 101, res=0, fd1=7, fd2=8, ino=42)
    e += pair("socket", 101, {"domain": AF_INET, "type": 1, "proto": 0}, fd=9)
    e += pair("connect", 101, {"fd": 9, "addr": (AF_INET, REMOTE, 80)},
              res=0, tuple=(AF_INET, LOCAL, 40000, REMOTE, 80))
    e += pair("socket", 101, {"domain": AF_INET, "type": 2, "proto": 0}, fd=10)
    e += pair("sendto", 101, {"fd": 10, "size": 3, "tuple": (AF_INET, b"\0" * 4, 0, DNS, 53)}, res=3, data=b"abc")
    e += pair("recvfrom", 101, {"fd": 10, "size": 9}, res=3, data=b"xyz",
              tuple=(AF_INET, DNS, 53, LOCAL, 5353))
    e += [mk("read", False, 101, res=1, data=b"z")]  # unpaired exit
    e += [mk("write", True, 101, fd=5, size=1), mk("close", False, 101, res=0)]  # unpaired close X
    e += pair("read", 101, {"fd": 5, "size": 1}, res=1, data=b"z")
    e += pair("read", 102, {"fd": 1, "size": 1}, res=1, data=b"z")  # shares 100's fds
    e += pair("read", 103, {"fd": 1, "size": 1}, res=1, data=b"z")  # own (empty) table
    e += pair("chdir", 103, res=0, path="../tmp")
    e += pair("openat", 103, {"dirfd": -100, "name": "a", "flags": 1}, fd=3, dirfd=-100, name="a", flags=1)
    e += pair("socket", 100, {"domain": AF_INET, "type": 1, "proto": 6}, fd=4)
    e += pair("bind", 100, {"fd": 4}, res=0, addr=(AF_INET, b"\0" * 4, 8080))
    e += pair("listen", 100, {"fd": 4, "backlog": 5}, res=0)
    e += pair("accept", 100, {"flags": 0}, fd=11, tuple=(AF_INET, REMOTE, 5555, LOCAL, 8080))
    e += pair("read", 100, {"fd": 11, "size": 1}, res=1, data=b"z")
    e += pair("eventfd", 100, {"initval": 0, "flags": 0}, res=12)
    e += pair("signalfd", 100, {"fd": -1, "mask": 0, "flags": 0}, res=13)
    e += pair("timerfd_create", 100, {"clockid": 0, "flags": 0}, res=14)
    e += pair("inotify_init", 100, {"flags": 0}, res=15)
    e += [mk("clone", True, 100), _clone(200, 0, pid=200, ptid=100), _clone(100, 200)]  # inverted
    e += pair("read", 200, {"fd": 0, "size": 1}, res=1, data=b"z")
    e += pair("openat", 200, {"dirfd": -100, "name": "/etc/hidden", "flags": 1},
              fd=3, dirfd=-100, name="/etc/hidden", flags=1)
    e[-1].dump_flags = e[-2].dump_flags = 1  # STATE_ONLY: updates state, not shown
    e += pair("read", 200, {"fd": 3, "size": 1}, res=1, data=b"z")
    e += [mk("procexit", True, 101)]
    e += pair("read", 101, {"fd": 4, "size": 1}, res=1, data=b"z")
    e += pair("read", 555, {"fd": 0, "size": 1}, res=1, data=b"z")
    e += pair("open", 100, {"name": "rel/p", "flags": 1, "mode": 0}, fd=16, name="rel/p", flags=1)
    e += pair("creat", 100, {"name": "/c", "mode": 0}, fd=-13, name="/c")
    # relative paths ending in '/': the resolved path in the args drops it, as fd.name does
    e += pair("openat", 100, {"dirfd": -100, "name": "sub/dir/", "flags": 0x1000},
              fd=17, dirfd=-100, name="sub/dir/", flags=0x1000)
    e += pair("openat", 100, {"dirfd": 17, "name": "./x/../y/", "flags": 1},
              fd=18, dirfd=17, name="./x/../y/", flags=1)
    e += pair("open", 100, {"name": "../up/", "flags": 1, "mode": 0}, fd=19, name="../up/", flags=1)
    # a unix socket is named after the address at connect enter, even when the connect then fails
    e += pair("socket", 100, {"domain": AF_UNIX, "type": 1, "proto": 0}, fd=20)
    e += pair("connect", 100, {"fd": 20, "addr": (AF_UNIX, "/var/run/nscd/socket")},
              res=-2, tuple=(AF_UNIX, 0x152F0C, 0, "/var/run/nscd/socket"))
    e += pair("write", 100, {"fd": 20, "size": 1}, res=-107, data=b"z")
    e += pair("close", 100, {"fd": 20}, res=0)
    e += pair("socket", 100, {"domain": AF_UNIX, "type": 1, "proto": 0}, fd=21)
    e += pair("connect", 100, {"fd": 21, "addr": (AF_UNIX, "/run/s")},
              res=0, tuple=(AF_UNIX, 0xFFFF9A0001, 0xFFFF9A0002, "/run/s"))
    e += pair("read", 100, {"fd": 21, "size": 1}, res=1, data=b"z")
    return e
