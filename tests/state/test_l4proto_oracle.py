"""fd.l4proto and the ``<4t>``/``<6u>`` fd rendering against sysdig 0.29.3, on a synthetic capture.

sinsp's get_l4proto answers SCAP_L4_NA for an IPV4_SOCK/IPV6_SOCK fd whose role is still unset, so a
fresh socket() shows ``<6>`` and only gets its letter once bind (port > 0: server socket), connect,
accept or a datagram call's role guess has given it a role. One process per case below, so that role
guessing (which scans the process's fd table) sees only that case's fds.
"""
from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sysdig_user.event import Event
from sysdig_user.scap.records import Interface, ProcEntry
from tests.state.events import pair
from tests.support import require_tool, run_sdu

pytestmark = pytest.mark.oracle  # every test here compares with sysdig

AF_INET, AF_INET6 = 2, 10
STREAM, DGRAM, RAW = 1, 2, 3
TCP, UDP, ICMP = 6, 17, 1
V4_LOCAL, V4_REMOTE, V4_ANY = bytes([10, 0, 0, 2]), bytes([93, 184, 216, 34]), bytes(4)
V6_LOCAL = bytes.fromhex("20010db8000000000000000000000004")
V6_REMOTE = bytes.fromhex("20010db8000000000000000000000003")
V6_ANY = bytes(16)
V4_MAPPED_LOCAL = bytes(10) + b"\xff\xff" + V4_LOCAL
V4_MAPPED_REMOTE = bytes(10) + b"\xff\xff" + V4_REMOTE

INTERFACES = [
    Interface(4, "eth0", V4_LOCAL, bytes([255, 255, 255, 0]), bytes([10, 0, 0, 255])),
    Interface(6, "eth0", V6_LOCAL, b"\xff" * 8 + bytes(8), b""),
]
FMT = "*%evt.num %proc.name %fd.num %fd.l4proto %fd.type %fd.typechar %fd.name %evt.args"


def _v4(ip: bytes, port: int) -> tuple[int, bytes, int]:
    return (AF_INET, ip, port)


def _sock(tid: int, fd: int, domain: int, stype: int, proto: int) -> list[Event]:
    return pair("socket", tid, {"domain": domain, "type": stype, "proto": proto}, fd=fd)


def _bind(tid: int, fd: int, addr: tuple[Any, ...]) -> list[Event]:
    return pair("bind", tid, {"fd": fd}, res=0, addr=addr)


def _connect(tid: int, fd: int, tup: tuple[Any, ...], res: int = 0) -> list[Event]:
    return pair("connect", tid, {"fd": fd, "addr": (tup[0], tup[3], tup[4])}, res=res, tuple=tup)


def _sendto(tid: int, fd: int, tup: tuple[Any, ...] | None) -> list[Event]:
    return pair("sendto", tid, {"fd": fd, "size": 3, "tuple": tup}, res=3, data=b"abc")


def _recvfrom(tid: int, fd: int, tup: tuple[Any, ...] | None) -> list[Event]:
    return pair("recvfrom", tid, {"fd": fd, "size": 9}, res=3, data=b"xyz", tuple=tup)


def _rw(tid: int, fd: int) -> list[Event]:
    return pair("write", tid, {"fd": fd, "size": 1}, res=1, data=b"z") + \
        pair("read", tid, {"fd": fd, "size": 1}, res=1, data=b"z")


def _accept(tid: int, fd: int, tup: tuple[Any, ...]) -> list[Event]:
    return pair("accept", tid, {"flags": 0}, fd=fd, tuple=tup)


def _listen(tid: int, fd: int) -> list[Event]:
    return pair("listen", tid, {"fd": fd, "backlog": 5}, res=0)


Case = Callable[[int], list[Event]]


