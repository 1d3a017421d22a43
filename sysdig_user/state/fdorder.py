"""The iteration order of a libstdc++ ``std::unordered_map<int64_t, T>``, for sysdig's fd and thread tables.

sysdig walks libsinsp's ``sinsp_fdtable::m_table`` (an ``unordered_map<int64_t, sinsp_fdinfo_t>``) and
its thread table (``unordered_map<int64_t, threadinfo_map_t::ptr_t>``) in the map's own order: that is
the order ``sysdig.get_thread_table()`` fills its Lua tables in, so the order lsof/netstat print. This
module keeps the same order, as libstdc++ (GCC 12, Debian's sysdig 0.29.3 build; the rehash policy
lives in libstdc++.so) builds it (bits/hashtable.h, src/c++11/hashtable_c++0x.cc):

* ``std::hash<int64_t>`` is the identity; a key's bucket is ``(size_t)key % bucket_count``.
* All nodes sit on one singly linked list that iteration walks from its head
  (``_M_before_begin._M_nxt``); each bucket holds the node *before* its first node.
* A default-constructed map has 1 bucket and ``_M_next_resize`` 0. ``_M_insert_unique_node`` first
  asks ``_Prime_rehash_policy::_M_need_rehash(bkt, elt, 1)``: when ``elt + 1 > next_resize`` it wants
  ``min_bkts = max(elt + 1, next_resize ? 0 : 11) / 1.0`` buckets; if ``min_bkts >= bkt`` it rehashes
  to ``_M_next_bkt(max(floor(min_bkts) + 1, 2 * bkt))``, else it only sets ``next_resize = bkt``.
  ``_M_next_bkt(n)`` is ``__fast_bkt[n]`` for ``n < 14`` ({2,2,2,3,5,5,7,7,11,11,11,11,13,13}), else
  the first of ``__prime_list`` from index 6 (17) that is ``>= n``; either way ``next_resize`` becomes
  the new count. So the counts go 1, 13, 29, 59, 127, 257, 541, 1109, ...
* ``_M_insert_bucket_begin``: into a non-empty bucket, right after the bucket's "before" node (first
  of its bucket); into an empty bucket, at the head of the whole list (the bucket of the old head then
  points to the new node, the new bucket to before-begin).
* ``_M_rehash_aux`` (unique keys) walks the old list from the head and moves each node: to the head of
  the new list when its bucket is still empty there, else right after its bucket's before node.
* Erase unlinks (``_M_erase``/``_M_remove_bucket_begin`` fix the bucket pointers); buckets never
  shrink. A copy (constructor or assignment) keeps the order, the bucket count and the policy state
  (``_M_assign`` rebuilds the list in the source's order).

An insert of a key already present changes nothing (``emplace``/``operator[]`` find it). libsinsp
(libs e5c53d64, fdinfo.cpp/threadinfo.h/parsers.cpp) uses the maps so: ``sinsp_fdtable::add`` emplaces
a new fd and overwrites an fd already there in place (dup2 onto an open fd keeps its place); a close
erases; a forked child gets a copy of its parent's table (``tinfo.m_fdtable = *ptinfo->get_fd_table()``
in parse_clone_exit), threads share their main thread's; ``threadinfo_map_t::put`` is ``operator[]``,
``remove_thread`` erases. At open, the capture's process list and each process's fd list are inserted
in scap's list order (a repeated fd moves to the end of scap's list). ``OrderLog`` records those
operations cheaply and replays them into a ``HashOrder`` when the order is asked for.
"""
from __future__ import annotations

from _collections_abc import Iterator  # (collections.abc without collections)

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    from typing import Final

__all__ = ["HashOrder", "OrderLog", "next_bucket_count"]

# the node before the first one (_M_before_begin): a key no int64 can be
_BB: Final = 1 << 64
_MASK64: Final = (1 << 64) - 1

