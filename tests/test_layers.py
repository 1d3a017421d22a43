"""Imports go down the layers only, read from the source (every import statement, function-level ones
included; those under ``if TYPE_CHECKING:`` are annotations, not dependencies, and are skipped).

    front     sysdig_user.cli, cli_options, __main__       the command line: argv -> CaptureSpec
              sysdig_user (package), api, pytest_plugin    the Python API and its pytest plugin
    sources   tracer/, netcap/                             live event sources (never the CLI)
    engine    sysdig_user.session, pipeline, sources       the Session, its pipeline, the file source
    chisels   sysdig_user.chisels
    present   sysdig_user.fields, output                   fields and text (evt.args is render's text)
    filter    sysdig_user.filter
    state     sysdig_user.state
    scap      sysdig_user.scap
    model     event table, params, flags, Event, spec, plan, environment, errors

The core (everything below ``sources``) imports neither tracer/ nor netcap/; netcap never imports the
tracer; nothing but the front imports ``cli`` or ``cli_options``.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import ROOT

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("model", ("sysdig_user.errors", "sysdig_user.rows", "sysdig_user._event_table_data",
               "sysdig_user._flag_tables_extra", "sysdig_user.event_table", "sysdig_user.flags",
               "sysdig_user.params", "sysdig_user.native", "sysdig_user.event", "sysdig_user.spec",
               "sysdig_user.plan", "sysdig_user.environment", "sysdig_user.cache", "sysdig_user.module_cache",
               "sysdig_user.table_data", "sysdig_user.version", "sysdig_user.lazy_re", "sysdig_user.consts")),
    ("scap", ("sysdig_user.scap",)),
    ("state", ("sysdig_user.state",)),
    ("filter", ("sysdig_user.filter",)),
    ("present", ("sysdig_user.fields", "sysdig_user.output")),
    ("chisels", ("sysdig_user.chisels",)),
    ("engine", ("sysdig_user.session", "sysdig_user.pipeline", "sysdig_user.sources")),
    ("sources", ("tracer", "netcap")),
    ("front", ("sysdig_user.cli", "sysdig_user.cli_options", "sysdig_user.__main__", "sysdig_user.entry", "sysdig_user.api",
               "sysdig_user.shell_files",
               "sysdig_user.pytest_plugin", "=sysdig_user")),
)
FRONT = ("sysdig_user.cli", "sysdig_user.cli_options")
FRONT_LAYER = len(LAYERS) - 1


def _layer(module: str) -> int:
    """Index in LAYERS of the longest prefix naming ``module``."""
    best, best_len = -1, -1
    for i, (_name, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if p.startswith("="):  # this module alone (the package root, whose names are the API's)
                if module == p[1:]:
                    return i
                continue
            if (module == p or module.startswith(p + ".")) and len(p) > best_len:
                best, best_len = i, len(p)
    return best


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every project import outside ``if TYPE_CHECKING:`` blocks."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # "from sysdig_user import params" imports the module sysdig_user.params
            found.extend((node.lineno, f"{node.module}.{a.name}") for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return [(line, name) for line, name in found if name.split(".")[0] in ("sysdig_user", "tracer", "netcap")]


def _all_imports() -> list[tuple[str, int, str]]:
    rows = []
    for pkg in ("sysdig_user", "tracer", "netcap"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            mod = _module_name(path)
            for line, name in _imports(ast.parse(path.read_text(), str(path))):
                rows.append((mod, line, name))
    return rows


IMPORTS = _all_imports()


def test_every_module_has_a_layer() -> None:
    missing = sorted({mod for mod, _, _ in IMPORTS if _layer(mod) < 0})
    assert not missing


def test_imports_go_down_the_layers() -> None:
    upward = [f"{mod}:{line} imports {name} ({LAYERS[_layer(name)][0]} above {LAYERS[_layer(mod)][0]})"
              for mod, line, name in IMPORTS if _layer(name) > _layer(mod)]
    assert not upward, "\n".join(upward)


def test_only_the_front_imports_the_command_line() -> None:
    bad = [f"{mod}:{line} imports {name}" for mod, line, name in IMPORTS
           if any(name == f or name.startswith(f + ".") for f in FRONT) and _layer(mod) != len(LAYERS) - 1]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(("importer", "imported"), [("sysdig_user", "tracer"), ("sysdig_user", "netcap"),
                                                    ("netcap", "tracer")])
def test_package_direction(importer: str, imported: str) -> None:
    bad = [f"{mod}:{line} imports {name}" for mod, line, name in IMPORTS
           if mod.split(".")[0] == importer and name.split(".")[0] == imported
           and _layer(mod) != len(LAYERS) - 1]  # (the front starts the tracer)
    assert not bad, "\n".join(bad)


def test_the_checker_sees_an_upward_import() -> None:
    """The rules above can fail: a core module importing the tracer is caught."""
    tree = ast.parse("def f():\n    from tracer.live import TraceSource\n")
    (line, name), = _imports(tree)
    assert line == 2 and _layer(name) > _layer("sysdig_user.state.inspector")
    assert not _imports(ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import tracer\n"))
