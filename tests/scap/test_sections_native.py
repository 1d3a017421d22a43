"""The compiled PL/FDL reader (sysdig_user/_sections.c) against the Python one it replaces.

Both must give the same records (every field) for every block of the sample captures and of every PL
version, the same state once loaded (threads and fd tables, every slot), and on damaged blocks the
same single CaptureError: the C parser declines such a block and the Python one reports it.
"""
from __future__ import annotations

import random
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sysdig_user.scap import CaptureError, FdEntry, ProcEntry, metadata, reader
from sysdig_user.scap import blocks as B
from sysdig_user.scap.metadata import build_fd, build_proc, parse_fds, parse_procs
from sysdig_user.scap.reader import read_capture
from sysdig_user.state import inspector as inspector_module
from sysdig_user.state.fds import FdInfo, FdType
from sysdig_user.state.inspector import Inspector
from sysdig_user.state.threads import ThreadInfo
from tests.scap.scapdata import gunzip_sample, walk_blocks
from tests.scap.test_metadata import PL_BY_VERSION, old_proc_entry
from tests.support import require_built, shared_path

SAMPLES = ("libs_curl_google.scap", "falco_cat_write.scap", "libs_single_ipv6_conn.scap")


@pytest.fixture(autouse=True)
def _built() -> None:
    require_built(metadata.NATIVE, "sysdig_user._sections")


def _sample(name: str) -> bytes:
    path = shared_path("samples", name)
    data = path.read_bytes()
    return gunzip_sample(path) if data[:2] == b"\x1f\x8b" else data


def _metadata_blocks(data: bytes) -> Iterator[tuple[int, bytes]]:
    for pos, btype, blen in walk_blocks(data):
        if btype in B.PL_VERSIONS or btype in B.FDL_TYPES:
            yield btype, data[pos + 8:pos + blen - 4]


def _parse(btype: int, body: bytes, native: bool) -> Any:
    """The records of a block, or the error's message."""
    try:
        if btype in B.PL_VERSIONS:
            return parse_procs(body, btype, native)
        return parse_fds(body, btype, native)
    except CaptureError as exc:
        return f"CaptureError: {exc}"


def _raw_native(btype: int, body: bytes) -> Any:
    """The C parser alone: records, or None where it leaves the block to the Python one."""
    native = metadata.NATIVE
    if btype in B.PL_VERSIONS:
        return native.parse_procs(body, B.PL_VERSIONS[btype])
    return native.parse_fds(body, btype == B.FDL_V2)


def _fields(obj: object) -> dict[str, Any]:
    """Every slot of a record or state object, nested fd tables as {fd: fields}."""
    out: dict[str, Any] = {}
    for name in type(obj).__slots__:
        value = getattr(obj, name)
        if name == "fdtable":
            value = {fd: _fields(info) for fd, info in value.fds.items()}, list(value.order.fold())
        elif name == "type" and isinstance(obj, FdInfo):
            value = (type(value), int(value))  # an FdType member, not a bare int
        out[name] = value
    return out


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_blocks_parse_the_same(name: str) -> None:
    blocks = list(_metadata_blocks(_sample(name)))
    assert any(btype in B.PL_VERSIONS for btype, _ in blocks)
    assert any(btype in B.FDL_TYPES for btype, _ in blocks)
    for btype, body in blocks:
        assert _raw_native(btype, body) is not None  # the C parser takes every block of a real capture
        native, python = _parse(btype, body, True), _parse(btype, body, False)
        assert native == python
        for a, b in zip(native if btype in B.PL_VERSIONS else native[1], python if btype in B.PL_VERSIONS
                        else python[1]):
            assert _fields(a) == _fields(b)


