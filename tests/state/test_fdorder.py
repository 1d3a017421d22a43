"""The order models behind lsof/netstat: libstdc++'s unordered_map (state/fdorder.py) and LuaJIT's
table walk (chisels/luaorder.py), on hand-checked sequences, then against the real thing when it is
at hand: an unordered_map<int64_t, int> compiled with g++ and Debian's libluajit through ctypes."""
from __future__ import annotations

import ctypes
import ctypes.util
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from sysdig_user.chisels.luaorder import lua_pairs_order
from sysdig_user.state.fdorder import HashOrder, OrderLog, next_bucket_count
from sysdig_user.state.fds import FdInfo, FdTable, FdType


def _order(*ops: tuple[str, int]) -> HashOrder:
    h = HashOrder()
    for op, key in ops:
        (h.insert if op == "i" else h.erase)(key)
    return h


def _ins(*keys: int) -> list[tuple[str, int]]:
    return [("i", k) for k in keys]


# --------------------------------------------------------------------------------- libstdc++ model

def test_growth_follows_the_prime_rehash_policy() -> None:
    # 1 bucket until the first insert, then 13 (the 11 minimum through __fast_bkt), then doubling
    # to the next prime of __prime_list each time the element count passes the bucket count
    assert HashOrder().bucket_count == 1
    counts = []
    h = HashOrder()
    for k in range(1200):
        h.insert(k)
        if not counts or counts[-1] != h.bucket_count:
            counts.append(h.bucket_count)
    assert counts == [13, 29, 59, 127, 257, 541, 1109, 2357]
    assert [next_bucket_count(n) for n in (1, 2, 3, 4, 12, 13, 14, 17, 18, 26, 118)] == \
        [2, 2, 3, 5, 13, 13, 17, 17, 19, 29, 127]


def test_a_key_into_an_empty_bucket_goes_to_the_head() -> None:
    assert list(_order(*_ins(0, 1, 2))) == [2, 1, 0]
    assert list(_order(*_ins(0, 1, 2, 255))) == [255, 2, 1, 0]  # bash's 255: bucket 8 of 13


def test_a_key_into_a_used_bucket_goes_first_in_that_bucket() -> None:
    # 13 and 26 share bucket 0 with 0; each goes right after the node before the bucket (1)
    assert list(_order(*_ins(0, 1, 2, 13, 26))) == [2, 1, 26, 13, 0]


def test_a_rehash_reverses_the_runs_of_fresh_buckets() -> None:
    assert list(_order(*_ins(*range(13)))) == list(range(12, -1, -1))
    # the 14th key rehashes to 29 buckets first: the list walked from its head, each node to the head
    assert list(_order(*_ins(*range(14)))) == [13, *range(13)]
    assert list(_order(*_ins(*range(30)))) == [29, *range(12, -1, -1), *range(13, 29)]


