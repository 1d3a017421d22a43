"""scap reader: samples, every block version, section handling and sysdig's error cases."""
from __future__ import annotations

import gzip
import io
import os
import struct
import subprocess
from pathlib import Path

import pytest

from sysdig_user.scap import (
    CaptureError,
    FdList,
    InterfaceList,
    MachineInfo,
    ProcList,
    SectionHeader,
    UserList,
    convert_v1_event,
    read_capture,
)
from sysdig_user.scap.blocks import frame, section_header_block
from tests.scap.scapdata import (
    SAMPLE_EVENTS,
    SAMPLES,
    capture,
    ev_block,
    event,
    evf_block,
    gunzip_sample,
    open_exit,
    v1_event,
    walk_blocks,
)
from tests.support import require_tool, shared_path


def events(items: object) -> list[tuple[int, int, bytes]]:
    return [i for i in items if isinstance(i, tuple)]  # type: ignore[attr-defined]


def read_bytes(data: bytes, **kw: object) -> list[object]:
    return list(read_capture(io.BytesIO(data), **kw))  # type: ignore[arg-type]


def sample(name: str) -> Path:
    return shared_path("samples", f"{name}.scap")


# -- samples ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_event_count(name: str) -> None:
    items = list(read_capture(sample(name)))
    assert isinstance(items[0], SectionHeader)
    assert len(events(items)) == SAMPLE_EVENTS[name]
    for cpu, flags, raw in events(items):
        assert len(raw) == struct.unpack_from("<I", raw, 16)[0]


@pytest.mark.oracle
@pytest.mark.parametrize("name", SAMPLES)
def test_sample_event_count_matches_sysdig(name: str) -> None:
    sysdig = require_tool("sysdig")
    out = subprocess.run([sysdig, "-r", str(sample(name)), "-D", "-p", "%evt.num"], capture_output=True,
                         text=True, check=True).stdout.split()
    assert len(events(read_capture(sample(name)))) == int(out[-1])


def test_sample_metadata() -> None:
    items = list(read_capture(sample("libs_single_ipv6_conn")))
    mi = next(i for i in items if isinstance(i, MachineInfo))
    assert (mi.num_cpus, mi.hostname) == (2, "ubuntu")
    ifaces = next(i for i in items if isinstance(i, InterfaceList)).interfaces
    assert (ifaces[0].family, ifaces[0].name, ifaces[0].addr) == (4, "lo", b"\x7f\0\0\1")
    ul = next(i for i in items if isinstance(i, UserList))
    assert (ul.users[0].uid, ul.users[0].name, ul.users[0].shell) == (0, "root", "/bin/bash")
    procs = next(i for i in items if isinstance(i, ProcList)).entries
    assert len(procs) == 154
    init = procs[0]
    assert (init.tid, init.comm, init.exe, init.exepath) == (1, "systemd", "/sbin/init", "/lib/systemd/systemd")
    assert "HOME=/" in init.env and init.loginuid == -1
    fdls = [i for i in items if isinstance(i, FdList)]
    assert len(fdls) == 154 and {f.tid for f in fdls} == {p.tid for p in procs}


def test_old_proclist_versions_get_defaults() -> None:
    items = list(read_capture(sample("libs_curl_google")))  # PL_V5: no sid, vpgid, exepath
    procs = next(i for i in items if isinstance(i, ProcList)).entries
    assert all(p.sid == -1 and p.vpgid == -1 and p.exepath == "" for p in procs)
    assert any(p.comm == "bash" for p in procs)


@pytest.mark.parametrize("name", SAMPLES)
def test_gzip_and_plain_read_the_same(name: str, tmp_path: Path) -> None:
    plain = tmp_path / "plain.scap"
    plain.write_bytes(gunzip_sample(sample(name)))
    assert list(read_capture(plain)) == list(read_capture(sample(name)))


def test_gzip_members_and_trailing_garbage(tmp_path: Path) -> None:
    raw = gunzip_sample(sample("falco_cat_write"))
    data = gzip.compress(raw[:50000]) + gzip.compress(raw[50000:]) + b"trailing garbage"
    assert read_bytes(data) == read_bytes(raw)


# -- truncation and damage ----------------------------------------------------------------------


