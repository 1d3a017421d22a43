"""Where a capture reads its settings and writes its text: the streams and the environment variables.

The CLI passes the process's own (``Environment.default()``); tests and the Python API pass buffers
(STYLE.md section 4). Nothing below the CLI reads ``sys.stdout`` or ``os.environ`` directly.
"""
from __future__ import annotations

import os
import sys
from _collections_abc import Mapping  # (collections.abc without collections)

from sysdig_user.rows import Record

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    from typing import IO, Any, BinaryIO


class Environment(Record):
    """stdout (binary: events are bytes as the capture holds them), stderr (text) and the environment."""

    _fields = ("stdout", "stderr", "environ")
    __slots__ = _fields
    stdout: BinaryIO
    stderr: IO[str]
    environ: Mapping[str, str]  # (default: a copy of os.environ)

    def __init__(self, stdout: BinaryIO, stderr: IO[str], environ: Mapping[str, str] | None = None) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self.environ = dict(os.environ) if environ is None else environ

    @classmethod
    def default(cls) -> Environment:
        return cls(sys.stdout.buffer, sys.stderr, os.environ)


def silence(stream: Any) -> None:
    """Point ``stream``'s descriptor at /dev/null: what it still buffers, and every later write, goes
    nowhere instead of failing again (EPIPE after ``sdu ... | head``: the capture then ends as if -n had
    been reached; ENOSPC) or reaching a file another process writes from now on (the hand-overs of
    tracer/pipelined.py)."""
    try:
        fd = stream.fileno()
    except (AttributeError, ValueError, OSError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)
