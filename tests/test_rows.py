"""sysdig_user/rows.py's Record: the plain classes that replaced the dataclasses on a run's start-up path
keep what the dataclasses gave them (fields in constructor order, equality by value, a repr, defaults)."""
from __future__ import annotations

import copy
import importlib
import inspect

import pytest

from sysdig_user.rows import FrozenRow, Record, record_fields
from sysdig_user.scap.records import PROC_ENTRY_DEFAULTS, ProcEntry, User
from sysdig_user.spec import CaptureSpec, OutputSpec, TraceSpec

# every module that declares Record or FrozenRow classes written by hand (imported so that
# __subclasses__ sees them all)
MODULES = ("sysdig_user.scap.records", "sysdig_user.scap.container_json", "sysdig_user.spec", "sysdig_user.environment", "sysdig_user.pipeline",
           "sysdig_user.output.render", "sysdig_user.output.formatter", "sysdig_user.state.fds",
           "sysdig_user.fields.registry", "sysdig_user.fields.syslog", "tracer.procfs", "tracer.engine",
           "tracer.events", "tracer.pushdown", "tracer.pipelined")


def _subclasses(base: type) -> list[type]:
    for name in MODULES:
        importlib.import_module(name)
    out, todo = [], list(base.__subclasses__())
    while todo:
        cls = todo.pop()
        out.append(cls)
        todo.extend(cls.__subclasses__())
    return [c for c in out if c.__module__ in MODULES]


@pytest.mark.parametrize("cls", _subclasses(Record) + _subclasses(FrozenRow), ids=lambda c: c.__qualname__)
def test_fields_are_the_constructors_parameters(cls: type) -> None:
    """A field added to ``__init__`` but not to ``__slots__`` (or the other way round) fails here: the
    fields are what equality, the repr and ``record_fields`` go by."""
    params = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    fields = cls._fields  # type: ignore[attr-defined]
    assert list(fields) == params
    assert set(cls.__slots__) == set(params)
    assert set(inspect.get_annotations(cls)) >= set(params)  # each one declared (for mypy and readers)


def test_record_equality_repr_and_copy() -> None:
    a, b = User(1, 2, "x"), User(1, 2, "x")
    assert a == b and a is not b and User(1, 2, "y") != a
    assert repr(a) == "User(uid=1, gid=2, name='x', homedir='', shell='')"
    with pytest.raises(TypeError):
        hash(a)  # mutable, as the dataclasses were (eq without frozen)
    with pytest.raises(AttributeError):
        a.other = 1  # type: ignore[attr-defined]  # slotted
    c = copy.copy(a)
    c.name = "y"
    assert a.name == "x" and c == User(1, 2, "y")


def test_default_lists_are_not_shared() -> None:
    one, two = ProcEntry(1, 1), ProcEntry(2, 2)
    one.args.append("x")
    assert two.args == [] and CaptureSpec().read is not CaptureSpec().read
    assert CaptureSpec().output == OutputSpec() and CaptureSpec().output is not CaptureSpec().output
    assert TraceSpec().command == [] and TraceSpec().command is not TraceSpec().command


def test_proc_entry_defaults_table_matches_the_constructor() -> None:
    """metadata.py fills the fields an old PL version lacks from PROC_ENTRY_DEFAULTS: the same defaults
    as ProcEntry's own, in field order."""
    entry = ProcEntry(7, 7)
    names = record_fields(ProcEntry)
    assert [name for name, _ in PROC_ENTRY_DEFAULTS] == list(names[2:])
    for name, default in PROC_ENTRY_DEFAULTS:
        assert getattr(entry, name) == (default() if default is list else default), name  # type: ignore[operator]


def test_tuple_rows_keep_what_frozen_rows_gave() -> None:
    """The event table's rows are TupleRows: equal by class and value (never to a plain tuple), hashed by
    value, immutable, with a repr listing the fields, and copied or pickled whole."""
    import pickle

    from sysdig_user.event_table import EC, EVENTS, PF, PT, Param, ScInfo

    p = Param("fd", PT.FD, PF.DEC)
    assert p == Param("fd", PT.FD, PF.DEC) and hash(p) == hash(Param("fd", PT.FD, PF.DEC))
    assert p != tuple(p) and p != Param("fd", PT.FD, PF.HEX)
    assert p.name == "fd" and p.type is PT.FD and p.table is None and p.dyn == ()
    assert repr(p) == "Param(name='fd', type=<PT.FD: 14>, fmt=<PF.DEC: 1>, table=None, dirfd=None, dyn=())"
    assert ScInfo("x", EC.FILE) != ("x", EC.FILE)
    with pytest.raises(AttributeError):
        p.name = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        p.other = 1  # type: ignore[attr-defined]
    info = EVENTS[3]
    assert copy.copy(info) == info and pickle.loads(pickle.dumps(info)) == info
    assert info.params[0] is EVENTS[3].params[0] and info.code == 3 and not info.is_enter