def _cut_inside_event(raw: bytes, k: int, into: int) -> tuple[bytes, int]:
    """Cut `into` bytes into the k-th event block; returns the data and the events before it."""
    evs = [(off, blen) for off, btype, blen in walk_blocks(raw) if btype in (0x204, 0x216)]
    return raw[:evs[k][0] + into], k


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize("into", [3, 40])
def test_truncated_file_yields_events_before_the_cut(name: str, into: int) -> None:
    raw = gunzip_sample(sample(name))
    full = events(read_bytes(raw))
    cut, k = _cut_inside_event(raw, 300, into)
    got: list[tuple[int, int, bytes]] = []
    with pytest.raises(CaptureError, match="Is the file truncated") as err:
        for item in read_capture(io.BytesIO(cut)):
            if isinstance(item, tuple):
                got.append(item)
    assert got == full[:k]
    if into == 3:
        assert "expecting 8 bytes, read 3" in str(err.value)


def test_truncated_gzip_yields_what_decompressed(tmp_path: Path) -> None:
    data = sample("libs_curl_google").read_bytes()
    got = 0
    with pytest.raises(CaptureError):
        for item in read_capture(io.BytesIO(data[:len(data) // 2])):
            got += isinstance(item, tuple)
    assert 0 < got < SAMPLE_EVENTS["libs_curl_google"]


def test_missing_file() -> None:
    with pytest.raises(CaptureError, match="can't open file /nonexistent/x.scap"):
        read_capture("/nonexistent/x.scap")


@pytest.mark.parametrize("content", [b"", b"hello\n", b"this is definitely not a capture file\n" * 3])
def test_not_a_capture(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.txt"
    path.write_bytes(content)
    with pytest.raises(CaptureError, match="not a scap capture file"):
        list(read_capture(path))


def test_no_events() -> None:
    with pytest.raises(CaptureError, match="^no events in file$"):
        read_bytes(section_header_block())


def test_bad_magic_and_major_version() -> None:
    bad = bytearray(section_header_block())
    bad[8] ^= 0xFF
    with pytest.raises(CaptureError, match="invalid magic number"):
        read_bytes(bytes(bad) + ev_block(open_exit()))
    with pytest.raises(CaptureError, match="Upgrade your version"):
        read_bytes(section_header_block(major=2) + ev_block(open_exit()))


def test_minor_versions_accepted() -> None:
    for minor in (0, 1, 2):
        items = read_bytes(capture([ev_block(open_exit())], shb=section_header_block(minor=minor)))
        assert items[0] == SectionHeader(1, minor) and len(events(items)) == 1


def test_wrong_trailer_on_metadata_block() -> None:
    block = bytearray(frame(0x300, b"abcd"))
    block[-4:] = (99).to_bytes(4, "little")
    with pytest.raises(CaptureError, match="wrong block total length, header=16, trailer=99"):
        read_bytes(capture([bytes(block), ev_block(open_exit())]))


def test_machine_info_must_be_180_bytes() -> None:
    body = bytes(184)
    with pytest.raises(CaptureError, match="wrong block total length, header=196, trailer=0"):
        read_bytes(capture([frame(0x201, body), ev_block(open_exit())]))


def test_fdl_for_unknown_tid() -> None:
    fdl = frame(0x218, struct.pack("<Q", 999))
    with pytest.raises(CaptureError, match="FD block references TID 999, which doesn't exist"):
        read_bytes(capture([fdl, ev_block(open_exit())]))


def test_unknown_metadata_block_is_skipped() -> None:
    items = read_bytes(capture([frame(0x999, b"whatever"), ev_block(open_exit())]))
    assert [type(i) for i in items] == [SectionHeader, tuple]


def test_new_event_types_dropped_unless_extension() -> None:
    data = capture([ev_block(event(400, [b"x"])), ev_block(open_exit()), ev_block(event(336, []))])
    assert len(events(read_bytes(data))) == 1
    got = events(read_bytes(data, extension_types=frozenset({400})))
    assert [struct.unpack_from("<H", raw, 20)[0] for _, _, raw in got] == [400, 3]


def test_dump_flags_and_cpu() -> None:
    raw = open_exit()
    items = events(read_bytes(capture([evf_block(raw, 1, cpu=3), ev_block(raw, cpu=1)])))
    assert items == [(3, 1, raw), (1, 0, raw)]


def test_large_blocks() -> None:
    big = event(9, [struct.pack("<q", 70000), b"x" * 65000])  # write X
    assert events(read_bytes(capture([ev_block(big, block_type=0x221)]))) == [(0, 0, big)]
    assert events(read_bytes(capture([evf_block(big, 2, block_type=0x222)]))) == [(0, 2, big)]
    huge = event(9, [struct.pack("<q", 70000), b"x" * 65000, b"y" * 1000])
    with pytest.raises(CaptureError, match="greater than NON-LARGE read buffer size 65536"):
        read_bytes(capture([ev_block(open_exit()), ev_block(huge)]))


def test_error_comes_after_preceding_events() -> None:
    data = capture([ev_block(open_exit()), ev_block(open_exit(fd=4)), struct.pack("<II", 0x216, 8)])
    got: list[object] = []
    with pytest.raises(CaptureError, match="block length too short 8"):
        got.extend(read_capture(io.BytesIO(data)))
    assert len(events(got)) == 2


def test_concatenated_sections() -> None:
    one = capture([ev_block(open_exit())])
    items = read_bytes(one + one)
    assert [type(i) for i in items] == [SectionHeader, tuple, SectionHeader, tuple]


def test_metadata_after_events_is_refused() -> None:
    with pytest.raises(CaptureError, match="could not restart capture: invalid block type"):
        read_bytes(capture([ev_block(open_exit()), frame(0x215, b"")]))


# -- v1 events ----------------------------------------------------------------------------------


def test_v1_event_conversion() -> None:
    params = [struct.pack("<q", 3), b"/etc/passwd\0", struct.pack("<I", 1), struct.pack("<I", 0)]
    assert convert_v1_event(v1_event(3, params)) == event(3, params)
    assert convert_v1_event(v1_event(2, [])) == event(2, [])
    assert convert_v1_event(v1_event(5, [b"", b""])) == event(5, [b"", b""])


def test_v1_notification_length_quirk() -> None:
    v1 = v1_event(280, [b"id\0", b"desc\0"])
    v1 = v1[:16] + struct.pack("<I", len(v1) + 3) + v1[20:] + b"\0\0\0"
    assert convert_v1_event(v1) == event(280, [b"id\0", b"desc\0"])


def test_v1_blocks() -> None:
    params = [struct.pack("<q", 3), b"/etc/passwd\0", b"\1\0\0\0", b"\0\0\0\0"]
    data = capture([ev_block(v1_event(3, params), cpu=2, block_type=0x204),
                    ev_block(v1_event(3, params), block_type=0x8010ABCD),
                    evf_block(v1_event(3, params), 1, block_type=0x208)])
    assert events(read_bytes(data)) == [(2, 0, event(3, params)), (0, 0, event(3, params)),
                                        (0, 1, event(3, params))]


def test_v1_unresolvable_nparams() -> None:
    bad = v1_event(3, [b"abc"])
    bad = bad[:22] + struct.pack("<H", 9) + bad[24:]
    with pytest.raises(CaptureError, match="can't calculate nparams"):
        read_bytes(capture([ev_block(bad, block_type=0x204)]))


def test_reads_from_file_object_without_closing_it(tmp_path: Path) -> None:
    path = tmp_path / "x.scap"
    path.write_bytes(capture([ev_block(open_exit())]))
    with open(path, "rb") as f:
        assert len(events(read_capture(f))) == 1
        assert not f.closed
    assert os.path.getsize(path) > 0


def test_parsed_block_cache_tells_bodies_with_the_same_key_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader's cache of parsed metadata blocks keys them on type, length and a prefix: two FDL bodies
    alike in all three (the second entry's name differs past the prefix) each get their own records,
    and a body seen again its earlier ones."""
    from sysdig_user.scap import reader
    from sysdig_user.scap.blocks import FDL_V2
    from sysdig_user.scap.metadata import build_fd, parse_fds
    from sysdig_user.scap.records import FdEntry, FdList
    from sysdig_user.state.fds import FdType

    monkeypatch.setattr(reader, "_PARSED", {})
    head = struct.pack("<Q", 7) + build_fd(FdEntry(0, 1, FdType.FILE_V2, "/etc/passwd", open_flags=3, dev=7))
    a = head + build_fd(FdEntry(1, 2, FdType.FILE_V2, "/etc/aaaa"))
    b = head + build_fd(FdEntry(1, 2, FdType.FILE_V2, "/etc/bbbb"))
    assert len(a) == len(b) and a[:reader._KEY_BYTES] == b[:reader._KEY_BYTES] and a != b
    r = reader._Reader(io.BytesIO(b""), False, frozenset())
    r.tids = {7}
    first, second, again = (r._parse_metadata(FDL_V2, body) for body in (a, b, a))
    assert first == FdList(*parse_fds(a, FDL_V2)) and second == FdList(*parse_fds(b, FDL_V2))
    assert isinstance(second, FdList) and second.fds[1].name == "/etc/bbbb"
    assert again == first and again is not second
