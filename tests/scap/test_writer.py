"""scap writer: exact bytes per reference/scap-format.md, read-back, and sysdig as the oracle."""
from __future__ import annotations

import gzip
import io
import os
import struct
import subprocess
from pathlib import Path

import pytest

from sysdig_user.event_table import EF, EVENTS
from sysdig_user.scap import (
    FdEntry,
    FdList,
    FdType,
    Group,
    Interface,
    InterfaceList,
    MachineInfo,
    ProcEntry,
    ProcList,
    ScapWriter,
    SectionHeader,
    User,
    UserList,
    read_capture,
)
from sysdig_user.scap.writer import LARGE_PAYLOAD_TYPES
from tests.scap.scapdata import SAMPLES, event, open_exit, walk_blocks
from tests.support import require_tool, shared_path

SHB_HEX = "0a0d0d0a1c0000004d3c2b1a01000200ffffffffffffffff1c000000"


def written(**section: object) -> tuple[bytes, ScapWriter]:
    out = io.BytesIO()
    w = ScapWriter(out)
    w.write_section(**section)  # type: ignore[arg-type]
    return out.getvalue(), w


def test_t1_min_exact_bytes() -> None:
    """SHB + one open X event: the hex given in reference section 15."""
    ts = 1_000_000_000
    raw = event(3, [struct.pack("<q", 3), b"/etc/passwd\0", struct.pack("<I", 1), bytes(4), bytes(4)], ts=ts)
    out = io.BytesIO()
    with ScapWriter(out) as w:
        w.write_section()
        w.write_event(0, 0, raw)
        data = out.getvalue()
    expected = bytes.fromhex(
        SHB_HEX + "1602000054000000" + "0000" + ts.to_bytes(8, "little").hex()
        + "d204000000000000" + "44000000" + "0300" + "05000000" + "0800" + "0c00" + "0400" + "0400" + "0400"
        + "0300000000000000" + b"/etc/passwd\0".hex() + "01000000" + "00000000" + "00000000" + "0000"
        + "54000000")
    assert data == expected
    assert list(read_capture(io.BytesIO(data))) == [SectionHeader(1, 2), (0, 0, raw)]


def test_event_block_types() -> None:
    out = io.BytesIO()
    w = ScapWriter(out)
    w.write_section()
    small = open_exit()
    big = event(9, [struct.pack("<q", 1), b"x" * 65530])
    plugin = event(322, [b"\1\0\0\0", b"data"])
    w.write_event(1, 0, small)
    w.write_event(1, 1, small)
    w.write_event(0, 0, big)
    w.write_event(0, 2, big)
    w.write_event(0, 0, plugin)
    data = out.getvalue()
    types = [btype for _, btype, _ in walk_blocks(data)]
    assert types == [0x0A0D0D0A, 0x216, 0x217, 0x221, 0x222, 0x221]
    assert all(blen % 4 == 0 for _, _, blen in walk_blocks(data))
    got = [i for i in read_capture(io.BytesIO(data)) if isinstance(i, tuple)]
    assert got == [(1, 0, small), (1, 1, small), (0, 0, big), (0, 2, big), (0, 0, plugin)]


def test_large_payload_types_come_from_the_table() -> None:
    assert LARGE_PAYLOAD_TYPES == {e.code for e in EVENTS if e.flags & EF.LARGE_PAYLOAD} == {322, 324}


def test_machine_info_block_bytes() -> None:
    data, _ = written(machine=MachineInfo(4, 8 << 30, 32768, "host"))
    mi = data[28:]
    assert mi[:8] == struct.pack("<II", 0x201, 192) and mi[-4:] == struct.pack("<I", 192)
    assert mi[8:28] == struct.pack("<IQQ", 4, 8 << 30, 32768) and mi[28:33] == b"host\0"


def test_interface_entry_bytes() -> None:
    lo = Interface(4, "lo", b"\x7f\0\0\1", b"\xff\0\0\0", b"\x7f\0\0\1", 0)
    data, _ = written(interfaces=[lo])
    il = data[28:]
    assert il[:4] == struct.pack("<I", 0x219)
    # entry length excludes itself: 24 + len("lo"); same bytes as the libs sample's first entry
    assert il[8:38].hex() == "1a000000010002007f000001ff0000007f00000100000000000000006c6f"


def test_user_entry_bytes() -> None:
    data, _ = written(users=[User(0, 0, "root", "/root", "/bin/bash")], groups=[Group(0, "root")])
    ul = data[28:]
    assert ul[:4] == struct.pack("<I", 0x220)
    # same bytes as libs_single_ipv6_conn's first user entry; length includes itself
    assert ul[8:8 + 0x25].hex() == ("250000000000000000000000000400726f6f7405002f726f6f7409002f62696e2f62617368")
    assert ul[8 + 0x25:8 + 0x25 + 15] == struct.pack("<IBIH", 15, 1, 0, 4) + b"root"


