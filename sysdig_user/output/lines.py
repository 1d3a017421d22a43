"""The batched line writer every event line, chisel text and summary goes through."""
from __future__ import annotations

from typing import BinaryIO, NoReturn

from sysdig_user.environment import silence
from sysdig_user.errors import SduError

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
        try:
            self._stream.write(data)
        except OSError as exc:
            self._failed(exc)

    def chunk(self, data: bytes) -> None:
        """Lines already encoded, each with its newline (the compiled default line's), after the
        lines given so far."""
        self._write_lines()
        try:
            self._stream.write(data)
            if self.unbuffered:
                self._stream.flush()
        except OSError as exc:
            self._failed(exc)

    def flush(self) -> None:
        self._write_lines()
        try:
            self._stream.flush()
        except OSError as exc:
            self._failed(exc)

    def _write_lines(self) -> None:
        if self._lines:
            self._lines.append("")
            try:
                self._stream.write("\n".join(self._lines).encode("utf-8", "surrogateescape"))
            except OSError as exc:
                self._failed(exc)
            self._lines = []

    def _failed(self, exc: OSError) -> NoReturn:
        """A write failed. EPIPE (the reader is gone) goes on as itself: the sources end the capture on it.
        Anything else (a full disk): the rest goes nowhere (silence), and the capture ends with one line
        saying where and why."""
        if isinstance(exc, BrokenPipeError):
            raise exc
        self._lines = []
        silence(self._stream)
        name = getattr(self._stream, "name", None)
        where = f"file {name}" if isinstance(name, str) and not name.startswith("<") else "the output"
        raise OutputError(f"sdu: can't write {where}: {exc.strerror or exc}") from None



class OutputError(SduError):
    """The output could not be written (ENOSPC, EIO, EDQUOT)."""
