"""sysdig_user/consts.py: IntConst and FlagConst behave as the IntEnum and IntFlag classes they replace,
in every way sdu uses them (each check below runs on both and compares)."""
from __future__ import annotations

import copy
import enum
import pickle

import pytest

from sysdig_user.consts import Const, FlagConst, IntConst
from sysdig_user.event_table import EC, EF, PT


class LightColour(IntConst):
    RED = 1
    GREEN = 2
    BLUE = 4
    CRIMSON = 1  # an alias

    @property
    def warm(self) -> bool:
        return self == 1


class EnumColour(enum.IntEnum):
    RED = 1
    GREEN = 2
    BLUE = 4
    CRIMSON = 1

    @property
    def warm(self) -> bool:
        return self == 1


class LightBits(FlagConst):
    NONE = 0
    A = 1
    B = 2
    C = 8


class EnumBits(enum.IntFlag):
    NONE = 0
    A = 1
    B = 2
    C = 8


def _same(light: object, real: object) -> None:
    assert light == real and hash(light) == hash(real)
    assert str(light) == str(real) and f"{light}" == f"{real}" and f"{light:04x}" == f"{real:04x}"
    assert repr(light).replace("Light", "") == repr(real).replace("Enum", "")
    assert light.name == real.name and light.value == real.value  # type: ignore[attr-defined]
    assert isinstance(light, int)


@pytest.mark.parametrize("name", ["RED", "GREEN", "BLUE", "CRIMSON"])
def test_members_as_intenum(name: str) -> None:
    light, real = LightColour[name], EnumColour[name]
    _same(light, real)
    assert type(light) is LightColour and isinstance(light, LightColour)
    assert LightColour(int(real)) is light and light.warm == real.warm
    assert getattr(LightColour, name) is light


def test_class_as_intenum() -> None:
    assert [m.name for m in LightColour] == [m.name for m in EnumColour]
    assert len(LightColour) == len(EnumColour)
    assert list(LightColour.__members__) == list(EnumColour.__members__)
    assert LightColour.CRIMSON is LightColour.RED
    assert LightColour.RED in LightColour and 3 not in LightColour  # type: ignore[comparison-overlap]
    with pytest.raises(ValueError, match="3 is not a valid LightColour"):
        LightColour(3)
    with pytest.raises(KeyError):
        LightColour["PURPLE"]
    with pytest.raises(AttributeError):
        LightColour.RED = 5  # type: ignore[misc]
    with pytest.raises(AttributeError):
        LightColour.RED.other = 1  # type: ignore[attr-defined]
    assert {LightColour.RED: "x"}[1] == "x"  # type: ignore[index]


def test_copy_and_pickle_give_the_member() -> None:
    for member in (LightColour.BLUE, PT.CHARBUF, EC.INTERNAL, EF.USES_FD, EF.USES_FD | EF.CREATES_FD):
        assert copy.copy(member) is member and copy.deepcopy(member) is member
        assert pickle.loads(pickle.dumps(member)) is member


@pytest.mark.parametrize("value", [0, 1, 2, 3, 8, 9, 11])
def test_flags_as_intflag(value: int) -> None:
    light, real = LightBits(value), EnumBits(value)
    _same(light, real)
    assert LightBits(value) is light
    for other in (0, 1, 2, 8, 3, 11):
        for op in (int.__or__, int.__and__, int.__xor__):
            got, want = op(light, LightBits(other)), op(real, EnumBits(other))
            assert got == want
        assert type(light | LightBits(other)) is LightBits and type(light & other) is LightBits
        assert (light | LightBits(other)).name == (real | EnumBits(other)).name
    assert ~light == ~real and type(~light) is LightBits
    assert bool(light) == bool(real)


def test_the_event_table_classes() -> None:
    assert PT["CHARBUF"] is PT.CHARBUF and PT(9) is PT.CHARBUF and PT.CHARBUF.name == "CHARBUF"
    assert EC(256) is EC.INTERNAL and len(PT) == 44
    flags = EF.CREATES_FD | EF.USES_FD
    assert flags.name == "CREATES_FD|USES_FD" and repr(flags) == "<EF.CREATES_FD|USES_FD: 5>"


class LightConn(Const):
    NONE = "none"
    AND = "and"
    OR = "or"


class EnumConn(enum.Enum):
    NONE = "none"
    AND = "and"
    OR = "or"


@pytest.mark.parametrize("name", ["NONE", "AND", "OR"])
def test_const_as_enum(name: str) -> None:
    light, real = LightConn[name], EnumConn[name]
    assert light.name == real.name and light.value == real.value
    assert str(light).replace("Light", "") == str(real).replace("Enum", "")
    assert f"{light}".replace("Light", "") == f"{real}".replace("Enum", "")
    assert repr(light).replace("Light", "") == repr(real).replace("Enum", "")
    assert LightConn(real.value) is light and getattr(LightConn, name) is light and light in LightConn
    assert light != real.value and hash(light) == hash(real)
    assert copy.copy(light) is light and pickle.loads(pickle.dumps(light)) is light
    assert [m.name for m in LightConn] == [m.name for m in EnumConn] and len(LightConn) == 3
    with pytest.raises(ValueError, match="'xor' is not a valid LightConn"):
        LightConn("xor")
