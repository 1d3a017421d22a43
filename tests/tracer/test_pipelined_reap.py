"""tracer/pipelined.py's reaping of the double fork's middle process through a pidfd."""
from __future__ import annotations

import errno
import os
from collections.abc import Iterator

import pytest

from tracer import pipelined


@pytest.fixture
def middle() -> Iterator[tuple[int, int]]:
    """A child of ours that has exited (as the middle process does at once) and its pidfd; reaped after the
    test if the test left it."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    fd = pipelined._pidfd(pid)
    if fd < 0:
        os.waitpid(pid, 0)
        pytest.skip("no pidfd here")
    yield pid, fd
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:  # (reaped by the test)
        pass


def _failing_waitid(err: int) -> object:
    def waitid(*_args: object) -> None:
        raise OSError(err, os.strerror(err))
    return waitid


def test_the_middle_process_is_reaped_through_its_pidfd(middle: tuple[int, int]) -> None:
    pid, fd = middle
    pipelined._reap(fd)
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # gone: reaped, not a zombie
    with pytest.raises(OSError):
        os.fstat(fd)  # and the pidfd closed


def test_a_kernel_that_cannot_wait_on_a_pidfd_leaves_a_zombie_not_an_error(middle: tuple[int, int],
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    pid, fd = middle
    monkeypatch.setattr(os, "waitid", _failing_waitid(errno.EINVAL))  # Linux 5.3: pidfd_open, no waitid(P_PIDFD)
    pipelined._reap(fd)  # no exception
    monkeypatch.undo()
    with pytest.raises(OSError):
        os.fstat(fd)
    assert os.waitpid(pid, 0)[0] == pid  # still ours to reap


def test_other_errors_still_raise(middle: tuple[int, int], monkeypatch: pytest.MonkeyPatch) -> None:
    _pid, fd = middle
    monkeypatch.setattr(os, "waitid", _failing_waitid(errno.EBADF))
    with pytest.raises(OSError):
        pipelined._reap(fd)
