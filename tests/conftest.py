"""Test tiers, and the shared reference material.

Tiers are pytest markers (pyproject.toml):

* ``ptrace``: traces a process, in this process (tracer.engine.Engine.launch/attach) or by running
  ``sdu -- CMD`` / ``sdu -p PID`` in a child. Everything under tests/live/ is ptrace: its conftest
  traces ``true`` once before the first test.
* ``netraw``: opens AF_PACKET sockets (netcap.packetsock.open_socket, ``sdu --net`` / ``--iface``).
* ``oracle``: runs an installed oracle (sysdig, strace, tshark, tcpdump), directly or through
  tests.support.require_tool; also the comparisons with LuaJIT and libstdc++ (tests/state/test_fdorder.py).
* ``slow``: none of those, but seconds of CLI runs (subprocesses, whole captures many times).

The unit tier is what carries none of them, marked ``unit`` here: ``pytest -m unit``, the same as
``pytest -m "not ptrace and not oracle and not netraw and not slow"``.
The markers are not trusted to be remembered: while a test runs, the entry points above check that it
carries the marker for what it is doing, and a test that traces, sniffs or runs an oracle unmarked
fails with the marker it lacks (`slow` is by measurement: --durations).

Shared reference material (the sample captures and sysdig's recorded outputs, ../shared or
$SDU_SHARED): its absence is one line at the top of the run, and the tests needing it skip; with
SDU_REQUIRE_ORACLES=1 the run stops at once instead (tests.support.shared_path fails as well).
"""
from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests import support

TIERS = ("ptrace", "oracle", "netraw", "slow")
_LIVE_DIR = Path(__file__).parent / "live"

# the test whose setup, call or teardown is running, and what it did that its markers do not cover
_current: pytest.Item | None = None
_violations: list[str] = []


def _needs(marker: str, what: str) -> None:
    """Record a use of `marker`'s resource by the running test when it does not carry that marker."""
    item = _current
    if item is None or item.get_closest_marker(marker) is not None:
        return
    text = f"{what}, but the test is not marked @pytest.mark.{marker}"
    if text not in _violations:
        _violations.append(text)


support.needs_marker = _needs


# ------------------------------------------------------------------------- what a test uses
def _sdu_argv(argv: Sequence[str]) -> list[str] | None:
    """The arguments after the sdu program in a command line, None if it does not run sdu."""
    for i, arg in enumerate(argv):
        if arg == "-m" and i + 1 < len(argv) and argv[i + 1] == "sysdig_user":
            return list(argv[i + 2:])
        if os.path.basename(arg) == "sdu":
            return list(argv[i + 1:])
    return None


def _classify(argv: Sequence[str]) -> list[tuple[str, str]]:
    """(marker, what) for a child process's command line."""
    out: list[tuple[str, str]] = []
    if argv and os.path.basename(argv[0]) in support.ORACLES:
        out.append(("oracle", f"runs {os.path.basename(argv[0])}"))
    sdu = _sdu_argv(argv)
    if sdu is None:
        return out
    if "--" in sdu:
        out.append(("ptrace", "runs `sdu -- CMD`"))
    if "--all" in sdu:
        out.append(("ptrace", "runs `sdu --all`"))
    for flag in ("-p", "--pid"):
        if flag in sdu[:-1] and sdu[sdu.index(flag) + 1].replace(",", "").isdigit():
            out.append(("ptrace", "runs `sdu -p PID`"))
    if "--net" in sdu or "--iface" in sdu or any(a.startswith("--iface=") for a in sdu):
        out.append(("netraw", "runs `sdu --net/--iface`"))
    return out


def _guard_popen() -> None:
    original = subprocess.Popen.__init__

    def init(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        if _current is not None and not isinstance(args, (str, bytes)):
            for marker, what in _classify([os.fsdecode(a) for a in args]):
                _needs(marker, what)
        original(self, args, *rest, **kwargs)

    subprocess.Popen.__init__ = init  # type: ignore[method-assign]


def _guard(owner: Any, name: str, marker: str, what: str) -> None:
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _needs(marker, what)
        return original(*args, **kwargs)

    setattr(owner, name, wrapper)


def pytest_configure(config: pytest.Config) -> None:
    from netcap import packetsock
    from tracer.engine import Engine

    _guard(Engine, "launch", "ptrace", "launches a traced command (Engine.launch)")
    _guard(Engine, "attach", "ptrace", "attaches to a process (Engine.attach)")
    _guard(packetsock, "open_socket", "netraw", "opens an AF_PACKET socket")
    _guard_popen()
    if support.oracles_required() and not support.shared_base().is_dir():
        raise pytest.UsageError(f"SDU_REQUIRE_ORACLES=1 but the shared reference material is missing: "
                                f"{support.shared_base()} (set SDU_SHARED)")


def pytest_report_header(config: pytest.Config) -> str | None:
    base = support.shared_base()
    return f"shared reference material: {base}" if base.is_dir() else None


def pytest_sessionstart(session: pytest.Session) -> None:
    """A missing shared directory: one line at the top, shown with -q too (the header is not)."""
    base = support.shared_base()
    if base.is_dir():
        return
    line = (f"WARNING: shared reference material NOT FOUND at {base} (set SDU_SHARED): the tests comparing "
            "with sysdig's captures and outputs will SKIP (SDU_REQUIRE_ORACLES=1 makes that an error)")
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line, yellow=True, bold=True)
    else:
        print(line)


@pytest.hookimpl(tryfirst=True)  # before -m deselects
@pytest.hookimpl(trylast=True)  # after other conftests mark their items (examples/ marks its lessons ptrace)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _LIVE_DIR in item.path.parents:
            item.add_marker(pytest.mark.ptrace)
        # the long fuzz tier is a tier of its own (-m fuzz), never part of -m unit
        if not any(item.get_closest_marker(m) for m in (*TIERS, "fuzz")):
            item.add_marker(pytest.mark.unit)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    global _current
    _current = item
    try:
        yield
    finally:
        _current = None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not _violations:
        return
    found = "\n".join(_violations)
    _violations.clear()
    if report.outcome != "failed":  # a failure of the test itself says more; the marks show up next run
        report.outcome = "failed"
        report.longrepr = f"test tier markers: this test {found}"
