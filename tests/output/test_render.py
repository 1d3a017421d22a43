"""evt.args rendering of single params, on events built from the event table (no capture needed)."""
from __future__ import annotations

from sysdig_user.event import Event
from sysdig_user.event_table import event_code
from sysdig_user.output.render import (
    BufferFormat,
    RenderOptions,
    buffer_ascii,
    buffer_hex,
    render_args,
    render_buffer,
    resolve_flags,
)
from sysdig_user.params import AF_INET6, AF_UNIX
from sysdig_user.state.fds import FdInfo, FdType, Role
from sysdig_user.state.threads import ThreadInfo


def _event(name: str, enter: bool, *values: object) -> Event:
    return Event.build(event_code(name, enter), 1_000_000_000, 42, 0, list(values))


def _thread() -> ThreadInfo:
    th = ThreadInfo(tid=42, pid=42, comm="cat", cwd="/home/u/")
    th.fdtable.add(FdInfo(3, FdType.FILE, "/etc/passwd"))
    th.fdtable.add(FdInfo(4, FdType.IPV6_SOCK, "::1:5->::1:80", l4proto=2, role=Role.CLIENT))
    th.fdtable.add(FdInfo(5, FdType.IPV6_SOCK, "", l4proto=2))
    return th


def test_fd_params_show_type_and_name() -> None:
    evt = _event("read", True, 3, 832)
    evt.thread = _thread()
    assert render_args(evt) == "fd=3(<f>/etc/passwd) size=832 "
    sock = _event("read", True, 4, 10)
    sock.thread = _thread()
    assert render_args(sock) == "fd=4(<6t>::1:5->::1:80) size=10 "
    fresh = _event("read", True, 5, 10)  # no role yet (just socket()): sinsp shows no L4 letter
    fresh.thread = _thread()
    assert render_args(fresh) == "fd=5(<6>) size=10 "


def test_negative_fd_and_errno_resolve_to_names() -> None:
    evt = _event("close", False, -2)
    evt.thread = _thread()
    assert render_args(evt) == "res=-2(ENOENT) "


def test_flags_walk_table_in_order() -> None:
    assert resolve_flags(4097, "file_flags") == "O_RDONLY|O_CLOEXEC"
    assert resolve_flags(0, "access_flags") == "F_OK"
    assert resolve_flags(3, "prot_flags") == "PROT_READ|PROT_WRITE"


def test_relative_path_is_resolved_against_cwd() -> None:
    evt = _event("access", False, -2, "../x/./y")
    evt.thread = _thread()
    assert render_args(evt) == "res=-2(ENOENT) name=../x/./y(/home/x/y) "
    absolute = _event("access", False, 0, "/etc/ld.so.preload")
    absolute.thread = _thread()
    assert render_args(absolute) == "res=0 name=/etc/ld.so.preload "


def test_socktuples() -> None:
    v6 = bytes.fromhex("26001f18262c65429aa6df7a9a47d29e")
    dns = bytes.fromhex("20014860486000000000000000008888")
    evt = _event("connect", False, 0, (AF_INET6, v6, 40251, dns, 53))
    assert render_args(evt) == ("res=0 tuple=2600:1f18:262c:6542:9aa6:df7a:9a47:d29e:40251->"
                                "2001:4860:4860::8888:53 ")
    mapped = bytes(10) + b"\xff\xff" + bytes([10, 0, 0, 1])
    evt = _event("connect", False, 0, (AF_INET6, mapped, 1, mapped, 2))
    assert render_args(evt) == "res=0 tuple=10.0.0.1:1->10.0.0.1:2 "
    unix = _event("connect", False, -2, (AF_UNIX, 0, 0xFFFF88003C420800, "/var/run/nscd/socket"))
    assert render_args(unix) == "res=-2(ENOENT) tuple=0->ffff88003c420800 /var/run/nscd/socket "
    empty = _event("connect", False, 0, None)
    assert render_args(empty) == "res=0 tuple=NULL "


def test_buffers() -> None:
    data = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(range(3))
    assert render_buffer(data, BufferFormat.NORMAL, 80) == "GET / HTTP/1.1..Host: x......."
    assert render_buffer(b"a" * 100, BufferFormat.NORMAL, 80) == "a" * 77 + "..."
    assert render_buffer(b"a" * 100, BufferFormat.NORMAL, 0) == "a" * 100
    assert buffer_ascii(b"a\r\nb\nc\x00") == "\na\nb\nc"
    assert buffer_hex(b"0\r\n\r\n", True) == "\n\t0x0000: 300d 0a0d 0a" + " " * 27 + "0....\n"
    assert buffer_hex(b"0\r\n\r\n", False) == "\n\t0x0000: 300d 0a0d 0a\n"
    assert render_buffer(b"hi", BufferFormat.BASE64, 80) == "aGk="


def test_hex_data_param_in_args() -> None:
    evt = _event("write", False, 2, b"hi")
    assert render_args(evt, RenderOptions(BufferFormat.HEX)) == "res=2 data=\n\t0x0000: 6869\n "


def test_generic_events_have_no_args() -> None:
    evt = Event.build(1, 0, 1, 0, [5])
    assert render_args(evt) == ""
