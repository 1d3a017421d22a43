"""The regression corpus: every fuzz input that ever failed (tests/fuzz/corpus/, written by the fuzz tests
with SDU_FUZZ_SAVE=1), replayed through the CLI in-process on every run.

filters/*.json hold a filter each, run on a small capture; captures/*.scap hold a damaged capture each, with
the argv it failed with (a -p line, or nothing) in the .args file beside it.
"""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from sysdig_user.scap.writer import ScapWriter
from tests.fuzz.harness import (
    cli_failure,
    filter_failure,
    load_captures,
    load_filters,
    run_capture,
    state_events,
)
from tests.state import scenario

FILTERS = load_filters()
CAPTURES = load_captures()


def test_corpus_is_there() -> None:
    assert len(FILTERS) >= 1 and len(CAPTURES) >= 1


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    buf = io.BytesIO()
    w = ScapWriter(buf)
    w.write_section(interfaces=scenario.INTERFACES, procs=scenario.PROCS, fds=scenario.FDS)
    for evt in scenario.events():
        w.write_event(evt.cpu, evt.dump_flags, evt.raw)
    w.close()
    path = tmp_path_factory.mktemp("corpus") / "scenario.scap"
    path.write_bytes(buf.getvalue())
    return path


@pytest.mark.parametrize(("name", "text"), FILTERS, ids=[n for n, _ in FILTERS])
def test_corpus_filter(name: str, text: str, capture: Path) -> None:
    assert filter_failure(text, state_events()) is None
    problem = cli_failure(run_capture(capture, flt=text))
    assert problem is None, problem


@pytest.mark.parametrize(("name", "path", "args"), CAPTURES, ids=[n for n, _, _ in CAPTURES])
def test_corpus_capture(name: str, path: Path, args: list[str]) -> None:
    problem = cli_failure(run_capture(path, args))
    assert problem is None, problem
