"""sdu's own modules served from one cache entry (sysdig_user/cache.py), not found and loaded one by one.

Each module a run imports costs Python's import system ~0.25M instructions before its code runs (callgrind,
an empty package ``__init__``): the path finder stats and lists its directory and tries five suffixes,
the loader stats the source, opens and checks the .pyc and reads it. A short run imports some 60 of
sdu's modules, so this was ~15% of ``sdu -r`` of a small capture. The console (sysdig_user/entry.py)
puts a finder on ``sys.meta_path`` (before Python's own finders) that knows where each module sdu's runs have imported lives
and holds its code: one stat (the same mtime and size check as a .pyc's), then the code.

The entry is a table, then the code of its modules one after the other (read as a memoryview: no copy
of it is made, and a module's code is decoded only when the module is imported). The table maps each
module name of sdu's packages (PACKAGES) to (path, mtime_ns, size, kind, .pyc path, where its code
starts, its length): kind MODULE or PACKAGE, or EXTENSION (a C extension, loaded by Python's own loader
from the path; no code kept). A module that is not in it, or whose file
changed, is left to Python's finders and noted; at the end of the run (``remember``) the noted ones
are added from what Python loaded (the code of the .pyc it checked, else compiled from the source),
so the entry grows to the modules sdu's runs use and a changed file is never served stale.
"""
from __future__ import annotations

import _imp  # (built in)
import marshal  # (built in)
import os
import sys
from binascii import crc32  # (cache.py's: loaded already)

from sysdig_user import cache

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any

PACKAGES = ("sysdig_user", "tracer", "netcap")
MODULE, PACKAGE, EXTENSION = 0, 1, 2
# The directory sdu's packages were found in (a checkout, or site-packages): an entry per directory, named
# after it and keyed with it, so that two checkouts sharing the user's cache (a user's install and their
# working tree, CI clones) never serve each other's modules, whose files check as current where they are.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ROOT_CRC = crc32(ROOT.encode("utf-8", "surrogateescape")) & 0xFFFFFFFF
_ENTRY = f"modules-{sys.implementation.cache_tag}-{_ROOT_CRC:08x}.marshal"  # (two Pythons on one tree: one each)
_bootstrap: Any = sys.modules["_frozen_importlib"]  # (importlib._bootstrap, loaded by every Python)
_external: Any = sys.modules["_frozen_importlib_external"]

Row = tuple  # (path, mtime_ns, size, kind, pyc path, start, length)
_LENGTH = 8  # the table's length, before it


def _key() -> bytes:
    return cache.key(b"module code 2", b"%d" % sys.flags.optimize, ROOT.encode("utf-8", "surrogateescape"))


def entry_name() -> str:
    """The cache entry's file name (in cache.directory()) for this directory's sdu."""
    return _ENTRY


class ModuleCode:
    """The meta path finder and the loader of the modules in the entry (``table``)."""

    def __init__(self, table: dict[str, Row], code: memoryview | bytes = b"") -> None:
        self.table = table
        self.code = code
        self.missed: set[str] = set()  # sdu's modules that Python's finders had to find this run

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        row = self.table.get(name)
        if row is None:
            if name.partition(".")[0] in PACKAGES:
                self.missed.add(name)
            return None
        origin, mtime, size, kind, pyc = row[:5]
        try:
            st = os.stat(origin)
        except OSError:
            st = None
        if st is None or st.st_mtime_ns != mtime or st.st_size != size:
            self.missed.add(name)
            return None
        loader = _external.ExtensionFileLoader(name, origin) if kind == EXTENSION else self
        spec = _bootstrap.ModuleSpec(name, loader, origin=origin, is_package=kind == PACKAGE)
        spec.has_location = True
        spec.cached = pyc
        if kind == PACKAGE:
            spec.submodule_search_locations = [os.path.dirname(origin)]
        return spec

    def create_module(self, spec: Any) -> None:
        return None  # (Python's own module object)

    def exec_module(self, module: ModuleType) -> None:
        exec(self.get_code(module.__name__), module.__dict__)  # noqa: S102 - sdu's own code

    def get_code(self, name: str) -> Any:
        start, length = self.table[name][5:]
        return marshal.loads(self.code[start:start + length])

    def code_of(self, name: str) -> bytes:
        start, length = self.table[name][5:]
        return bytes(self.code[start:start + length])

    def get_source(self, name: str) -> str:
        with open(self.table[name][0], encoding="utf-8") as f:
            return f.read()

    def is_package(self, name: str) -> bool:
        return bool(self.table[name][3] == PACKAGE)


_finder: ModuleCode | None = None


