"""State corners real captures hit (issue 16, items 1-10), each a small capture this test writes and
both sysdig 0.29.3 and sdu read: the lines must be the same.

Each scenario is the shortest event sequence that shows the rule; the comment above it names sinsp's
rule (libs parsers.cpp / ifinfo.cpp / filterchecks.cpp / event.cpp) that sdu follows.
"""
from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from sysdig_user.event import Event
from sysdig_user.event_table import SDU_EXTENSION_BASE
from sysdig_user.scap.records import FdEntry, FdType, Interface, ProcEntry
from tests.state import scenario
from tests.state.events import CLOCK, mk, pair
from tests.support import line_diff, require_tool, run_sdu, shared_path

pytestmark = pytest.mark.oracle  # every test here compares with sysdig

AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10
LOCAL = bytes([10, 0, 0, 2])
DNS_A, DNS_B = bytes([8, 8, 8, 8]), bytes([1, 1, 1, 1])
ZERO4 = bytes(4)


def _v6(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6, text)


def write_capture(path: Path, events: list[Event], *, interfaces: list[Interface] | None = None,
                  procs: list[ProcEntry] | None = None,
                  fds: dict[int, list[FdEntry]] | None = None) -> Path:
    from sysdig_user.scap.writer import ScapWriter

    with ScapWriter(str(path)) as w:
        w.write_section(interfaces=scenario.INTERFACES if interfaces is None else interfaces,
                        procs=scenario.PROCS if procs is None else procs,
                        fds=scenario.FDS if fds is None else fds)
        for evt in events:
            w.write_event(evt.cpu, evt.dump_flags, evt.raw)
    return path


def assert_same_lines(path: Path, *args: str) -> list[str]:
    """sysdig -r PATH ARGS and sdu -r PATH ARGS print the same lines (and sdu exits 0); sysdig's lines."""
    sysdig = require_tool("sysdig")
    env = {**os.environ, "TZ": "UTC"}
    theirs = subprocess.run([sysdig, "-r", str(path), *args], capture_output=True, env=env, check=True)
    want = theirs.stdout.decode("utf-8", "surrogateescape").splitlines()
    ours = run_sdu("-r", str(path), *args, environ=env)
    assert ours.status == 0, ours.stderr
    diff = line_diff(want, ours.stdout.splitlines())
    assert not diff, diff
    return want


SOCK_FIELDS = ("%evt.num %evt.dir %evt.type %fd.name %fd.sip %fd.sport %fd.cip %fd.cport %fd.lip %fd.rip "
               "%fd.lport %fd.rport %fd.is_server %fd.name_changed %fd.l4proto %fd.typechar")


# ------------------------------------------------------------------ item 1: a second connect() of a socket

def _udp_reconnect() -> list[Event]:
    """glibc's getaddrinfo sorts candidate addresses with one UDP socket: connect(A), connect(AF_UNSPEC)
    (the driver packs no address for AF_UNSPEC: addr=NULL, and the tuple is all zeros), connect(B), ...
    sinsp's connect exit replaces the source side but never a destination already set (only the
    enter's address moves it), so the fd reads ``0.0.0.0:0->A`` between the two connects."""
    e: list[Event] = []
    e += pair("socket", 100, {"domain": AF_INET, "type": 2, "proto": 0}, fd=9)
    e += pair("connect", 100, {"fd": 9, "addr": (AF_INET, DNS_A, 53)}, res=0,
              tuple=(AF_INET, LOCAL, 40000, DNS_A, 53))
    e += pair("connect", 100, {"fd": 9, "addr": None}, res=0, tuple=(AF_INET, ZERO4, 0, ZERO4, 0))
    e += pair("connect", 100, {"fd": 9, "addr": (AF_INET, DNS_B, 53)}, res=0,
              tuple=(AF_INET, LOCAL, 40001, DNS_B, 53))
    e += pair("sendto", 100, {"fd": 9, "size": 3}, res=3, data=b"abc")
    e += pair("connect", 100, {"fd": 9, "addr": None}, res=0, tuple=(AF_INET, ZERO4, 0, ZERO4, 0))
    e += pair("connect", 100, {"fd": 9, "addr": (AF_INET, DNS_A, 54)}, res=0,
              tuple=(AF_INET, LOCAL, 40002, DNS_A, 54))
    e += pair("write", 100, {"fd": 9, "size": 3}, res=3, data=b"abc")
    return e


