"""cache.compiled: generated functions' code kept across runs, keyed by their whole source text."""
from __future__ import annotations

import builtins
from collections.abc import Iterator
from pathlib import Path

import pytest

from sysdig_user import cache


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """sdu's cache in a directory of the test's own, and no code held in memory yet (a new run)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "_looked", False)
    monkeypatch.setattr(cache, "_dir", None)
    monkeypatch.setattr(cache, "_codes", None)
    yield tmp_path / "cache" / "sdu"


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The sources that reach Python's compiler."""
    seen: list[str] = []
    real = builtins.compile

    def counting(source: str, filename: str, mode: str) -> object:
        seen.append(source)
        return real(source, filename, mode)

    monkeypatch.setattr(builtins, "compile", counting)
    return seen


def _run(code: object) -> object:
    names: dict[str, object] = {}
    exec(code, names)  # noqa: S102 - the test's own source
    return names["f"]


def _new_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "_codes", None)


def test_a_later_run_takes_the_code_without_compiling(private_cache: Path, compiles: list[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    src = "def f(x):\n    return x * 3 + 1\n"
    assert _run(cache.compiled(src, "<t>"))(2) == 7  # type: ignore[operator]
    assert compiles == [src] and (private_cache / cache._CODE_ENTRY).exists()
    _new_run(monkeypatch)
    code = cache.compiled(src, "<t>")
    assert compiles == [src]  # from the file
    assert _run(code)(5) == 16  # type: ignore[operator]
    assert code.co_filename == "<t>"


def test_the_whole_text_and_the_name_are_the_key(private_cache: Path, compiles: list[str]) -> None:
    one = "def f():\n    return 1\n"
    two = "def f():\n    return 2\n"
    assert _run(cache.compiled(one, "<a>"))() == 1  # type: ignore[operator]
    assert _run(cache.compiled(two, "<a>"))() == 2  # type: ignore[operator]
    assert cache.compiled(one, "<b>").co_filename == "<b>"
    assert len(compiles) == 3


def test_a_damaged_entry_is_compiled_again(private_cache: Path, compiles: list[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    src = "def f():\n    return 'ok'\n"
    cache.compiled(src, "<t>")
    path = private_cache / cache._CODE_ENTRY
    path.write_bytes(path.read_bytes()[:-20])
    _new_run(monkeypatch)
    assert _run(cache.compiled(src, "<t>"))() == "ok"  # type: ignore[operator]
    assert len(compiles) == 2
    path.write_bytes(cache._code_key() + b"\x00not marshal")
    _new_run(monkeypatch)
    assert _run(cache.compiled(src, "<t>"))() == "ok"  # type: ignore[operator]
    assert len(compiles) == 3


def test_the_entry_keeps_at_most_the_newest(private_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "_CODE_MAX", 4)
    for i in range(10):
        cache.compiled(f"def f():\n    return {i}\n", "<t>")
    assert cache._codes is not None and len(cache._codes) == 4
    assert [src for _name, src in cache._codes] == [f"def f():\n    return {i}\n" for i in range(6, 10)]


def test_without_a_cache_directory_it_still_compiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "_looked", True)
    monkeypatch.setattr(cache, "_dir", None)
    monkeypatch.setattr(cache, "_codes", None)
    assert _run(cache.compiled("def f():\n    return 9\n", "<t>"))() == 9  # type: ignore[operator]
