"""tracer/pipelined.py's reads of the data pipe (_Pipe, through _feed and _feed_blocks): every frame whole
and in order, whatever the cuts of the writes, frames longer than a read included."""
from __future__ import annotations

import fcntl
import os
import struct
import threading
from types import SimpleNamespace

import pytest

from sysdig_user.event import Event
from tracer import pipelined

_HEAD = struct.Struct("<QqIHI")  # ts, tid, len, type, nparams


def _frames(sizes: list[int]) -> tuple[bytes, list[bytes]]:
    """Frames (u16 cpu + event) of events `sizes` bytes long, their bytes joined, and each event's bytes."""
    events = []
    for i, size in enumerate(sizes):
        body = bytes((i + j) & 0xFF for j in range(size - _HEAD.size))
        events.append(_HEAD.pack(1000 + i, 7, size, 2, 0) + body)  # (type 2: an open's enter, no params)
    return b"".join(struct.pack("<H", i % 3) + e for i, e in enumerate(events)), events


def _write_cut(fd: int, data: bytes, cut: int) -> None:
    with open(fd, "wb", buffering=0) as f:
        f.writelines(data[pos:pos + cut] for pos in range(0, len(data), cut))


_LONG = [26, 40, 5000, pipelined._READ_SIZE + 12345, 26, 300, 2 * pipelined._READ_SIZE, 64] * 2


@pytest.mark.parametrize(("cut", "sizes"), [(1, [26, 40, 500]), (777, _LONG), (65536, _LONG), (3 << 20, _LONG)])
def test_feed_frames_whole(cut: int, sizes: list[int]) -> None:
    data, events = _frames(sizes)
    r, w = os.pipe()
    writer = threading.Thread(target=_write_cut, args=(w, data, cut))
    writer.start()
    seen: list[tuple[bytes, int]] = []

    def on_event(evt: Event) -> bool:
        assert type(evt.raw) is bytes
        seen.append((evt.raw, evt.cpu))
        return True

    try:
        assert pipelined._feed(r, on_event)
    finally:
        writer.join()
        os.close(r)
    assert seen == [(e, i % 3) for i, e in enumerate(events)]


def test_feed_blocks_whole() -> None:
    data, _events = _frames([26, pipelined._READ_SIZE + 5, 100, 26])
    r, w = os.pipe()
    writer = threading.Thread(target=_write_cut, args=(w, data, 4096))
    writer.start()
    got = bytearray()

    def write(view: memoryview, pos: int) -> int:
        """Takes the complete frames from pos on, as fastline.block_writer does."""
        while len(view) - pos >= 22:
            size = struct.unpack_from("<I", view, pos + 18)[0]
            if pos + 2 + size > len(view):
                break
            got.extend(view[pos:pos + 2 + size])
            pos += 2 + size
        return pos

    try:
        pipelined._feed_blocks(r, write)
    finally:
        writer.join()
        os.close(r)
    assert bytes(got) == data


class _Out:
    """The pipeline's Output as _feed uses it: lines pending until flushed; each flush signalled."""

    def __init__(self) -> None:
        self.lines = 0
        self.flushed = threading.Event()

    def pending(self) -> bool:
        return self.lines > 0

    def flush(self) -> int:
        self.lines = 0
        self.flushed.set()
        return 0


def test_feed_flushes_after_a_whole_read_that_drained_the_pipe() -> None:
    """A read of exactly _READ_SIZE bytes can drain the pipe (its capacity is PIPE_SIZE, the same size):
    the lines are flushed then too, before the next read blocks on a tracer that has nothing more."""
    r, w = os.pipe()
    try:
        try:
            fcntl.fcntl(w, 1031, pipelined._READ_SIZE)  # F_SETPIPE_SZ
        except OSError:
            pytest.skip("cannot give a pipe a capacity of _READ_SIZE here")
        data, _events = _frames([pipelined._READ_SIZE // 2 - 2, pipelined._READ_SIZE // 2 - 2])
        assert len(data) == pipelined._READ_SIZE
        os.write(w, data)  # whole in the pipe before the first read
        out = _Out()
        pipeline = SimpleNamespace(out=out)

        def on_event(_evt: Event) -> bool:
            out.lines += 1
            return True

        reader = threading.Thread(target=pipelined._feed, args=(r, on_event, None, pipeline))
        reader.start()
        try:
            assert out.flushed.wait(10.0), "lines held while the reader waits on an empty pipe"
        finally:
            os.close(w)
            w = -1
            reader.join()
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
