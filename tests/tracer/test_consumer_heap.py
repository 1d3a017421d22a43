"""The pipelined consumer's memory stays bounded over many events (tracer/heap.py, pipelined._fast_line).

The real consumer process (pipelined.start, forked from this test) is fed open/close frames as the
tracer sends them, 1 MiB reads at a time, 850k events; its RSS is read from /proc while it works. It
starts with the pages it shares with this process (its RSS grows as it touches them, up to this
process's size) and may hold, besides, a few MB of its own: the bound is this process's RSS at the
fork plus BOUND_KB. Text kept per event, or per read (the compiled line's text of a whole 1 MiB read,
taken as one more copy), or a heap that keeps what it frees, would exceed it.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from sysdig_user.cli import Environment, EventPipeline, Output
from sysdig_user.cli_options import parse_argv
from sysdig_user.event_table import EXTENSIONS
from sysdig_user.output import fastline
from sysdig_user.scap import read_capture
from tests.support import record_python, require_built

PROGRAM = """
import os
for _ in range(2000):
    os.close(os.open("/etc/hostname", os.O_RDONLY))
"""
ROUNDS = 100  # the capture's frames sent this many times (850k events)
BOUND_KB = 12 * 1024  # what the consumer may hold beyond what it shares with this process (generous)


@pytest.fixture(scope="module")
def openclose_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record_python(tmp_path_factory.mktemp("heap") / "openclose.scap", PROGRAM)


def _kb(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {key} in /proc/{pid}/status")


@pytest.mark.ptrace  # (the capture is recorded by sdu -w -- python)
def test_consumer_memory_stays_bounded(openclose_capture: Path) -> None:
    require_built(fastline._fastline, "sysdig_user._fastline")
    from tracer import pipelined

    frames = bytearray()
    records = []
    events = 0
    for item in read_capture(str(openclose_capture), extension_types=frozenset(EXTENSIONS)):
        if type(item) is tuple:
            cpu, _flags, raw = item
            frames += cpu.to_bytes(2, "little") + raw
            events += 1
        else:
            records.append(item)
    block = bytes(frames)
    with open(os.devnull, "wb") as sink:
        environ = dict(os.environ, TZ="UTC")
        environ.pop("SDU_NO_NATIVE", None)
        pipe = EventPipeline(parse_argv(["-r", str(openclose_capture)]), Environment(sink, sys.stderr, environ),
                             Output(sink))
        for rec in records:
            pipe.feed_records(rec)
        assert pipelined._fast_line(pipe) is not None  # (the compiled line runs in the consumer)
        parent = _kb(os.getpid(), "VmRSS")
        link = pipelined.start(pipe, None, lambda sig, frame: None)
        try:
            consumer = link.pid
            assert consumer > 0
            for _ in range(ROUNDS):
                link.buf += block
                link.flush()
            hwm = _kb(consumer, "VmHWM")
        finally:
            link.close()
            result = link.collect()
    assert result is not None and result.error is None
    assert result.events == ROUNDS * events
    assert hwm <= parent + BOUND_KB, (parent, hwm)