def _state(path: Path, native: bool, monkeypatch: pytest.MonkeyPatch,
           fix_sockets: bool = False) -> dict[int, dict[str, Any]]:
    """Every thread's slots after a capture's metadata, loaded through C (`native`) or Python, then (with
    `fix_sockets`) Inspector._fix_sockets_from_proc. The reader's records of blocks seen before start
    empty: each run parses its own."""
    with monkeypatch.context() as m:
        m.setattr(reader, "_PARSED", {})
        if not native:
            m.setattr(metadata, "NATIVE", None)
            m.setattr(inspector_module, "_NATIVE", None)
        ins = Inspector()
        for item in read_capture(path):
            if not isinstance(item, tuple):
                ins.feed_records(item)
        if fix_sockets:
            ins._fix_sockets_from_proc()
    return {tid: _fields(th) for tid, th in ins.threads.threads.items()}


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_state_loads_the_same(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Threads and fd tables after a capture's metadata, every slot, loaded through C and through Python."""
    path = shared_path("samples", name)
    native = _state(path, True, monkeypatch)
    python = _state(path, False, monkeypatch)
    assert native and any(th["fdtable"][0] for th in native.values())
    assert native == python


def _fd_bodies(v2: bool) -> list[bytes]:
    entries = [
        FdEntry(0, 1, FdType.FILE, "/dev/null"),
        FdEntry(1, 2, FdType.FILE_V2, "/etc/passwd", open_flags=3, dev=7),
        FdEntry(2, 3, FdType.UNIX_SOCK, "/run/x\n", source=0xAB, dest=0xCD),
        FdEntry(3, 4, FdType.UNIX_SOCK, "", source=1, dest=2),
        FdEntry(4, 5, FdType.IPV4_SOCK, sip=b"\x0a\0\0\1", dip=b"\x0a\0\0\2", sport=1000, dport=80, l4proto=2),
        FdEntry(5, 6, FdType.IPV6_SOCK, sip=bytes(10) + b"\xff\xff\1\2\3\4", dip=bytes(15) + b"\1", sport=5,
                dport=6, l4proto=3),
        FdEntry(6, 7, FdType.IPV4_SERVSOCK, sip=b"\0\0\0\0", sport=22, l4proto=2),
        FdEntry(7, 8, FdType.IPV6_SERVSOCK, sip=bytes(16), sport=80, l4proto=2),
        FdEntry(8, 9, FdType.EVENTPOLL, "anon_inode:[eventpoll]"),
        FdEntry(9, 10, FdType.FILE_V2, "caf\udce9 \u00e9", open_flags=1),
    ]
    out = []
    for e in entries:
        entry = build_fd(e)
        if not v2:
            entry = entry[4:]
            if e.type == FdType.FILE_V2:
                entry = entry[:-4]  # (no dev in v1)
        out.append(entry)
    return out


def _bodies() -> list[tuple[int, bytes]]:
    """Good bodies of every PL version and both FDL versions, with the v2 variants that have optional
    or unknown trailing bytes."""
    out: list[tuple[int, bytes]] = []
    for version in range(1, 9):
        out.append((PL_BY_VERSION[version], old_proc_entry(version) * 2 + b"\0\0"))
    full = build_proc(ProcEntry(tid=3, pid=3, comm="c", args=["a", "", "b"], env=["K=V", ""], cgroups=["cpu=/x"],
                                cwd="/tmp", loginuid=42, exe_writable=True))
    no_tail = struct.pack("<I", len(full) - 5) + full[4:-5]
    extra = struct.pack("<I", len(full) + 8) + full[4:] + b"\xaa" * 8
    out.append((B.PL_V9, full + no_tail + extra))
    for v2 in (False, True):
        fds = _fd_bodies(v2)
        out.append((B.FDL_V2 if v2 else B.FDL_V1, struct.pack("<q", 3) + b"".join(fds) + b"\0\0"))
    return out


def test_every_version_parses_the_same() -> None:
    for btype, body in _bodies():
        assert _raw_native(btype, body) is not None, hex(btype)
        native, python = _parse(btype, body, True), _parse(btype, body, False)
        assert native == python, hex(btype)


def test_damaged_blocks_fail_the_same() -> None:
    """Every truncation and random byte damage of those bodies: the same records or the same one error,
    and the C parser either agrees with the Python one or declines the block (never raises itself)."""
    rng = random.Random(14)
    cases: list[tuple[int, bytes]] = []
    for btype, body in _bodies():
        cases += [(btype, body[:n]) for n in range(len(body))]
        for _ in range(300):
            damaged = bytearray(body)
            for _ in range(rng.randint(1, 4)):
                damaged[rng.randrange(len(damaged))] = rng.choice((0, 1, 0x7F, 0xFF, rng.randrange(256)))
            cases.append((btype, bytes(damaged)))
        cases.append((btype, body + bytes(rng.randrange(256) for _ in range(40))))
    errors = 0
    for btype, body in cases:
        raw = _raw_native(btype, body)
        python = _parse(btype, body, False)
        if raw is not None:
            assert raw == (python if btype in B.PL_VERSIONS else tuple(python)), (hex(btype), body)
        assert _parse(btype, body, True) == python
        errors += isinstance(python, str)
    assert errors > len(cases) // 4  # the damage does reach the error paths


def test_fd_infos_match_fd_from_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The C FdInfo builder and _fd_from_entry on every entry kind, names needing sanitizing included."""
    native = inspector_module._NATIVE
    assert native is not None
    body = struct.pack("<q", 3) + b"".join(_fd_bodies(True))
    _, entries = parse_fds(body, B.FDL_V2, False)
    entries.append(FdEntry(12, 13, 99))  # a type no loader knows
    entries.append(FdEntry(13, 14, FdType.FIFO, "pipe:\x7f[1]"))
    ins = Inspector()
    ifaces = ins.state.interfaces
    got = native.fd_infos(entries, lambda e: inspector_module._fd_from_entry(e, ifaces))
    want = [inspector_module._fd_from_entry(e, ifaces) for e in entries]
    assert [None if g is None else _fields(g) for g in got] == [None if w is None else _fields(w) for w in want]
    assert got[-2] is None
    fresh = [g for g in got if g is not None]
    assert len({id(g.extra) for g in fresh}) == len(fresh)  # each FdInfo its own extra dict


def test_thread_fields_are_complete() -> None:
    """_fields compares every slot (a ThreadInfo slot added later is compared too)."""
    th = ThreadInfo(1, 1)
    assert set(_fields(th)) == set(ThreadInfo.__slots__)


def test_thread_infos_match_thread_from_entry() -> None:
    """The C ThreadInfo builder and _thread_from_entry on the entries it builds and those it calls back for:
    a cwd to fold or not printable, an io= cgroup, env with trailing empty entries."""
    native = inspector_module._NATIVE
    assert native is not None
    entries = [
        ProcEntry(1, 1, comm="a", args=["x", ""], cwd="/home/u", env=["A=1", "", ""], cgroups=["cpu=/"], flags=4),
        ProcEntry(2, 1, cwd="/", env=["", ""], cgroups=["io=/user.slice", "cpu=/x"], loginuid=5, exe_writable=True),
        ProcEntry(3, 3, cwd="/a//b/./c"),
        ProcEntry(4, 4, cwd="rel/dir/"),
        ProcEntry(5, 5, cwd="/caf\u00e9/\x01"),
        ProcEntry(6, 6, cwd="/tmp/", env=["", "B=2"]),
        ProcEntry(7, 7, cwd=""),
    ]
    got = native.thread_infos(entries, inspector_module._thread_from_entry)
    want = [inspector_module._thread_from_entry(e) for e in entries]
    assert [_fields(g) for g in got] == [_fields(w) for w in want]
    assert got[0].fdtable is not got[5].fdtable and got[0].extra is not got[5].extra
    orders = [g.fdtable.order for g in got]  # (cloned from the template's, each with its own log)
    assert len({id(o) for o in orders}) == len({id(o.ops) for o in orders}) == len(got)
    assert all(type(o) is type(want[0].fdtable.order) and o.ops == [] for o in orders)
    assert got[0].args is not entries[0].args  # copies: the records stay as read


def test_sdu_no_native_turns_it_off() -> None:
    """SDU_NO_NATIVE=1, the switch of the other C paths, leaves PL/FDL reading to Python too."""
    import os
    import subprocess
    import sys

    code = "import sysdig_user.scap.metadata as m, sysdig_user.state.inspector as i; print(m.NATIVE, i._NATIVE)"
    env = {**os.environ, "SDU_NO_NATIVE": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["None", "None"]


def test_unset_records_go_to_python() -> None:
    """A record whose slots were never set (built with __new__) is the Python function's, which raises
    what it raises for it, not a crash in C."""
    native = inspector_module._NATIVE
    assert native is not None
    fd_entry = FdEntry.__new__(FdEntry)
    fd_entry.type = FdType.FILE_V2
    with pytest.raises(AttributeError):
        native.fd_infos([fd_entry], lambda e: inspector_module._fd_from_entry(e, Inspector().state.interfaces))
    proc = ProcEntry.__new__(ProcEntry)
    with pytest.raises(AttributeError):
        native.thread_infos([proc], inspector_module._thread_from_entry)


def test_load_fds_matches_fdtable_load() -> None:
    """load_fds and FdTable.load of each _fd_from_entry: the same fds, the same order log, folds included (a
    table already holding fds, fds repeated in the list, more entries than an OrderLog holds unfolded)."""
    from sysdig_user.state.fdorder import FOLD_AT
    from sysdig_user.state.fds import FdTable

    native = inspector_module._NATIVE
    assert native is not None
    body = struct.pack("<q", 3) + b"".join(_fd_bodies(True))
    _, base = parse_fds(body, B.FDL_V2, False)
    entries = [*base, FdEntry(12, 13, 99), *base[:3]]
    entries += [FdEntry(100 + i % (FOLD_AT // 2), i, FdType.FILE, f"/f{i}") for i in range(FOLD_AT + 50)]
    ifaces = Inspector().state.interfaces
    tables = []
    for use_c in (True, False):
        table = FdTable()
        table.load(FdInfo(1, FdType.FILE, "/before"))
        if use_c:
            native.load_fds(table, entries, lambda e: inspector_module._fd_from_entry(e, ifaces))
        else:
            for e in entries:
                info = inspector_module._fd_from_entry(e, ifaces)
                if info is not None:
                    table.load(info)
        tables.append(table)
    got, want = tables
    assert list(got.order.ops) == list(want.order.ops)
    assert {fd: _fields(i) for fd, i in got.fds.items()} == {fd: _fields(i) for fd, i in want.fds.items()}
    assert list(got.order) == list(want.order)


def test_entries_sharing_strings_parse_the_same() -> None:
    """Entries whose strings and list items equal, or almost equal, the previous entry's (same length, one
    byte apart, non-ASCII, fewer or more items): the C parser's shared strings change no value."""
    procs = [
        ProcEntry(1, 1, comm="sh", exe="sh", args=["-c", "x"], env=["A=1", "B=2", "C=\u00e9"], cwd="/a/"),
        ProcEntry(2, 1, comm="sh", exe="sh", args=["-c", "y"], env=["A=1", "B=3", "C=\u00e9"], cwd="/a/"),
        ProcEntry(3, 1, comm="sg", exe="sh", args=["-c"], env=["A=1", "B=3", "C=\u00e9", "D=4"], cwd="/b/"),
        ProcEntry(4, 1, comm="sg", exe="", args=[], env=["A=1"], cwd="/b/"),
        ProcEntry(5, 1, comm="sg", exe="", args=["", ""], env=["A=1", ""], cwd="/b/\udcff"),
    ]
    body = b"".join(build_proc(p) for p in procs)
    native = _raw_native(B.PL_V9, body)
    assert native is not None and len(native) == len(procs)
    assert native == _parse(B.PL_V9, body, False)
    assert [e.env for e in native] == [p.env for p in procs]


