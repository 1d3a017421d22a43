"""tests/conftest.py: the tier markers are checked while tests run, `-m unit` is what carries none, and
missing shared reference material is one line at the top (an error with SDU_REQUIRE_ORACLES=1).

The inner runs load tests/conftest.py as a plugin on a test file of their own, outside tests/. The
commands their tests "run" only name sdu or sysdig in argv (`true ... -m sysdig_user -- x`): the guard
reads the command line, nothing is traced."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import _classify
from tests.support import ROOT

INNER = '''
import subprocess
import pytest
from tests.support import require_tool, shared_path

FAKE_TRACE = ["true", "-m", "sysdig_user", "-q", "--", "x"]

def test_plain():
    pass

def test_needs_shared():
    shared_path("samples")

def test_traces_unmarked():
    subprocess.run(FAKE_TRACE, check=True)

@pytest.mark.ptrace
def test_traces_marked():
    subprocess.run(FAKE_TRACE, check=True)

def test_oracle_unmarked():
    require_tool("sysdig")

@pytest.mark.oracle
def test_oracle_marked():
    require_tool("sysdig")

def test_helper_tool_is_no_oracle():
    require_tool("sh")
'''


def _inner(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    test = tmp_path / "test_inner.py"
    test.write_text(INNER)
    environ = {k: v for k, v in os.environ.items() if k not in ("SDU_SHARED", "SDU_REQUIRE_ORACLES")}
    environ.update(env, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider",
                           "-c", os.devnull, "--rootdir", str(tmp_path), "-v", "-W", "ignore", *args,
                           str(test)], cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=120,
                          check=False)


def _outcomes(out: str) -> dict[str, str]:
    found = re.finditer(r"^\S*::(\w+) (PASSED|FAILED|SKIPPED|ERROR)", out, re.MULTILINE)
    return {m.group(1): m.group(2) for m in found}


def test_markers_are_checked_and_missing_shared_is_one_line(tmp_path: Path) -> None:
    res = _inner(tmp_path, SDU_SHARED=str(tmp_path / "no-shared"))
    lines = res.stdout.splitlines()
    assert lines[0].startswith("WARNING: shared reference material NOT FOUND at ")
    assert sum("WARNING: shared reference material" in ln for ln in lines) == 1  # once, not per test
    got = _outcomes(res.stdout)
    have_sysdig = "runs sysdig" not in res.stdout and got.get("test_oracle_marked") == "PASSED"
    assert got == {
        "test_plain": "PASSED", "test_needs_shared": "SKIPPED", "test_helper_tool_is_no_oracle": "PASSED",
        "test_traces_unmarked": "FAILED", "test_traces_marked": "PASSED",
        "test_oracle_unmarked": "FAILED", "test_oracle_marked": "PASSED" if have_sysdig else "SKIPPED",
    }, res.stdout
    assert "runs `sdu -- CMD`, but the test is not marked @pytest.mark.ptrace" in res.stdout
    assert "uses the oracle sysdig, but the test is not marked @pytest.mark.oracle" in res.stdout


def test_unit_selects_what_carries_no_tier(tmp_path: Path) -> None:
    res = _inner(tmp_path, "-m", "unit", SDU_SHARED=str(ROOT))
    assert not res.stdout.startswith("WARNING")
    assert set(_outcomes(res.stdout)) == {"test_plain", "test_needs_shared", "test_traces_unmarked",
                                          "test_oracle_unmarked", "test_helper_tool_is_no_oracle"}
    assert "2 deselected" in res.stdout


def test_required_oracles_fail_the_run_without_shared(tmp_path: Path) -> None:
    res = _inner(tmp_path, SDU_SHARED=str(tmp_path / "no-shared"), SDU_REQUIRE_ORACLES="1")
    assert res.returncode == pytest.ExitCode.USAGE_ERROR
    assert "SDU_REQUIRE_ORACLES=1 but the shared reference material is missing" in res.stderr


@pytest.mark.parametrize(("argv", "want"), [
    (["sysdig", "-r", "f"], {"oracle"}),
    (["/usr/bin/strace", "-f", "ls"], {"oracle"}),
    (["python3", "-m", "sysdig_user", "-r", "f.scap"], set()),
    (["python3", "-m", "sysdig_user", "-q", "--", "true"], {"ptrace"}),
    (["/venv/bin/sdu", "-p", "1234,5"], {"ptrace"}),
    (["sdu", "-p", "%proc.name", "-r", "f"], set()),
    (["sdu", "--iface", "lo", "--", "curl"], {"ptrace", "netraw"}),
    (["setpriv", "--reuid=1", "python3", "-m", "sysdig_user", "--net", "--", "x"], {"ptrace", "netraw"}),
    (["gcc", "-o", "x", "x.c"], set()),
])
def test_command_lines_classified(argv: list[str], want: set[str]) -> None:
    assert {marker for marker, _ in _classify(argv)} == want
