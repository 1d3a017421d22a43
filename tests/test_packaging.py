"""The package says what it is: every declared dependency is imported by a run that needs it, none that
the program does not use; the version lives in one place; the metadata is complete; and a fresh
``pip install .`` gives a working sdu, man page and completion."""
from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sysdig_user.version import SYSDIG_VERSION, __version__
from tests.support import ROOT, shared_path
from tracer.guard import HELPER

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = None  # type: ignore[assignment]


def _project() -> dict:
    if tomllib is None:
        pytest.skip("tomllib is Python 3.11's")
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def _requirement_name(req: str) -> str:
    return re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0].strip().lower()


#: the top-level module a distribution installs (each is a one-module distribution of the same name)
IMPORT_NAME = {"lark": "lark", "lupa": "lupa", "psutil": "psutil"}

_RECORD = """
import atexit, sys
def _dump():
    with open({out!r}, "w") as f:
        f.write("\\n".join(sorted(m.split(".")[0] for m in sys.modules)))
atexit.register(_dump)
sys.argv = ["sdu", *{argv!r}]
from sysdig_user.entry import main
sys.exit(main())
"""


def _modules_of_run(tmp_path: Path, name: str, argv: list[str], env: dict[str, str] | None = None) -> set[str]:
    out = tmp_path / f"{name}.modules"
    code = _RECORD.format(out=str(out), argv=argv)
    # a cache of its own: lark builds the filter parser only when sdu's cache does not hold it yet
    run_env = dict(os.environ, PYTHONPATH=str(ROOT), TZ="UTC", SDU_SINGLE_PROCESS="1",
                   XDG_CACHE_HOME=str(tmp_path / f"{name}.cache"), **(env or {}))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=run_env,
                         timeout=180, check=False)
    assert res.returncode == 0, res.stderr
    return set(out.read_text().split())


def test_dependencies_are_the_ones_the_code_names() -> None:
    """Each declared dependency is imported somewhere in the program, and the ones the README says were
    dropped (python-ptrace, scapy) are imported nowhere outside the tests."""
    declared = {_requirement_name(r) for r in _project()["dependencies"]}
    assert declared == set(IMPORT_NAME), "a new dependency needs a run below that imports it"
    imported: set[str] = set()
    for package in ("sysdig_user", "tracer", "netcap"):
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    imported |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    imported.add(node.module.split(".")[0])
                elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__" and node.args:
                    arg = node.args[0]
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        imported.add(arg.value.split(".")[0])
    assert not {"ptrace", "scapy"} & imported
    assert "psutil" in imported and "lark" in imported


@pytest.mark.slow
@pytest.mark.ptrace
def test_every_dependency_is_imported_by_a_run_that_needs_it(tmp_path: Path) -> None:
    """Runs in subprocesses, sys.modules read at exit: a filter on a cold cache (lark generates the
    standalone filter parser sdu then keeps in its cache), a Lua chisel (lupa; sysdig's own .lua files),
    topprocs_cpu on a launched command (psutil samples its CPU time)."""
    sample = str(shared_path("samples", "libs_curl_google.scap"))
    if not Path("/usr/share/sysdig/chisels/topfiles_bytes.lua").exists():
        pytest.skip("sysdig's Lua chisels are not installed (scripts/install-test-deps.sh)")
    runs = {
        "lark": _modules_of_run(tmp_path, "filter", ["-q", "-r", sample, "evt.type=connect"]),
        "lupa": _modules_of_run(tmp_path, "lua", ["-r", sample, "-c", "topfiles_bytes"],
                                {"SDU_CHISEL_ENGINE": "lua"}),
        "psutil": _modules_of_run(tmp_path, "cpu", ["-c", "topprocs_cpu", "--", sys.executable, "-c",
                                                    "import time; t = time.time()\nwhile time.time() - t < 1.3: pass"]),
    }
    for req in (_requirement_name(r) for r in _project()["dependencies"]):
        assert IMPORT_NAME[req] in runs[req], f"{req} is declared but its run did not import it"
    # and a plain read imports none of the three
    plain = _modules_of_run(tmp_path, "plain", ["-r", sample])
    assert not {"lupa", "psutil", "scapy", "ptrace"} & plain


