"""sysdig's filter language: text -> AST (parse.py, filter.lark) -> predicate closures (compile.py)."""
from __future__ import annotations

from sysdig_user.filter.compile import (
    FieldRef,
    Predicate,
    Resolver,
    ValueKind,
    compile_ast,
    compile_filter,
    event_types,
    referenced_fields,
    value_kind,
)
from sysdig_user.filter.errors import FilterError, UnknownField
from sysdig_user.filter.parse import parse

__all__ = [
    "FieldRef", "FilterError", "Predicate", "Resolver", "UnknownField", "ValueKind", "compile_ast",
    "compile_filter", "event_types", "parse", "referenced_fields", "value_kind",
]