def _cases() -> dict[str, Case]:
    """comm -> the case's events as a function of its tid (one process per case)."""
    v4_tcp = (AF_INET, V4_LOCAL, 40000, V4_REMOTE, 80)
    v4_dns = (AF_INET, V4_ANY, 0, V4_REMOTE, 53)
    v4_reply = (AF_INET, V4_REMOTE, 53, V4_LOCAL, 5353)
    v6_tcp = (AF_INET6, V6_LOCAL, 40000, V6_REMOTE, 1234)
    v6_dns = (AF_INET6, V6_ANY, 0, V6_REMOTE, 53)
    v6_reply = (AF_INET6, V6_REMOTE, 53, V6_LOCAL, 5353)
    mapped = (AF_INET6, V4_MAPPED_LOCAL, 40000, V4_MAPPED_REMOTE, 80)
    return {
        "v4tcpcli": lambda t: (_sock(t, 3, AF_INET, STREAM, TCP) + _bind(t, 3, _v4(V4_ANY, 0))
                               + _connect(t, 3, v4_tcp) + _rw(t, 3)),
        "v4tcpip0": lambda t: _sock(t, 3, AF_INET, STREAM | 0x80800, 0) + _connect(t, 3, v4_tcp, -115)
        + _rw(t, 3),
        "v4tcpsrv": lambda t: (_sock(t, 3, AF_INET, STREAM, TCP) + _bind(t, 3, _v4(V4_ANY, 8080))
                               + _listen(t, 3) + _rw(t, 3)
                               + _accept(t, 4, (AF_INET, V4_REMOTE, 5555, V4_LOCAL, 8080)) + _rw(t, 4)),
        "v6tcpcli": lambda t: (_sock(t, 3, AF_INET6, STREAM, TCP) + _bind(t, 3, (AF_INET6, V6_LOCAL, 0))
                               + _rw(t, 3) + _connect(t, 3, v6_tcp) + _rw(t, 3)),
        "v6tcpsrv": lambda t: (_sock(t, 3, AF_INET6, STREAM, TCP) + _bind(t, 3, (AF_INET6, V6_REMOTE, 1234))
                               + _listen(t, 3) + _rw(t, 3)
                               + _accept(t, 4, (AF_INET6, V6_LOCAL, 40000, V6_REMOTE, 1234)) + _rw(t, 4)),
        "v6mapped": lambda t: (_sock(t, 3, AF_INET6, STREAM, TCP) + _connect(t, 3, mapped) + _rw(t, 3)
                               + _accept(t, 4, mapped) + _rw(t, 4)),
        "v4udp": lambda t: (_sock(t, 3, AF_INET, DGRAM, UDP) + _rw(t, 3) + _sendto(t, 3, v4_dns)
                            + _recvfrom(t, 3, v4_reply) + _rw(t, 3)),
        "v4udpip0": lambda t: (_sock(t, 3, AF_INET, DGRAM, 0) + _bind(t, 3, _v4(V4_ANY, 0))
                               + _recvfrom(t, 3, v4_reply) + _sendto(t, 3, v4_dns)),
        "v4udpcon": lambda t: _sock(t, 3, AF_INET, DGRAM, UDP) + _connect(t, 3, v4_dns) + _rw(t, 3),
        "v4udpsrv": lambda t: (_sock(t, 3, AF_INET, DGRAM, UDP) + _bind(t, 3, _v4(V4_ANY, 5353))
                               + _rw(t, 3) + _recvfrom(t, 3, v4_reply) + _sendto(t, 3, v4_dns)),
        "v6udp": lambda t: (_sock(t, 3, AF_INET6, DGRAM, UDP) + _rw(t, 3) + _sendto(t, 3, v6_dns)
                            + _recvfrom(t, 3, v6_reply) + _rw(t, 3)),
        "v6udpip0": lambda t: (_sock(t, 3, AF_INET6, DGRAM, 0) + _recvfrom(t, 3, v6_reply)
                               + _sendto(t, 3, v6_dns)),
        "v6udpsrv": lambda t: (_sock(t, 3, AF_INET6, DGRAM, UDP) + _bind(t, 3, (AF_INET6, V6_ANY, 5353))
                               + _rw(t, 3) + _recvfrom(t, 3, v6_reply) + _sendto(t, 3, v6_dns)
                               + _rw(t, 3)),
        "v6udpcon": lambda t: _sock(t, 3, AF_INET6, DGRAM, UDP) + _connect(t, 3, v6_tcp) + _rw(t, 3),
        "v6mapudp": lambda t: (_sock(t, 3, AF_INET6, DGRAM, UDP)
                               + _sendto(t, 3, (AF_INET6, bytes(16), 0, V4_MAPPED_REMOTE, 53)) + _rw(t, 3)),
        "rawicmp": lambda t: (_sock(t, 3, AF_INET, RAW, ICMP) + _rw(t, 3) + _sendto(t, 3, v4_dns)
                              + _rw(t, 3)),
        "rawtcp": lambda t: (_sock(t, 3, AF_INET, RAW, TCP) + _rw(t, 3) + _connect(t, 3, v4_tcp)
                             + _rw(t, 3)),
        "raw6": lambda t: _sock(t, 3, AF_INET6, RAW, UDP) + _rw(t, 3) + _sendto(t, 3, v6_dns) + _rw(t, 3),
        "icmpdgrm": lambda t: _sock(t, 3, AF_INET, DGRAM, ICMP) + _rw(t, 3) + _sendto(t, 3, v4_dns),
        "nosocket": lambda t: _sendto(t, 3, v4_dns) + _rw(t, 3) + _sendto(t, 4, v6_dns) + _rw(t, 4),
    }


