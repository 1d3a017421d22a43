"""``FrozenRow``: the base of the immutable rows sdu builds by the hundred at import; ``Record``: the
base of the mutable records on a run's start-up path.

The event table and the field registry declare hundreds of rows each time sdu starts. As frozen
dataclasses they cost more to create (code generated and compiled per class, ``object.__setattr__``
per field) than everything else those modules do, so they are plain slotted classes on this base, which
keeps what the dataclasses gave them: equality and hashing by value over ``_fields`` (the constructor's
order), a repr listing those fields, and no assignment or deletion once built (subclasses set their
slots through ``set_slot`` in ``__init__``).

``Record`` replaces ``@dataclass(slots=True)`` on the modules every run imports: importing
``dataclasses`` costs ``inspect``, ``ast``, ``dis`` and ``tokenize``, and each decorated class has its
methods generated and compiled at import. A subclass lists its fields in ``_fields``, in its
constructor's order (``__slots__ = _fields``: not a literal, which ruff would sort), and writes its own
``__init__``; the base gives it what the dataclasses did: equality by value over those fields
(unhashable, as a mutable dataclass is) and a repr listing them. tests/test_rows.py checks that each
subclass's fields are its constructor's parameters.
"""
from __future__ import annotations

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    from typing import Any, ClassVar

set_slot = object.__setattr__

if TYPE_CHECKING:
    _field: Any = None
else:
    try:
        from _collections import (
            _tuplegetter as _field,  # namedtuple's field accessor (C; not collections: ~6M instructions)
        )
    except ImportError:  # (another Python)
        from operator import itemgetter

        def _field(index, doc):
            return property(itemgetter(index), doc=doc)


class FrozenRow:
    __slots__ = ()

    _fields: ClassVar[tuple[str, ...]] = ()

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, FrozenRow)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__qualname__}({args})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")


class Record:
    __slots__ = ()

    _fields: ClassVar[tuple[str, ...]] = ()  # a subclass's fields, its __slots__ too (``__slots__ = _fields``)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        names = self._fields
        return tuple(getattr(self, n) for n in names) == tuple(getattr(other, n) for n in names)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__qualname__}({args})"


class TupleRow(tuple):  # type: ignore[type-arg]
    """An immutable row kept as a tuple of its fields, for tables of a thousand rows built at every
    start: ``tuple.__new__(cls, values)`` makes one in a single C call, where a FrozenRow's constructor
    sets each slot through a Python call (the event table's rows cost ~3x as much that way, callgrind).
    A subclass lists its fields in ``_fields`` and declares them under ``TYPE_CHECKING``; each field reads
    as an attribute (namedtuple's C accessor). Equality is by class and value as FrozenRow's (a row never
    equals a plain tuple), hashing by value; the repr lists the fields."""

    __slots__ = ()

    _fields: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls) -> None:
        for i, name in enumerate(cls.__dict__.get("_fields", ())):
            setattr(cls, name, _field(i, f"field {i}: {name}"))

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return False if isinstance(other, tuple) else NotImplemented  # (tuple's own == would say equal)
        return tuple.__eq__(self, other)  # type: ignore[arg-type]

    def __ne__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return True if isinstance(other, tuple) else NotImplemented
        return tuple.__ne__(self, other)  # type: ignore[arg-type]

    __hash__ = tuple.__hash__

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={value!r}" for name, value in zip(self._fields, self, strict=True))
        return f"{type(self).__qualname__}({args})"

    def __getnewargs__(self) -> tuple[object, ...]:  # (copy and pickle call the constructor with the fields)
        return tuple(self)


def record_fields(cls: type[Record]) -> tuple[str, ...]:
    """A record class's fields, in its constructor's order."""
    return cls._fields


__all__ = ["FrozenRow", "Record", "TupleRow", "record_fields", "set_slot"]
