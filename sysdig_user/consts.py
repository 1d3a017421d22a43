"""``IntConst`` and ``FlagConst``: what sdu's tables used of ``enum.IntEnum`` and ``enum.IntFlag``, for
a fraction of the start-up.

Importing ``enum`` and building the event table's enum classes cost a short run about a quarter of
``python3 -c pass`` (callgrind: ``import enum`` alone is ~17M instructions, ``pass`` ~38M). The
classes here keep the behaviour sdu relies on: each member is an ``int`` of its class (hashes and
compares as its value, ``str`` and ``format`` print the number), with ``.name`` and ``.value``;
``Cls[name]``, ``Cls(value)`` (ValueError if no member has it), iteration in declaration order,
``len``, ``in``, ``__members__``, the enum repr (``<PT.CHARBUF: 9>``), and copy and pickle giving
back the member itself. A ``FlagConst``'s ``|``, ``&``, ``^`` and ``~`` between flags give a flag
of the same class, its name the members' names joined by ``|`` as ``IntFlag`` names it.

A class body lists its members as ``NAME = int`` (every public name bound to an int); methods and
properties stay ordinary. The type checker reads both as the ``enum`` classes, whose behaviour they
follow.
"""
from __future__ import annotations

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    from enum import Enum as Const
    from enum import IntEnum as IntConst
    from enum import IntFlag as FlagConst
else:
    _new_int = int.__new__
    _set = object.__setattr__
    _read_only = type(type.__dict__)  # (types.MappingProxyType, without importing types)

    class _ConstType(type):
        """The metaclass: turns the body's ``NAME = int`` entries into members at class creation."""

        def __new__(mcs, cls_name, bases, namespace):
            kinds = namespace.get("_value_types_") or (bases[0]._value_types_ if bases else (int,))
            members = {k: v for k, v in namespace.items() if type(v) in kinds and k[0] != "_"}
            for k in members:
                del namespace[k]
            namespace.setdefault("__slots__", ())  # (members keep no __dict__: their names are the class's)
            cls = super().__new__(mcs, cls_name, bases, namespace)
            by_name: dict[str, object] = {}
            by_value: dict[int, object] = {}
            names: dict[int, str | None] = {}
            for k, v in members.items():
                member = by_value.get(v)  # (a repeated value is an alias, as in enum)
                if member is None:
                    member = by_value[v] = cls._new_member_(v)
                    names[v] = k
                by_name[k] = member
                type.__setattr__(cls, k, member)
            type.__setattr__(cls, "_member_map_", by_name)
            type.__setattr__(cls, "_members_proxy_", _read_only(by_name))
            type.__setattr__(cls, "_value2member_map_", by_value)
            type.__setattr__(cls, "_names_", names)
            type.__setattr__(cls, "_member_list_", tuple(by_value.values()))
            return cls

        def __call__(cls, value):
            member = cls._value2member_map_.get(value)
            if member is None:
                return cls._missing_(value)
            return member

        def __getitem__(cls, name):
            return cls._member_map_[name]

        def __iter__(cls):
            return iter(cls._member_list_)

        def __len__(cls):
            return len(cls._member_list_)

        def __contains__(cls, value):
            return isinstance(value, cls)  # (every instance is a member)

        @property
        def __members__(cls):
            return cls._members_proxy_

        def __setattr__(cls, name, value):
            if name in cls.__dict__.get("_member_map_", ()):
                raise AttributeError(f"cannot reassign member {name!r}")
            type.__setattr__(cls, name, value)

    class _Member:
        """What IntConst's and Const's members share: read-only, the enum repr, copied and pickled as
        themselves (by value), and ValueError for a value no member has."""

        __slots__ = ()

        @classmethod
        def _missing_(cls, value):
            raise ValueError(f"{value!r} is not a valid {cls.__qualname__}")

        def __setattr__(self, name, value):
            raise AttributeError(f"cannot assign to {type(self).__name__}.{name}")

        def __delattr__(self, name):
            raise AttributeError(f"cannot delete {type(self).__name__}.{name}")

        def __repr__(self):
            return f"<{type(self).__name__}.{self.name}: {self.value!r}>"

        def __reduce_ex__(self, protocol):
            return type(self), (self.value,)

        def __copy__(self):
            return self

        def __deepcopy__(self, memo):
            return self

    class IntConst(_Member, int, metaclass=_ConstType):
        """An ``IntEnum`` without ``enum``: subclass it with ``NAME = value`` lines."""

        _value_types_ = (int,)

        @classmethod
        def _new_member_(cls, value):
            return _new_int(cls, value)

        @property
        def name(self):
            return type(self)._names_[self]

        @property
        def value(self):
            return int(self)

        __str__ = int.__repr__
        __format__ = int.__format__

    class FlagConst(IntConst):
        """An ``IntFlag`` without ``enum``: members are bits; combinations are made (and kept) on demand."""

        @classmethod
        def _missing_(cls, value):
            if not isinstance(value, int):
                return super()._missing_(value)
            value = int(value)
            member = cls._value2member_map_.get(value)
            if member is not None:
                return member
            if value < 0:  # (as IntFlag: within the bits up to the highest member's)
                every = max(int(m) for m in cls._member_list_)
                value += 1 << every.bit_length()
                member = cls._value2member_map_.get(value)
                if member is not None:
                    return member
            names = []
            rest = value
            for m in cls._member_list_:
                bits = int(m)
                if bits and bits & (bits - 1) == 0 and value & bits:
                    names.append(m.name)
                    rest &= ~bits
            if names and rest:  # (bits no member names: their number, as IntFlag names them)
                names.append(str(rest))
            member = _new_int(cls, value)
            cls._names_[value] = "|".join(names) if names else None
            cls._value2member_map_[value] = member
            return member

        def __or__(self, other):
            if isinstance(other, int):
                return type(self)(int(self) | int(other))
            return NotImplemented

        def __and__(self, other):
            if isinstance(other, int):
                return type(self)(int(self) & int(other))
            return NotImplemented

        def __xor__(self, other):
            if isinstance(other, int):
                return type(self)(int(self) ^ int(other))
            return NotImplemented

        __ror__ = __or__
        __rand__ = __and__
        __rxor__ = __xor__

        def __invert__(self):
            return type(self)(~int(self))

        def __repr__(self):
            name = self.name
            if name is None:
                return f"<{type(self).__name__}: {int(self)!r}>"
            return f"<{type(self).__name__}.{name}: {int(self)!r}>"

    class Const(_Member, metaclass=_ConstType):
        """An ``Enum`` without ``enum`` (members are not ints): subclass it with ``NAME = value`` lines,
        each value a str, int, float, bytes or tuple. Members compare by identity, as enum's do."""

        __slots__ = ("_value_",)
        _value_types_ = (str, int, float, bytes, tuple)

        @classmethod
        def _new_member_(cls, value):
            member = object.__new__(cls)
            _set(member, "_value_", value)
            return member

        @property
        def name(self):
            return type(self)._names_[self._value_]

        @property
        def value(self):
            return self._value_

        def __str__(self):
            return f"{type(self).__name__}.{self.name}"

        def __format__(self, spec):
            return format(str(self), spec)

        def __hash__(self):
            return hash(self.name)

__all__ = ["Const", "FlagConst", "IntConst"]
