"""Parsed filters from sdu's cache (sysdig_user/filter/ast_cache.py): the same AST as a fresh parse, never
a stale or damaged one, at most CAPACITY filters kept."""
from __future__ import annotations

import importlib
import marshal
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from sysdig_user import cache
from sysdig_user.filter import ast_cache, grammar
from sysdig_user.filter.errors import FilterSyntaxError

parse = importlib.import_module("sysdig_user.filter.parse")  # (the package's `parse` is the function)

FILTERS = (
    "evt.type=openat",
    'proc.name in (bash, "a b", ) and not fd.name exists or evt.arg.fd > 3',
    "(evt.type=read or evt.type=write) and (fd.num>=0 and (proc.pid!=1)) not evt.dir=<",
    r'fd.name contains "\x41\"q" and proc.aname[2] pmatch (/tmp, /usr)',
    "evt.arg.name startswith /e and container.label.app=x and thread.cgroup.cpu glob '*'",
    "not (evt.type=a) and not (evt.type=b or evt.type=c)",
    "  evt.type  =  execve  ",
)


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """sdu's cache in a directory of the test's own, nothing of it loaded yet."""
    home = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.setattr(cache, "_looked", False)
    monkeypatch.setattr(cache, "_dir", None)
    monkeypatch.setattr(ast_cache, "_table", None)
    monkeypatch.setattr(ast_cache, "_key", None)
    yield home / "sdu" / ast_cache._ENTRY


def _next_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget what this process loaded, as a new run would."""
    monkeypatch.setattr(ast_cache, "_table", None)
    monkeypatch.setattr(ast_cache, "_key", None)


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts that reach the parser itself."""
    seen: list[str] = []
    real = parse.parse_text

    def counting(text: str) -> object:
        seen.append(text)
        return real(text)

    monkeypatch.setattr(parse, "parse_text", counting)
    return seen


@pytest.mark.parametrize("text", FILTERS)
def test_a_kept_filter_is_the_fresh_parse(text: str) -> None:
    flt = parse.parse_text(text)
    ops = ast_cache.encode(flt)
    assert ops is not None
    again = ast_cache.decode(text, flt.end_pos, ops)
    assert again == flt and again.checks() == flt.checks()
    assert [v.error for c in again.checks() for v in c.values] == [None for c in flt.checks() for v in c.values]


def test_a_second_run_does_not_parse(private_cache: Path, monkeypatch: pytest.MonkeyPatch,
                                     parses: list[str]) -> None:
    fresh = [parse.parse(text) for text in FILTERS]
    assert parses == list(FILTERS) and private_cache.exists()
    _next_run(monkeypatch)
    assert [parse.parse(text) for text in FILTERS] == fresh
    assert parses == list(FILTERS)  # none parsed again


def test_groups_nested_thousands_deep_are_kept(private_cache: Path, monkeypatch: pytest.MonkeyPatch,
                                               parses: list[str]) -> None:
    text = "(" * 2000 + "evt.type=open" + ")" * 2000
    fresh = parse.parse(text)
    _next_run(monkeypatch)
    again = parse.parse(text)  # (compared by their flat forms: == on the trees would recurse 6000 deep)
    assert parses == [text] and again.end_pos == fresh.end_pos
    assert ast_cache.encode(again) == ast_cache.encode(fresh) is not None


def test_errors_are_not_kept(private_cache: Path, monkeypatch: pytest.MonkeyPatch, parses: list[str]) -> None:
    """A syntax error is raised by the parser each time; a value with a bad escape keeps its error."""
    for _ in range(2):
        _next_run(monkeypatch)
        with pytest.raises(FilterSyntaxError):
            parse.parse("evt.type=open and")
    assert parses.count("evt.type=open and") == 2
    bad = parse.parse_text(r'fd.name="\xZZ"')
    assert bad.checks()[0].values[0].error is not None and ast_cache.encode(bad) is None


def test_another_grammar_makes_every_kept_filter_stale(private_cache: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch, parses: list[str]) -> None:
    parse.parse("evt.type=openat")
    edited = tmp_path / "filter.lark"
    shutil.copy(grammar.GRAMMAR, edited)
    with edited.open("a") as f:
        f.write("\n// an edit\n")
    monkeypatch.setattr(ast_cache, "_SOURCES", (str(edited), *ast_cache._SOURCES[1:]))
    _next_run(monkeypatch)
    assert ast_cache.lookup("evt.type=openat") is None
    parse.parse("evt.type=openat")
    assert parses == ["evt.type=openat", "evt.type=openat"]
    _next_run(monkeypatch)
    assert ast_cache.lookup("evt.type=openat") == parse.parse_text("evt.type=openat")  # kept for this grammar


@pytest.mark.parametrize("damage", [b"", b"\x00garbage", b"\xe9\x01\x00\x00\x00", None],
                         ids=["empty", "garbage", "cut", "wrong-shape"])
def test_a_damaged_entry_is_ignored(private_cache: Path, monkeypatch: pytest.MonkeyPatch, parses: list[str],
                                    damage: bytes | None) -> None:
    want = parse.parse("evt.type=openat")
    payload = marshal.dumps({"evt.type=openat": (15, ((9, "x"),))}) if damage is None else damage
    cache.store(ast_cache._ENTRY, ast_cache.version(), payload)
    _next_run(monkeypatch)
    assert parse.parse("evt.type=openat") == want
    assert parses == ["evt.type=openat", "evt.type=openat"]
    _next_run(monkeypatch)
    assert ast_cache.lookup("evt.type=openat") == want  # kept again over the damaged entry


def test_at_most_capacity_filters_are_kept(private_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [f"fd.num={n}" for n in range(ast_cache.CAPACITY + 10)]
    for text in texts:
        parse.parse(text)
    _next_run(monkeypatch)
    kept = ast_cache._load()
    assert list(kept) == texts[10:]  # the oldest added went first
    assert ast_cache.lookup(texts[0]) is None and ast_cache.lookup(texts[-1]) == parse.parse_text(texts[-1])


def test_a_long_filter_is_not_kept(private_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = " or ".join(f"fd.num={n}" for n in range(1000))
    assert len(text) > ast_cache.MAX_TEXT
    parse.parse(text)
    _next_run(monkeypatch)
    assert ast_cache._load() == {}
