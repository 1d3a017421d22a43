"""The registry's rows, name matching and ``-l`` text (compared with sysdig's own when installed)."""
from __future__ import annotations

import subprocess

import pytest

from sysdig_user.errors import SduError
from sysdig_user.event_table import PF, PT
from sysdig_user.fields.base import FieldError, FieldFlag, UnknownFieldError
from sysdig_user.fields.registry import CLASSES, FIELDS, listing, match_field, resolve_field, resolve_token
from tests.support import require_tool, run_sdu


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_every_field_has_type_and_description(name: str) -> None:
    f = FIELDS[name]
    assert isinstance(f.ftype, PT) and f.ftype is not PT.NONE
    assert isinstance(f.fmt, PF)
    assert f.description.strip()
    assert callable(f.make)


def test_names_are_unique_across_classes() -> None:
    names = [f.name for c in CLASSES for f in c.fields]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("name", sorted(n for n, f in FIELDS.items()
                                        if not f.flags & FieldFlag.REQUIRES_ARGUMENT))
def test_every_plain_field_binds(name: str) -> None:
    bound = resolve_field(name)
    assert bound.name == name and callable(bound.extract) and callable(bound.to_text)


def _sysdig_listing(*args: str) -> str:
    sysdig = require_tool("sysdig")
    return subprocess.run([sysdig, *args], capture_output=True, text=True, check=True).stdout


@pytest.mark.oracle
def test_listing_matches_sysdig() -> None:
    """The whole listing, k8s, mesos, span and evtin included."""
    assert listing() == _sysdig_listing("-l")


@pytest.mark.oracle
def test_verbose_listing_matches_sysdig() -> None:
    assert listing(verbose=True) == _sysdig_listing("-l", "-v")


@pytest.mark.oracle
@pytest.mark.parametrize("args", [("-l",), ("-l", "-v"), ("--list",)])
def test_cli_listing_is_sysdigs_byte_for_byte(args: tuple[str, ...]) -> None:
    got = run_sdu(*args)
    assert (got.stdout, got.stderr, got.status) == (_sysdig_listing(*args), "", 0)


@pytest.mark.parametrize(("text", "name", "arg", "used"), [
    ("evt.num", "evt.num", None, 7),
    ("evt.time.iso8601", "evt.time.iso8601", None, 16),
    ("evt.arg.name", "evt.arg", "name", 12),
    ("evt.arg[0]", "evt.arg", "0", 10),
    ("evt.args", "evt.args", None, 8),
    ("evt.rawarg.res", "evt.rawarg", "res", 14),
    ("proc.apid[2] rest", "proc.apid", "2", 12),
    ("proc.aname", "proc.aname", None, 10),
    ("thread.cgroup.cpuacct", "thread.cgroup", "cpuacct", 21),
    ("thread.cgroups", "thread.cgroups", None, 14),
    ("evt.type.is.open", "evt.type.is", "open", 16),
    ("evt.abspath.dst", "evt.abspath", "dst", 15),
    ("evt.around[1404996934793590564]", "evt.around", "1404996934793590564", 31),
    ("fd.cip.name", "fd.cip.name", None, 11),
    ("fd.namexyz", "fd.name", None, 7),
])
def test_match_field(text: str, name: str, arg: str | None, used: int) -> None:
    f, got_arg, got_used = match_field(text)
    assert (f.name, got_arg, got_used) == (name, arg, used)


def test_unknown_field_is_an_sdu_error_with_the_name() -> None:
    with pytest.raises(UnknownFieldError) as info:
        resolve_field("evt.bogus")
    assert isinstance(info.value, SduError)
    assert info.value.name == "evt.bogus"
    assert str(info.value) == "unrecognized field evt.bogus"


def test_partial_names_are_unknown_in_filters_but_fine_in_formats() -> None:
    with pytest.raises(UnknownFieldError):
        resolve_field("fd.namexyz")
    bound, used = resolve_token("fd.namexyz")
    assert bound.name == "fd.name" and used == 7


def test_argument_forms() -> None:
    assert resolve_field("evt.arg.fd").arg == "fd"
    assert resolve_field("evt.arg", "fd").text == "evt.arg.fd"
    assert resolve_field("proc.apid[1]").text == "proc.apid[1]"
    with pytest.raises(FieldError):
        resolve_field("evt.arg")
    with pytest.raises(FieldError):
        resolve_field("evt.arg.nosuchparamname")


def test_rawarg_takes_the_param_type() -> None:
    assert resolve_field("evt.rawarg.res").ftype is PT.ERRNO
    assert resolve_field("evt.rawarg.name").ftype is PT.FSPATH


