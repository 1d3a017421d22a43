"""tracer/pipelined.py's reaping of the double fork's middle process through a pidfd."""
from __future__ import annotations

import errno
import os

import pytest

from tracer import pipelined


def _exited_child() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    return pid


def test_the_middle_process_is_reaped_through_its_pidfd() -> None:
    pid = _exited_child()
    fd = pipelined._pidfd(pid)
    if fd < 0:
        os.waitpid(pid, 0)
        pytest.skip("no pidfd here")
    pipelined._reap(fd)
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # gone: reaped, not a zombie
    with pytest.raises(OSError):
        os.fstat(fd)  # and the pidfd closed


def test_a_kernel_that_cannot_wait_on_a_pidfd_leaves_a_zombie_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    pid = _exited_child()
    fd = pipelined._pidfd(pid)
    if fd < 0:
        os.waitpid(pid, 0)
        pytest.skip("no pidfd here")

    def no_pidfd_wait(*_args: object) -> None:
        raise OSError(errno.EINVAL, "Invalid argument")  # Linux 5.3: pidfd_open without waitid(P_PIDFD)

    monkeypatch.setattr(os, "waitid", no_pidfd_wait)
    pipelined._reap(fd)  # no exception
    monkeypatch.undo()
    with pytest.raises(OSError):
        os.fstat(fd)
    assert os.waitpid(pid, 0)[0] == pid  # still ours to reap


def test_other_errors_still_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    pid = _exited_child()
    fd = pipelined._pidfd(pid)
    if fd < 0:
        os.waitpid(pid, 0)
        pytest.skip("no pidfd here")

    def bad_fd(*_args: object) -> None:
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr(os, "waitid", bad_fd)
    with pytest.raises(OSError):
        pipelined._reap(fd)
    monkeypatch.undo()
    os.waitpid(pid, 0)
