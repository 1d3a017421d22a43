"""open, openat, openat2, creat: the exit repeats what the enter stop read, without reading the tracee again."""
from __future__ import annotations

from typing import Any

import pytest

from tracer import memory
from tracer.decoders import open as open_dec
from tracer.decoders.base import Call

_AT_FDCWD = (1 << 64) - 100


def _reads(monkeypatch: pytest.MonkeyPatch, names: list[bytes]) -> list[int]:
    """Patch the tracee reads: each path read returns the next of `names`; the list counts the reads."""
    seen: list[int] = []

    def read_cstring(tid: int, addr: int, limit: int) -> bytes:
        seen.append(addr)
        return names[len(seen) - 1]

    monkeypatch.setattr(memory, "read_cstring", read_cstring)
    monkeypatch.setattr(memory, "read_u64s", lambda tid, addr, n: [0o100, 0o600, 0][:n])
    return seen


@pytest.mark.parametrize(("name", "args"), [
    ("open", (0x1000, 0o101, 0o600, 0, 0, 0)),
    ("openat", (_AT_FDCWD, 0x1000, 0o101, 0o600, 0, 0)),
    ("openat2", (_AT_FDCWD, 0x1000, 0x2000, 24, 0, 0)),
    ("creat", (0x1000, 0o600, 0, 0, 0, 0)),
])
def test_exit_repeats_the_enter_path(monkeypatch: pytest.MonkeyPatch, name: str, args: tuple[int, ...]) -> None:
    # the buffer is rewritten after the enter: the exit still names what the enter read, read once
    seen = _reads(monkeypatch, [b"/first", b"/second"])
    dec = open_dec.DECODERS[name]
    slot: dict[str, Any] = {}
    call = Call(1, 1, 0, args, 0, 80, slot, want_dev=False)
    enter = dec.on_enter(call)
    call.ret = 3
    out = dec.on_exit(call)
    assert len(seen) == 1
    assert "/first" in enter and "/first" in out
    assert out[1:1 + len(enter)] == enter


@pytest.mark.parametrize("name", ["open", "openat", "openat2", "creat"])
def test_exit_without_its_enter_reads_the_path(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    seen = _reads(monkeypatch, [b"/only"])
    call = Call(1, 1, 0, (0x1000, 0x1000, 0x2000, 24, 0, 0), 3, 80, {}, want_dev=False)
    assert "/only" in open_dec.DECODERS[name].on_exit(call)
    assert len(seen) == 1
