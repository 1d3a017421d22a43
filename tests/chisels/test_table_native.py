"""The table chisels' sums in C (_fastline.Table, ChiselRunner.native_tables): over every event the Python
pipeline gives a table chisel, Table.add adds what the chisel's Python on_event adds, to a dict of its own,
in the same order (where it cannot say, None, the Python on_event adds to that dict instead, as the C
loop declines such an event to the pipeline); and a read whose tables run in C prints what the Python
pipeline prints (tests/chisels/test_table_fast.py compares the chisels' output both ways too)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sysdig_user.chisels import runner as runner_mod
from sysdig_user.chisels.builtin.table_generator import TableGenerator
from sysdig_user.event_table import PPM_EVENT_MAX
from sysdig_user.output import compiled, fastline
from tests.chisels.test_table_fast import _captures, _fast_events, _run
from tests.support import native_environ, run_sdu

#: the table chisels whose fields and filter compile today (the -pc keys' container.name does not: those stay
#: Python)
TABLES = (("topfiles_bytes",), ("topfiles_time",), ("topprocs_file",), ("topprocs_net",), ("topports_server",),
          ("topconns",),
          ("topscalls",), ("topscalls_time",), ("topfiles_errors",), ("topprocs_errors",), ("fdbytes_by", "proc.name"),
          ("fdbytes_by", "fd.num"), ("fdtime_by", "fd.name"), ("fdbytes_by", "evt.type"))

needs_c = pytest.mark.skipif(not fastline.available(), reason="the _fastline extension is not built")


def _shadowed(capture: Path, args: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    """Run ``args`` the Python way, each event the chisel's filter is asked about also given to a Table
    of the chisel's own definition; returns (events the Table added or skipped, events it left to Python)
    after checking both dicts."""
    orig = runner_mod.ChiselRunner._run
    shadows: dict[int, tuple[Any, dict[Any, Any]]] = {}
    counts = [0, 0]

    def run(self: Any, ch: Any, evt: Any, timeout: bool = True) -> None:
        orig(self, ch, evt, timeout)
        if not isinstance(ch, TableGenerator):
            return
        if id(ch) not in shadows:
            spec = ch.native_table_spec()
            assert spec is not None
            keys, value, _ = spec
            shadow: dict[Any, Any] = {}
            table = compiled.native_table(ch.ctx.filter_text, keys, value, shadow, set(range(PPM_EVENT_MAX)))
            assert table is not None, args
            shadows[id(ch)] = (table, shadow)
        table, shadow = shadows[id(ch)]
        if evt.type < PPM_EVENT_MAX and table.add(evt) is not None:
            counts[0] += 1
            return
        counts[1] += 1
        pred = ch.ctx.filter
        if pred is None or pred(evt):
            real, ch.table = ch.table, shadow
            try:
                ch.on_event(evt)
            finally:
                ch.table = real

    monkeypatch.setattr(runner_mod.ChiselRunner, "_run", run)
    finals: list[tuple[list[Any], list[Any]]] = []
    orig_end = runner_mod.ChiselRunner.end

    def end(self: Any) -> None:
        for ch in self.chisels:
            if id(ch) in shadows:
                finals.append((list(ch.table.items()), list(shadows[id(ch)][1].items())))
        orig_end(self)

    monkeypatch.setattr(runner_mod.ChiselRunner, "end", end)
    res = run_sdu("-r", str(capture), "-c", *args, environ=native_environ(False))
    assert res.status == 0, res.stderr
    assert finals, args
    for want, got in finals:
        assert got == want, (capture.name, args)
    return counts[0], counts[1]


@needs_c
def test_table_adds_what_on_event_adds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    taken = 0
    for capture in _captures(tmp_path):
        for args in TABLES:
            with monkeypatch.context() as mp:
                c, _ = _shadowed(capture, args, mp)
            taken += c
    assert taken > 0


@needs_c
def test_a_field_or_filter_c_cannot_read_keeps_the_python_table(tmp_path: Path) -> None:
    """thread.vmsize has no C accessor, proc.name is no number: no Table for those; fd.l4proto (A_FDL4)
    and a filter on evt.failed (A_FAILED) compile."""
    from sysdig_user.chisels.runner import BoundFieldHandle

    res = BoundFieldHandle("evt.rawarg.res").compiled_field
    assert compiled.native_table("", [BoundFieldHandle("fd.l4proto").compiled_field], res, {}, {1}) is not None
    assert compiled.native_table("evt.is_io=true and evt.failed=false", [BoundFieldHandle("fd.name").compiled_field],
                                 res, {}, {1}) is not None
    assert compiled.native_table("evt.is_io=true", [BoundFieldHandle("fd.name").compiled_field], res, {}, {1})
    assert compiled.native_table("", [BoundFieldHandle("thread.vmsize").compiled_field],
                                 BoundFieldHandle("evt.rawarg.res").compiled_field, {}, {1}) is None
    assert compiled.native_table("", [BoundFieldHandle("fd.name").compiled_field],
                                 BoundFieldHandle("proc.name").compiled_field, {}, {1}) is None
    assert BoundFieldHandle("evt.buffer").compiled_field is None


@needs_c
@pytest.mark.parametrize("args", [("topfiles_bytes",), ("topscalls_time",), ("topconns",), ("topprocs_errors",),
                                  ("topfiles_bytes", "evt.type=open"), ("topprocs_file", "proc.name=curl")])
def test_tables_in_c_print_what_python_prints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              args: tuple[str, ...]) -> None:
    """With the tables in C most events never reach Python, and the output (-j too: the keys' order and
    the last event's time) is the pipeline's."""
    built: list[int] = []
    orig = runner_mod.ChiselRunner.native_tables

    def spy(self: Any, global_filter: str = "") -> list[Any]:
        tables = orig(self, global_filter)
        built.append(len(tables))
        return tables

    monkeypatch.setattr(runner_mod.ChiselRunner, "native_tables", spy)
    seen = _fast_events(monkeypatch)
    capture = _captures(tmp_path)[-1]
    for extra in ((), ("-j",)):
        got = _run(capture, (*args[:1], *extra, *args[1:]) if extra else args, native=True)
        want = _run(capture, (*args[:1], *extra, *args[1:]) if extra else args, native=False)
        assert got == want, args
    assert built and built[0] == 1, args
    assert seen[0] is not None and seen[0] > 0


@needs_c
def test_events_of_types_with_a_parser_reach_the_tables_in_c(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sendto and recvfrom have parsers: the Core has Inspector.process parse them, then its tables add them
    (topconns keys them by fd.l4proto and fd.name), so the chisels never see them in Python."""
    from sysdig_user.event_table import EVENTS

    seen: list[str] = []
    orig = runner_mod.ChiselRunner.on_event

    def spy(self: Any, evt: Any) -> None:
        seen.append(EVENTS[evt.type].name if evt.type < PPM_EVENT_MAX else "")
        orig(self, evt)

    monkeypatch.setattr(runner_mod.ChiselRunner, "on_event", spy)
    capture = _captures(tmp_path)[-1]
    got = _run(capture, ("topconns",), native=True)
    assert "tcp" in got
    assert seen and not {"sendto", "recvfrom"} & set(seen), seen