def _connect_without_address() -> list[Event]:
    """Exits whose enter carried no address (as in captures whose connect enter has the fd only): the
    destination learnt first stays, whatever the tuple says; a UDP and a TCP socket."""
    e: list[Event] = []
    e += pair("socket", 100, {"domain": AF_INET, "type": 2, "proto": 0}, fd=9)
    e += pair("connect", 100, {"fd": 9, "addr": (AF_INET, DNS_A, 53)}, res=0,
              tuple=(AF_INET, LOCAL, 40000, DNS_A, 53))
    e += pair("connect", 100, {"fd": 9, "addr": None}, res=0, tuple=(AF_INET, LOCAL, 40001, DNS_B, 54))
    e += pair("connect", 100, {"fd": 9, "addr": None}, res=0, tuple=(AF_INET, LOCAL, 40001, ZERO4, 55))
    e += pair("connect", 100, {"fd": 9, "addr": None}, res=0, tuple=(AF_INET, ZERO4, 0, ZERO4, 0))
    e += pair("socket", 100, {"domain": AF_INET, "type": 1, "proto": 0}, fd=10)
    e += pair("connect", 100, {"fd": 10, "addr": None}, res=-115, tuple=(AF_INET, LOCAL, 40003, DNS_A, 80))
    e += pair("connect", 100, {"fd": 10, "addr": None}, res=0, tuple=(AF_INET, LOCAL, 40003, DNS_B, 81))
    e += pair("write", 100, {"fd": 10, "size": 3}, res=3, data=b"abc")
    return e


_V6_LOCAL = "2001:db8:1:2::5"
IFACES_V4_V6 = [Interface(4, "eth0", LOCAL, bytes([255, 255, 255, 0]), bytes([10, 0, 0, 255])),
                Interface(6, "eth0", _v6(_V6_LOCAL), bytes(16), bytes(16))]


def _peers() -> list[Event]:
    """fd.is_server / fd.lip / fd.rip ask whether an address is the machine's own: sinsp compares an
    IPv4 address with each interface address (no 127/8 rule) and an IPv6 one with each interface's
    first 64 bits (ipv6addr::in_subnet). A connect to ``::`` makes the socket IPv4 for a while (an
    all-zero address counts as IPv4-mapped) without losing its IPv6 protocol."""
    e: list[Event] = []
    fd = 9
    for dst in (bytes([127, 0, 0, 1]), bytes([127, 0, 0, 2]), LOCAL, bytes([10, 0, 0, 3])):
        e += pair("socket", 100, {"domain": AF_INET, "type": 2, "proto": 0}, fd=fd)
        e += pair("connect", 100, {"fd": fd, "addr": (AF_INET, dst, 53)}, res=0,
                  tuple=(AF_INET, LOCAL, 40000, dst, 53))
        e += pair("write", 100, {"fd": fd, "size": 1}, res=1, data=b"a")
        fd += 1
    for text in ("::1", "::", "2001:db8:1:2::9", "2001:db8:1:3::9", "fe80::1"):
        e += pair("socket", 100, {"domain": AF_INET6, "type": 2, "proto": 0}, fd=fd)
        e += pair("connect", 100, {"fd": fd, "addr": (AF_INET6, _v6(text), 53)}, res=0,
                  tuple=(AF_INET6, _v6(_V6_LOCAL), 40000, _v6(text), 53))
        e += pair("write", 100, {"fd": fd, "size": 1}, res=1, data=b"a")
        fd += 1
    return e


