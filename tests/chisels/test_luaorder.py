"""chisels/luaorder.py: LuaJIT's pairs() order for number, boolean and string keys, and its table.sort,
on hand-checked cases, then against Debian's libluajit-5.1 (what sysdig runs chisels in) through ctypes
(tests/chisels/luajit.py) on thousands of random cases with many ties."""
from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from sysdig_user.chisels.luaorder import LuaKey, lua_pairs_order, lua_sort, lua_table_order, pairs_top_by_val
from tests.chisels import luajit
from tests.support import oracles_required


def _tagged(keys: list[LuaKey]) -> list[tuple[str, LuaKey]]:
    """Keys compared with their Lua type (True is not 1) and as Lua holds them (numbers are doubles)."""
    return [(type(k).__name__, k) if isinstance(k, (bool, str)) else ("number", float(k)) for k in keys]


def test_sort_hand_cases() -> None:
    for items in ([], [1], [2, 1], [3, 1, 2], [5, 4, 3, 2, 1], list(range(20))[::-1]):
        got = list(items)
        lua_sort(got, lambda a, b: a < b)
        assert got == sorted(items)
    # not stable: Lua 5.1's quicksort moves equal elements (worked through auxsort by hand)
    pairs = [("a", 1), ("b", 1), ("c", 1)]
    lua_sort(pairs, lambda x, y: x[1] < y[1])
    assert [p[0] for p in pairs] == ["a", "b", "c"]
    pairs = [("a", 1), ("b", 1), ("c", 1), ("d", 1)]
    lua_sort(pairs, lambda x, y: x[1] < y[1])
    assert [p[0] for p in pairs] == ["a", "c", "b", "d"]


def test_sort_rejects_inconsistent_order() -> None:
    with pytest.raises(ValueError, match="invalid order function"):
        lua_sort(list(range(10)), lambda a, b: True)


def test_sort_is_a_sorted_permutation() -> None:
    rnd = random.Random(7)
    for _ in range(300):
        items = [(rnd.randrange(4), i) for i in range(rnd.randrange(60))]
        got = list(items)
        lua_sort(got, lambda a, b: b[0] < a[0])
        assert sorted(got) == sorted(items)
        assert [v for v, _ in got] == sorted((v for v, _ in items), reverse=True)


def test_table_order_numbers() -> None:
    # integer keys: the colleague's lua_rawseti model is the same table
    assert lua_table_order([5, 1, 2, 3]) == lua_pairs_order([5, 1, 2, 3])
    assert lua_table_order([1, 2, 3, 4]) == [1, 2, 3, 4]  # the array part
    assert lua_table_order([1.0, 2, 2.0, 1]) == [1.0, 2]  # 1.0 is the key 1
    assert lua_table_order([True, 1, False]) == lua_table_order([True, 1, False])
    assert sorted(map(str, lua_table_order([True, 1, False, 0.5]))) == ["0.5", "1", "False", "True"]


def test_table_order_strings_by_id() -> None:
    # a string lands at sid & hmask: with IDs 0..3 in a 4-node table, in insertion order
    assert lua_table_order(["d", "c", "b", "a"]) == ["d", "c", "b", "a"]
    # the same keys with other IDs land elsewhere
    assert lua_table_order(["d", "c", "b", "a"], {"d": 3, "c": 2, "b": 1, "a": 0}) == ["a", "b", "c", "d"]
    assert lua_table_order(["x", "x", "y"]) == ["x", "y"]


def test_pairs_top_by_val() -> None:
    table = {"a": 3.0, "b": 5.0, "c": 3.0, "d": 1.0}
    got = pairs_top_by_val(table, 2, lambda t, a, b: t[b] < t[a])
    assert got[0] == ("b", 5.0) and len(got) == 2 and got[1][1] == 3.0
    assert [v for _, v in pairs_top_by_val(table, 0, lambda t, a, b: t[b] < t[a])] == [5.0, 3.0, 3.0, 1.0]
    # the Lua iterator stops at a false key
    assert pairs_top_by_val({1: 1, False: 0}, 0, lambda t, a, b: t[b] < t[a]) == [(1, 1)]