def test_erase_unlinks_and_an_overwrite_keeps_the_place() -> None:
    ops = [*_ins(*range(16)), ("e", 3), ("e", 0), ("i", 100), ("i", 29), ("i", 14), ("e", 77)]
    h = _order(*ops)
    assert list(h) == [29, 15, 14, 100, 13, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    copy = h.copy()
    copy.insert(58)  # the copy keeps order and buckets: 58 joins 29's bucket
    assert list(copy) == [58, *h]
    assert len(h) == 16 and 58 not in h


def test_the_log_folds_to_the_same_order() -> None:
    rnd = random.Random(7)
    log, model = OrderLog(), HashOrder()
    present: set[int] = set()
    for _ in range(10000):
        k = rnd.randrange(300)
        if k in present and rnd.random() < 0.5:
            log.erase(k)
            model.erase(k)
            present.discard(k)
        elif k not in present:
            log.insert(k)
            model.insert(k)
            present.add(k)
        if rnd.random() < 0.001:
            log = log.copy()
            model = model.copy()
    assert list(log) == list(model)


def _state(h: HashOrder) -> tuple[list[int], list[int | None], int, int, int]:
    return list(h), list(h._buckets), h.bucket_count, h._next_resize, len(h)


@pytest.mark.parametrize("seed", range(12))
def test_fold_skipping_cancelled_pairs_equals_the_full_replay(seed: int) -> None:
    """Random logs, rich in open-then-close pairs, some of them nested, with stray erases and repeated
    inserts (keys the map does not or already holds): folded with and without skipping the pairs
    that cancel, at random points, the two maps agree on order, buckets and rehash policy."""
    rnd = random.Random(seed)
    space = rnd.choice([8, 40, 300, 5000])
    plain, fast = OrderLog(), OrderLog()
    present: set[int] = set()
    for _ in range(rnd.choice([50, 500, 4000])):
        r = rnd.random()
        k = rnd.randrange(-3, space)
        if r < 0.45:  # an fd opened and closed at once, perhaps around another pair
            ks = [k] if rnd.random() < 0.8 else [k, rnd.randrange(-3, space)]
            ops = [(OrderLog.insert, x) for x in ks] + [(OrderLog.erase, x) for x in reversed(ks)]
        elif r < 0.75:
            ops = [(OrderLog.insert, k)]
        elif r < 0.97:
            ops = [(OrderLog.erase, rnd.choice(sorted(present)) if present and rnd.random() < 0.9 else k)]
        else:
            ops = []
            plain, fast = plain.copy(), fast.copy()
        for op, key in ops:
            op(plain, key)
            op(fast, key)
            (present.add if op is OrderLog.insert else present.discard)(key)
        if rnd.random() < 0.02:
            assert _state(plain.fold(cancel=False)) == _state(fast.fold())
    assert _state(plain.fold(cancel=False)) == _state(fast.fold())


class _Counting(HashOrder):
    __slots__ = ("inserted",)

    def __init__(self) -> None:
        super().__init__()
        self.inserted: list[int] = []

    def insert(self, key: int) -> None:
        self.inserted.append(key)
        super().insert(key)


def test_fold_skips_a_cancelled_pair_only_where_it_cancels() -> None:
    log = OrderLog()
    model = log._model = _Counting()
    log.insert(5)
    log.erase(5)  # a fresh map: the insert would set the rehash policy, the pair is replayed
    for k in range(20):
        log.insert(k)
    log.fold()  # 29 buckets, room up to 29 keys
    assert model.inserted == [5, *range(20)]
    del model.inserted[:]
    log.insert(40)
    log.erase(40)  # cancels
    log.insert(3)
    log.erase(3)  # 3 is there already: the insert is a no-op, the erase is not
    log.insert(41)
    log.fold()
    assert model.inserted == [3, 41]
    assert 3 not in model and 40 not in model and 41 in model


def test_fd_table_lists_fds_as_sysdig() -> None:
    t = FdTable()
    for fd in (0, 1, 2, 255, 3, 16):
        t.add(FdInfo(fd, FdType.FILE, f"/f{fd}"))
    t.add(FdInfo(3, FdType.FILE, "/again"))  # an overwrite (dup2 onto an open fd) keeps the place
    t.remove(1)
    child = t.copy()
    t.remove(16)
    assert [fd for fd, _ in t.in_sysdig_order()] == [3, 255, 2, 0]
    # 16 shares bucket 3 with 3 and went first in it
    assert [(fd, i.name) for fd, i in child.in_sysdig_order()] == \
        [(16, "/f16"), (3, "/again"), (255, "/f255"), (2, "/f2"), (0, "/f0")]
    # a repeated fd in a capture's fd list moves to the end of scap's list
    fdl = FdTable()
    for fd in (0, 1, 2, 0):
        fdl.load(FdInfo(fd, FdType.FILE))
    assert [fd for fd, _ in fdl.in_sysdig_order()] == [0, 2, 1]


# --------------------------------------------------------------------------------- LuaJIT model

def test_lua_pairs_order_hand_checked() -> None:
    # few keys: all in the hash part, in node order
    assert lua_pairs_order([0, 1, 2, 255, 3]) == [0, 1, 2, 255, 3]
    # dense small keys end in the array part (slot 0 included), in index order
    assert lua_pairs_order([5, 4, 3, 2, 1, 0, 7, 6]) == [0, 1, 2, 3, 4, 5, 6, 7]
    assert lua_pairs_order([]) == []


# ------------------------------------------------------------------------- against the real ones

PROBE = r"""
#include <cstdint>
#include <iostream>
#include <string>
#include <unordered_map>
int main() {
  std::unordered_map<int64_t, int> m; std::string op; int64_t k;
  while (std::cin >> op) {
    if (op == "i") { std::cin >> k; m.emplace(k, 0); }
    else if (op == "e") { std::cin >> k; auto it = m.find(k); if (it != m.end()) m.erase(it); }
    else if (op == "c") { std::unordered_map<int64_t, int> n(m); m.swap(n); }
    else if (op == "p") { for (auto& kv : m) std::cout << kv.first << ' '; std::cout << "| " << m.bucket_count() << "\n"; }
  }
}
"""


@pytest.mark.oracle
def test_hash_order_equals_libstdcxx(tmp_path: Path) -> None:
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("g++ is not installed (the model is checked against a compiled unordered_map)")
    src, exe = tmp_path / "probe.cpp", tmp_path / "probe"
    src.write_text(PROBE)
    subprocess.run([gxx, "-O1", "-o", str(exe), str(src)], check=True, timeout=120)
    rnd = random.Random(1)
    for _ in range(60):
        h = HashOrder()
        ops: list[str] = []
        space = rnd.choice([20, 300, 3000])
        for _ in range(rnd.randrange(10, 800)):
            r = rnd.random()
            k = rnd.randrange(space) if rnd.random() < 0.95 else rnd.choice([-1, 2**40 + 3, 2**63 - 1])
            if r < 0.6:
                ops.append(f"i {k}")
                h.insert(k)
            elif r < 0.97:
                ops.append(f"e {k}")
                h.erase(k)
            else:
                ops.append("c")
                h = h.copy()
        ops.append("p")
        res = subprocess.run([str(exe)], input="\n".join(ops) + "\n", capture_output=True, text=True,
                             check=True, timeout=60)
        assert res.stdout.split() == [*map(str, h), "|", str(h.bucket_count)], ops


def _luajit() -> ctypes.CDLL:
    name = ctypes.util.find_library("luajit-5.1") or "libluajit-5.1.so.2"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        pytest.skip("libluajit-5.1 (sysdig's Lua) is not installed")
    lib.luaL_newstate.restype = ctypes.c_void_p
    lib.lua_createtable.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.lua_pushnumber.argtypes = [ctypes.c_void_p, ctypes.c_double]
    lib.lua_rawseti.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.lua_next.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.lua_settop.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.lua_pushnil.argtypes = [ctypes.c_void_p]
    lib.lua_tonumber.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.lua_tonumber.restype = ctypes.c_double
    lib.lua_close.argtypes = [ctypes.c_void_p]
    return lib


@pytest.mark.oracle
def test_lua_pairs_order_equals_luajit() -> None:
    """What sysdig's get_thread_table does (lua_newtable, lua_rawseti per key), then lua_next."""
    lj = _luajit()
    state = lj.luaL_newstate()
    rnd = random.Random(3)
    try:
        for _ in range(3000):
            n = rnd.randrange(0, 120)
            space = max(n, rnd.choice([8, 40, 300, 70000, 5000000]))
            keys = rnd.sample(range(space), n)
            lj.lua_settop(state, 0)
            lj.lua_createtable(state, 0, 0)
            for k in keys:
                lj.lua_pushnumber(state, 1.0)
                lj.lua_rawseti(state, -2, k)
            walked = []
            lj.lua_pushnil(state)
            while lj.lua_next(state, 1):
                walked.append(int(lj.lua_tonumber(state, -2)))
                lj.lua_settop(state, -2)
            assert lua_pairs_order(keys) == walked, keys
    finally:
        lj.lua_close(state)