# ------------------------------------------------------------------ item 2: an exit without its enter

def _exit_without_enter() -> list[Event]:
    """sinsp_threadinfo::init starts m_lastevent_fd at 0 and only an enter changes it (to its fd param,
    or -1 for an enter without one), while an exit whose enter is missing gets no fd lookup in the
    parser: the fd filterchecks fall back to the thread's m_lastevent_fd. So a ``read <`` opening a
    capture shows fd 0 of its thread, and one after another fd's read shows that fd."""
    e: list[Event] = []
    e += [mk("read", False, 100, res=1, data=b"z")]  # /proc thread with fds 0 and 1
    e += [mk("write", False, 103, res=1, data=b"z")]  # /proc thread without fds
    e += [mk("read", False, 555, res=1, data=b"z")]  # unknown thread
    e += pair("read", 100, {"fd": 1, "size": 1}, res=1, data=b"z")
    e += [mk("read", False, 100, res=1, data=b"z")]  # after a read of fd 1
    e += pair("brk", 100, {"addr": 0}, res=0)
    e += [mk("read", False, 100, res=1, data=b"z")]  # after an enter without an fd: -1
    e += [mk("close", False, 100, res=0)]
    e += pair("read", 100, {"fd": 0, "size": 1}, res=1, data=b"z")
    return e


# ------------------------------------------------ items 3 and 9: names with bytes that are not printable ASCII

_ODD = "caf\u00e9\t\x7f.txt"  # UTF-8 é, a tab, DEL

PROC_ODD = [ProcEntry(tid=100, pid=100, ptid=1, comm="ba\nsh\u00e9", exe="ba\nsh", exepath="/bin/ba\nsh",
                      cwd="/home/\u00e9\n", args=["a\nb", "c\u00e9"], fdlimit=1024, uid=1000, gid=1000,
                      vtid=100, vpid=100)]
FDS_ODD = {100: [
    FdEntry(fd=3, type=FdType.UNIX_SOCK, name="/run/x.sock\n", source=0xFFFF1, dest=0xFFFF2, ino=77),
    FdEntry(fd=4, type=FdType.UNIX_SOCK, name="\n", source=0xFFFF3, ino=78),
    FdEntry(fd=5, type=FdType.UNIX_SOCK, name="a\nb\n", source=0xFFFF3, ino=79),
    FdEntry(fd=6, type=FdType.UNIX_SOCK, name="/run/" + _ODD, source=0xFFFF3, ino=80),
    FdEntry(fd=7, type=FdType.FILE_V2, name="/tmp/" + _ODD + "\x01", ino=81),
    FdEntry(fd=8, type=FdType.FILE, name="/tmp/g\nh", ino=82),
    FdEntry(fd=9, type=FdType.FIFO, name="pipe:[1]\n", ino=83),
    FdEntry(fd=10, type=FdType.UNIX_SOCK, name="@abstract\n", source=0xFFFF3, ino=84),
]}


def _fdl_names() -> list[Event]:
    """A capture's FDL names (a unix socket's name read from /proc/net/unix keeps its line's newline
    in some writers): sysdig shows them without every byte that is not printable ASCII (sanitize_string),
    while the PL strings (comm, exe, args) stay as they are and the cwd goes through concatenate_paths,
    which turns each such byte into a '.'."""
    e: list[Event] = []
    for fd in range(3, 11):
        e += pair("read", 100, {"fd": fd, "size": 1}, res=1, data=b"z")
    return e


