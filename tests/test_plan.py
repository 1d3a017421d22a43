"""The planner's tables (sysdig_user/plan.py): complete, and choosing what the C paths rely on."""
from __future__ import annotations

import copy

import pytest

from sysdig_user.plan import NEEDS, STRATEGIES, Need, plan
from sysdig_user.rows import record_fields
from sysdig_user.spec import CaptureSpec, OutputSpec, PacketSpec, TraceSpec, WriteSpec


def _fields(cls: type, prefix: str = "") -> set[str]:
    return {prefix + name for name in record_fields(cls)}


def test_every_option_has_a_row() -> None:
    """Adding a field to the spec without saying what it needs fails here."""
    options = (_fields(CaptureSpec) - {"output"}) | _fields(OutputSpec, "output.") | _fields(TraceSpec, "trace.")
    rows = {row.option for row in NEEDS}
    assert options - rows == set()
    assert rows - options == set()


def test_strategy_names_are_unique_and_described() -> None:
    names = [s.name for s in STRATEGIES]
    assert len(names) == len(set(names))
    assert all(s.what for s in STRATEGIES)


def _spec(**kw: object) -> CaptureSpec:
    return CaptureSpec(read=["f.scap"], **kw)  # type: ignore[arg-type]


def test_default_read_uses_the_compiled_line() -> None:
    p = plan(_spec())
    assert p.compiled_line and p.skip_unbuilt and not p.passthrough


@pytest.mark.parametrize("spec", [
    _spec(output=OutputSpec(json=True)),
    _spec(output=OutputSpec(buffer="X")),
    _spec(output=OutputSpec(time="r")),
    _spec(output=OutputSpec(show_internal=True)),
    _spec(output=OutputSpec(summary=True)),
    _spec(output=OutputSpec(quiet=True)),
    _spec(filter="evt.type=open", display_filter=True),
    _spec(limit=3),
    _spec(write=WriteSpec("x.scap")),
    _spec(chisels=[("topfiles_bytes", None)]),
])
def test_only_the_default_text_line_reaches_the_compiled_line(spec: CaptureSpec) -> None:
    assert not plan(spec).compiled_line


def test_compiled_filters_and_formats_reach_the_compiled_line() -> None:
    """A filter or -p format the C code runs (output/compiled.py) keeps the compiled line; one with a
    field only Python has (the pipeline's PY_FILTER / PY_FORMAT fact) rules it out, the whole of it."""
    flt, fmt = _spec(filter="evt.type=open"), _spec(output=OutputSpec(format="%evt.num"))
    assert plan(flt).compiled_line and plan(flt).compiled_filter and plan(fmt).compiled_line
    assert not plan(flt, Need.PY_FILTER).compiled_line and not plan(flt, Need.PY_FILTER).compiled_filter
    assert not plan(fmt, Need.PY_FORMAT).compiled_line
    assert not plan(flt, Need.NO_NATIVE).compiled_filter
    written = _spec(filter="evt.type=open", write=WriteSpec("x.scap"))
    assert plan(written).compiled_filter and not plan(written).compiled_line


def test_a_chisel_with_a_compiled_filter_keeps_the_silent_state() -> None:
    """Table chisels keep their state in C, with a command-line filter too when it compiled (the silent
    Core runs it); a filter only Python evaluates keeps every event in Python."""
    alone = _spec(chisels=[("topfiles_bytes", None)])
    assert plan(alone).compiled_chisels and not plan(alone).compiled_filter
    filtered = _spec(chisels=[("topfiles_bytes", None)], filter="evt.type=read")
    assert plan(filtered).compiled_filter and plan(filtered).compiled_chisels
    assert not plan(filtered, Need.PY_FILTER).compiled_filter
    assert not plan(filtered, Need.PY_FILTER).compiled_chisels
    shown = _spec(chisels=[("topfiles_bytes", None)], filter="evt.type=read", display_filter=True)
    assert not plan(shown).compiled_chisels  # (-d: every event parsed before the filter)
    assert not plan(_spec(chisels=[("topfiles_bytes", None)], suppress_comms=["x"])).compiled_chisels


def test_no_native_rules_out_every_c_path() -> None:
    for spec in (_spec(), _spec(write=WriteSpec("x.scap"), output=OutputSpec(quiet=True))):
        p = plan(spec, Need.NO_NATIVE)
        assert not (p.compiled_line or p.passthrough or p.tracer_fast_path)


def test_passthrough_only_for_plain_writes() -> None:
    assert plan(_spec(write=WriteSpec("x.scap"))).passthrough
    assert not plan(_spec(write=WriteSpec("x.scap", size_mb=1))).passthrough  # sections need the state
    assert not plan(_spec(write=WriteSpec("x.scap", fatfile=True), filter="proc.name=x")).passthrough
    assert not plan(_spec(write=WriteSpec("x.scap"), filter="proc.name=x")).passthrough


def test_display_filter_parses_everything() -> None:
    assert plan(_spec(filter="evt.type=read")).skip_unbuilt
    assert not plan(_spec(filter="evt.type=read", display_filter=True)).skip_unbuilt


def _with(spec: CaptureSpec, **changes: object) -> CaptureSpec:
    """A copy of ``spec`` with ``changes`` (what dataclasses.replace did)."""
    out = copy.copy(spec)
    for name, value in changes.items():
        setattr(out, name, value)
    return out


def test_live_strategies() -> None:
    live = CaptureSpec(trace=TraceSpec(command=["true"]))
    p = plan(live)
    assert p.pipelined and p.tracer_fast_path and p.pushdown
    assert not plan(live, Need.ONE_PROCESS).pipelined
    chisel = _with(live, chisels=[("topfiles_bytes", None)])
    assert not (plan(chisel).pipelined or plan(chisel).pushdown)
    packets = _with(live, packets=PacketSpec())
    assert not plan(packets).pushdown
    assert plan(packets).without(Need.PACKETS).pushdown  # no CAP_NET_RAW: syscalls only
    assert plan(packets).pipelined and plan(packets).tracer_fast_path  # the consumer merges the packets
    deadline = _with(live, duration_s=1)
    assert plan(deadline).pipelined and not plan(deadline).tracer_fast_path
    assert not plan(_with(live, write=WriteSpec("x.scap"))).pushdown