_FAST_BKT: Final = (2, 2, 2, 3, 5, 5, 7, 7, 11, 11, 11, 11, 13, 13)
# __prime_list (src/shared/hashtable-aux.cc) from index 6 on, as _M_next_bkt searches it, up to 2^32
_PRIMES: Final = (
    17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 103, 109, 113, 127,
    137, 139, 149, 157, 167, 179, 193, 199, 211, 227, 241, 257, 277, 293, 313, 337, 359, 383, 409, 439,
    467, 503, 541, 577, 619, 661, 709, 761, 823, 887, 953, 1031, 1109, 1193, 1289, 1381, 1493, 1613,
    1741, 1879, 2029, 2179, 2357, 2549, 2753, 2971, 3209, 3469, 3739, 4027, 4349, 4703, 5087, 5503,
    5953, 6427, 6949, 7517, 8123, 8783, 9497, 10273, 11113, 12011, 12983, 14033, 15173, 16411, 17749,
    19183, 20753, 22447, 24281, 26267, 28411, 30727, 33223, 35933, 38873, 42043, 45481, 49201, 53201,
    57557, 62233, 67307, 72817, 78779, 85229, 92203, 99733, 107897, 116731, 126271, 136607, 147793,
    159871, 172933, 187091, 202409, 218971, 236897, 256279, 277261, 299951, 324503, 351061, 379787,
    410857, 444487, 480881, 520241, 562841, 608903, 658753, 712697, 771049, 834181, 902483, 976369,
    1056323, 1142821, 1236397, 1337629, 1447153, 1565659, 1693859, 1832561, 1982627, 2144977, 2320627,
    2510653, 2716249, 2938679, 3179303, 3439651, 3721303, 4026031, 4355707, 4712381, 5098259, 5515729,
    5967347, 6456007, 6984629, 7556579, 8175383, 8844859, 9569143, 10352717, 11200489, 12117689,
    13109983, 14183539, 15345007, 16601593, 17961079, 19431899, 21023161, 22744717, 24607243,
    26622317, 28802401, 31160981, 33712729, 36473443, 39460231, 42691603, 46187573, 49969847,
    54061849, 58488943, 63278561, 68460391, 74066549, 80131819, 86693767, 93793069, 101473717,
    109783337, 118773397, 128499677, 139022417, 150406843, 162723577, 176048909, 190465427,
    206062531, 222936881, 241193053, 260944219, 282312799, 305431229, 330442829, 357502601,
    386778277, 418451333, 452718089, 489790921, 529899637, 573292817, 620239453, 671030513,
    725980837, 785430967, 849749479, 919334987, 994618837, 1076067617, 1164186217, 1259520799,
    1362662261, 1474249943, 1594975441, 1725587117, 1866894511, 2019773507, 2185171673, 2364114217,
    2557710269, 2767159799, 2993761039, 3238918481, 3504151727, 3791104843, 4101556399, 4294967291,
)


def next_bucket_count(n: int) -> int:
    """``_Prime_rehash_policy::_M_next_bkt(n)`` for ``n >= 1`` (also the next ``_M_next_resize``,
    max_load_factor being 1.0)."""
    if n < len(_FAST_BKT):
        return _FAST_BKT[n]
    import bisect  # (here: most runs never grow a table this far, nor load bisect)

    return _PRIMES[min(bisect.bisect_left(_PRIMES, n), len(_PRIMES) - 1)]


class HashOrder:
    """The node list and buckets of a libstdc++ unordered_map with int64 keys, without the values:
    ``insert``/``erase``/``copy`` as the map does them, iteration in the map's order. Lookups stay
    with the caller's own dict; this only answers "in which order"."""

    __slots__ = ("_buckets", "_count", "_nbkt", "_next", "_next_resize")

    def __init__(self) -> None:
        self._next: dict[int, int | None] = {_BB: None}  # key -> the key after it on the list
        self._buckets: list[int | None] = [None]  # bucket -> key of the node before its first node
        self._nbkt = 1
        self._next_resize = 0
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, key: int) -> bool:
        return key in self._next and key != _BB

    @property
    def bucket_count(self) -> int:
        return self._nbkt

    def insert(self, key: int) -> None:
        """``emplace``/``operator[]`` of a key: a key already there keeps its place."""
        nxt = self._next
        if key in nxt:
            return
        count = self._count
        if count + 1 > self._next_resize:  # _M_need_rehash(bkt, count, 1)
            min_bkts = max(count + 1, 0 if self._next_resize else 11)
            if min_bkts >= self._nbkt:
                self._rehash(max(min_bkts + 1, self._nbkt * 2))
            else:
                self._next_resize = self._nbkt
        buckets = self._buckets
        nbkt = self._nbkt
        bkt = (key & _MASK64) % nbkt
        before = buckets[bkt]
        if before is not None:
            nxt[key] = nxt[before]
            nxt[before] = key
        else:
            head = nxt[_BB]
            nxt[key] = head
            nxt[_BB] = key
            if head is not None:
                buckets[(head & _MASK64) % nbkt] = key
            buckets[bkt] = _BB
        self._count = count + 1

    def erase(self, key: int) -> None:
        """``erase(find(key))``; nothing for a key not there."""
        nxt = self._next
        if key not in nxt or key == _BB:
            return
        buckets = self._buckets
        nbkt = self._nbkt
        bkt = (key & _MASK64) % nbkt
        first_before = buckets[bkt]
        prev = first_before
        assert prev is not None
        while nxt[prev] != key:
            prev = nxt[prev]
            assert prev is not None
        after = nxt[key]
        if prev == first_before:  # _M_remove_bucket_begin
            next_bkt = (after & _MASK64) % nbkt if after is not None else 0
            if after is None or next_bkt != bkt:
                if after is not None:
                    buckets[next_bkt] = first_before
                buckets[bkt] = None
        elif after is not None:
            next_bkt = (after & _MASK64) % nbkt
            if next_bkt != bkt:
                buckets[next_bkt] = prev
        nxt[prev] = after
        del nxt[key]
        self._count -= 1

    def clear(self) -> None:
        """``clear()``: no node left; the bucket count and the policy stay."""
        self._next = {_BB: None}
        self._buckets = [None] * self._nbkt
        self._count = 0

    def copy(self) -> HashOrder:
        """A copy-constructed (or copy-assigned) map: same order, bucket count and policy state."""
        new = HashOrder.__new__(HashOrder)
        new._next = dict(self._next)
        new._buckets = list(self._buckets)
        new._nbkt = self._nbkt
        new._next_resize = self._next_resize
        new._count = self._count
        return new

    def __iter__(self) -> Iterator[int]:
        nxt = self._next
        key = nxt[_BB]
        while key is not None:
            yield key
            key = nxt[key]

    def _rehash(self, want: int) -> None:
        """``_M_next_bkt(want)`` then ``_M_rehash_aux(n, true_type)``."""
        n = next_bucket_count(want)
        self._next_resize = n
        nxt = self._next
        new: list[int | None] = [None] * n
        node = nxt[_BB]
        nxt[_BB] = None
        bbegin_bkt = 0
        while node is not None:
            following = nxt[node]
            bkt = (node & _MASK64) % n
            before = new[bkt]
            if before is None:
                nxt[node] = nxt[_BB]
                nxt[_BB] = node
                new[bkt] = _BB
                if nxt[node] is not None:
                    new[bbegin_bkt] = node
                bbegin_bkt = bkt
            else:
                nxt[node] = nxt[before]
                nxt[before] = node
            node = following
        self._buckets = new
        self._nbkt = n


