"""Start-up discipline (issue 14): a short run imports only what it uses, and what sdu builds once (the
filter parser, the event table's rows) comes from its cache, never stale.

The import checks run a fresh interpreter (``sys.modules`` of this one holds everything the suite has
imported) with a private cache directory, once to fill the cache and once to look.
"""
from __future__ import annotations

import json
import marshal
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sysdig_user import cache, module_cache, table_data
from sysdig_user.filter import grammar
from tests.scap.damaged import open_read_events, write_capture
from tests.support import ROOT, run_sdu

# never imported by a run that does not use them (third-party packages, the sources, the chisels, the -w
# writer)
NOT_FOR_A_READ = ("lark", "scapy", "psutil", "ptrace", "lupa", "tracer", "netcap", "sysdig_user.chisels",
                  "sysdig_user.filter", "sysdig_user._event_table_data", "sysdig_user.scap.cycle")

# the standard library's modules that dataclasses pulls in (and lark's standalone parser, but for
# grammar._TRIMS): no run imports them (its records are sysdig_user.rows classes, not dataclasses)
NOT_FOR_A_RUN = ("dataclasses", "inspect", "ast", "dis", "tokenize")

# the standard library's modules a short run (sdu -- /bin/true, with a filter or a -p format; sdu -r of a
# small capture) has no use for: typing (annotations only; its import, with re, contextlib and warnings,
# was ~10% of a short run's instructions), re (sysdig_user/lazy_re.py), importlib (which imports
# warnings: __import__ does what the short run needs), the JSON of container events, copying, weak references, globs, paths,
# logging, threads, subprocesses, sockets' Python layer, collections and functools (6M and 3M instructions;
# the engine takes what it uses from _collections_abc, _collections and _functools)... (checked in an interpreter without site, whose
# .pth files may import some of them: pathlib, re, urllib for an editable install)
NOT_FOR_A_SHORT_RUN = (*NOT_FOR_A_RUN, "typing", "re", "warnings", "importlib", "json", "copy", "weakref", "fnmatch", "pathlib", "urllib", "logging",
                       "pickle", "tempfile", "shutil", "subprocess", "threading", "socket", "argparse", "datetime",
                       "locale", "textwrap", "random", "hashlib", "base64", "importlib.util", "glob", "uuid",
                       "decimal", "email", "http",
                       "collections", "functools", "types")  # (_collections_abc, _functools: the C parts, loaded anyway)
# the state engine's packet parser: imported by a capture's first packet event (state/inspector.py)
NOT_WITHOUT_PACKETS = ("sysdig_user.state.parsers_packet",)
# the field classes the default line does not use (registry._TABLE: imported on a field's first use)
OTHER_FIELD_CLASSES = tuple(f"sysdig_user.fields.{m}" for m in ("fd", "container", "user", "group", "syslog",
                                                                   "fdlist", "k8s", "tracer"))

# (sys.modules before the report's own import of json)
_REPORT = "import sys; _seen = sorted(sys.modules); import json; print(json.dumps(_seen), file=sys.stderr)"


def _modules_of(program: str, cache_home: Path, bare: bool = False) -> tuple[set[str], str]:
    """The modules loaded once ``program`` has run in a fresh interpreter, and its stdout. ``bare``: an
    interpreter without site (-S, the checkout on PYTHONPATH), where only the program imports anything."""
    env = dict(os.environ, XDG_CACHE_HOME=str(cache_home), TZ="UTC")
    flags = []
    if bare:
        flags = ["-S"]
        env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run([sys.executable, *flags, "-c", f"{program}\n{_REPORT}"], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stderr.strip().splitlines()[-1])), proc.stdout


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def _cli(*argv: str) -> str:
    return f"from sysdig_user.entry import main\nassert main({list(argv)!r}) == 0"


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """sdu's cache in a directory of the test's own (this process and its children)."""
    home = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.setattr(cache, "_looked", False)
    monkeypatch.setattr(cache, "_dir", None)
    yield home / "sdu"


def test_the_entry_point_imports_nothing_heavy(tmp_path: Path) -> None:
    """The console script's module is all a Ctrl-C during start-up needs: nothing of the engine yet."""
    modules, _ = _modules_of("import sysdig_user.entry", tmp_path)
    assert _loaded(modules, (*NOT_FOR_A_READ, "sysdig_user.event_table", "sysdig_user.cli", "dataclasses")) == []


