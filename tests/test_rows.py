"""sysdig_user/rows.py's Record: the plain classes that replaced the dataclasses on a run's start-up path
keep what the dataclasses gave them (fields in constructor order, equality by value, a repr, defaults)."""
from __future__ import annotations

import ast
import copy
import importlib
import inspect
import sys
from pathlib import Path

import pytest

from sysdig_user.rows import FrozenRow, Record, TupleRow, record_fields
from sysdig_user.scap.records import PROC_ENTRY_DEFAULTS, ProcEntry, User
from sysdig_user.spec import CaptureSpec, OutputSpec, TraceSpec

# every module that declares Record or FrozenRow classes written by hand (imported so that
# __subclasses__ sees them all)
MODULES = ("sysdig_user.scap.records", "sysdig_user.scap.container_json", "sysdig_user.spec", "sysdig_user.environment", "sysdig_user.pipeline",
           "sysdig_user.output.render", "sysdig_user.output.formatter", "sysdig_user.output.options",
           "sysdig_user.state.fds",
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


# every module that declares TupleRow classes
TUPLE_ROW_MODULES = ("sysdig_user.event_table", "sysdig_user.output.render", "tracer.syscalls_x86_64",
                     "tracer.decoders.base")


def _tuple_rows() -> list[type]:
    for name in TUPLE_ROW_MODULES:
        importlib.import_module(name)
    return [c for c in TupleRow.__subclasses__() if c.__module__ in TUPLE_ROW_MODULES]


def _declared(cls: type) -> list[str]:
    """The fields a TupleRow class declares for mypy (annotations under ``if TYPE_CHECKING:`` in its body,
    which never run), read from its source."""
    tree = ast.parse(Path(sys.modules[cls.__module__].__file__ or "").read_text())
    (node,) = [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == cls.__name__]
    return [stmt.target.id for block in node.body if isinstance(block, ast.If) for stmt in block.body
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)]


def test_every_tuple_row_module_is_listed() -> None:
    for module in TUPLE_ROW_MODULES:
        assert any(c.__module__ == module for c in _tuple_rows()), module


@pytest.mark.parametrize("cls", _tuple_rows(), ids=lambda c: c.__qualname__)
def test_tuple_rows_are_their_declared_fields(cls: type) -> None:
    """A TupleRow's fields (what its attributes read, in its tuple's order) are the parameters of its
    ``__new__`` and what it declares for mypy, in the same order."""
    fields = list(cls._fields)  # type: ignore[attr-defined]
    assert [p for p in inspect.signature(cls.__new__).parameters if p != "cls"] == fields
    assert _declared(cls) == fields
    row = cls(*range(len(fields)))
    assert [getattr(row, name) for name in fields] == list(range(len(fields)))


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