def _odd_params() -> list[Event]:
    """get_param_as_str copies path, address and tuple params through strcpy_sanitized, which drops
    every byte that is not printable ASCII (``name=/tmp/caf.txt``); CHARBUF params (execve's exe, comm)
    and the raw values (evt.rawarg.*, proc.*) are left alone; fd names made by concatenate_paths have
    a '.' per such byte, and a unix socket is named after its sanitized address. -j writes DEL as it is
    (jsoncpp escapes only the characters below 0x20)."""
    e: list[Event] = []
    e += [mk("execve", True, 100, filename="/bin/" + _ODD),
          mk("execve", False, 100, res=0, exe="/bin/" + _ODD, args=("a" + _ODD + "\0").encode(), tid=100,
             pid=100, ptid=1, cwd="/home/u", fdlimit=1024, comm=_ODD, env=b"A=\xc3\xa9\0")]
    e += pair("open", 100, {"name": "/tmp/" + _ODD, "flags": 1, "mode": 0}, fd=16, name="/tmp/" + _ODD, flags=1)
    e += pair("openat", 100, {"dirfd": -100, "name": _ODD, "flags": 1}, fd=17, dirfd=-100, name=_ODD, flags=1)
    e += pair("read", 100, {"fd": 17, "size": 1}, res=3, data="\u00e9\n".encode())
    e += pair("mkdir", 100, {"mode": 0}, res=0, path="/tmp/" + _ODD)
    e += pair("socket", 100, {"domain": AF_UNIX, "type": 1, "proto": 0}, fd=21)
    e += pair("connect", 100, {"fd": 21, "addr": (AF_UNIX, "/run/" + _ODD)}, res=0,
              tuple=(AF_UNIX, 1, 2, "/run/" + _ODD))
    e += pair("read", 100, {"fd": 21, "size": 1}, res=1, data=b"z")
    e += pair("socket", 100, {"domain": AF_UNIX, "type": 1, "proto": 0}, fd=23)
    e += pair("bind", 100, {"fd": 23}, res=0, addr=(AF_UNIX, "/run/b\u00e9\n"))
    e += pair("read", 100, {"fd": 23, "size": 1}, res=1, data=b"z")
    e += pair("chdir", 100, res=0, path="/tmp/" + _ODD)
    return e


# ------------------------------------------------------------------ item 4: latency without an exit

def _latencies() -> list[Event]:
    """-t d prints the thread's m_latency as it stands (evt.outputtime's 'd' branch): a switch keeps
    the last exit's, an unpaired exit counts from the thread's last enter. evt.latency.human keeps its
    text in the check: an event without a thread (the switch of an unknown tid) shows the text of the
    event before it ("" at the start)."""
    e: list[Event] = []
    e += [mk("switch", True, 555, next=101)]
    e += pair("read", 100, {"fd": 0, "size": 1}, res=1, data=b"z")
    e += [mk("switch", True, 100, next=101)]
    e += [mk("signaldeliver", True, 100, sig=2)]
    e += [mk("read", True, 100, fd=0, size=1)]
    e += [mk("switch", True, 100, next=101)]
    e += [mk("read", False, 100, res=1, data=b"z")]
    e += [mk("read", False, 100, res=1, data=b"z")]
    e += [mk("switch", True, 102, next=101)]
    e += [mk("switch", True, 555, next=101)]
    enter = mk("read", True, 100, fd=0, size=1)
    e += [enter, _at(mk("read", False, 100, res=1, data=b"z"), enter.ts + 5500),  # 5.50us
          _at(mk("switch", True, 556, next=101), enter.ts + 6000)]
    CLOCK.ts = max(CLOCK.ts, enter.ts + 7000)
    e += [mk("procexit", True, 100)]
    return e


def _at(evt: Event, ts: int) -> Event:
    """The event with its timestamp moved to ``ts`` (the header's first 8 bytes)."""
    raw = ts.to_bytes(8, "little") + bytes(evt.raw[8:])
    return Event(raw, evt.cpu, evt.dump_flags)


# ------------------------------------------------------------------ item 5: an env of empty entries

PROC_ENVS = [ProcEntry(tid=t, pid=t, ptid=1, comm=f"b{t}", exe=f"b{t}", cwd="/", env=env, uid=0, gid=0, vtid=t,
                       vpid=t)
             for t, env in ((100, ["", "", ""]), (101, ["", "A=1", ""]), (102, ["A=1", "", ""]))]


