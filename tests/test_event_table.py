"""The event table's written rules, checked over every row (see sysdig_user/event_table.py)."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from sysdig_user import flags
from sysdig_user.event_table import (
    EF,
    EVENTS,
    PPM_EVENT_MAX,
    PPM_SC,
    PPM_SC_MAX,
    PT,
    SYSCALLS,
    event_code,
    event_info,
)
from tests.support import ROOT, shared_path


def test_every_code_is_its_index() -> None:
    assert len(EVENTS) == PPM_EVENT_MAX
    for code, info in enumerate(EVENTS):
        assert info.code == code
        assert info.symbol.endswith("_E") == info.is_enter or info.symbol in ("PPME_PROCEXIT_X",) or \
            info.flags & EF.UNUSED, info.symbol


def test_pairs_share_their_name() -> None:
    for code in range(0, PPM_EVENT_MAX, 2):
        enter, exit_ = EVENTS[code], EVENTS[code + 1]
        if exit_.flags & EF.UNUSED or enter.flags & EF.UNUSED:
            continue
        assert enter.name == exit_.name, (enter.symbol, exit_.symbol)


def test_na_names_only_on_unused_rows() -> None:
    for info in EVENTS:
        if re.fullmatch(r"NA\d*", info.name):
            assert info.flags & EF.UNUSED, info.symbol


# Exit rows whose first param is not the syscall result, each with the reason.
NOT_RESULT_FIRST = {
    "PPME_GENERIC_X": "generic events carry only the ppm_sc ID; the result is not recorded",
    "PPME_DROP_X": "driver drop notice, not a syscall",
    "PPME_TRACER_X": "tracer marker event: first param is the marker id",
    "PPME_SYSCALL_GETUID_X": "the result is the uid itself, typed UID",
    "PPME_SYSCALL_GETEUID_X": "the result is the euid itself, typed UID",
    "PPME_SYSCALL_GETGID_X": "the result is the gid itself, typed GID",
    "PPME_SYSCALL_GETEGID_X": "the result is the egid itself, typed GID",
}


def test_exit_events_start_with_their_return_value() -> None:
    for info in EVENTS:
        if info.is_enter or not info.params or info.flags & (EF.UNUSED | EF.OLD_VERSION):
            continue
        if info.symbol in NOT_RESULT_FIRST:
            continue
        first = info.params[0]
        assert first.name in ("res", "fd", "res_or_fd"), info.symbol
        assert first.type in (PT.ERRNO, PT.FD, PT.PID, PT.UINT64, PT.DYN), info.symbol


def test_relative_paths_name_a_dirfd_param() -> None:
    for info in EVENTS:
        for p in info.params:
            if p.type is PT.FSRELPATH:
                assert p.dirfd is not None and p.dirfd < len(info.params), info.symbol


def test_flag_tables_exist_for_every_param_that_names_one() -> None:
    for info in EVENTS:
        for p in info.params:
            if p.table is not None:
                assert p.table in flags.FLAG_TABLES, (info.symbol, p.table)


def test_syscall_routes_point_at_real_events() -> None:
    assert SYSCALLS[257].enter == event_code("openat", True) == 306
    assert SYSCALLS[59].exit == event_code("execve", False) == 293
    for route in SYSCALLS.values():
        assert 0 <= route.ppm_sc < PPM_SC_MAX and route.ppm_sc < len(PPM_SC)
        assert event_info(route.enter) is not None and event_info(route.exit) is not None


def test_generated_data_matches_the_reference(tmp_path: Path) -> None:
    ref = shared_path("reference", "scap-event-table.md")
    spec = importlib.util.spec_from_file_location("gen", ROOT / "tools" / "gen_event_table.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert gen.generate(ref) == (ROOT / "sysdig_user" / "_event_table_data.py").read_text()
