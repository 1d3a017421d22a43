"""tracer/syscalls_x86_64.py against the kernel's numbering, the decoders and the driver's routing."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from sysdig_user.event_table import EVENTS
from sysdig_user.event_table import SYSCALLS as ROUTES
from tracer.decoders import load_all
from tracer.syscalls_x86_64 import SYSCALLS, syscall_name, syscall_number

HEADERS = [Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h"), Path("/usr/include/asm/unistd_64.h")]


def test_numbers_and_names_match_unistd_64() -> None:
    header = next((h for h in HEADERS if h.exists()), None)
    if header is None:
        pytest.skip("asm/unistd_64.h is not installed")
    kernel = {int(m[2]): m[1] for m in re.finditer(r"#define __NR_(\w+) (\d+)", header.read_text())}
    ours = {nr: info.name for nr, info in SYSCALLS.items()}
    # the table may know newer syscalls than the installed headers, never differ on a shared number
    assert {nr: ours[nr] for nr in kernel if nr in ours} == kernel
    assert set(kernel) <= set(ours)


def test_every_decoder_resolves() -> None:
    decoders = load_all()  # (and no two families define a name: load_all raises then)
    missing = {info.name: info.decoder for info in SYSCALLS.values() if info.decoder not in decoders}
    assert missing == {}


def test_dedicated_decoder_exactly_when_driver_has_an_event() -> None:
    for nr, info in SYSCALLS.items():
        route = ROUTES.get(nr)
        dedicated = route is not None and not route.is_generic
        assert (info.decoder != "generic") == dedicated, info.name


def test_rows_are_sane() -> None:
    for info in SYSCALLS.values():
        assert 0 <= info.nargs <= 6, info
        assert set(info.classes) <= {"desc", "file", "net", "process", "signal", "ipc", "memory", "clock",
                                     "creds"}
        assert info.decoder != "generic" or EVENTS[0].name == "syscall"


def test_names_and_numbers_round_trip() -> None:
    for nr, info in SYSCALLS.items():
        assert syscall_number(info.name) == nr and syscall_name(nr) == info.name
    assert syscall_number("no_such_call") is None and syscall_name(9999) == "syscall_9999"
