"""Tracer exceptions, and the one boundary where OS errors about vanished processes become ProcessGone.

A traced thread can die between any two ptrace calls or /proc reads (SIGKILL from elsewhere, its thread
group exec'ing, exit_group of a sibling). The kernel reports that as ESRCH from ptrace() and
process_vm_readv(), and as ENOENT (or ESRCH) when /proc/PID has been reaped. Callers only care that the
thread is gone, so `gone_on_missing` maps all of these to ProcessGone and nothing else above tracer/
sees a raw OSError for that race.
"""
from __future__ import annotations

import errno
from collections.abc import Callable

from sysdig_user.errors import TraceError

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    from typing import ParamSpec, TypeVar

    P = ParamSpec("P")
    R = TypeVar("R")

_GONE_ERRNOS = frozenset({errno.ESRCH, errno.ENOENT})


class TracerError(TraceError):
    """A user-facing tracer failure; str() is the one line printed after `sdu: ` (an SduError, so
    cli.main turns one that escapes into that line and status 1, never a traceback)."""


class ConsumerGone(Exception):
    """A pipelined capture's data pipe is broken: the consumer has exited (its Result, if any, is on the
    done pipe; tracer/pipelined.py). Here, not there, so that a run that never forks the consumer never
    imports that module."""


class ProcessGone(Exception):
    """The thread or process being read or controlled no longer exists."""

    def __init__(self, tid: int) -> None:
        super().__init__(f"thread {tid} is gone")
        self.tid = tid


def gone_on_missing(func: Callable[P, R]) -> Callable[P, R]:
    """Turn ESRCH/ENOENT raised by `func` into ProcessGone(first int argument).

    Used on every ptrace and /proc accessor whose first argument is the tid concerned.
    """

    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except OSError as exc:
            if exc.errno in _GONE_ERRNOS:
                tid = next((a for a in args if isinstance(a, int)), -1)
                raise ProcessGone(tid) from exc
            raise

    # what functools.wraps copies (functools itself, imported for this alone, cost a start 3M instructions)
    wrapper.__module__ = func.__module__
    wrapper.__name__ = func.__name__
    wrapper.__qualname__ = func.__qualname__
    wrapper.__doc__ = func.__doc__
    wrapper.__wrapped__ = func  # type: ignore[attr-defined]
    return wrapper
