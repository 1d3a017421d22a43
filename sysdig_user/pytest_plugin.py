"""sdu's pytest plugin (registered by the ``pytest11`` entry point ``sdu`` when sdu is installed).

    def test_reads_its_config(sdu_trace):
        run = sdu_trace(["python3", "app.py"])
        assert run.returncode == 0
        run.assert_any("evt.type=openat and fd.name=/etc/app.conf")
        run.assert_no("fd.type=ipv4")            # fails showing the offending events as sysdig lines

``sdu_trace(argv, filter=None, **options)`` is ``sysdig_user.trace`` (see its options: cwd, env,
snaplen, iface, net, no_seccomp); every Run it made is closed when the test ends. The command runs
to its end under the tracer, so nothing is left running. Tracing needs ptrace: where it is refused
(a container without CAP_SYS_PTRACE under a strict Yama scope) the test fails with that reason.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest


@pytest.fixture
def sdu_trace() -> Iterator[Callable[..., Any]]:
    """``sysdig_user.trace``, with every Run closed (its recording deleted) at the end of the test."""
    from sysdig_user.api import Run, trace

    runs: list[Run] = []

    def traced(argv: Sequence[str], filter: str | None = None, **options: Any) -> Run:
        run = trace(argv, filter, **options)
        runs.append(run)
        return run

    yield traced
    for run in runs:
        run.close()