def test_the_engine_imports_no_collections(tmp_path: Path) -> None:
    """The command line's engine (sysdig_user.cli and what it imports) takes collections.abc's classes from
    _collections_abc, loaded with os at every start, and namedtuple's accessor from _collections:
    importing the collections package costs a start ~6M instructions (callgrind), 15% of ``python3 -c
    pass``."""
    modules, _ = _modules_of("import sysdig_user.cli, sysdig_user.state.parsers_process, sysdig_user.fields.evt, "
                             "sysdig_user.fields.proc, sysdig_user.fields.thread", tmp_path, bare=True)
    assert _loaded(modules, ("collections",)) == []


@pytest.mark.slow
def test_a_read_imports_only_what_it_uses(tmp_path: Path) -> None:
    """``sdu -r`` of a small capture: no tracer, packet, chisel or filter code, no third-party package,
    and (the cache filled by the first run) not the generated event table module either; nor _socket
    (~1M instructions: loaded by the first address a run prints or parses); with the compiled line, which
    prints them all, not the field classes that the default line's Python Formatter binds either."""
    cap = str(write_capture(tmp_path / "small.scap", open_read_events()))
    cold, cold_out = _modules_of(_cli("-r", cap), tmp_path / "cache")
    warm, warm_out = _modules_of(_cli("-r", cap), tmp_path / "cache")
    assert warm_out == cold_out and "openat" in warm_out
    assert "sysdig_user._event_table_data" in cold  # the first run builds the cache from it
    assert _loaded(warm, NOT_FOR_A_READ) == []
    assert _loaded(cold, NOT_FOR_A_RUN) == [] and _loaded(warm, NOT_FOR_A_RUN) == []
    bare, bare_out = _modules_of(_cli("-r", cap), tmp_path / "cache", bare=True)
    assert bare_out == cold_out
    assert _loaded(bare, (*NOT_FOR_A_READ, *NOT_FOR_A_SHORT_RUN, *OTHER_FIELD_CLASSES, *NOT_WITHOUT_PACKETS,
                          "ipaddress", "ctypes", "signal", "select", "_socket", "socket")) == []
    from sysdig_user.output import fastline

    if fastline.available():  # the compiled line prints every event, the first too: no field class, no registry,
        # not the Python formatter (output/options.py holds what the command line and the pipeline read)
        assert _loaded(bare, ("sysdig_user.fields", "sysdig_user.output.formatter")) == []


@pytest.mark.slow
def test_a_table_chisel_read_imports_only_its_chisel(tmp_path: Path) -> None:
    """``sdu -r CAP -c topfiles_bytes``: the chisel's own modules (registry.builtin_chisel stops at the module
    that has it), not the Lua bridge, lupa or the other built-in chisels, nor what only a user or Lua chisel's
    lookup (pathlib), -j (json) or a percentage (decimal) needs."""
    cap = str(write_capture(tmp_path / "small.scap", open_read_events()))
    _modules_of(_cli("-r", cap, "-c", "topfiles_bytes"), tmp_path / "cache")
    bare, out = _modules_of(_cli("-r", cap, "-c", "topfiles_bytes"), tmp_path / "cache", bare=True)
    assert "Filename" in out
    others = tuple(f"sysdig_user.chisels.builtin.{m}" for m in ("iochisels", "spy", "state", "perf", "http", "extra",
                                                                "containers"))
    assert _loaded(bare, ("lupa", "sysdig_user.chisels.lua_bridge", *others, *NOT_FOR_A_RUN, "pathlib", "json",
                          "decimal", "shutil", "socket")) == []


@pytest.mark.ptrace
@pytest.mark.slow
@pytest.mark.parametrize("options", [(), ("-p", "%proc.name %fd.name"), ("evt.type=execve",)],
                         ids=["default", "format", "filter"])
