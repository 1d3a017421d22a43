"""The pytest plugin (entry point ``sdu``): the sdu_trace fixture and the Run helpers, each with a
passing and a failing assertion run through pytester, and the failure text checked."""
from __future__ import annotations

import sys

import pytest

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.ptrace

PY = sys.executable
PROGRAM = (
    "import os, socket\n"
    "srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(1)\n"
    "c = socket.create_connection(srv.getsockname())\n"
    "open('/etc/hostname').read()\n"
    "os.system('true')\n"
)


def _run(pytester: pytest.Pytester, body: str) -> pytest.RunResult:
    pytester.makepyfile(test_lesson=f"PY = {PY!r}\nPROGRAM = {PROGRAM!r}\n\n{body}")
    return pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")


def test_fixture_and_helpers_pass(pytester: pytest.Pytester) -> None:
    result = _run(pytester, '''
def test_ok(sdu_trace):
    run = sdu_trace([PY, "-c", PROGRAM])
    assert run.returncode == 0
    assert ("/etc/hostname", "O_RDONLY|O_CLOEXEC") in run.files_opened()
    assert len(run.connections()) == 1
    assert "sh -c true" in run.processes_executed()
    assert run.syscalls()["connect"] == 1
    run.assert_any("fd.name=/etc/hostname")
    run.assert_no("fd.name=/etc/shadow")
''')
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize(("check", "needle"), [
    ('assert ("/etc/passwd", "O_RDONLY") in run.files_opened()', "files_opened()"),
    ("assert run.connections() == []", "127.0.0.1:"),
    ('assert "ls" in run.processes_executed()', "sh -c true"),
    ('assert run.syscalls()["connect"] == 0', "assert 1 == 0"),
    ('run.assert_any("fd.name=/etc/shadow")', "no event matches 'fd.name=/etc/shadow'"),
    ('run.assert_no("evt.type=connect")', "2 event(s) match 'evt.type=connect':"),
])
def test_each_helper_fails_with_its_text(pytester: pytest.Pytester, check: str, needle: str) -> None:
    result = _run(pytester, f'''
def test_bad(sdu_trace):
    run = sdu_trace([PY, "-c", PROGRAM])
    {check}
''')
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*{needle}*"])


def test_assert_no_shows_sysdig_lines(pytester: pytest.Pytester) -> None:
    result = _run(pytester, '''
def test_bad(sdu_trace):
    sdu_trace([PY, "-c", PROGRAM]).assert_no("evt.type=connect")
''')
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*python* > connect fd=* addr=127.0.0.1:*",
                                 "*python* < connect res=0 tuple=127.0.0.1:*->127.0.0.1:*"])


def test_fixture_leaves_nothing_behind(pytester: pytest.Pytester) -> None:
    result = _run(pytester, '''
import os
KEPT = []

def test_a(sdu_trace):
    KEPT.append(sdu_trace(["true"]).path)

def test_b():
    assert KEPT and not os.path.exists(KEPT[0])
''')
    result.assert_outcomes(passed=2)
