"""The order in which sysdig's Lua chisels see table keys: LuaJIT 2.1's ``pairs()`` and ``table.sort``.

sysdig runs its chisels in Debian's LuaJIT (2.1.0~beta3+git20220320). Two things decide the order of
rows a chisel prints when it walks a table:

``pairs()`` walks a table's array part in index order, then its hash nodes in node order, skipping empty
ones (lj_tab.c ``lj_tab_next``). Where a key lands is LuaJIT's (src/lj_tab.c, lj_tab.h):

* A table has an array part (slots ``0 .. asize-1``, the key is the index) and a hash part of
  ``2^hbits`` nodes; ``{}`` and ``lua_newtable`` start with neither. A number key with an integer value
  below ``asize`` goes to the array (``lj_tab_setint``); any other key to the hash part at its main
  position ``hashkey(key) & hmask``: a number's is ``hashrot(lo, hi << 1)`` of its IEEE double halves
  (``hashnum``), a boolean's is 0 or 1, a string's is its *string ID* ``sid`` (``hashstr`` is
  ``hashmask(t, s->sid)`` in 2.1, not a hash of the characters).
* ``lj_tab_newkey``, when the main position is taken, takes the next free node searching down from
  ``freetop``: the new key goes there, chained after the main node, unless the main node's own key
  belongs elsewhere; then that key moves to the free node and the new key takes its main position.
* With no free node left ``rehashtab`` counts the integer keys by power-of-two ranges, picks the
  largest array size ``2^k + 1`` more than half full (``bestasize``), sizes the hash part for the rest
  (``hsize2hbits``) and reinserts: array slots above the new size, then the old hash nodes in node
  order; then the key is inserted again.

Keys are only ever added here (no deletion), so LuaJIT's rechaining of resurrected keys never applies.

String IDs (lj_str.c ``lj_str_alloc``): each newly interned string takes ``g->str.id++``, and with the
default ``LUAJIT_SECURITY_STRID=1`` (lj_arch.h) the counter is reseeded from the state's PRNG after a
random run of fewer than 256 strings; the PRNG is seeded from the OS (``lj_prng_seed_secure``:
getrandom or /dev/urandom) in ``lua_newstate``. So where string keys land, and the order sysdig prints
string-keyed rows with equal values, changes from one run of sysdig to the next: nothing can reproduce
it. ``lua_table_order`` takes the IDs as given; by default it numbers the strings 0, 1, 2, ... in order
of first appearance: a fixed stand-in, the order LuaJIT gives when the keys happen to get consecutive
IDs from a multiple of the table size (as one string key field's values can, between reseeds).

``table.sort`` is Lua 5.1's quicksort (lib_table.c ``auxsort``): median of three, the pivot parked at
``u-1``, the smaller half sorted recursively. It is not stable: equal elements end where it leaves
them, which depends on the order it was given (``lua_sort`` is a port).
"""
from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterable, Mapping, MutableSequence
from typing import Final, TypeVar

__all__ = ["LuaKey", "lua_pairs_order", "lua_sort", "lua_table_order", "pairs_top_by_val"]

LuaKey = int | float | bool | str
"""A table key as a chisel builds it: a number (an int for integer values), a boolean or a string."""

K = TypeVar("K", bound=LuaKey)
V = TypeVar("V")
T = TypeVar("T")

_M32: Final = 0xFFFFFFFF
_MAX_ASIZE: Final = (1 << 27) + 1  # LJ_MAX_ASIZE, LJ_MAX_ABITS 28
_EXACT: Final = 1 << 53
_DOUBLE = struct.Struct("<d")
_HALVES = struct.Struct("<II")


def _rol(x: int, n: int) -> int:
    return ((x << n) | (x >> (32 - n))) & _M32


def _hashnum(key: float) -> int:
    """hashnum: hashrot of the double's low word and its high word shifted left by one (x86-64)."""
    lo, hi = _HALVES.unpack(_DOUBLE.pack(float(key)))
    hi = (hi << 1) & _M32
    lo ^= hi
    hi = _rol(hi, 14)
    lo = (lo - hi) & _M32
    hi = _rol(hi, 5)
    hi ^= lo
    return (hi - _rol(lo, 13)) & _M32


def _fls(x: int) -> int:
    return x.bit_length() - 1


def _hsize2hbits(s: int) -> int:
    if s == 0:
        return 0
    return 1 if s == 1 else 1 + _fls(s - 1)