# an erase in an OrderLog: the key plus this (keys are int64, so an insert is always below 2^63)
_ERASE: Final = 1 << 65
# ops an OrderLog keeps unfolded before it folds them into its HashOrder (bounds its memory)
_FOLD_AT: Final = 4096
# (the same two for the compiled FDL loader, sysdig_user/_sections.c's load_fds, which appends to ops itself)
ERASE: Final = _ERASE
FOLD_AT: Final = _FOLD_AT


class OrderLog:
    """A HashOrder kept lazily, so the reading path pays a list append per fd opened or closed: the
    owner reports each insert of a key it did not hold and each erase of a key it held, and the order
    is computed only when someone iterates (a chisel listing fds or threads), or every ``_FOLD_AT``
    operations (which bounds the memory of a long capture)."""

    __slots__ = ("_model", "ops")

    def __init__(self) -> None:
        self.ops: list[int] = []  # a key for an insert, key + _ERASE for an erase
        self._model: HashOrder | None = None

    def insert(self, key: int) -> None:
        self.ops.append(key)
        if len(self.ops) >= _FOLD_AT:
            self.fold()

    def erase(self, key: int) -> None:
        self.ops.append(key + _ERASE)
        if len(self.ops) >= _FOLD_AT:
            self.fold()

    def fold(self, cancel: bool = True) -> HashOrder:
        """Apply the recorded operations to the model and return it.

        `cancel`: skip an insert of a key immediately followed by its erase (an fd opened and closed
        before the next fd operation of its process, the commonest pair) when the pair leaves the map
        as it found it: the key is not in the map, and the insert would not touch the rehash policy
        (count + 1 <= next_resize: no rehash and no new next_resize). The insert then only links a
        node the erase unlinks, and the bucket pointers it moved are moved back (see HashOrder.erase),
        so the order, the buckets and the policy are those of the full replay
        (tests/state/test_fdorder.py checks both replays agree on random logs). False replays every
        operation.

        The log is emptied in place (``ops.clear()``), never replaced by a new list: _sections.c's
        load_fds holds ``ops`` across the folds it triggers and goes on appending to that list."""
        model = self._model
        if model is None:
            model = self._model = HashOrder()
        ops = self.ops
        if ops:
            insert, erase = model.insert, model.erase
            limit = _ERASE >> 1
            if not cancel:
                for op in ops:
                    if op >= limit:
                        erase(op - _ERASE)
                    else:
                        insert(op)
            else:
                nxt = model._next
                i, n = 0, len(ops)
                while i < n:
                    op = ops[i]
                    if op >= limit:
                        erase(op - _ERASE)
                    elif (i + 1 < n and ops[i + 1] == (gone := op + _ERASE) and op not in nxt
                          and model._count < model._next_resize):
                        # the pair cancels, and so does each copy of it right after (the map is as it
                        # was: the same test would pass), found by comparisons alone
                        i += 2
                        while i + 1 < n and ops[i] == op and ops[i + 1] == gone:
                            i += 2
                        continue
                    else:
                        insert(op)
                    i += 1
            ops.clear()
        return model

    def copy(self) -> OrderLog:
        """The log of a copy-constructed map (same order and bucket state from here on)."""
        new = OrderLog()
        new.ops = list(self.ops)
        new._model = self._model.copy() if self._model is not None else None
        return new

    def clear(self) -> None:
        """``clear()``: keys gone, bucket count kept."""
        self.fold().clear()

    def __iter__(self) -> Iterator[int]:
        return iter(list(self.fold()))
