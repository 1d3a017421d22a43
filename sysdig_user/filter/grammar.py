"""The filter parser: filter.lark (the grammar's home) as lark's standalone LALR parser, cached.

Importing lark and building the grammar costs ~200 ms; sdu runs that once: lark's standalone
generator turns filter.lark into one self-contained module (lark's runtime classes and the parse
tables), whose compiled code is kept in sdu's cache (sysdig_user/cache.py) under a key made from the
grammar's bytes and the options below. Later runs load it in a few milliseconds without importing
lark; a changed grammar (or Python) changes the key, so a stale parser is never used. Without a
usable cache directory the parser is generated in memory at every run.

``runtime()`` is the loaded module's namespace: ``parser`` (the LALR parser), and the classes the
filter code tests against (``Token``, ``Tree``, ``UnexpectedInput``, ``UnexpectedToken``,
``UnexpectedCharacters``), which are the standalone module's own, not lark's.
"""
from __future__ import annotations

import marshal
import os
import sys

from sysdig_user import cache

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    from types import CodeType, SimpleNamespace

GRAMMAR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "filter.lark")
# Lark(..., **OPTIONS): what parse.py relies on (token positions, None for absent optional items)
OPTIONS = {"parser": "lalr", "lexer": "contextual", "maybe_placeholders": True}
_ENTRY = "filter-parser.marshal"
_MODULE = "sysdig_user.filter._lark_standalone"

_runtime: SimpleNamespace | None = None


# Lines of lark's generated module that only cost start-up time here (~5 ms): its logger, which lark
# sets to CRITICAL and never logs at that level (a silent stand-in takes its place), and the imports
# that serve only Lark's own cache and save/load, which the standalone parser never runs. Also
# dataclasses (for its one dataclass, TextSlice: _text_slice stands in) and inspect (for v_args
# transformers, which sdu does not use: imported there if one ever is), which between them import
# ast, dis and tokenize. They are replaced only where each is found exactly once; another lark
# version's text is used as it is.
_TRIMS = (("import logging\n", ""),
          ('logger: logging.Logger = logging.getLogger("lark")\n', "logger = _SDU_QUIET_LOGGER\n"),
          ("logger.addHandler(logging.StreamHandler())\n", ""),
          ("logger.setLevel(logging.CRITICAL)\n", ""),
          ("import pickle, zlib, base64\n", ""),
          ("from dataclasses import dataclass\n", ""),
          ("@dataclass(frozen=True)\nclass TextSlice(", "@_SDU_TEXT_SLICE\nclass TextSlice("),
          ("from inspect import getmembers, getmro\n", ""),
          ("        mro = getmro(cls)\n", "        from inspect import getmembers, getmro\n        mro = getmro(cls)\n"))


class _QuietLogger:
    """lark's logger at CRITICAL, without the logging package: nothing lark logs reaches that level."""

    def quiet(self, *_args: object, **_kwargs: object) -> None:
        return None

    debug = info = warning = error = exception = critical = quiet


def _text_slice(cls: type) -> type:
    """What ``@dataclass(frozen=True)`` makes of lark's TextSlice (its fields ``text``, ``start`` and
    ``end``, then its ``__post_init__``), without importing dataclasses: a constructor by position or
    keyword, no assignment afterwards, equality and a repr over the three fields."""
    names = ("text", "start", "end")
    set_field = object.__setattr__

    def __init__(self: object, text: object, start: object, end: object) -> None:
        set_field(self, "text", text)
        set_field(self, "start", start)
        set_field(self, "end", end)
        self.__post_init__()  # type: ignore[attr-defined]

    def __setattr__(self: object, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def values(self: object) -> tuple[object, ...]:
        return tuple(getattr(self, n) for n in names)

    def __eq__(self: object, other: object) -> bool:
        return values(self) == values(other) if other.__class__ is self.__class__ else NotImplemented

    def __repr__(self: object) -> str:
        return f"{type(self).__qualname__}(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in names) + ")"

    cls.__init__ = __init__  # type: ignore[misc]
    cls.__setattr__ = __setattr__  # type: ignore[assignment]
    cls.__eq__ = __eq__  # type: ignore[assignment]
    cls.__hash__ = lambda self: hash(values(self))  # type: ignore[assignment,misc]
    cls.__repr__ = __repr__  # type: ignore[assignment]
    return cls


def _trim(source: str) -> str:
    if any(source.count(old) != 1 for old, _new in _TRIMS):
        return source
    trimmed = source
    for old, new in _TRIMS:
        trimmed = trimmed.replace(old, new)
    return source if "logging." in trimmed else trimmed


def _generate(grammar: str) -> str:
    """The standalone parser module's source, from lark (imported here only)."""
    import io

    from lark import Lark
    from lark.tools.standalone import gen_standalone

    out = io.StringIO()
    gen_standalone(Lark(grammar, **OPTIONS), out=out)  # type: ignore[arg-type]
    return out.getvalue()


def _code(grammar: bytes) -> CodeType:
    """The standalone module's compiled code: from the cache, else generated (and cached)."""
    from types import CodeType  # (types only where the parser loads: a filter read from the AST cache
    # never gets here, tracer/pushdown.py's runs included)

    entry_key = cache.key(grammar, repr(sorted(OPTIONS.items())).encode(), repr(_TRIMS).encode())
    code = cache.load_value(_ENTRY, entry_key, CodeType)
    if code is not None:
        return code
    code = compile(_trim(_generate(grammar.decode())), "<sdu filter parser (lark standalone)>", "exec")
    cache.store(_ENTRY, entry_key, marshal.dumps(code))
    return code


def runtime() -> SimpleNamespace:
    """The parser and lark's classes from the standalone module (loaded once per process)."""
    global _runtime
    if _runtime is None:
        from types import ModuleType, SimpleNamespace

        with open(GRAMMAR, "rb") as f:
            grammar = f.read()
        module = ModuleType(_MODULE)  # a module of its own: its dataclasses look their module up
        module.__dict__["_SDU_QUIET_LOGGER"] = _QuietLogger()
        module.__dict__["_SDU_TEXT_SLICE"] = _text_slice
        sys.modules[_MODULE] = module
        exec(_code(grammar), module.__dict__)  # noqa: S102 - lark's generated parser, of our grammar
        namespace = module.__dict__
        make = namespace["Lark_StandAlone"]
        _runtime = SimpleNamespace(
            parser=make(),  # type: ignore[operator]
            Token=namespace["Token"], Tree=namespace["Tree"], UnexpectedInput=namespace["UnexpectedInput"],
            UnexpectedToken=namespace["UnexpectedToken"],
            UnexpectedCharacters=namespace["UnexpectedCharacters"])
    return _runtime


__all__ = ["GRAMMAR", "OPTIONS", "runtime"]