def install() -> None:
    """Serve sdu's modules from the entry from now on (once; nothing without a cache directory)."""
    global _finder
    if _finder is not None or cache.directory() is None:
        return
    _finder = _load()
    # after the last finder that is not Python's own (a test's hook, a package's import hook: they keep their
    # turn) and before Python's (none of which has sdu's modules but its path finder, which is slow to ask)
    meta_path = sys.meta_path
    own = (_bootstrap.BuiltinImporter, _bootstrap.FrozenImporter, _external.PathFinder)
    where = max((i + 1 for i, finder in enumerate(meta_path) if finder not in own), default=0)
    meta_path.insert(where, _finder)


def _load() -> ModuleCode:
    """The entry's finder; an empty one when there is none (or it is stale or damaged)."""
    data = cache.load_view(_ENTRY, _key())
    if data is not None and len(data) >= _LENGTH:
        length = int.from_bytes(data[:_LENGTH], "little")
        table = cache.loads(data[_LENGTH:_LENGTH + length], dict)
        code = data[_LENGTH + length:]
        if table is not None and all(type(row) is tuple and len(row) == 7 and row[5] + row[6] <= len(code)
                                     for row in table.values()):
            return ModuleCode(table, code)
    return ModuleCode({})


def remember() -> None:
    """Add to the entry the modules of sdu's packages this run imported through Python's own finders."""
    finder = _finder
    if finder is None or not finder.missed:
        return
    found: dict[str, Row | None] = {}
    for name in sorted(finder.missed):
        module = sys.modules.get(name)
        found[name] = _row(name, module) if module is not None else None
    finder.missed.clear()
    if all(row is None and name not in finder.table for name, row in found.items()):
        return  # only names that are not there (an extension that was not built): the entry stays as it is
    rows = {name: (*row[:5], finder.code_of(name)) for name, row in finder.table.items()}
    for name, row in found.items():
        if row is not None:
            rows[name] = row
        else:
            rows.pop(name, None)
    table: dict[str, Row] = {}
    code: list[bytes] = []
    start = 0
    for name, row in rows.items():
        table[name] = (*row[:5], start, len(row[5]))
        code.append(row[5])
        start += len(row[5])
    head = marshal.dumps(table)
    cache.store(_ENTRY, _key(), b"".join((len(head).to_bytes(_LENGTH, "little"), head, *code)))


def _row(name: str, module: ModuleType) -> Row | None:
    spec = getattr(module, "__spec__", None)
    origin = getattr(spec, "origin", None)
    loader = getattr(spec, "loader", None)
    if not isinstance(origin, str) or spec is None:
        return None
    try:
        st = os.stat(origin)
    except OSError:
        return None
    if isinstance(loader, _external.ExtensionFileLoader):
        return origin, st.st_mtime_ns, st.st_size, EXTENSION, None, b""
    if not isinstance(loader, _external.SourceFileLoader):
        return None
    kind = PACKAGE if spec.submodule_search_locations is not None else MODULE
    pyc = spec.cached
    code = _checked_pyc(pyc, st, origin) if isinstance(pyc, str) else None
    if code is None:
        try:
            with open(origin, "rb") as f:
                code = marshal.dumps(compile(f.read(), origin, "exec", dont_inherit=True))
        except (OSError, SyntaxError, ValueError):  # (gone, or changed since it was imported)
            return None
    return origin, st.st_mtime_ns, st.st_size, kind, pyc, code


def _checked_pyc(pyc: str, st: os.stat_result, origin: str) -> bytes | None:
    """The code in ``pyc`` if it is the .pyc Python keeps for a source of this stat (what its loader
    checks: the magic number, a timestamp .pyc, the source's mtime in seconds and its size), else None;
    its code objects name ``origin`` (a tree copied with its __pycache__ names the other tree's files
    there, which Python's loader corrects the same way)."""
    try:
        with open(pyc, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if (len(data) < 16 or data[:4] != _external.MAGIC_NUMBER or data[4:8] != b"\0\0\0\0"
            or int.from_bytes(data[8:12], "little") != int(st.st_mtime) & 0xFFFFFFFF
            or int.from_bytes(data[12:16], "little") != st.st_size & 0xFFFFFFFF):
        return None
    try:
        code = marshal.loads(memoryview(data)[16:])
    except (EOFError, ValueError, TypeError):
        return None
    _imp._fix_co_filename(code, origin)  # type: ignore[attr-defined]  # (SourceLoader's own call; not in typeshed)
    return marshal.dumps(code)


__all__ = ["EXTENSION", "MODULE", "PACKAGE", "PACKAGES", "ModuleCode", "install", "remember"]