def _envs() -> list[Event]:
    """sinsp_threadinfo::set_env stops at an empty entry when every byte after it is zero: an env of
    NULs only is empty, an empty entry before a real one stays (PL entries and execve's env alike)."""
    e: list[Event] = []
    for t in (100, 101, 102):
        e += pair("read", t, {"fd": 0, "size": 1}, res=1, data=b"z")
    for t, env in ((100, b"\0\0\0"), (101, b"\0B=2\0\0"), (102, b"")):
        e += [mk("execve", True, t, filename="/bin/x"),
              mk("execve", False, t, res=0, exe="/bin/x", args=b"", tid=t, pid=t, ptid=1, cwd="/", fdlimit=1024,
                 comm="x", env=env)]
        e += pair("read", t, {"fd": 0, "size": 1}, res=1, data=b"z")
    return e


# ------------------------------------------------------------- item 7: IP literals of the other family

def _ip_families() -> list[Event]:
    """Fresh IPv4 and IPv6 sockets (addresses all zero) and connected ones: flt_compare compares as many
    bytes of the literal as the address has (see filter/compile.py _ip_literals)."""
    e: list[Event] = []
    e += pair("socket", 100, {"domain": AF_INET, "type": 1, "proto": 0}, fd=9)
    e += pair("write", 100, {"fd": 9, "size": 1}, res=1, data=b"a")
    e += pair("socket", 100, {"domain": AF_INET6, "type": 1, "proto": 0}, fd=10)
    e += pair("write", 100, {"fd": 10, "size": 1}, res=1, data=b"a")
    odd4 = bytes([32, 1, 13, 184])  # the first 4 bytes of 2001:db8::
    e += pair("socket", 100, {"domain": AF_INET, "type": 2, "proto": 0}, fd=11)
    e += pair("connect", 100, {"fd": 11, "addr": (AF_INET, odd4, 53)}, res=0,
              tuple=(AF_INET, LOCAL, 4000, odd4, 53))
    e += pair("write", 100, {"fd": 11, "size": 1}, res=1, data=b"a")
    e += pair("socket", 100, {"domain": AF_INET6, "type": 2, "proto": 0}, fd=12)
    e += pair("connect", 100, {"fd": 12, "addr": (AF_INET6, _v6("0:1::"), 53)}, res=0,
              tuple=(AF_INET6, _v6("2001:db8::5"), 4000, _v6("0:1::"), 53))
    e += pair("write", 100, {"fd": 12, "size": 1}, res=1, data=b"a")
    return e


_IP_FILTERS = ("fd.ip=::1", "fd.ip=::", "fd.ip=2001:db8::1", "fd.ip!=::1", "fd.ip in (::1, 1.2.3.4)",
               "fd.ip=0.0.0.1", "fd.ip=0.0.0.0", "fd.sip=2001:db8::", "fd.cip=10.0.0.2")


# ---------------------------------------------- item 8: intervals of a capture that holds packet events

def _with_packets() -> list[Event]:
    """An sdu capture made with --net holds packet events, which Debian sysdig skips while reading: they
    must not start the chisels' intervals (iobytes printed an extra first ``in:0 out:0 tot:0``)."""
    def packet() -> Event:
        return mk(SDU_EXTENSION_BASE, True, 100, dir="in", ifindex=1, iface="lo", len=10, proto=6, data=b"x",
                  tuple=(AF_INET, bytes([127, 0, 0, 1]), 1, bytes([127, 0, 0, 1]), 2))
    CLOCK.ts = max(CLOCK.ts, 1_600_000_100_000_000_000) // 1_000_000_000 * 1_000_000_000 + 500_000_000
    e = [packet()]
    for step in (1_600_000_000, 1_000_000_000, 1_000_000_000):
        CLOCK.ts += step
        e += pair("read", 100, {"fd": 0, "size": 1}, res=1, data=b"z")
    CLOCK.ts += 1_000_000_000
    return [*e, packet()]