def test_empty_proc_entry_is_129_bytes() -> None:
    data, _ = written(procs=[ProcEntry(tid=1, pid=1)])
    blocks = walk_blocks(data)
    assert [b[1] for b in blocks] == [0x0A0D0D0A, 0x215, 0x218]
    off, _, blen = blocks[1]
    assert struct.unpack_from("<I", data, off + 8)[0] == 129
    assert blen == (8 + 129 + 4 + 3) & ~3


def test_fd_entry_bytes() -> None:
    data, _ = written(procs=[ProcEntry(tid=7, pid=7)],
                      fds={7: [FdEntry(3, 0, FdType.FILE_V2, "/etc/hosts", open_flags=1, dev=0x801)]})
    off, btype, blen = walk_blocks(data)[2]
    body = data[off + 8:off + blen - 4]
    entry = struct.pack("<IqQBI", 4 + 8 + 8 + 1 + 4 + 2 + 10 + 4, 3, 0, 16, 1) + b"\x0a\0/etc/hosts" + \
        struct.pack("<I", 0x801)
    assert btype == 0x218 and body[:8] == struct.pack("<Q", 7) and body[8:8 + len(entry)] == entry


def _full_section() -> dict[str, object]:
    main = ProcEntry(tid=100, pid=100, ptid=1, sid=100, vpgid=100, comm="myproc", exe="myproc",
                     exepath="/usr/bin/myproc", args=["-v", "x y"], cwd="/tmp", fdlimit=1024, flags=0,
                     uid=1000, gid=1000, vmsize_kb=10, vmrss_kb=5, vmswap_kb=0, pfmajor=1, pfminor=2,
                     env=["HOME=/home/alice", "A=b"], vtid=100, vpid=100, cgroups=["cpu=/"], root="/",
                     loginuid=1000, exe_writable=True)
    thread = ProcEntry(tid=101, pid=100, ptid=1, comm="myproc", exe="myproc", flags=0x2001, uid=1000,
                       gid=1000)
    fds = [
        FdEntry(0, 5, FdType.FILE_V2, "/dev/pts/0", open_flags=3, dev=0x88),
        FdEntry(1, 0, FdType.FILE, "/tmp/out"),
        FdEntry(2, 0, FdType.DIRECTORY, "/tmp"),
        FdEntry(3, 0, FdType.IPV4_SOCK, sip=b"\x7f\0\0\1", dip=b"\x7f\0\0\1", sport=5555, dport=80, l4proto=2),
        FdEntry(4, 0, FdType.IPV6_SOCK, sip=bytes(15) + b"\1", dip=bytes(15) + b"\1", sport=1, dport=2,
                l4proto=3),
        FdEntry(5, 0, FdType.IPV4_SERVSOCK, sip=bytes(4), sport=8080, l4proto=2),
        FdEntry(6, 0, FdType.IPV6_SERVSOCK, sip=bytes(16), sport=8443, l4proto=2),
        FdEntry(7, 0, FdType.UNIX_SOCK, "/run/x.sock", source=0xFFFF1, dest=0xFFFF2),
        FdEntry(8, 0, FdType.FIFO, "pipe:[1]"), FdEntry(9, 0, FdType.EVENT, ""),
        FdEntry(10, 0, FdType.SIGNALFD, ""), FdEntry(11, 0, FdType.EVENTPOLL, ""),
        FdEntry(12, 0, FdType.INOTIFY, ""), FdEntry(13, 0, FdType.TIMERFD, ""),
        FdEntry(14, 0, FdType.NETLINK, ""), FdEntry(15, 0, FdType.UNSUPPORTED, "anon_inode:[x]"),
    ]
    return {"machine": MachineInfo(2, 1 << 30, 4194304, "box"),
            "interfaces": [Interface(4, "lo", b"\x7f\0\0\1", b"\xff\0\0\0", b"\x7f\0\0\1", 10),
                           Interface(6, "lo", bytes(15) + b"\1", b"\xff" * 16, bytes(16), 0)],
            "users": [User(1000, 1000, "alice", "/home/alice", "/bin/sh")], "groups": [Group(1000, "alice")],
            "procs": [main, thread], "fds": {100: fds}}


def test_metadata_round_trip() -> None:
    section = _full_section()
    out = io.BytesIO()
    with ScapWriter(out) as w:
        w.write_section(**section)  # type: ignore[arg-type]
        w.write_event(0, 0, open_exit(tid=100))
    items = list(read_capture(io.BytesIO(out.getvalue())))
    assert items == [
        SectionHeader(1, 2), section["machine"], InterfaceList(section["interfaces"]),  # type: ignore[arg-type]
        UserList(section["users"], section["groups"]), ProcList(section["procs"]),  # type: ignore[arg-type]
        FdList(100, section["fds"][100]), FdList(101, []), (0, 0, open_exit(tid=100)),  # type: ignore[index]
    ]