def test_a_live_run_imports_only_what_it_uses(tmp_path: Path, options: tuple[str, ...]) -> None:
    """``sdu -- /bin/true`` (with its default line, a ``-p`` format or a filter): no chisel, packet or
    third-party code, no filter code or pushdown tables unless filtering, and none of the standard library's introspection
    modules (with a filter: once the first run has cached the parser, and lark's standalone parser
    trimmed of them, grammar._TRIMS), and no field class the line, filter or format does not name."""
    program = _cli(*options, "--", "/bin/true")
    filtered = options[:1] == ("evt.type=execve",)
    modules, out = _modules_of(program, tmp_path / "cache")
    if filtered:
        modules, out = _modules_of(program, tmp_path / "cache")
    assert ("true" if options[:1] == ("-p",) else "execve") in out
    filtering = () if filtered else ("sysdig_user.filter", "tracer.pushdown")  # (unfiltered: tracer/cuts.py)
    # (nor the scap block parsers: without -w the state engine takes its entries' C loader from scap/entries.py)
    assert _loaded(modules, ("lark", "scapy", "psutil", "lupa", "netcap", "sysdig_user.chisels", *filtering,
                             "sysdig_user.scap.cycle", "sysdig_user.scap.metadata", *NOT_WITHOUT_PACKETS,
                             *NOT_FOR_A_RUN)) == []
    # and in an interpreter without site: none of the standard library a short run has no use for; the
    # default line imports only its field classes, a filter (from the cache) not the standalone parser
    bare, out = _modules_of(program, tmp_path / "cache", bare=True)
    assert ("true" if options[:1] == ("-p",) else "execve") in out
    # (a filter or -p format compiled for the C line, output/compiled.py, imports the field classes it names
    # only: none of the fd fields' tables for evt.type)
    named = ("fd", "container") if options[:1] == ("-p",) else ()
    unused = (*(c for c in OTHER_FIELD_CLASSES if c.rsplit(".", 1)[1] not in named), "ipaddress")
    assert _loaded(bare, (*NOT_FOR_A_SHORT_RUN, *unused, grammar._MODULE, "lark", "lupa", "netcap")) == []
    # /bin/true names no user and opens no socket: the users, groups and interfaces are never read
    # (state/users.py, state/interfaces.py: at their first use), so neither pwd nor grp loads, nor with the
    # default line _socket (the interfaces' ioctls; a -p format's or filter's compiled fields may load it)
    assert _loaded(bare, ("pwd", "grp", *(("_socket",) if not options else ()))) == []
    from tracer import libc

    if libc.NATIVE:  # the tracer's libc calls are tracer/_fastpath.c's: ctypes only without it (tracer/libc.py)
        assert _loaded(bare, ("ctypes", "_ctypes", "tracer._libc_ctypes")) == []
    # the decoder families its syscalls do not need (tracer/decoders/__init__.py), nor what only attach mode
    # or (unfiltered: every syscall stops) a launch under the seccomp filter uses
    assert _loaded(bare, ("tracer.decoders.net", "tracer.decoders.ipc", "tracer.decoders.signal", "tracer.attach",
                          *(() if filtered else ("tracer.seccomp",)))) == []


@pytest.mark.slow
def test_a_filtered_read_does_not_import_lark(tmp_path: Path) -> None:
    """With a filter the parser is lark's standalone one from the cache: lark itself is imported only
    by the first run, which generates it, and the second takes the filter's AST from the cache without
    loading the parser at all; the outputs agree."""
    cap = str(write_capture(tmp_path / "small.scap", open_read_events()))
    program = _cli("-r", cap, "evt.type=read")
    cold, cold_out = _modules_of(program, tmp_path / "cache")
    warm, warm_out = _modules_of(program, tmp_path / "cache")
    assert "lark" in cold
    assert warm_out == cold_out and "read" in warm_out and "openat" not in warm_out
    assert _loaded(warm, ("lark", "scapy", "psutil", "tracer", "netcap", "sysdig_user._event_table_data",
                          "logging", "pickle", "inspect")) == []  # (the last three: grammar._TRIMS)
    # the filter's AST is the first run's (filter/ast_cache.py): not even the standalone parser is loaded
    assert grammar._MODULE in cold and grammar._MODULE not in warm


# ---------------------------------------------------------------------------------------- caches


def _module_rows() -> dict[str, tuple[object, ...]]:
    from sysdig_user import _event_table_data as module

    return {name: getattr(module, name) for name in table_data.NAMES}


def test_table_rows_come_from_the_cache_of_this_source(private_cache: Path) -> None:
    want = _module_rows()
    assert table_data.load() == want  # fills the cache
    assert (private_cache / table_data._ENTRY).exists()
    source_key = cache.key(Path(table_data.SOURCE).read_bytes())
    # an entry with this source's key is what load() returns: it is read, not rebuilt
    marker = {name: (("marker",),) for name in table_data.NAMES}
    cache.store(table_data._ENTRY, source_key, marshal.dumps(marker))
    assert table_data.load() == marker
    # an entry built from another source is stale: never used, built again from the module
    cache.store(table_data._ENTRY, cache.key(b"an older table"), marshal.dumps(marker))
    assert table_data.load() == want
    assert cache.load(table_data._ENTRY, source_key) == marshal.dumps(want)
    # a damaged entry too
    cache.store(table_data._ENTRY, source_key, b"\x00garbage")
    assert table_data.load() == want


