"""-P: how much of the input has been read, on stderr, redrawn in place as sysdig 0.29.3 does.

sysdig's bytes, read off its output: each redraw is a clear (``\\r`` plus five spaces once something was
drawn, a bare ``\\r`` before) then ``\\r`` and the percentage with two decimals; the end is two clears and
``\\r100.00\\n``. Redraws happen at most every ``INTERVAL`` seconds; the share is the position in the file
being read (compressed position for gzip files) over its size.
"""
from __future__ import annotations

import os
import time
from typing import IO, BinaryIO

INTERVAL = 0.1
CHECK_EVERY = 256  # events between clock reads, so the check costs nothing per event


class Progress:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.drawn = False
        self._file: BinaryIO | None = None
        self._size = 0
        self._count = 0
        self._next = time.monotonic() + INTERVAL

    def watch(self, f: BinaryIO) -> None:
        """The file now being read."""
        self._file = f
        try:
            self._size = os.fstat(f.fileno()).st_size
        except (OSError, ValueError):
            self._size = 0

    def _clear(self) -> str:
        return "\r     " if self.drawn else "\r"

    def tick(self) -> None:
        self._count += 1
        if self._count < CHECK_EVERY:
            return
        self._count = 0
        now = time.monotonic()
        if now < self._next or self._file is None or not self._size:
            return
        self._next = now + INTERVAL
        try:
            pos = self._file.tell()
        except (OSError, ValueError):
            return
        text = f"{min(100.0, 100.0 * pos / self._size):.2f}"
        self.stream.write(self._clear() + "\r" + text)
        self.drawn = True
        self.stream.flush()

    def finish(self) -> None:
        self.stream.write(self._clear() + self._clear() + "\r100.00\n")
        self.stream.flush()