@pytest.mark.parametrize(("field", "value", "text"), [
    ("evt.num", 7, "7"),
    ("evt.failed", True, "true"),
    ("evt.failed", False, "false"),
    ("evt.rawres", -2, "-2"),
    ("evt.rawtime.ns", 1234, "000001234"),
    ("fd.cip", b"\x7f\x00\x00\x01", "127.0.0.1"),
    ("fd.cip", bytes.fromhex("20010db8000000000000000000000004"), "2001:db8::4"),
    ("fd.dev", 0x801, "801"),
    ("proc.fdusage", 1.25, "1.2"),
    ("evt.type.is.open", 1, "<NA>"),  # UINT32 without a print format: sysdig prints NULL
    ("user.uid", 4294967295, "4294967295"),
])
def test_to_text(field: str, value: object, text: str) -> None:
    assert resolve_field(field).to_text(value) == text


def test_rawarg_of_flags_stops_like_sysdig() -> None:
    with pytest.raises(FieldError, match="wrong event type 30"):
        resolve_field("evt.rawarg.flags").to_text(1)


@pytest.mark.parametrize(("field", "text", "value"), [
    ("evt.rawres", "-2", -2),
    ("proc.pid", "1234", 1234),
    ("evt.failed", "true", True),
    ("fd.sip", "10.0.0.1", b"\x0a\x00\x00\x01"),
    ("fd.sip", "::1", bytes(15) + b"\x01"),
    ("proc.name", "curl", "curl"),
    ("evt.buffer", "GET", b"GET"),
])
def test_parse_value(field: str, text: str, value: object) -> None:
    assert resolve_field(field).parse_value(text) == value


def test_net_literal_matches_addresses_inside() -> None:
    lit = resolve_field("fd.cnet").parse_value("10.0.0.0/8")
    assert b"\x0a\x01\x02\x03" == lit
    assert b"\x0b\x01\x02\x03" != lit


def test_bad_number_literal() -> None:
    with pytest.raises(FieldError):
        resolve_field("proc.pid").parse_value("abc")


def test_the_name_table_is_the_classes() -> None:
    """registry._TABLE (what names are matched against without importing the class modules) lists every
    class of sysdig_user.fields in sysdig's order, each with its fields' names in its order."""
    import importlib
    import pkgutil

    import sysdig_user.fields
    from sysdig_user.fields import base, registry

    tabled = []
    for module, attr, names in registry._TABLE:
        cls = getattr(importlib.import_module(f"sysdig_user.fields.{module}"), attr)
        assert isinstance(cls, base.FieldClass)
        assert tuple(names.split()) == tuple(f.name for f in cls.fields), cls.name
        tabled.append(cls)
    assert tuple(tabled) == CLASSES
    every = {id(value) for info in pkgutil.iter_modules(sysdig_user.fields.__path__)
             for value in vars(importlib.import_module(f"sysdig_user.fields.{info.name}")).values()
             if isinstance(value, base.FieldClass)}
    assert every == {id(cls) for cls in tabled}  # no class left out of the table


def test_a_class_module_is_imported_when_one_of_its_fields_is_used() -> None:
    """In a fresh interpreter: binding proc.name imports the process class only (the names tried before
    it, evt's, come from the table), fd.name then imports the fd class; sdu -l imports them all."""
    import json
    import sys

    program = ("import json, sys\n"
               "from sysdig_user.fields import registry\n"
               "def loaded(): return sorted(m for m in sys.modules if m.startswith('sysdig_user.fields.'))\n"
               "seen = [loaded()]\n"
               "registry.resolve_token('proc.name')\nseen.append(loaded())\n"
               "registry.resolve_field('fd.name')\nseen.append(loaded())\n"
               "registry.listing()\nseen.append(loaded())\n"
               "print(json.dumps(seen))\n")
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True).stdout
    start, proc, fd, everything = (set(step) for step in json.loads(out))
    classes = {"sysdig_user.fields." + m for m in ("evt", "proc", "user", "group", "container", "fd", "syslog",
                                                   "fdlist", "k8s", "tracer")}
    assert start & classes == set()
    assert proc & classes == {"sysdig_user.fields.proc"}
    assert fd & classes >= {"sysdig_user.fields.fd"} and "sysdig_user.fields.k8s" not in fd
    assert everything >= classes


def test_evt_param_index_tables_are_param_index() -> None:
    """fields/evt.py's per-code param indexes (built in one pass, on first use) are EventInfo.param_index's."""
    from sysdig_user.event_table import EF, EVENTS
    from sysdig_user.fields import evt

    res, fd, data, creates_fd = evt.param_indexes()
    for name, table in (("res", res), ("fd", fd), ("data", data)):
        assert table == tuple(e.param_index(name) for e in EVENTS), name
    assert creates_fd == {e.code for e in EVENTS if e.flags & EF.CREATES_FD and e.code & 1}
