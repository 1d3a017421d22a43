"""sdu's per-user cache: what is built on first use and then loaded in milliseconds (the filter
parser, sysdig_user/filter/grammar.py; the event table's rows, sysdig_user/event_table.py; parsed
filters, sysdig_user/filter/ast_cache.py; the code of generated functions, ``compiled`` below; the code
of sdu's own modules, one entry per install directory and Python, sysdig_user/module_cache.py).

Each entry is one file, ``$XDG_CACHE_HOME/sdu/NAME`` (``~/.cache/sdu`` by default), that starts with
the key of what it was built from: a digest of the source bytes, the build options and the Python
version (the payloads are marshal data, which only the same Python version reads). An entry whose
key differs is stale and never used; the caller builds the thing again and stores it over the old
one. Entries may hold code that sdu runs, so the directory must be the user's own and writable by
nobody else (sdu often runs as root): otherwise nothing is cached and everything is built each time.
Writes go to a temporary file renamed into place, so concurrent runs never see half an entry.
"""
from __future__ import annotations

import marshal  # (built in)
import os
import sys
from binascii import crc32  # (zlib's CRC-32; render.py loads binascii anyway, a short live run no zlib)

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    from types import CodeType
    from typing import TypeVar

    T = TypeVar("T")
else:
    CodeType = type((lambda: None).__code__)  # (types.CodeType: importing types costs a start ~1M instructions)

_dir: str | None = None  # the cache directory, None when there is none we may use
_looked = False


def directory() -> str | None:
    """The cache directory (created if missing), or None if there is no safe one."""
    global _dir, _looked
    if not _looked:
        _looked = True
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = os.path.join(base, "sdu")
        if not os.path.isabs(path):  # no home directory ("~" left as it is): never a cwd-relative cache
            return None
        try:
            os.makedirs(path, mode=0o700, exist_ok=True)
            st = os.stat(path)
            if st.st_uid == os.getuid() and not st.st_mode & 0o022:
                _dir = path
        except OSError:
            pass
    return _dir


def key(*parts: bytes) -> bytes:
    """The key of an entry built from ``parts`` (sources and options), for this Python version."""
    whole = b"\0".join((sys.version.encode(), *parts))
    return b"sdu-cache %d %08x\n" % (len(whole), crc32(whole))


def _read(name: str, entry_key: bytes) -> bytes | None:
    """The whole file of entry ``name`` if it starts with ``entry_key``, else None."""
    where = directory()
    if where is None:
        return None
    try:
        with open(os.path.join(where, name), "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data if data.startswith(entry_key) else None


def load(name: str, entry_key: bytes) -> bytes | None:
    """The payload stored under ``name`` if it was built with ``entry_key``, else None."""
    data = _read(name, entry_key)
    return None if data is None else data[len(entry_key):]


def load_view(name: str, entry_key: bytes) -> memoryview | None:
    """``load`` as a view of the file's bytes (no copy of the payload is made)."""
    data = _read(name, entry_key)
    return None if data is None else memoryview(data)[len(entry_key):]


def loads(data: bytes | memoryview, kind: type[T]) -> T | None:
    """``data``'s marshal value if it reads whole and is a ``kind``; None for a damaged payload."""
    try:
        value = marshal.loads(data)
    except (EOFError, ValueError, TypeError):
        return None
    return value if isinstance(value, kind) else None


def load_value(name: str, entry_key: bytes, kind: type[T]) -> T | None:
    """The marshal value kept under ``name`` for ``entry_key`` (``loads``), or None: absent, stale or
    damaged, which the caller builds again."""
    data = load(name, entry_key)
    return None if data is None else loads(data, kind)


def store(name: str, entry_key: bytes, payload: bytes) -> None:
    """Keep ``payload`` under ``name`` for ``entry_key`` (silently nothing if it cannot be written)."""
    where = directory()
    if where is None:
        return
    final = os.path.join(where, name)
    tmp = f"{final}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(entry_key + payload)
        os.replace(tmp, final)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


# ---- generated code ----------------------------------------------------------------------------
# Generated functions (the tracer's per-event packers, the formatter's lines, render's evt.args) are
# compiled from source text the run builds; the same text always compiles to the same code object, so
# the code is kept here with its full source (a lookup compares the whole text: no digest can collide)
# and a later run skips the compiler. One entry holds them all, at most _CODE_MAX, the least recently
# used dropped. What a run compiles is written once, at its end (``flush``: an atexit function, which
# only a run that compiled something registers, and the consumer process calls it before it exits).
# The entry maps (filename, CRC-32 of the source) to the marshal data of (source, code): loading it
# decodes no source text and no code, only the slots a run looks up (two texts of one CRC share a slot,
# the later one kept).

_CODE_ENTRY = "generated-code.marshal"
_CODE_MAX = 256
_codes: dict[tuple[str, int], bytes] | None = None  # _slot -> marshal.dumps((source, code))
_new: dict[tuple[str, int], bytes] = {}  # compiled by this run, not yet written


def _code_key() -> bytes:
    return key(b"generated code 2")


def _stored_codes() -> dict[tuple[str, int], bytes]:
    return load_value(_CODE_ENTRY, _code_key(), dict) or {}


def _slot(source: str, filename: str) -> tuple[str, int]:
    return filename, crc32(source.encode("utf-8", "surrogatepass"))


def compiled(source: str, filename: str) -> CodeType:
    """``compile(source, filename, "exec")``, from the cache when an earlier run compiled that text."""
    global _codes
    if _codes is None:
        _codes = _stored_codes()
    name = _slot(source, filename)
    blob = _codes.pop(name, None)
    if blob is not None:
        _codes[name] = blob  # (the most recently used last)
        stored = loads(blob, tuple)
        if stored is not None and len(stored) == 2 and stored[0] == source and type(stored[1]) is CodeType:
            code: CodeType = stored[1]
            return code
    code = compile(source, filename, "exec")
    _codes[name] = _new[name] = marshal.dumps((source, code))
    if len(_new) == 1 and directory() is not None:
        import atexit

        atexit.register(flush)
    return code


def flush() -> None:
    """Write what this run compiled into the entry, over what another run may have written meanwhile."""
    if not _new or _codes is None:
        return
    merged = _stored_codes()
    for name in _codes:  # this run's use order, then what it compiled, last
        if name in merged:
            merged[name] = merged.pop(name)
    merged.update(_new)
    _new.clear()
    while len(merged) > _CODE_MAX:
        del merged[next(iter(merged))]
    store(_CODE_ENTRY, _code_key(), marshal.dumps(merged))


__all__ = ["compiled", "directory", "flush", "key", "load", "load_value", "load_view", "loads", "store"]