@pytest.fixture(scope="module")
def lj() -> Iterator[luajit.LuaJIT]:
    state = luajit.load()
    if state is None:
        if oracles_required():
            pytest.fail(f"{luajit.LIB} is required (SDU_REQUIRE_ORACLES=1)")
        pytest.skip(f"{luajit.LIB} (sysdig's Lua) is not installed")
    try:
        yield state
    finally:
        state.close()


def _key(rnd: random.Random, kind: str) -> LuaKey:
    if kind == "str":  # file names, joined multi-field keys, "" and one-byte strings
        return rnd.choice(["/tmp/f", "python\x01\x011", "", "a", "x" * 40]) + "".join(
            rnd.choice("abc/._\x01") for _ in range(rnd.randrange(0, 10)))
    if kind == "small":  # fd numbers, cpus: the array part
        return rnd.randrange(-3, 70)
    if kind == "pid":
        return rnd.randrange(1, 4_000_000)
    if kind == "frac":
        return rnd.randrange(-100, 100) + 0.5
    if kind == "bool":
        return rnd.random() < 0.5
    return rnd.choice([2**31 + 5, -2**31, 2**40, 2**53 + 2, 1e300, -0.25, 2**32 - 1])


def _value(totals: dict[tuple[str, LuaKey], float], key: LuaKey) -> float:
    return totals[_tagged([key])[0]]


@pytest.mark.oracle
def test_order_and_sort_equal_luajit(lj: luajit.LuaJIT) -> None:
    """Keys go into ``{}`` in a random order, repeats included, values from a few choices so that
    many tie; pairs() must come out as the model places them given the IDs LuaJIT gave the strings,
    and table.sort by value (common.lua's ``t[b] < t[a]``) must leave the ties where lua_sort does."""
    rnd = random.Random(11)
    mixes = [["str"], ["str"], ["small"], ["pid"], ["small", "pid"], ["frac"], ["str", "bool"],
             ["str", "small", "pid", "frac", "bool", "odd"]]
    for _ in range(4000):
        kinds = rnd.choice(mixes)
        keys = [_key(rnd, rnd.choice(kinds)) for _ in range(rnd.choice([0, 1, 2, 3, 5, 9, 17, 40, 100, 300]))]
        values = [float(rnd.randrange(1, 4)) for _ in keys]
        res = lj.table(keys, values)
        assert _tagged(lua_table_order(keys, res.sids)) == _tagged(res.order), keys
        totals: dict[tuple[str, LuaKey], float] = {}
        for tag, value in zip(_tagged(keys), values):
            totals[tag] = totals.get(tag, 0.0) + value
        ranked = list(res.order)
        lua_sort(ranked, lambda a, b, t=totals: _value(t, b) < _value(t, a))  # type: ignore[misc]
        assert _tagged(ranked) == _tagged(res.ranked), res.order


@pytest.mark.oracle
def test_plain_sort_equals_luajit(lj: luajit.LuaJIT) -> None:
    rnd = random.Random(12)
    for _ in range(500):
        items: list[LuaKey] = [float(rnd.randrange(0, 6)) for _ in range(rnd.randrange(0, 80))]
        got = list(items)
        lua_sort(got, lambda a, b: a < b)  # type: ignore[operator]
        assert got == lj.sort(items)


@pytest.mark.oracle
def test_string_ids_are_random_per_state(lj: luajit.LuaJIT) -> None:
    """Why sysdig's order of string keys with equal values cannot be reproduced: every lua_State
    seeds its string IDs from the OS, so the same keys inserted the same way land differently."""
    keys: list[LuaKey] = [f"/tmp/file{i:02d}" for i in range(40)]
    seen = set()
    for _ in range(6):
        state = luajit.load()
        assert state is not None
        try:
            res = state.table(keys, [1.0] * len(keys))
        finally:
            state.close()
        assert _tagged(lua_table_order(keys, res.sids)) == _tagged(res.order)
        seen.add(tuple(res.order))
    assert len(seen) > 1