def _bin(k: int) -> int:
    return _fls(k - 1) if k > 2 else 0


def _normal(key: LuaKey) -> LuaKey:
    """The key as LuaJIT holds it: a number is a double, so an integral float is the integer and an
    integer beyond 2^53 the nearest double."""
    if isinstance(key, (bool, str)):
        return key
    if isinstance(key, int):
        return key if -_EXACT <= key <= _EXACT else float(key)
    if math.isnan(key):
        raise ValueError("table index is NaN")
    return int(key) if key.is_integer() and -_EXACT <= key <= _EXACT else key


def _same(a: LuaKey | None, b: LuaKey) -> bool:
    return a == b and (type(a) is bool) == (type(b) is bool) and (type(a) is str) == (type(b) is str)


def _is_index(key: LuaKey | None) -> bool:
    """countint: a number key with an integer value that the array part could hold."""
    return type(key) is int and 0 <= key < _MAX_ASIZE


class _LuaTable:
    """The array and hash parts of one LuaJIT table (values are not kept)."""

    def __init__(self, sid: Callable[[str], int]) -> None:
        self.sid = sid
        self.array: list[bool] = []  # slot i holds key i
        self.keys: list[LuaKey | None] = [None]  # hash nodes (the one-node nilnode when hmask is 0)
        self.next: list[int] = [-1]
        self.hmask = 0
        self.freetop = 0

    def _hash(self, key: LuaKey) -> int:
        """hashkey, before the mask."""
        if isinstance(key, str):
            return self.sid(key) & _M32
        if isinstance(key, bool):
            return int(key)
        return _hashnum(key)

    def set(self, key: LuaKey) -> None:
        """lj_tab_set / lj_tab_setint: the key must be _normal."""
        if type(key) is int and 0 <= key < len(self.array):
            self.array[key] = True
            return
        keys, nxt = self.keys, self.next
        n = self._hash(key) & self.hmask
        while n >= 0:  # already there?
            if _same(keys[n], key):
                return
            n = nxt[n]
        self._newkey(key)

    def _newkey(self, key: LuaKey) -> None:
        keys, nxt = self.keys, self.next
        n = self._hash(key) & self.hmask
        if keys[n] is not None or self.hmask == 0:
            free = self.freetop
            while True:
                if free == 0:
                    self._rehash(key)
                    self.set(key)
                    return
                free -= 1
                if keys[free] is None:
                    break
            self.freetop = free
            other = keys[n]
            assert other is not None
            collide = self._hash(other) & self.hmask
            if collide != n:  # the main node holds a key of another chain: move it out
                while nxt[collide] != n:
                    collide = nxt[collide]
                nxt[collide] = free
                keys[free] = other
                nxt[free] = nxt[n]
                nxt[n] = -1
            else:
                nxt[free] = nxt[n]
                nxt[n] = free
                n = free
        keys[n] = key

    def _rehash(self, extra: LuaKey) -> None:
        """rehashtab then lj_tab_resize."""
        bins = [0] * 32
        na = 0
        for i, used in enumerate(self.array):  # countarray
            if used:
                bins[_bin(i)] += 1
                na += 1
        total = 1 + na
        old_keys = [k for k in self.keys if k is not None] if self.hmask else []
        total += len(old_keys)
        for k in [*old_keys, extra]:  # counthash, countint
            if _is_index(k):
                assert isinstance(k, int)
                bins[_bin(k)] += 1
                na += 1
        # bestasize
        b = total_sum = in_array = size = 0
        while 2 * na > (1 << b) and total_sum != na:
            if bins[b] > 0:
                total_sum += bins[b]
                if 2 * total_sum > (1 << b):
                    size = (2 << b) + 1
                    in_array = total_sum
            b += 1
        total -= in_array
        hbits = _hsize2hbits(total)
        old_array = self.array
        if size > len(old_array):
            self.array = old_array + [False] * (size - len(old_array))
        if hbits:
            hsize = 1 << hbits
            self.keys, self.next, self.hmask, self.freetop = [None] * hsize, [-1] * hsize, hsize - 1, hsize
        else:
            self.keys, self.next, self.hmask, self.freetop = [None], [-1], 0, 0
        if size < len(old_array):
            self.array = old_array[:size]
            for i in range(size, len(old_array)):
                if old_array[i]:
                    self.set(i)
        for k in old_keys:
            self.set(k)

    def pairs(self) -> list[LuaKey]:
        out: list[LuaKey] = [i for i, used in enumerate(self.array) if used]
        if self.hmask:
            out.extend(k for k in self.keys if k is not None)
        return out


