"""Metadata block bodies: every PL version, v1 IL/UL/FDL entries, and the libscap limits."""
from __future__ import annotations

import struct

import pytest

from sysdig_user.scap import CaptureError, FdEntry, FdType, Interface, ProcEntry
from sysdig_user.scap.blocks import PL_V1, PL_V2, PL_V3, PL_V4, PL_V5, PL_V6, PL_V7, PL_V8, PL_V9
from sysdig_user.scap.metadata import (
    build_proc,
    parse_fds,
    parse_interfaces,
    parse_procs,
    parse_users,
)

PL_BY_VERSION = {1: PL_V1, 2: PL_V2, 3: PL_V3, 4: PL_V4, 5: PL_V5, 6: PL_V6, 7: PL_V7, 8: PL_V8, 9: PL_V9}


def s16(text: bytes) -> bytes:
    return struct.pack("<H", len(text)) + text


def old_proc_entry(version: int) -> bytes:
    """A PL entry laid out as reference section 8.1 lists it for versions 1..8."""
    out = struct.pack("<qqq", 10, 10, 1)
    if version >= 6:
        out += struct.pack("<q", 5)  # sid
    if version >= 8:
        out += struct.pack("<q", 6)  # vpgid
    out += s16(b"comm") + s16(b"exe")
    if version >= 7:
        out += s16(b"/bin/exe")
    out += s16(b"a\0b\0") + s16(b"/cwd") + struct.pack("<qIII", 1024, 0x2001, 1000, 1001)
    if version >= 2:
        out += struct.pack("<IIIQQ", 1, 2, 3, 4, 5)
    if version >= 3:
        out += s16(b"K=V\0")
    if version >= 4:
        out += struct.pack("<qq", 7, 8) + s16(b"cpu=/\0")
    if version >= 5:
        out += s16(b"/root")
    return out


@pytest.mark.parametrize("version", range(1, 9))
def test_old_proclist_versions(version: int) -> None:
    body = old_proc_entry(version) * 2 + b"\0\0"  # two entries, then block padding
    procs = parse_procs(body, PL_BY_VERSION[version])
    assert len(procs) == 2
    p = procs[0]
    assert (p.tid, p.pid, p.ptid, p.comm, p.exe, p.args, p.cwd) == (10, 10, 1, "comm", "exe", ["a", "b"], "/cwd")
    assert (p.fdlimit, p.flags, p.uid, p.gid) == (1024, 0x2001, 1000, 1001)
    assert p.sid == (5 if version >= 6 else -1)
    assert p.vpgid == (6 if version >= 8 else -1)
    assert p.exepath == ("/bin/exe" if version >= 7 else "")
    assert (p.vmsize_kb, p.pfminor) == ((1, 5) if version >= 2 else (0, 0))
    assert p.env == (["K=V"] if version >= 3 else [])
    assert (p.vtid, p.vpid, p.cgroups) == ((7, 8, ["cpu=/"]) if version >= 4 else (-1, -1, []))
    assert p.root == ("/root" if version >= 5 else "")
    assert (p.loginuid, p.exe_writable) == (-1, False)


def test_pl_v9_optional_tail_and_unknown_fields() -> None:
    full = build_proc(ProcEntry(tid=3, pid=3, loginuid=42, exe_writable=True))
    no_tail = full[:-5]
    no_tail = struct.pack("<I", len(no_tail)) + no_tail[4:]
    extra = full + b"\xaa" * 8
    extra = struct.pack("<I", len(extra)) + extra[4:]
    got = parse_procs(full + no_tail + extra, PL_V9)
    assert [(p.tid, p.loginuid, p.exe_writable) for p in got] == [(3, 42, True), (3, -1, False), (3, 42, True)]


def test_proclist_limits() -> None:
    entry = struct.pack("<qqq", 1, 1, 0) + s16(b"x" * 1025)
    with pytest.raises(CaptureError, match="invalid commlen 1025"):
        parse_procs(entry, PL_V1)
    with pytest.raises(CaptureError, match="corrupted process list"):
        parse_procs(old_proc_entry(5)[:-3], PL_V5)


def test_interface_v1_entries() -> None:
    body = (struct.pack("<HH", 1, 2) + b"\x7f\0\0\1" + b"\xff\0\0\0" + b"\x7f\0\0\1" + struct.pack("<Q", 100) + b"lo"
            + struct.pack("<HH", 3, 4) + bytes(12) + b"eth0"
            + struct.pack("<HH", 4, 1) + bytes(48) + b"x")
    got = parse_interfaces(body + b"\0", 0x205)
    assert got == [Interface(4, "lo", b"\x7f\0\0\1", b"\xff\0\0\0", b"\x7f\0\0\1", 100),
                   Interface(4, "eth0", bytes(4), bytes(4), bytes(4), 0),
                   Interface(6, "x", bytes(16), bytes(16), bytes(16), 0)]
    with pytest.raises(CaptureError, match="unknown interface type 9"):
        parse_interfaces(struct.pack("<HH", 9, 0) + bytes(30), 0x205)