def procs_and_events() -> tuple[list[ProcEntry], list[Event]]:
    procs: list[ProcEntry] = []
    evts: list[Event] = []
    for i, (comm, build) in enumerate(_cases().items()):
        tid = 1000 + i
        procs.append(ProcEntry(tid=tid, pid=tid, ptid=1, comm=comm, exe=comm, exepath=f"/bin/{comm}",
                               cwd="/", fdlimit=1024, vtid=tid, vpid=tid))
        evts += build(tid)
    return procs, evts


def write_capture(path: Path) -> None:
    writer_mod = pytest.importorskip("sysdig_user.scap.writer")
    procs, evts = procs_and_events()
    with writer_mod.ScapWriter(str(path)) as w:
        w.write_section(interfaces=INTERFACES, procs=procs, fds={})
        for evt in evts:
            w.write_event(evt.cpu, evt.dump_flags, evt.raw)


def sysdig_lines(sysdig: str, path: Path, fmt: str = FMT) -> list[str]:
    out = subprocess.run([sysdig, "-r", str(path), "-p", fmt], capture_output=True, check=True,
                         env={**os.environ, "TZ": "UTC"})
    return [line.rstrip() for line in out.stdout.decode("utf-8", "surrogateescape").splitlines()]


def sdu_lines(path: Path, fmt: str = FMT) -> list[str]:
    res = run_sdu("-r", str(path), "-p", fmt, environ={**os.environ, "TZ": "UTC"})
    assert res.status == 0, res.stderr
    return [line.rstrip() for line in res.stdout.splitlines()]


@pytest.mark.parametrize("fmt", [FMT, "%evt.num %fd.sport %fd.cport %fd.sproto %fd.cproto %fd.sip %fd.cip"])
def test_l4proto_matches_sysdig(tmp_path: Path, fmt: str) -> None:
    sysdig = require_tool("sysdig")
    path = tmp_path / "l4proto.scap"
    write_capture(path)
    expected = sysdig_lines(sysdig, path, fmt)
    got = sdu_lines(path, fmt)
    diffs = [(e, g) for e, g in zip(expected, got) if e != g]
    assert not diffs, "\n".join(f"sysdig: {e}\nsdu:    {g}" for e, g in diffs)
    assert len(got) == len(expected)
