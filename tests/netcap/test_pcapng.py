"""The pcapng writer, read back by two independent readers: tshark (comments and directions, no warnings)
and python-pcapng (option 8, epb_processid_threadid, with the right pid and tid)."""
from __future__ import annotations

import io
import struct
import subprocess
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from netcap.layers import LINKTYPE_ETHERNET, LINKTYPE_RAW
from netcap.pcapng import PcapngWriter, block, option, owner_comment
from netcap.records import Owner, Packet
from tests.support import require_tool

T0 = 1_700_000_000_123_456_789
OWNERS = [Owner(1234, 1240, "curl", "/usr/bin/curl", "curl -s http://x", "traced"),
          Owner(99, 99, "nginx", "/usr/sbin/nginx", "nginx: worker process", "proc")]


def _packets() -> list[tuple[Packet, int, Owner]]:
    eth = bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=5555, dport=80) / Raw(b"G" * 40))
    raw = bytes(IP(src="10.0.0.2", dst="10.0.0.1") / UDP(sport=53, dport=5555) / Raw(b"answer"))
    return [
        (Packet(T0, 2, "eth0", "out", len(eth), eth, 0x0800), LINKTYPE_ETHERNET, OWNERS[0]),
        (Packet(T0 + 1500, 7, "tun0", "in", len(raw), raw, 0x0800), LINKTYPE_RAW, OWNERS[1]),
        (Packet(T0 + 3000, 2, "eth0", "in", len(eth) + 100, eth[:30], 0x0800), LINKTYPE_ETHERNET, OWNERS[0]),
    ]


def _write(path: Path, with_peer: bool = False) -> None:
    with open(path, "wb") as f, PcapngWriter(f) as writer:
        for pkt, linktype, owner in _packets():
            writer.write(pkt, linktype, owner, OWNERS[1] if with_peer else None, snaplen=65535)
        writer.note_stats(2, 10, 1)


def test_block_and_option_layout_literal() -> None:
    assert option(1, b"abcde") == struct.pack("=HH", 1, 5) + b"abcde\0\0\0"
    assert block(5, b"\1\2\3") == struct.pack("=II", 5, 16) + b"\1\2\3\0" + struct.pack("=I", 16)


def test_epb_bytes() -> None:
    out = io.BytesIO()
    writer = PcapngWriter(out)
    shb_len = out.tell()
    pkt = Packet(0x1_0000_0002, 3, "lo", "in", 5, b"\xaa\xbb\xcc", 0x0800)
    writer.write(pkt, LINKTYPE_ETHERNET, OWNERS[0])
    data = out.getvalue()[shb_len:]
    idb_len = struct.unpack_from("=I", data, 4)[0]
    epb = data[idb_len:]
    btype, total, if_id, ts_hi, ts_lo, caplen, wirelen = struct.unpack_from("=7I", epb)
    assert (btype, if_id, ts_hi, ts_lo, caplen, wirelen) == (6, 0, 1, 2, 3, 5)
    assert epb[28:32] == b"\xaa\xbb\xcc\0"
    assert epb[-4:] == struct.pack("=I", total) and total == len(epb)
    assert struct.pack("=HHII", 8, 8, 1234, 1240) in epb
    assert struct.pack("=HHI", 2, 4, 1) in epb


@pytest.mark.oracle
def test_tshark_reads_comments_and_directions(tmp_path: Path) -> None:
    tshark = require_tool("tshark")
    path = tmp_path / "owners.pcapng"
    _write(path)
    done = subprocess.run([tshark, "-r", str(path), "-T", "fields", "-e", "frame.comment",
                           "-e", "frame.packet_flags_direction", "-e", "frame.interface_name",
                           "-e", "frame.len", "-e", "frame.cap_len", "-e", "ip.src", "-e", "frame.time_epoch"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0
    warnings = [line for line in done.stderr.splitlines() if "Running as user" not in line]
    assert warnings == []
    rows = [line.split("\t") for line in done.stdout.splitlines()]
    assert [r[0] for r in rows] == [owner_comment(o) for _, _, o in _packets()]
    assert rows[0][0] == "pid=1234 tid=1240 comm=curl exe=/usr/bin/curl args=curl -s http://x"
    assert [int(r[1], 16) for r in rows] == [2, 1, 1]
    assert [r[2] for r in rows] == ["eth0", "tun0", "eth0"]
    assert [(int(r[3]), int(r[4])) for r in rows] == [(94, 94), (34, 34), (194, 30)]
    assert [r[5] for r in rows] == ["10.0.0.1", "10.0.0.2", "10.0.0.1"]   # 30 bytes still hold ip.src
    assert rows[1][6] == "1700000000.123458289"


@pytest.mark.oracle
def test_tshark_plain_read_has_no_warnings(tmp_path: Path) -> None:
    tshark = require_tool("tshark")
    path = tmp_path / "plain.pcapng"
    _write(path, with_peer=True)
    done = subprocess.run([tshark, "-r", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 3
    assert [line for line in done.stderr.splitlines() if "Running as user" not in line] == []


@pytest.mark.filterwarnings("ignore:Field type should not be:DeprecationWarning")  # python-pcapng, on option 8
def test_python_pcapng_finds_pid_tid_option(tmp_path: Path) -> None:
    from pcapng import FileScanner
    from pcapng.blocks import EnhancedPacket, InterfaceDescription, InterfaceStatistics

    path = tmp_path / "owners.pcapng"
    _write(path, with_peer=True)
    epbs, idbs, isbs = [], [], []
    with open(path, "rb") as f:
        for blk in FileScanner(f):
            if isinstance(blk, EnhancedPacket):
                epbs.append(blk)
            elif isinstance(blk, InterfaceDescription):
                idbs.append(blk)
            elif isinstance(blk, InterfaceStatistics):
                isbs.append(blk)
    assert [i.options["if_name"] for i in idbs] == ["eth0", "tun0"]
    assert [i.link_type for i in idbs] == [LINKTYPE_ETHERNET, LINKTYPE_RAW]
    assert len(isbs) == 1
    expected = [(o.pid, o.tid) for _, _, o in _packets()]
    got = [struct.unpack("<II", epb.options.get_all(8)[0]) for epb in epbs]
    assert got == expected
    assert [epb.timestamp_high << 32 | epb.timestamp_low for epb in epbs] == [T0, T0 + 1500, T0 + 3000]
    assert "peer_pid=99 peer_tid=99 peer_comm=nginx" in epbs[0].options["opt_comment"]