DEFAULT: tuple[str, ...] = ()
SOCKETS = ("-p", SOCK_FIELDS)

#: name -> (events, capture options, the sysdig argument lists whose lines must agree)
SCENARIOS: dict[str, tuple[Callable[[], list[Event]], dict[str, object], list[tuple[str, ...]]]] = {
    "udp-reconnect": (_udp_reconnect, {}, [DEFAULT, SOCKETS]),
    "connect-without-address": (_connect_without_address, {}, [DEFAULT, SOCKETS]),
    "peers": (_peers, {"interfaces": IFACES_V4_V6}, [DEFAULT, SOCKETS]),
    "peers-no-interfaces": (_peers, {"interfaces": []}, [SOCKETS]),
    "exit-without-enter": (_exit_without_enter, {}, [
        DEFAULT, ("-p", "%evt.num %evt.type %fd.num %fd.name %fd.type %evt.category %evt.latency %proc.name"),
        ("-p", "*%evt.num %fd.num %fd.name %fd.typechar"), ("-c", "echo_fds"), ("-c", "stdin"),
        ("-c", "fdbytes_by", "fd.name")]),
    "latencies": (_latencies, {}, [
        ("-t", "d"), ("-t", "D"),
        ("-p", "*%evt.num %evt.type %evt.latency %evt.latency.s %evt.latency.ns %evt.latency.human"),
        ("-p", "*%evt.num %evt.outputtime %evt.latency.human", "-t", "d")]),
    "envs": (_envs, {"procs": PROC_ENVS, "fds": {}}, [
        ("-p", "*%evt.num %thread.tid [%proc.env]", "evt.type=read"), ("-j", "-p", "*%evt.num %proc.env")]),
    "ip-families": (_ip_families, {}, [
        ("-p", "%evt.num %fd.num %fd.name", f"({flt}) and evt.type=write and evt.dir=>") for flt in _IP_FILTERS]),
    "with-packets": (_with_packets, {}, [("-c", "iobytes"), ("-c", "iobytes_net"), ("-c", "iobytes_file")]),
    "fdl-names": (_fdl_names, {"procs": PROC_ODD, "fds": FDS_ODD}, [
        DEFAULT, ("-p", ("%evt.num %fd.num %fd.name %fd.type %proc.name %proc.exe %proc.exepath %proc.args "
                  "%proc.cwd"), "evt.dir=>"), ("-c", "lsof")]),
    "odd-params": (_odd_params, {}, [
        DEFAULT, ("-p", "*%evt.num %evt.info"),
        ("-p", ("*%evt.num %evt.arg.name|%evt.arg[1]|%evt.rawarg.name|%evt.arg.comm|%evt.arg.exe|%evt.arg.path|"
               "%evt.arg.addr")),
        ("-p", "*%evt.num %proc.name|%proc.exe|%proc.args|%proc.cwd|%fd.name|%proc.env|%evt.abspath"),
        ("-j", "evt.num<5"), ("-c", "fileslower", "0"), ("-c", "lsof")]),
}

_CASES = [(name, i) for name in sorted(SCENARIOS) for i in range(len(SCENARIOS[name][2]))]


@pytest.mark.parametrize(("name", "which"), _CASES, ids=[f"{n}-{i}" for n, i in _CASES])
def test_scenario(tmp_path: Path, name: str, which: int) -> None:
    build, options, arglists = SCENARIOS[name]
    path = write_capture(tmp_path / f"{name}.scap", build(), **options)  # type: ignore[arg-type]
    assert assert_same_lines(path, *arglists[which])


# ------------------------------------------------------------ item 6: proc.apid / proc.aname without index

