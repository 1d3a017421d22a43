"""tracer/cuts.py's ``unfiltered``: a capture without a filter gets the settings pushdown's general rule
gives it (every event type possible), for the fields of every registered field class, alone and
together with others, and for the default line's fields."""
from __future__ import annotations

import itertools

import pytest

from sysdig_user.fields.registry import FIELDS
from sysdig_user.output.formatter import Formatter
from sysdig_user.output.options import DEFAULT_FORMAT
from tracer import cuts, pushdown


def _general(fields: set[str], everything: bool) -> cuts.Settings:
    p = pushdown.plan(None, fields, chisel=everything)
    return cuts.settings(p, pushdown.wanted_codes(p), fields, everything)


def _field_sets() -> list[set[str]]:
    names = sorted(FIELDS)
    default = {t.key for t in Formatter(DEFAULT_FORMAT).tokens}
    samples = ["evt.args", "evt.info", "fd.name", "proc.cwd", "proc.vmsize", "evt.arg.name", "evt.rawarg.res",
               "fd.dev", "thread.cwd", "evt.abspath", "proc.name"]
    pairs = [set(pair) for pair in itertools.combinations(samples, 2)]
    return [set(), default, *({name} for name in names), *pairs, set(names)]


@pytest.mark.parametrize("everything", [False, True])
def test_unfiltered_is_pushdowns_rule_without_a_filter(everything: bool) -> None:
    for fields in _field_sets():
        assert cuts.unfiltered(fields, everything) == _general(fields, everything), sorted(fields)


def test_for_capture_without_a_filter_is_unfiltered() -> None:
    fields = {t.key for t in Formatter(DEFAULT_FORMAT).tokens}
    assert pushdown.for_capture("", fields) == cuts.unfiltered(fields, False)
    assert pushdown.for_capture("", fields, everything=True) == cuts.unfiltered(fields, True)
    assert pushdown.for_capture("", fields, enabled=False) == cuts.FULL


def test_without_analysis_leaves_a_filter_to_pushdown() -> None:
    """The live capture's first question (tracer/live.py pushdown_settings): only a filter, with pushdown on,
    needs pushdown's tables."""
    fields = {t.key for t in Formatter(DEFAULT_FORMAT).tokens}
    assert cuts.without_analysis("evt.type=openat", fields, False, True) is None
    assert cuts.without_analysis("evt.type=openat", fields, False, False) == cuts.FULL
    assert cuts.without_analysis("", fields, True, True) == cuts.unfiltered(fields, True)
