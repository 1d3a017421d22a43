"""Flag translation to PPM encodings and sockaddr parsing (no tracee needed)."""
from __future__ import annotations

import os
import socket
import struct

from tracer.decoders import native
from tracer.decoders.net import make_tuple, parse_sockaddr
from tracer.decoders.process import procexit_values


def test_open_flags_are_ppm() -> None:
    assert native.open_flags(os.O_RDONLY) == 1
    assert native.open_flags(os.O_WRONLY | os.O_CREAT | os.O_TRUNC) == 2 | 4 | 0x100
    assert native.open_flags(os.O_RDWR | os.O_CLOEXEC | os.O_DIRECTORY) == 3 | 0x1000 | 0x400
    assert native.open_flags(os.O_RDONLY | os.O_DIRECTORY) & 0x2000 == 0  # not O_TMPFILE
    assert native.open_mode(os.O_CREAT, 0o100644) == 0o644
    assert native.open_mode(os.O_RDONLY, 0o644) == 0


def test_clone_and_mmap_flags() -> None:
    thread = 0x100 | 0x200 | 0x400 | 0x800 | 0x10000  # VM FS FILES SIGHAND THREAD
    assert native.clone_flags(thread) == 0x8000 | 2 | 1 | 0x800 | 0x2000
    assert native.mmap_flags(0x02 | 0x20) == 2 | 8  # PRIVATE|ANONYMOUS


def test_fcntl_and_poll() -> None:
    assert native.fcntl_cmd(1030) == 26  # F_DUPFD_CLOEXEC
    assert native.fcntl_cmd(0) == 1  # F_DUPFD
    assert native.poll_flags(0x001 | 0x004 | 0x2000) == 1 | 4 | 8


def test_sockaddr_and_tuple() -> None:
    raw = struct.pack("<H", 2) + struct.pack(">H", 8080) + socket.inet_aton("127.0.0.1") + bytes(8)
    assert parse_sockaddr(raw) == (2, b"\x7f\0\0\1", 8080)
    local = struct.pack("<H", 2) + struct.pack(">H", 40000) + socket.inet_aton("10.0.0.2")
    assert make_tuple(local, raw) == (2, b"\n\0\0\2", 40000, b"\x7f\0\0\1", 8080)
    assert make_tuple(local, raw, outbound=False) == (2, b"\x7f\0\0\1", 8080, b"\n\0\0\2", 40000)
    assert parse_sockaddr(struct.pack("<H", 1) + b"/tmp/s\0junk") == (1, "/tmp/s")
    assert parse_sockaddr(b"") is None
    # other families (glibc's connect(AF_UNSPEC) that dissolves a UDP association, netlink): the
    # driver's pack_addr/fd_to_socktuple pack nothing, so sysdig shows addr=NULL and keeps the fd's name
    unspec = struct.pack("<H", 0) + bytes(14)
    assert parse_sockaddr(unspec) is None
    assert make_tuple(local, unspec) == (2, b"\n\0\0\2", 40000, bytes(4), 0)
    netlink = struct.pack("<HHII", 16, 0, 0, 0)
    assert make_tuple(netlink, netlink) is None


def test_procexit_values() -> None:
    assert procexit_values(7 << 8) == [7 << 8, 7, 0, 0]
    assert procexit_values(9) == [9, 0, 9, 0]
    assert procexit_values(11 | 0x80) == [11 | 0x80, 0, 11, 1]
