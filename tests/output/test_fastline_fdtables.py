"""The compiled line's fd table updates (_fastline.c's fdtable_op: state/fds.py's FdTable.add and remove
in C; fdinfo_make: FdInfo()) leave the table, its sysdig order and every FdInfo slot as the Python
pipeline does, past OrderLog's folds and the unordered_map's rehashes: a program opening a few thousand
fds, closing them in a scattered order, opening and closing again."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sysdig_user.event_table import EXTENSIONS
from sysdig_user.scap import read_capture
from sysdig_user.state import fdorder
from sysdig_user.state.fds import FdInfo
from tests.output.test_fastline import Lockstep, _require_core
from tests.support import record_python

N = 1500
PROGRAM = rf"""
import os, resource
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
fds = [os.open("/etc/hostname", os.O_RDONLY) for _ in range({N})]
for fd in fds[::3] + fds[1::3]:
    os.close(fd)
more = [os.open("/etc/passwd", os.O_RDONLY) for _ in range({N} // 2)]
for fd in more + fds[2::3]:
    os.close(fd)
for _ in range(200):
    os.close(os.open("/etc/hostname", os.O_RDONLY))
"""


def _slots(pipe: Any) -> list[Any]:
    """Every slot of every FdInfo, with its value's class (an FdType member, not just its value)."""
    return [(tid, fd, [(type(getattr(info, f)), getattr(info, f)) for f in FdInfo._fields])
            for tid, th in sorted(pipe.inspector.state.threads.threads.items())
            for fd, info in sorted(th.fdtable.fds.items())]


@pytest.fixture(scope="module")
def many_fds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record_python(tmp_path_factory.mktemp("fdtables") / "many.scap", PROGRAM)


@pytest.mark.ptrace  # record_python: sdu -w -- a traced program
def test_fd_tables_equal_the_python_pipeline(many_fds: Path) -> None:
    _require_core()
    assert 3 * N > fdorder.FOLD_AT  # (the log folds while the core appends to it)
    both = Lockstep(many_fds)
    for i, item in enumerate(read_capture(str(many_fds), extension_types=frozenset(EXTENSIONS))):
        both.feed(item)
        if i % 500 == 0 and type(item) is tuple:
            fast, slow = both.states()
            assert fast == slow, i
            assert _slots(both.fast) == _slots(both.slow), i
    fast, slow = both.states()
    assert both.handled > 3 * N
    assert fast == slow
    assert _slots(both.fast) == _slots(both.slow)
    both.close()