@pytest.mark.parametrize("args", [
    ("-p", "%evt.num %proc.pid %proc.ppid %proc.apid %proc.aname %proc.name|%proc.aname|%proc.apid"),
    ("-p", "%evt.num [%proc.apid] %proc.apid[1] %proc.aname[0]"),
    ("-j", "-p", "%evt.num %proc.apid %proc.aname|%proc.apid"),
    ("-p", "%evt.num %proc.aname", "proc.aname=bash and proc.apid=11310"),
], ids=["middle-and-end", "bracketed", "json", "filter-any-ancestor"])
def test_bare_ancestor_fields(args: tuple[str, ...]) -> None:
    """In -p, sinsp's parse_field_name takes a bare proc.apid/proc.aname only as the last token (no
    ancestor walked: the process itself); elsewhere the token spans nothing, so the value is followed
    by the name as literal text and its JSON key is "". In filters the bare field matches any ancestor."""
    assert assert_same_lines(shared_path("samples", "falco_cat_write.scap"), *args)


# ------------------------------------------------------------------------ item 10: a stale F_DUPFD enter

_DUP_FDS = {100: [FdEntry(fd=0, type=FdType.FILE_V2, name="/dev/null", open_flags=3),
                  FdEntry(fd=1, type=FdType.FILE_V2, name="/tmp/out", open_flags=3)]}
_F_DUPFD, _F_GETFD = 1, 2


def _dupfd(with_exit: bool) -> list[Event]:
    e = ([mk("fcntl", True, 100, fd=1, cmd=_F_DUPFD)] if not with_exit
         else pair("fcntl", 100, {"fd": 1, "cmd": _F_DUPFD}, res=11))
    e += pair("fcntl", 100, {"fd": 1, "cmd": _F_GETFD}, res=0)
    e += pair("read", 100, {"fd": 0, "size": 1}, res=1, data=b"z")
    return e


_FDS_SHOWN = ("-p", "%evt.num %evt.type %evt.dir %fd.num %fd.name")


def _sysdig_lines(path: Path, *args: str) -> list[str]:
    sysdig = require_tool("sysdig")
    out = subprocess.run([sysdig, "-r", str(path), *args], capture_output=True, check=True,
                         env={**os.environ, "TZ": "UTC"})
    return out.stdout.decode("utf-8", "surrogateescape").splitlines()


def test_dupfd_pair_agrees(tmp_path: Path) -> None:
    """An F_DUPFD fcntl with its exit, then an F_GETFD one: sysdig frees the kept enter at the delivered
    exit, and both show fd 0 unchanged."""
    path = write_capture(tmp_path / "dup.scap", _dupfd(with_exit=True), fds=_DUP_FDS)
    assert assert_same_lines(path)
    assert "5 read > 0 /dev/null" in assert_same_lines(path, *_FDS_SHOWN)


@pytest.mark.parametrize(("with_exit", "flt"), [(False, ""), (True, "evt.type=read")],
                         ids=["enter-without-exit", "exit-filtered-out"])
def test_stale_dupfd_enter_is_sysdigs_bug(tmp_path: Path, with_exit: bool, flt: str) -> None:
    """The README's difference, pinned: sysdig dups fd 1 onto the F_GETFD's return value 0 when the kept
    F_DUPFD enter was not freed (no exit, or an exit its filter did not deliver); sdu keeps fd 0."""
    path = write_capture(tmp_path / "stale.scap", _dupfd(with_exit), fds=_DUP_FDS)
    fmt = ("-p", "%evt.num %evt.type %fd.num %fd.name",
           "evt.type=read and evt.dir=>" + (f" and {flt}" if flt else ""))
    num = 4 if not with_exit else 5
    assert _sysdig_lines(path, *fmt) == [f"{num} read 0 /tmp/out"]
    ours = run_sdu("-r", str(path), *fmt, environ={**os.environ, "TZ": "UTC"})
    assert ours.stdout.splitlines() == [f"{num} read 0 /dev/null"]
