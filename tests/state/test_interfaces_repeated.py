"""Interfaces.load: a capture's repeated IL blocks (one per section) do not grow the interface lists."""
from __future__ import annotations

from sysdig_user.scap.records import Interface, InterfaceList
from sysdig_user.state.interfaces import Interfaces

LO = Interface(4, "lo", b"\x7f\0\0\1", b"\xff\0\0\0", b"\0" * 4)
ETH = Interface(4, "eth0", b"\x0a\0\0\x05", b"\xff\xff\xff\0", b"\x0a\0\0\xff")
LO6 = Interface(6, "lo", b"\0" * 15 + b"\1", b"", b"")


def _block(*ifaces: Interface) -> InterfaceList:
    return InterfaceList(list(ifaces))


def test_the_same_block_loaded_per_section_is_held_once() -> None:
    once, many = Interfaces(), Interfaces()
    once.load(_block(LO, ETH, LO6))
    for _ in range(50):
        many.load(_block(LO, ETH, LO6))
    assert many.ipv4 == once.ipv4 == [LO, ETH]
    assert many.ipv6 == once.ipv6 == [LO6]
    for addr in (b"\x7f\0\0\1", b"\x0a\0\0\x05", b"\x0a\0\0\x06", b"\x7f\0\0\2"):
        assert many.is_local(addr) == once.is_local(addr)
        assert many.infer_ipv4(addr) == once.infer_ipv4(addr)


def test_a_later_section_adds_only_what_is_new_in_order() -> None:
    ifs = Interfaces()
    ifs.load(_block(LO))
    other = Interface(4, "eth1", b"\xc0\xa8\0\1", b"\xff\xff\xff\0", b"\0" * 4)
    ifs.load(_block(LO, other, ETH))
    assert ifs.ipv4 == [LO, other, ETH]
    assert ifs.infer_ipv4(b"\x08\x08\x08\x08") == other.addr  # the first non-loopback one, as before