def _python_ip_sockets(tables: list[Any], servsock: FdType, sock: FdType) -> tuple[set[int], list[FdInfo]]:
    """What Inspector._fix_sockets_from_proc reads without the C walk."""
    ports = {info.sport for table in tables for info in table.fds.values() if info.type == servsock}
    socks = [info for table in tables for info in table.fds.values() if info.type == sock and not info.role]
    return ports, socks


def test_ip_sockets_matches_python() -> None:
    """ip_sockets and the Python walks over the same FdTables: the same listening ports, the same sockets
    in the same order (one held by two tables twice, as both walks list it), types given as bare ints, an
    FdInfo subclass and an unset slot read as attributes (the unset one's AttributeError)."""
    from sysdig_user.state.fds import FdTable, Role

    class Sub(FdInfo):
        __slots__ = ()

    native = inspector_module._NATIVE
    assert native is not None
    v4, v4s = FdType.IPV4_SOCK, FdType.IPV4_SERVSOCK
    shared = FdInfo(7, v4, sip=b"\1\2\3\4", sport=80, dip=b"\5\6\7\x08", dport=4000)
    a, b = FdTable(), FdTable()
    for info in (FdInfo(1, FdType.FILE, "/x"), FdInfo(2, v4s, sip=bytes(4), sport=80), shared,
                 FdInfo(3, v4, sport=5, role=Role.CLIENT), FdInfo(4, v4, sport=6), Sub(5, v4s, sport=443),
                 Sub(6, v4, sport=7), FdInfo(8, FdType.IPV6_SOCK, sport=9), FdInfo(9, FdType.IPV6_SERVSOCK, sport=22)):
        a.load(info)
    b.load(shared)
    b.load(FdInfo(10, FdType(v4), sport=443, role=Role.SERVER))
    b.load(FdInfo(11, int(v4), sport=8))  # type: ignore[arg-type]  # (a bare int equal to the type counts)
    b.load(FdInfo(12, int(v4s), sport=8080))  # type: ignore[arg-type]
    for tables in ([a, b], [b, a], [], [FdTable()], (t for t in [a])):
        listed = list(tables) if not isinstance(tables, list) else tables
        got = native.ip_sockets(iter(listed), v4s, v4)
        want = _python_ip_sockets(listed, v4s, v4)
        assert got[0] == want[0]
        assert [id(i) for i in got[1]] == [id(i) for i in want[1]]
    unset = FdTable()
    info = FdInfo(1, v4)
    del info.role  # (an unset slot: both walks fail on it)
    unset.load(info)
    with pytest.raises(AttributeError):
        native.ip_sockets([unset], v4s, v4)
    with pytest.raises(AttributeError):
        _python_ip_sockets([unset], v4s, v4)


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_sockets_fixed_the_same(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every fd after a capture's metadata and _fix_sockets_from_proc, through C and through Python."""
    path = shared_path("samples", name)
    native = _state(path, True, monkeypatch, fix_sockets=True)
    python = _state(path, False, monkeypatch, fix_sockets=True)
    assert native == python
    assert any(info["role"] for th in native.values() for info in th["fdtable"][0].values())
