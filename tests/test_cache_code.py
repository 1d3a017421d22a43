"""cache.compiled: generated functions' code kept across runs, keyed by their whole source text."""
from __future__ import annotations

import builtins
import marshal
from collections.abc import Iterator
from pathlib import Path
from types import CodeType
from typing import Any

import pytest

from sysdig_user import cache


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """sdu's cache in a directory of the test's own, and no code held in memory yet (a new run)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "_looked", False)
    monkeypatch.setattr(cache, "_dir", None)
    monkeypatch.setattr(cache, "_codes", None)
    monkeypatch.setattr(cache, "_new", {})
    yield tmp_path / "cache" / "sdu"


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The sources that reach Python's compiler."""
    seen: list[str] = []
    real = builtins.compile

    def counting(source: str, filename: str, mode: str, *args: object, **kwargs: object) -> object:
        if filename.startswith("<") and isinstance(source, str):  # (not pytest's own use)
            seen.append(source)
        return real(source, filename, mode, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(builtins, "compile", counting)
    return seen


def _run(code: CodeType) -> Any:
    names: dict[str, Any] = {}
    exec(code, names)  # noqa: S102 - the test's own source
    return names["f"]


def _new_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """The run ends (its atexit flush) and another starts."""
    cache.flush()
    monkeypatch.setattr(cache, "_codes", None)


def test_a_later_run_takes_the_code_without_compiling(private_cache: Path, compiles: list[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    src = "def f(x):\n    return x * 3 + 1\n"
    assert _run(cache.compiled(src, "<t>"))(2) == 7
    assert compiles == [src] and not (private_cache / cache._CODE_ENTRY).exists()  # written at the end
    _new_run(monkeypatch)
    assert (private_cache / cache._CODE_ENTRY).exists()
    code = cache.compiled(src, "<t>")
    assert compiles == [src]  # from the file
    assert _run(code)(5) == 16
    assert code.co_filename == "<t>"


def test_the_whole_text_and_the_name_are_the_key(private_cache: Path, compiles: list[str]) -> None:
    one = "def f():\n    return 1\n"
    two = "def f():\n    return 2\n"
    assert _run(cache.compiled(one, "<a>"))() == 1
    assert _run(cache.compiled(two, "<a>"))() == 2
    assert cache.compiled(one, "<b>").co_filename == "<b>"
    assert len(compiles) == 3


def test_texts_of_one_crc_share_a_slot(private_cache: Path, compiles: list[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The slot's source is compared whole: another text of its filename and CRC compiles, and takes the
    slot."""
    monkeypatch.setattr(cache, "_slot", lambda source, filename: (filename, 0))
    one = "def f():\n    return 1\n"
    two = "def f():\n    return 2\n"
    assert _run(cache.compiled(one, "<a>"))() == 1
    _new_run(monkeypatch)
    assert _run(cache.compiled(two, "<a>"))() == 2
    assert _run(cache.compiled(one, "<a>"))() == 1
    assert len(compiles) == 3
    _new_run(monkeypatch)
    assert _stored() == [one]


def test_a_damaged_entry_is_compiled_again(private_cache: Path, compiles: list[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    src = "def f():\n    return 'ok'\n"
    path = private_cache / cache._CODE_ENTRY
    for damage in (lambda data: data[:-20], lambda data: cache._code_key() + b"\x00not marshal"):
        cache.compiled(src, "<t>")
        _new_run(monkeypatch)
        path.write_bytes(damage(path.read_bytes()))
        monkeypatch.setattr(cache, "_codes", None)
    assert _run(cache.compiled(src, "<t>"))() == "ok"
    assert len(compiles) == 3


def _stored() -> list[str]:
    return [marshal.loads(blob)[0] for blob in cache._stored_codes().values()]


def test_the_entry_keeps_the_most_recently_used(private_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "_CODE_MAX", 4)
    srcs = [f"def f():\n    return {i}\n" for i in range(10)]
    for src in srcs[:4]:
        cache.compiled(src, "<t>")
    _new_run(monkeypatch)
    assert _stored() == srcs[:4]
    cache.compiled(srcs[0], "<t>")  # used again: kept over 1, 2 and 3
    for src in srcs[4:7]:
        cache.compiled(src, "<t>")
    _new_run(monkeypatch)
    assert _stored() == [srcs[0], *srcs[4:7]]


def test_two_runs_writing_at_once_keep_both(private_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run's flush merges with what another run wrote after this one loaded the entry."""
    one, two = "def f():\n    return 'a'\n", "def f():\n    return 'b'\n"
    cache.compiled(one, "<t>")  # this run loads the (empty) entry ...
    cache._new, mine = {}, cache._new
    cache._codes = None
    cache.compiled(two, "<t>")  # ... another compiles and ends first
    cache.flush()
    cache._new = mine
    cache.flush()
    assert sorted(_stored()) == sorted([one, two])


def test_without_a_cache_directory_it_still_compiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "_looked", True)
    monkeypatch.setattr(cache, "_dir", None)
    monkeypatch.setattr(cache, "_codes", None)
    assert _run(cache.compiled("def f():\n    return 9\n", "<t>"))() == 9
