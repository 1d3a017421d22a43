"""Filter fuzzing: generated and mutated filters are compiled as the CLI compiles them and, when they
compile, run over the events of a small capture; only sdu's own errors may come out.

The default run takes 10,200 filters (9,200 seeded generations and mutations, 1,000 Hypothesis examples);
``-m fuzz`` takes 10^5 with other seeds. A sample of the filters that compile also runs through the CLI
in-process on the same capture, the whole path from argv to output.
"""
from __future__ import annotations

import functools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from sysdig_user.event import Event
from tests.fuzz import filtergen
from tests.fuzz.harness import (
    cli_failure,
    filter_failure,
    run_capture,
    save_filter,
    scenario_capture,
    state_events,
)

SEEDED = 9_200
HYPOTHESIS = 1_000
LONG_SEEDED = 90_000
LONG_HYPOTHESIS = 10_000
CLI_EVERY = 60  # one filter in this many also runs through the CLI


@functools.cache
def _events() -> tuple[Event, ...]:
    return tuple(state_events())


def _run_seeded(seed: int, count: int, capture: Path) -> None:
    failures = []
    cli_runs = 0
    for i, text in enumerate(filtergen.seeded_filters(seed, count)):
        problem = filter_failure(text, _events())
        if problem is None and i % CLI_EVERY == 0:
            problem = cli_failure(run_capture(capture, flt=text))
            cli_runs += 1
        if problem is not None:
            save_filter(text)
            failures.append(problem)
    assert not failures, f"{len(failures)} of {count} filters failed; first ones:\n" + "\n".join(failures[:10])
    assert cli_runs >= count // CLI_EVERY // 2


@pytest.mark.slow  # (seconds: part of the default run, not of -m unit)
def test_seeded_filters(tmp_path: Path) -> None:
    _run_seeded(20261207, SEEDED, scenario_capture(tmp_path))


def _check(text: str) -> None:
    problem = filter_failure(text, _events())
    if problem is not None:
        save_filter(text)
    assert problem is None, problem


_SETTINGS: dict[str, object] = {"derandomize": True, "database": None, "deadline": None,
                                 "suppress_health_check": list(HealthCheck), "print_blob": False}


@pytest.mark.slow  # (seconds: part of the default run, not of -m unit)
@settings(max_examples=HYPOTHESIS, **_SETTINGS)  # type: ignore[arg-type]
@given(filtergen.filters)
def test_hypothesis_filters(text: str) -> None:
    _check(text)


@pytest.mark.fuzz
@pytest.mark.timeout(3600)
def test_seeded_filters_long(tmp_path: Path) -> None:
    _run_seeded(7, LONG_SEEDED, scenario_capture(tmp_path))


@pytest.mark.fuzz
@pytest.mark.timeout(3600)
@settings(max_examples=LONG_HYPOTHESIS, **_SETTINGS)  # type: ignore[arg-type]
@given(filtergen.filters.map(lambda s: s + " "))  # other examples than the default run's
def test_hypothesis_filters_long(text: str) -> None:
    _check(text)


def test_generators_reach_every_outcome() -> None:
    """The fuzz is not vacuous: its filters compile, fail to compile, match and do not match."""
    from sysdig_user.cli import compile_predicate
    from sysdig_user.errors import SduError
    outcomes = set()
    for text in filtergen.seeded_filters(1, 400):
        try:
            pred = compile_predicate(text)
        except SduError:
            outcomes.add("error")
            continue
        assert pred is not None
        try:
            outcomes.update("match" if pred(e) else "no match" for e in _events())
        except SduError:
            outcomes.add("runtime error")
    assert {"error", "match", "no match"} <= outcomes
