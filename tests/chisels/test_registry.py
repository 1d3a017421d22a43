"""Listing, describing and loading chisels; the helpers that mirror common.lua's rendering."""
from __future__ import annotations

import subprocess

import pytest

from sysdig_user.chisels import lua_bridge
from sysdig_user.chisels.builtin.common import extend_string, format_bytes, format_time_interval
from sysdig_user.chisels.registry import (
    builtin_chisels,
    describe_chisel,
    list_chisels,
    load_chisel,
    split_chisel_args,
    take_chisel_args,
)
from sysdig_user.errors import SduError
from tests.support import require_tool

GOLDEN_NAMES = ("topfiles_bytes", "topfiles_time", "topprocs_net", "topconns", "topscalls", "echo_fds",
                "fdbytes_by", "iobytes_net", "stdout", "stdin", "spy_users", "spy_file", "proc_exec_time",
                "lsof", "ps")


def test_builtins_cover_the_golden_chisels() -> None:
    names = builtin_chisels()
    for n in GOLDEN_NAMES:
        assert n in names


def test_split_args_like_sysdig() -> None:
    assert split_chisel_args("a b") == ["a", "b"]
    assert split_chisel_args("'x y' z") == ["x y", "z"]
    assert split_chisel_args("a  b") == ["a", "", "b"]
    assert split_chisel_args("") == []
    with pytest.raises(SduError):
        split_chisel_args("'open")


def test_arg_count_errors() -> None:
    with pytest.raises(SduError, match="wrong number of parameters for chisel fdbytes_by, 1 required, 0 given"):
        load_chisel("fdbytes_by", "")
    with pytest.raises(SduError, match="too many parameters for chisel stdout, 0 required, 0 optional, 1 given"):
        load_chisel("stdout", "x")
    with pytest.raises(SduError, match="can't open file nonexist"):
        load_chisel("nonexist")


def test_take_chisel_args() -> None:
    assert take_chisel_args("fdbytes_by", ["fd.type", "x"], lambda t: True) == "fd.type"
    with pytest.raises(SduError, match="missing arguments for chisel fdbytes_by"):
        take_chisel_args("fdbytes_by", [], lambda t: True)
    assert take_chisel_args("topconns", ["proc.name=curl"], lambda t: True) is None
    assert take_chisel_args("lsof", ["fd.type=ipv6"], lambda t: True) == "fd.type=ipv6"
    assert take_chisel_args("echo_fds", ["disable_color"], lambda t: False) == "disable_color"
    assert take_chisel_args("echo_fds", ["-X"], lambda t: False) is None


def test_common_lua_rendering() -> None:
    assert extend_string("abc", 5) == "abc  "
    assert extend_string("abcdef", 4) == "abc "
    assert format_bytes(832) == "832B"
    assert format_bytes(10880 * 1024) == "10.63M"  # LuaJIT rounds exact ties away from zero
    assert format_time_interval(21000) == "21us"
    assert format_time_interval(3070) == "3.07us"
    assert format_time_interval(12_000_000) == "12ms"


def _oracle(*args: str) -> str:
    sysdig = require_tool("sysdig")
    return subprocess.run([sysdig, *args], capture_output=True, text=True, check=False).stdout


def _need_lua() -> None:
    if not lua_bridge.available():
        pytest.skip("lupa is not installed: Lua chisels are not listed")


@pytest.mark.oracle
def test_list_matches_sysdig() -> None:
    _need_lua()
    assert list_chisels() == _oracle("-cl")


@pytest.mark.parametrize("name", ["topfiles_bytes", "spy_file", "fdbytes_by", "ps", "echo_fds", "spy_logs",
                                  "httptop", "lscontainers"])
@pytest.mark.oracle
def test_describe_matches_sysdig(name: str) -> None:
    _need_lua()
    assert describe_chisel(name) == _oracle("-i", name)


def test_describe_unknown() -> None:
    with pytest.raises(SduError, match="chisel nonexist not found - use -cl to list them."):
        describe_chisel("nonexist")


def test_python_only_listing_has_builtins() -> None:
    text = list_chisels()
    for n in GOLDEN_NAMES:
        assert f"\n{n}" in text


def test_a_builtin_chisel_name_is_in_one_module() -> None:
    """registry.builtin_chisel stops at the first module that has the name: builtin_chisels()'s answer
    only while no name is two classes."""
    from sysdig_user.chisels import registry

    seen: dict[str, str] = {}
    for mod in registry._BUILTIN_MODULES:
        for name, cls in registry._chisels_of(mod).items():  # (a class another module imports is the same one)
            assert name not in seen or registry._chisels_of(seen[name])[name] is cls, (name, seen[name], mod)
            seen.setdefault(name, mod)
    assert set(seen) == set(registry.builtin_chisels())
    assert all(registry.builtin_chisel(name) is registry.builtin_chisels()[name] for name in seen)
    assert registry.builtin_chisel("no_such_chisel") is None
