"""The regression corpus: every fuzz input that ever failed (tests/fuzz/corpus/, written by the fuzz tests
with SDU_FUZZ_SAVE=1), replayed through the CLI in-process on every run.

filters/*.json hold a filter each, run on a small capture; captures/*.scap hold a damaged capture each, with
the argv it failed with (a -p line, or nothing) in the .args file beside it.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.harness import (
    cli_failure,
    filter_failure,
    load_captures,
    load_filters,
    run_capture,
    scenario_capture,
    state_events,
)

FILTERS = load_filters()
CAPTURES = load_captures()


def test_corpus_is_there() -> None:
    assert len(FILTERS) >= 1 and len(CAPTURES) >= 1


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scenario_capture(tmp_path_factory.mktemp("corpus"))


@pytest.mark.parametrize(("name", "text"), FILTERS, ids=[n for n, _ in FILTERS])
def test_corpus_filter(name: str, text: str, capture: Path) -> None:
    assert filter_failure(text, state_events()) is None
    problem = cli_failure(run_capture(capture, flt=text))
    assert problem is None, problem


@pytest.mark.parametrize(("name", "path", "args"), CAPTURES, ids=[n for n, _, _ in CAPTURES])
def test_corpus_capture(name: str, path: Path, args: list[str]) -> None:
    problem = cli_failure(run_capture(path, args))
    assert problem is None, problem