@pytest.mark.slow
def test_net_filter_compiles_without_scapy() -> None:
    code = ("import sys\nfrom netcap.bpf import compile_expr\nprog = compile_expr('tcp port 80', 1, 200)\n"
            "assert prog and prog[-1].k == 0 and any(i.k == 200 for i in prog), prog\n"
            "assert 'scapy' not in sys.modules\nprint(len(prog))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert res.returncode == 0, res.stderr


@pytest.mark.oracle
def test_libpcap_compiles_what_tcpdump_compiles() -> None:
    from netcap import bpf
    from tests.support import require_tool

    tcpdump = require_tool("tcpdump")
    if bpf._libpcap() is None:
        pytest.skip("libpcap is not installed")
    for expr in ("tcp port 80", "udp and host 127.0.0.1", "icmp or arp", "tcp[13] & 2 != 0", "ip6 and udp", "ip"):
        for linktype in (1, 101):
            assert bpf._compile_with_libpcap(bpf._libpcap(), expr, linktype, 65535) == \
                bpf._compile_with_tcpdump(tcpdump, expr, linktype, 65535), (expr, linktype)


def test_version_is_written_once() -> None:
    project = _project()
    assert "version" in project.get("dynamic", []) and "version" not in project
    with open(ROOT / "pyproject.toml", "rb") as f:
        dynamic = tomllib.load(f)["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "sysdig_user.version.__version__"}
    written = [p for p in ROOT.glob("*/**/*.py") if ".venv" not in p.parts and p.name != "version.py"
               and re.search(rf"['\"]{re.escape(__version__)}['\"]", p.read_text())]
    assert not written
    assert SYSDIG_VERSION == "0.29.3"


def test_metadata_is_complete() -> None:
    project = _project()
    assert project["readme"] == "README.md" and project["license"]
    assert project["urls"] and project["classifiers"] and project["requires-python"]
    assert (ROOT / "LICENSE").is_file()
    for package in ("sysdig_user", "tracer", "netcap"):
        assert (ROOT / package / "py.typed").is_file(), package


@pytest.mark.slow
def test_sdist_holds_every_c_source(tmp_path: Path) -> None:
    """The source distribution (what `python -m build` and an install from an index build the wheel
    from) holds every C file setup.py compiles: the extensions' and the watchdog program's, which no
    Extension names (MANIFEST.in)."""
    import tarfile

    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", "build", "dist", "*.egg-info", "__pycache__",
                                                               ".git", "*.so", "sdu-guard-*", ".mypy_cache",
                                                               ".ruff_cache"))
    made = subprocess.run([sys.executable, "-m", "build", "--sdist", "--outdir", str(tmp_path / "dist"), str(src)],
                          capture_output=True, text=True, timeout=600, check=False)
    if made.returncode != 0 and "No matching distribution" in made.stdout + made.stderr:
        pytest.skip("no package index reachable for the build's own setuptools")
    assert made.returncode == 0, made.stdout + made.stderr
    (archive,) = (tmp_path / "dist").glob("*.tar.gz")
    with tarfile.open(archive) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    wanted = {str(path.relative_to(ROOT)) for path in (*ROOT.glob("tracer/*.c"), *ROOT.glob("sysdig_user/*.c"))}
    assert "tracer/_guard.c" in wanted
    assert wanted <= names, sorted(wanted - names)


@pytest.mark.slow
@pytest.mark.oracle
def test_fresh_venv_install(tmp_path: Path) -> None:
    """`pip install .` into a new venv: sdu --version, the installed man page through man, the bash
    completion, and -cl with sysdig's whole list (lupa is a dependency)."""
    if os.environ.get("SDU_SKIP_INSTALL_TEST"):
        pytest.skip("SDU_SKIP_INSTALL_TEST set")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", "build", "*.egg-info", "__pycache__",
                                                               ".git", "*.so", "sdu-guard-*", ".mypy_cache",
                                                               ".ruff_cache"))
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(src)], capture_output=True, text=True,
                         timeout=900, check=False)
    if pip.returncode != 0 and "No matching distribution" in pip.stderr:
        pytest.skip(f"no package index reachable: {pip.stderr.strip().splitlines()[-1]}")
    assert pip.returncode == 0, pip.stderr
    sdu = venv / "bin" / "sdu"
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "LANG": "C.UTF-8", "MANWIDTH": "100"}
    if shutil.which("cc") or shutil.which("gcc"):  # the compiled parts are installed with the package
        (tracer_dir,) = venv.glob("lib/python*/site-packages/tracer")
        assert os.access(tracer_dir / HELPER, os.X_OK)
        assert list(tracer_dir.glob("_launch*.so")) and list(tracer_dir.glob("_fastpath*.so"))
    version = subprocess.run([str(sdu), "--version"], capture_output=True, text=True, env=env, check=True)
    assert version.stdout == f"sdu version {__version__} (follows sysdig {SYSDIG_VERSION})\n"
    page = venv / "share" / "man" / "man8" / "sdu.8"
    if shutil.which("man"):
        shown = subprocess.run(["man", "-l", str(page)], capture_output=True, text=True, env=env, check=True)
        assert "SDU(8)" in shown.stdout
        found = subprocess.run(["man", "-w", "sdu"], capture_output=True, text=True, env=env, check=False)
        assert found.stdout.strip() == str(page)  # `man sdu` finds it from PATH
    completion = venv / "share" / "bash-completion" / "completions" / "sdu"
    run = subprocess.run(["bash", "-c", (f'source {completion}; COMP_WORDS=(sdu --pr); COMP_CWORD=1; _sdu; '
                          'printf "%s\\n" "${COMPREPLY[@]}"')], capture_output=True, text=True, env=env, check=True)
    assert "--print" in run.stdout.split()
    listed = subprocess.run([str(sdu), "-cl"], capture_output=True, text=True, env=env, check=True).stdout
    sysdig = shutil.which("sysdig")
    if sysdig and Path("/usr/share/sysdig/chisels").is_dir():
        want = subprocess.run([sysdig, "-cl"], capture_output=True, text=True, check=True).stdout
        assert len(listed.splitlines()) == len(want.splitlines())