def lua_table_order(keys: Iterable[K], sids: Mapping[str, int] | None = None) -> list[K]:
    """The keys in the order ``pairs()`` returns them from a table made with ``{}`` (or
    ``lua_newtable``) that got them in this order (a repeated key changes nothing).

    A string key lands by its string ID: ``sids`` gives them (as read from a live LuaJIT); without it
    the strings are numbered 0, 1, 2, ... in order of first appearance (see the module's docstring:
    sysdig's own IDs are random). Each key comes back as first given (1.0 and 1 are one key)."""
    given: dict[tuple[type, LuaKey], K] = {}
    numbered: dict[str, int] = {}

    def sid(s: str) -> int:
        if sids is not None:
            return sids[s]
        return numbered.setdefault(s, len(numbered))

    table = _LuaTable(sid)
    for key in keys:
        norm = _normal(key)
        tag = (bool if isinstance(norm, bool) else str if isinstance(norm, str) else float, norm)
        if tag in given:
            continue
        given[tag] = key
        if isinstance(norm, str):
            sid(norm)
        table.set(norm)
    out = []
    for k in table.pairs():
        out.append(given[(bool if isinstance(k, bool) else str if isinstance(k, str) else float, k)])
    return out


def lua_pairs_order(keys: Iterable[int]) -> list[int]:
    """The keys (as uint32: sysdig's ``(uint32_t)`` cast) in the order ``pairs()`` returns them from a
    ``lua_newtable`` filled by ``lua_rawseti`` in this order. ``lua_rawseti`` takes an ``int``, so a
    key of 2^31 or more is a negative number to LuaJIT: it is placed as that."""
    signed = []
    for key in keys:
        k = key & _M32
        signed.append(k - (1 << 32) if k >= 1 << 31 else k)
    return [k & _M32 for k in lua_table_order(signed)]


def lua_sort(items: MutableSequence[T], lt: Callable[[T, T], bool]) -> None:
    """``table.sort(items, lt)`` in place, as LuaJIT's lib_table.c ``auxsort`` does it (Lua 5.1's
    quicksort), so that elements ``lt`` finds equal end in the same places. Raises ValueError where
    Lua raises "invalid order function for sorting"."""
    if len(items) < 2:
        return
    a = [items[0], *items]  # 1-based, as in C

    def swap(i: int, j: int) -> None:
        a[i], a[j] = a[j], a[i]

    def aux(lo: int, up: int) -> None:
        while lo < up:  # for tail recursion
            if lt(a[up], a[lo]):  # sort a[lo], a[(lo+up)/2] and a[up]
                swap(lo, up)
            if up - lo == 1:
                break
            i = (lo + up) // 2
            if lt(a[i], a[lo]):
                swap(i, lo)
            elif lt(a[up], a[i]):
                swap(i, up)
            if up - lo == 2:
                break
            pivot = a[i]
            swap(i, up - 1)
            i, j = lo, up - 1
            while True:  # invariant: a[lo..i] <= P <= a[j..up]
                i += 1
                while lt(a[i], pivot):
                    if i >= up:
                        raise ValueError("invalid order function for sorting")
                    i += 1
                j -= 1
                while lt(pivot, a[j]):
                    if j <= lo:
                        raise ValueError("invalid order function for sorting")
                    j -= 1
                if j < i:
                    break
                swap(i, j)
            swap(up - 1, i)
            if i - lo < up - i:  # the smaller half recursively, the larger one in the loop
                j, i, lo = lo, i - 1, i + 1
            else:
                j, i, up = i + 1, up, i - 1
            aux(j, i)

    aux(1, len(items))
    items[:] = a[1:]


def pairs_top_by_val(table: Mapping[K, V], num: int,
                     order: Callable[[Mapping[K, V], K, K], bool]) -> list[tuple[K, V]]:
    """common.lua ``pairs_top_by_val``: the keys in ``pairs()`` order (the mapping's order is the order
    the keys went into the Lua table), ``table.sort``-ed by ``order(t, a, b)``, the first ``num``
    (0: all), stopping early at a ``false`` key as the Lua iterator does."""
    keys = lua_table_order(table)
    lua_sort(keys, lambda a, b: order(table, a, b))
    out = []
    for i, k in enumerate(keys, 1):
        if (num and i > num) or k is False:
            break
        out.append((k, table[k]))
    return out
