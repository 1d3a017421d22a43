"""The order ``pairs()`` visits integer keys of a LuaJIT 2.1 table filled by ``lua_rawseti``.

sysdig's ``get_thread_table`` (chisel_api.cpp) builds its tables with ``lua_newtable`` and one
``lua_rawseti(ls, -2, (uint32_t)key)`` per thread and per fd, in the order the thread and fd
tables iterate (state/fdorder.py), and lsof.lua/netstat.lua walk them with ``pairs()``. Which slot a
key lands in, and so the order ``pairs`` sees, is LuaJIT's (src/lj_tab.c, lj_tab.h):

* A table has an array part (slots ``0 .. asize-1``, the key is the index) and a hash part of
  ``2^hbits`` nodes; ``lua_newtable`` starts with neither. ``pairs`` walks the array part in index
  order, then the hash nodes in node order, skipping empty ones.
* An integer key below ``asize`` goes to the array; any other to the hash part at its main position
  ``hashrot(lo, hi << 1) & hmask`` (lo/hi: the halves of the key's IEEE double). ``lj_tab_newkey``,
  when the main position is taken, takes the next free node searching down from ``freetop``: the
  new key goes there, chained after the main node, unless the main node's own key belongs elsewhere;
  then that key moves to the free node and the new key takes its main position (Brent's variation).
* With no free node left ``rehashtab`` counts the integer keys by power-of-two ranges, picks the
  largest array size ``2^k + 1`` more than half full (``bestasize``), sizes the hash part for the rest
  (``hsize2hbits``) and reinserts: array slots above the new size, then the old hash nodes in node
  order; then the key is inserted again.

Keys are only ever added here (no deletion), so LuaJIT's rechaining of resurrected keys never applies.
"""
from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Final

__all__ = ["lua_pairs_order"]

_M32: Final = 0xFFFFFFFF
_MAX_ASIZE: Final = (1 << 27) + 1  # LJ_MAX_ASIZE, LJ_MAX_ABITS 28
_DOUBLE = struct.Struct("<d")
_HALVES = struct.Struct("<II")


def _rol(x: int, n: int) -> int:
    return ((x << n) | (x >> (32 - n))) & _M32


def _hashnum(key: int) -> int:
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


class _LuaTable:
    """The array and hash parts of one LuaJIT table holding integer keys (values are not kept)."""

    def __init__(self) -> None:
        self.array: list[bool] = []  # slot i holds key i
        self.keys: list[int | None] = [None]  # hash nodes (the one-node nilnode when hmask is 0)
        self.next: list[int] = [-1]
        self.hmask = 0
        self.freetop = 0

    def set(self, key: int) -> None:
        """lj_tab_setint."""
        if 0 <= key < len(self.array):
            self.array[key] = True
            return
        mask = self.hmask
        keys, nxt = self.keys, self.next
        n = _hashnum(key) & mask
        while n >= 0:  # lj_tab_setinth: already there?
            if keys[n] == key:
                return
            n = nxt[n]
        self._newkey(key)

    def _newkey(self, key: int) -> None:
        keys, nxt = self.keys, self.next
        n = _hashnum(key) & self.hmask
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
            collide = _hashnum(other) & self.hmask
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

    def _rehash(self, extra: int) -> None:
        """rehashtab then lj_tab_resize."""
        bins = [0] * 32
        na = 0
        for i, used in enumerate(self.array):
            if used:
                bins[_bin(i)] += 1
                na += 1
        total = 1 + na
        old_keys = [k for k in self.keys if k is not None] if self.hmask else []
        total += len(old_keys)
        for k in [*old_keys, extra]:
            if 0 <= k < _MAX_ASIZE:
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

    def pairs(self) -> list[int]:
        out = [i for i, used in enumerate(self.array) if used]
        if self.hmask:
            out.extend(k for k in self.keys if k is not None)
        return out


def lua_pairs_order(keys: Iterable[int]) -> list[int]:
    """The keys (as uint32: sysdig's ``(uint32_t)`` cast) in the order ``pairs()`` returns them from a
    ``lua_newtable`` filled by ``lua_rawseti`` in this order. ``lua_rawseti`` takes an ``int``, so a
    key of 2^31 or more is a negative number to LuaJIT: it is placed as that."""
    table = _LuaTable()
    for key in keys:
        k = key & _M32
        table.set(k - (1 << 32) if k >= 1 << 31 else k)
    return [k & _M32 for k in table.pairs()]
