"""``FrozenRow``: the base of the immutable rows sdu builds by the hundred at import.

The event table and the field registry declare hundreds of rows each time sdu starts. As frozen
dataclasses they cost more to create (code generated and compiled per class, ``object.__setattr__``
per field) than everything else those modules do, so they are plain slotted classes on this base, which
keeps what the dataclasses gave them: equality and hashing by value over ``_fields`` (the constructor's
order), a repr listing those fields, and no assignment or deletion once built (subclasses set their
slots through ``set_slot`` in ``__init__``).
"""
from __future__ import annotations

from typing import ClassVar

set_slot = object.__setattr__


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


__all__ = ["FrozenRow", "set_slot"]