def test_writer_misuse() -> None:
    w = ScapWriter(io.BytesIO())
    with pytest.raises(ValueError, match="write_section"):
        w.write_event(0, 0, open_exit())
    with pytest.raises(ValueError, match="tids without a process entry"):
        w.write_section(fds={5: []})


def test_compressed_output(tmp_path: Path) -> None:
    path = tmp_path / "x.scap"
    with ScapWriter(path, compress=True) as w:
        w.write_section()
        w.write_event(0, 0, open_exit())
    data = path.read_bytes()
    assert data[:2] == b"\x1f\x8b"
    assert gzip.decompress(data)[:28].hex() == SHB_HEX
    assert list(read_capture(path)) == [SectionHeader(1, 2), (0, 0, open_exit())]


def _rewrite(src: Path, dst: Path, compress: bool = False) -> None:
    """Read a capture and write it back through ScapWriter, one section per input section."""
    section: dict[str, object] = {}
    with ScapWriter(dst, compress=compress) as w:
        for item in read_capture(src):
            if isinstance(item, tuple):
                if section:
                    w.write_section(**section)  # type: ignore[arg-type]
                    section = {}
                w.write_event(*item)
            elif isinstance(item, SectionHeader):
                section = {"procs": [], "fds": {}}
            elif isinstance(item, MachineInfo):
                section["machine"] = item
            elif isinstance(item, InterfaceList):
                section["interfaces"] = item.interfaces
            elif isinstance(item, UserList):
                section["users"], section["groups"] = item.users, item.groups
            elif isinstance(item, ProcList):
                section["procs"].extend(item.entries)  # type: ignore[attr-defined]
            elif isinstance(item, FdList):
                section["fds"].setdefault(item.tid, []).extend(item.fds)  # type: ignore[attr-defined]


def _sysdig(*args: str) -> str:
    sysdig = require_tool("sysdig")
    proc = subprocess.run([sysdig, *args], check=False, capture_output=True, text=True,
                          env={**os.environ, "TZ": "UTC"})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


#: Fields that show every piece of PL/FDL/UL state; fd.dev is left out because sysdig prints
#: uninitialised memory for sockets.
_STATE_FORMAT = ("*%evt.num %evt.cpu %proc.name %proc.exepath %proc.cmdline %proc.env %proc.cwd %proc.fdlimit "
                 "%proc.sid %proc.vpgid %proc.vpid %proc.pname %proc.vmsize %thread.vtid %thread.cgroups "
                 "%user.name %user.homedir %group.name %fd.name %fd.type %fd.l4proto %evt.args")


@pytest.mark.oracle
@pytest.mark.parametrize("name", SAMPLES)
def test_rewritten_sample_prints_the_same(name: str, tmp_path: Path) -> None:
    src = shared_path("samples", f"{name}.scap")
    dst = tmp_path / "re.scap"
    _rewrite(src, dst, compress=name == "falco_cat_write")
    assert _sysdig("-r", str(dst)) == _sysdig("-r", str(src))
    assert _sysdig("-r", str(dst), "-D", "-p", _STATE_FORMAT) == _sysdig("-r", str(src), "-D", "-p", _STATE_FORMAT)


@pytest.mark.oracle
def test_same_bytes_as_sysdig_w(tmp_path: Path) -> None:
    """sysdig's own rewrite of a v1.2 capture, read and written by us, comes out byte for byte."""
    theirs = tmp_path / "theirs.scap"
    _sysdig("-r", str(shared_path("samples", "libs_single_ipv6_conn.scap")), "-w", str(theirs))
    ours = tmp_path / "ours.scap"
    _rewrite(theirs, ours)
    assert ours.read_bytes() == theirs.read_bytes()


@pytest.mark.oracle
def test_sysdig_decodes_handmade_state(tmp_path: Path) -> None:
    path = tmp_path / "x.scap"
    with ScapWriter(path) as w:
        w.write_section(**_full_section())  # type: ignore[arg-type]
        read_e = event(6, [struct.pack("<q", 3), struct.pack("<I", 10)], tid=101)
        w.write_event(0, 0, read_e)
        w.write_event(1, 1, open_exit(tid=100))  # STATE_ONLY: not printed
    out = _sysdig("-r", str(path), "-p", "%evt.num %proc.name %thread.tid %user.name %group.name %fd.name")
    assert out == "1 myproc 101 alice alice 127.0.0.1:5555->127.0.0.1:80\n"
