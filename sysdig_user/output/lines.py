"""The batched line writer every event line, chisel text and summary goes through."""
from __future__ import annotations

import os
from typing import BinaryIO

BATCH = 512  # lines per write to the stream


class Output:
    """Batched line writer on a binary stream (utf-8, surrogateescape: any byte a capture holds comes out
    unchanged)."""

    __slots__ = ("_lines", "_stream", "unbuffered")

    def __init__(self, stream: BinaryIO, unbuffered: bool = False) -> None:
        self._stream = stream
        self._lines: list[str] = []
        self.unbuffered = unbuffered

    @property
    def stream(self) -> BinaryIO:
        return self._stream

    def line(self, text: str) -> None:
        self._lines.append(text)
        if self.unbuffered or len(self._lines) >= BATCH:
            self.flush()

    def write(self, text: str | bytes) -> None:
        """Raw text without an added newline (chisels print through this)."""
        self.flush()
        data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape")
        self._stream.write(data)

    def chunk(self, data: bytes) -> None:
        """Lines already encoded, each with its newline (the compiled default line's), after the
        lines given so far."""
        self._write_lines()
        self._stream.write(data)
        if self.unbuffered:
            self._stream.flush()

    def flush(self) -> None:
        self._write_lines()
        self._stream.flush()

    def _write_lines(self) -> None:
        if self._lines:
            self._lines.append("")
            self._stream.write("\n".join(self._lines).encode("utf-8", "surrogateescape"))
            self._lines = []


def silence(stream: BinaryIO) -> None:
    """After EPIPE on ``stream`` (``sdu ... | head``): point its descriptor at /dev/null, so that what is
    still buffered, and every later line, goes nowhere instead of failing again. The capture then ends
    as if -n had been reached (a launched command runs on untraced and sdu returns its status)."""
    try:
        fd = stream.fileno()
    except (AttributeError, ValueError, OSError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)