def test_user_v1_entries() -> None:
    body = (b"\0" + struct.pack("<II", 0, 0) + s16(b"root") + s16(b"/root") + s16(b"/bin/sh")
            + b"\1" + struct.pack("<I", 0) + s16(b"root"))
    users, groups = parse_users(body, 0x206)
    assert [(u.uid, u.name, u.homedir, u.shell) for u in users] == [(0, "root", "/root", "/bin/sh")]
    assert [(g.gid, g.name) for g in groups] == [(0, "root")]
    with pytest.raises(CaptureError, match="invalid user name len 300"):
        parse_users(b"\0" + bytes(8) + s16(b"x" * 300), 0x206)


def test_fd_v1_entries() -> None:
    body = (struct.pack("<q", 9)
            + struct.pack("<qQB", 0, 1, 1) + s16(b"/dev/null")
            + struct.pack("<qQB", 3, 2, 3) + b"\x0a\0\0\1\x0a\0\0\2" + struct.pack("<HHB", 1000, 80, 2)
            + struct.pack("<qQB", 4, 3, 8) + struct.pack("<QQ", 1, 2) + s16(b""))
    tid, fds = parse_fds(body, 0x203)
    assert tid == 9
    assert fds == [FdEntry(0, 1, FdType.FILE, "/dev/null"),
                   FdEntry(3, 2, FdType.IPV4_SOCK, sip=b"\x0a\0\0\1", dip=b"\x0a\0\0\2", sport=1000, dport=80,
                           l4proto=2),
                   FdEntry(4, 3, FdType.UNIX_SOCK, source=1, dest=2)]
    with pytest.raises(CaptureError, match="unknown fd type 42"):
        parse_fds(struct.pack("<q", 9) + struct.pack("<qQB", 0, 1, 42) + bytes(8), 0x203)


def test_fd_v2_unknown_type_and_optional_dev() -> None:
    unknown = struct.pack("<IqQB", 4 + 17 + 6, 5, 0, 42) + bytes(6)
    file_no_dev = struct.pack("<IqQBI", 4 + 17 + 4 + 3, 6, 0, 16, 1) + s16(b"f")
    _, fds = parse_fds(struct.pack("<q", 1) + unknown + file_no_dev, 0x218)
    assert fds == [FdEntry(5, 0, FdType.UNSUPPORTED, "unknown-type:[42]"),
                   FdEntry(6, 0, FdType.FILE_V2, "f", open_flags=1, dev=0)]


def _careful_fds(body: bytes, block_type: int) -> tuple[int, list[FdEntry]]:
    """parse_fds without its inline fast path: every entry through _parse_fd."""
    from sysdig_user.scap.metadata import _Cursor, _parse_fd

    cur = _Cursor(body, "fd list")
    tid = cur.num(struct.Struct("<q"))
    fds = []
    while cur.remaining() >= 4:
        fds.append(_parse_fd(cur, block_type == 0x218))
    return tid, fds


def _outcome(fn: object, body: bytes, block_type: int) -> object:
    try:
        return fn(body, block_type)  # type: ignore[operator]
    except CaptureError as exc:
        return str(exc)


@pytest.mark.parametrize("v2", [False, True])
def test_fd_fast_path_matches_careful_parse(v2: bool) -> None:
    """The inline reading of file-like and unix entries gives what _parse_fd gives, errors included."""
    def entry(fd: int, t: int, payload: bytes, extra: bytes = b"", sub_len: int | None = None) -> bytes:
        body = struct.pack("<qQB", fd, fd * 10, t) + payload + extra
        if not v2:
            return body
        return struct.pack("<I", len(body) + 4 if sub_len is None else sub_len) + body

    good = [
        entry(0, 1, s16(b"/dev/null")),
        entry(1, 16, struct.pack("<I", 0o2) + s16(b"/etc/passwd") + (struct.pack("<I", 7) if v2 else b"")),
        entry(2, 16, struct.pack("<I", 1) + s16(b"no-dev")),
        entry(3, 8, struct.pack("<QQ", 0xAB, 0xCD) + s16(b"/run/sock")),
        entry(4, 8, struct.pack("<QQ", 1, 2) + s16(b"")),
        entry(5, 2, b"\x0a\0\0\1\x0a\0\0\2" + struct.pack("<HHB", 1000, 80, 2)),
        entry(6, 4, s16("é\xff".encode("utf-8", "surrogateescape") + b"\x80")),
        entry(7, 10, s16(b"anon_inode:[eventpoll]"), extra=b"\0" * 5 if v2 else b""),
    ]
    bodies = [struct.pack("<q", 42) + b"".join(good)]
    for i in range(len(good)):  # every entry alone, cut short, and followed by padding
        whole = struct.pack("<q", 42) + good[i]
        bodies += [whole, whole[:-1], whole[:-3], whole + b"\0\0\0"]
    bad = [entry(8, 1, s16(b"x" * 1100)), entry(9, 16, struct.pack("<I", 0) + s16(b"abc"), sub_len=10),
           entry(10, 42, bytes(6))]
    bodies += [struct.pack("<q", 42) + b + good[0] for b in bad]
    block_type = 0x218 if v2 else 0x203
    for body in bodies:
        assert _outcome(parse_fds, body, block_type) == _outcome(_careful_fds, body, block_type)
