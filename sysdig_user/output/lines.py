"""The batched line writer every event line, chisel text and summary goes through."""
from __future__ import annotations

from sysdig_user.environment import silence
from sysdig_user.errors import SduError

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    from typing import BinaryIO, NoReturn

BATCH = 512  # lines per write to the stream
TEXT_LOT = 4096  # raw text (chisels) goes out in lots of this size


class Output:
    """Batched line writer on a binary stream (utf-8, surrogateescape: any byte a capture holds comes out
    unchanged). Lines go out BATCH at a time; raw text (chisel output, ``write``) in TEXT_LOT-byte lots
    (a write per lot, not per print: a chisel printing a line per event reaches a reader that stopped
    early, ``| head``, after a few KiB, without a system call per line); each ``write`` is flushed at
    once when ``unbuffered`` (-u, or a terminal watching a live capture)."""

    __slots__ = ("_lines", "_stream", "_text", "unbuffered")

    def __init__(self, stream: BinaryIO, unbuffered: bool = False) -> None:
        self._stream = stream
        self._lines: list[str] = []
        self._text = bytearray()  # raw text not yet written, before every pending line
        self.unbuffered = unbuffered

    @property
    def stream(self) -> BinaryIO:
        return self._stream

    def pending(self) -> bool:
        """Lines or text not yet written to the stream."""
        return bool(self._lines or self._text)

    def line(self, text: str) -> None:
        self._lines.append(text)
        if self.unbuffered or len(self._lines) >= BATCH:
            self.flush()

    def write(self, text: str | bytes) -> None:
        """Raw text without an added newline (chisels print through this)."""
        if self._lines:
            self._write_lines()  # (the text pending before them, then them)
        self._text += text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape")
        if self.unbuffered:
            self.flush()
        elif len(self._text) >= TEXT_LOT:
            lots = len(self._text) - len(self._text) % TEXT_LOT
            try:
                self._stream.write(self._text[:lots])
                self._stream.flush()
            except OSError as exc:
                self._failed(exc)
            del self._text[:lots]

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

    def flush(self) -> int:
        """Everything pending out, the stream flushed; returns the bytes this added to the stream."""
        size = self._write_lines()
        try:
            self._stream.flush()
        except OSError as exc:
            self._failed(exc)
        return size

    def _write_lines(self) -> int:
        """The pending text, then the pending lines, to the stream; returns their size in bytes."""
        size = 0
        if self._text:
            text, self._text = self._text, bytearray()
            size = len(text)
            try:
                self._stream.write(text)
            except OSError as exc:
                self._failed(exc)
        if self._lines:
            self._lines.append("")
            data = "\n".join(self._lines).encode("utf-8", "surrogateescape")
            size += len(data)
            try:
                self._stream.write(data)
            except OSError as exc:
                self._failed(exc)
            self._lines = []
        return size

    def _failed(self, exc: OSError) -> NoReturn:
        """A write failed. EPIPE (the reader is gone) goes on as itself: the sources end the capture on it.
        Anything else (a full disk): the rest goes nowhere (silence), and the capture ends with one line
        saying where and why."""
        if isinstance(exc, BrokenPipeError):
            raise exc
        self._lines = []
        self._text = bytearray()
        silence(self._stream)
        name = getattr(self._stream, "name", None)
        where = f"file {name}" if isinstance(name, str) and not name.startswith("<") else "the output"
        raise OutputError(f"sdu: can't write {where}: {exc.strerror or exc}") from None



class OutputError(SduError):
    """The output could not be written (ENOSPC, EIO, EDQUOT)."""