def test_filter_parser_is_generated_once_per_grammar(private_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    generate = grammar._generate

    def counting(text: str) -> str:
        made.append(text)
        return generate(text)

    monkeypatch.setattr(grammar, "_generate", counting)
    source = Path(grammar.GRAMMAR).read_bytes()
    first = grammar._code(source)
    assert len(made) == 1 and (private_cache / grammar._ENTRY).exists()
    assert grammar._code(source) == first and len(made) == 1  # from the cache
    changed = source + b"\n// an edit\n"
    grammar._code(changed)
    assert len(made) == 2  # another grammar: generated again, never the old parser
    grammar._code(changed)
    assert len(made) == 2


def test_the_standalone_parser_is_trimmed(private_cache: Path) -> None:
    """The installed lark's generated module still has the lines grammar._TRIMS drops (else the parser
    works as generated, but costs the logging and pickle imports again)."""
    source = grammar._generate(Path(grammar.GRAMMAR).read_text())
    trimmed = grammar._trim(source)
    assert trimmed != source and "import logging" not in trimmed
    assert "from dataclasses" not in trimmed and "\nfrom inspect" not in trimmed


def test_no_cache_without_a_private_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache directory others can write to is not used (its entries hold code that sdu runs)."""
    home = tmp_path / "shared"
    (home / "sdu").mkdir(parents=True)
    (home / "sdu").chmod(0o777)
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.setattr(cache, "_looked", False)
    monkeypatch.setattr(cache, "_dir", None)
    assert cache.directory() is None
    cache.store("entry", cache.key(b"x"), b"payload")
    assert cache.load("entry", cache.key(b"x")) is None
    assert table_data.load() == _module_rows()


# the modules' code (sysdig_user/module_cache.py), tried on a package of the test's own
_PROBE = """import sys
sys.path.insert(0, {root!r})
from sysdig_user import module_cache
module_cache.PACKAGES = ("sdu_probe",)
module_cache.install()
import sdu_probe.mod
try:
    import sdu_probe.absent  # (as an extension that was not built)
except ImportError:
    pass
print(sdu_probe.mod.VALUE, type(sdu_probe.mod.__spec__.loader).__name__, sdu_probe.mod.__file__ == {mod!r},
      sdu_probe.__path__ == [{pkg!r}], sdu_probe.mod.where.__code__.co_filename == {mod!r})
module_cache.remember()
"""


def _probe(root: Path, cache_home: Path) -> list[str]:
    pkg = root / "sdu_probe"
    program = _PROBE.format(root=str(root), mod=str(pkg / "mod.py"), pkg=str(pkg))
    env = dict(os.environ, XDG_CACHE_HOME=str(cache_home), PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_module_code_comes_from_the_cache_never_stale(tmp_path: Path) -> None:
    """A module the first run imported is served from the entry the next time, with the attributes Python
    gives it; once its file changes, Python's own finders load it again (and the entry is brought up to
    date); a damaged entry is ignored."""
    pkg = tmp_path / "sdu_probe"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "mod.py").write_text("VALUE = 1\ndef where(): pass\n")
    home = tmp_path / "cache"
    assert _probe(tmp_path, home) == ["1", "SourceFileLoader", "True", "True", "True"]
    entry = home / "sdu" / module_cache.entry_name()
    written = entry.stat().st_mtime_ns
    assert _probe(tmp_path, home) == ["1", "ModuleCode", "True", "True", "True"]
    assert entry.stat().st_mtime_ns == written  # (the absent module is no reason to write it again)
    (pkg / "mod.py").write_text("VALUE = 22\ndef where(): pass\n")
    assert _probe(tmp_path, home) == ["22", "SourceFileLoader", "True", "True", "True"]
    assert _probe(tmp_path, home) == ["22", "ModuleCode", "True", "True", "True"]
    head = entry.read_bytes().split(b"\n", 1)[0]
    entry.write_bytes(head + b"\n\x40\0\0\0\0\0\0\0garbage")
    assert _probe(tmp_path, home) == ["22", "SourceFileLoader", "True", "True", "True"]


@pytest.mark.slow
def test_a_copied_tree_names_its_own_files(tmp_path: Path) -> None:
    """A tree copied with its __pycache__ (cp -a, a container image layer): the code the cache keeps names
    the copy's files, as Python's loader makes it, not those of the tree the .pyc was written in."""
    first = tmp_path / "a"
    (first / "sdu_probe").mkdir(parents=True)
    (first / "sdu_probe" / "__init__.py").write_text("")
    (first / "sdu_probe" / "mod.py").write_text("VALUE = 1\ndef where(): pass\n")
    import compileall

    assert compileall.compile_dir(str(first), quiet=1)
    copy = tmp_path / "b"
    shutil.copytree(first, copy)
    home = tmp_path / "cache"
    assert _probe(copy, home)[-1] == "True"  # (Python's loader: fixed on import)
    assert _probe(copy, home) == ["1", "ModuleCode", "True", "True", "True"]


def test_two_checkouts_sharing_a_cache_run_their_own_modules(tmp_path: Path) -> None:
    """A copy of sdu's packages elsewhere (another checkout, an install) with one module changed, both
    run with the same cache directory, one after the other and again: each runs its own code (the
    other's files check as current where they are, so one entry for both would serve them)."""
    other = tmp_path / "other"
    for package in ("sysdig_user", "tracer", "netcap"):
        shutil.copytree(ROOT / package, other / package, ignore=shutil.ignore_patterns("__pycache__"))
    version = other / "sysdig_user" / "version.py"
    version.write_text(version.read_text().replace("__version__ = ", "__version__ = 'other-' + "))
    home = tmp_path / "cache"
    program = ("import sys\nsys.argv = ['sdu', '--version']\nfrom sysdig_user.entry import console\n"
               "console()\n")
    seen = []
    for root in (ROOT, other, ROOT, other):
        env = dict(os.environ, XDG_CACHE_HOME=str(home), PYTHONPATH=str(root))
        proc = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
        seen.append(proc.stdout.startswith("sdu version other-"))
    assert seen == [False, True, False, True]
    assert len(list((home / "sdu").glob("modules-*.marshal"))) == 2


@pytest.mark.slow
def test_the_console_serves_sdus_modules_from_the_cache(tmp_path: Path) -> None:
    """``sdu -r``: the first run fills the modules' entry, the next prints the same from it."""
    cap = str(write_capture(tmp_path / "small.scap", open_read_events()))
    cold = _console(["-r", cap], tmp_path / "cache", capture_output=True)
    assert (tmp_path / "cache" / "sdu" / module_cache.entry_name()).exists()
    spy = ("from sysdig_user import entry\nmain = entry.main\n"
           "def spy(*args):\n"
           "    status = main(*args)\n"
           "    sys.stderr.write(type(sys.modules['sysdig_user.scap.reader'].__spec__.loader).__name__)\n"
           "    return status\n"
           "entry.main = spy\n")
    warm = _console(["-r", cap], tmp_path / "cache", spy, capture_output=True)
    assert warm.returncode == cold.returncode == 0 and b"openat" in cold.stdout
    assert (warm.stdout, warm.stderr) == (cold.stdout, b"ModuleCode")


# -------------------------------------------------------------------- the console script: collections, exit


def _console(argv: list[str], cache_home: Path, before: str = "", **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    """``sdu ARGV`` through sysdig_user.entry.console (the console script's function) in a fresh interpreter,
    after ``before`` runs there."""
    program = f"import sys\n{before}\nsys.argv = ['sdu', *{argv!r}]\nfrom sysdig_user.entry import console\nconsole()\n"
    env = dict(os.environ, XDG_CACHE_HOME=str(cache_home), TZ="UTC", PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", program], env=env, cwd=ROOT, timeout=60, check=False, **kwargs)


def test_the_console_script_is_console() -> None:
    """The sdu command is scripts/sdu, installed as it is (pyproject's script-files), not an entry point
    whose generated wrapper imports re: it imports sys and sysdig_user.entry's console, and runs that."""
    import ast

    with open(ROOT / "pyproject.toml", encoding="utf-8") as f:
        project = f.read()
    assert 'script-files = ["scripts/sdu"]\n' in project and "\n[project.scripts]" not in project
    source = (ROOT / "scripts" / "sdu").read_text()
    tree = ast.parse(source)
    imports = [ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert imports == ["import sys", "from sysdig_user.entry import console"]
    assert 'if __name__ == "__main__":\n    sys.exit(console())\n' in source
    installed = Path(sys.executable).parent / "sdu"  # (the environment running the tests, when it has sdu)
    if installed.exists():
        assert installed.read_text().split("\n", 1)[1] == source.split("\n", 1)[1], \
            f"{installed} is not scripts/sdu: run pip install -e . again"


@pytest.mark.slow
def test_the_console_exit_flushes_and_keeps_the_status(tmp_path: Path) -> None:
    """Ended by os._exit, a run still delivers all its output and its status: a read, a bad option and a
    bad file give what sysdig_user.cli.main gives in this process."""
    cap = str(write_capture(tmp_path / "small.scap", open_read_events()))
    for argv in (["-r", cap], ["-r", cap, "-p", "%evt.num %fd.name", "evt.type=read"], ["--bogus"],
                 ["-r", str(tmp_path / "missing.scap")]):
        want = run_sdu(*argv, environ=dict(os.environ, TZ="UTC"))
        got = _console(argv, tmp_path / "cache", capture_output=True)
        assert (got.returncode, got.stdout.decode(), got.stderr.decode()) == (want.status, want.stdout, want.stderr)


@pytest.mark.slow
def test_a_closed_pipe_ends_the_console_quietly(tmp_path: Path) -> None:
    """stdout a pipe nobody reads any more (``sdu ... | head``): the status cli.main returns for it
    (EXIT_PIPE, 141 as sysdig's SIGPIPE death), and nothing on stderr (no second error from a flush at
    exit)."""
    from sysdig_user import cli

    cap = str(write_capture(tmp_path / "small.scap", open_read_events()))
    r, w = os.pipe()
    os.close(r)
    try:
        got = _console(["-r", cap], tmp_path / "cache", stdout=w, stderr=subprocess.PIPE)
    finally:
        os.close(w)
    assert (got.returncode, got.stderr) == (cli.EXIT_PIPE, b"")


@pytest.mark.slow
def test_no_collection_before_the_run_and_the_start_up_frozen(tmp_path: Path) -> None:
    """The collector is off until the source runs, then on again with the start-up's objects frozen and its
    first threshold raised (entry.GEN0_THRESHOLD)."""
    from sysdig_user import entry

    cap = str(write_capture(tmp_path / "small.scap", open_read_events()))
    before = ("import gc\nfrom sysdig_user import session\nrun = session.Session.run\n"
              "def spy(self, source):\n"
              "    sys.stderr.write(f'{gc.isenabled()} {gc.get_freeze_count()} {gc.get_stats()[2][\"collections\"]} {gc.get_threshold()[0]}\\n')\n"
              "    return run(self, source)\n"
              "session.Session.run = spy\n")
    got = _console(["-r", cap], tmp_path / "cache", before, capture_output=True)
    assert got.returncode == 0 and b"openat" in got.stdout
    enabled, frozen, full, gen0 = got.stderr.decode().split()
    assert enabled == "True" and int(frozen) > 10000 and full == "0" and int(gen0) == entry.GEN0_THRESHOLD


@pytest.mark.slow
def test_an_atexit_function_still_runs(tmp_path: Path) -> None:
    """With something owed at exit (here an atexit function) the console exits as Python does."""
    cap = str(write_capture(tmp_path / "small.scap", open_read_events()))
    marker = tmp_path / "marker"
    before = f"import atexit\natexit.register(lambda: open({str(marker)!r}, 'w').close())\n"
    got = _console(["-r", cap], tmp_path / "cache", before, capture_output=True)
    assert got.returncode == 0 and b"openat" in got.stdout and marker.exists()


def test_what_is_owed_at_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    import atexit
    import threading

    from sysdig_user import entry

    monkeypatch.setattr(atexit, "_ncallbacks", lambda: 0)
    monkeypatch.delitem(sys.modules, "lupa", raising=False)
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    assert entry._nothing_owed_at_exit()
    monkeypatch.setattr(threading, "active_count", lambda: 2)
    assert not entry._nothing_owed_at_exit()
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setattr(atexit, "_ncallbacks", lambda: 1)
    assert not entry._nothing_owed_at_exit()
    monkeypatch.setattr(atexit, "_ncallbacks", lambda: 0)
    monkeypatch.setitem(sys.modules, "lupa", sys)
    assert not entry._nothing_owed_at_exit()
