"""Socket addresses and tuples cut short (damaged captures) decode padded with zeros, as sinsp reads
past them, instead of as a bare family that parsers then index past (IndexError found by the fuzzer)."""
from __future__ import annotations

import pytest

from sysdig_user.params import AF_INET, AF_INET6, AF_UNIX, decode_sockaddr, decode_socktuple


@pytest.mark.parametrize(("fam", "size"), [(AF_INET, 7), (AF_INET6, 19)])
def test_short_sockaddr_is_padded(fam: int, size: int) -> None:
    full = bytes([fam]) + bytes(range(1, size))
    for cut in range(1, size):
        got = decode_sockaddr(full[:cut])
        assert got == decode_sockaddr(full[:cut] + b"\0" * (size - cut))
        assert got is not None and len(got) == 3
    assert decode_sockaddr(full) == decode_sockaddr(full + b"junk")


@pytest.mark.parametrize(("fam", "size", "fields"), [(AF_INET, 13, 5), (AF_INET6, 37, 5), (AF_UNIX, 17, 4)])
def test_short_socktuple_is_padded(fam: int, size: int, fields: int) -> None:
    full = bytes([fam]) + bytes(range(1, size))
    for cut in range(1, size):
        got = decode_socktuple(full[:cut])
        assert got == decode_socktuple(full[:cut] + b"\0" * (size - cut))
        assert got is not None and len(got) == fields


def test_other_families_stay_bare() -> None:
    assert decode_sockaddr(bytes([99, 1, 2])) == (99,)
    assert decode_socktuple(bytes([99, 1, 2])) == (99,)
    assert decode_sockaddr(b"") is None
