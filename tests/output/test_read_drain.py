"""`sdu -r` with the compiled line writes its text as it reads, not once the file is read.

The core keeps the lines it prints in a buffer until they are taken (fastline.drain); the reader takes
them every sources.DRAIN_BYTES of events, so a capture the core handles whole holds a bounded amount of
text at any time (before: all of it, 300 MB for 800k open/close events).
"""
from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest

from sysdig_user import sources
from sysdig_user.cli import main
from sysdig_user.environment import Environment
from sysdig_user.output import fastline
from tests.support import record_python, require_built

LOOPS = 20_000  # open/close pairs: 80k events, ~8 MB of default lines
PROGRAM = f"""
import os
for _ in range({LOOPS}):
    os.close(os.open("/etc/hostname", os.O_RDONLY))
"""
MOST = 512 * 1024  # what one write may hold: the text of 2 x sources.DRAIN_BYTES of events, and room to spare


class Recorder(io.BytesIO):
    """A stdout that keeps the size of each write."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.sizes.append(len(data))
        return super().write(data)


@pytest.fixture(scope="module")
def openclose_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record_python(tmp_path_factory.mktemp("drain") / "openclose.scap", PROGRAM)


def _read(path: Path, native: bool, *args: str) -> Recorder:
    out = Recorder()
    environ = dict(os.environ, TZ="UTC")
    environ.pop("SDU_NO_NATIVE", None)
    if not native:
        environ["SDU_NO_NATIVE"] = "1"
    assert main(["-r", str(path), *args], Environment(out, sys.stderr, environ)) == 0
    return out


@pytest.mark.ptrace
@pytest.mark.parametrize("args", [(), ("-p", "%evt.num %proc.name %evt.type %fd.name")], ids=["line", "-p"])
def test_compiled_line_writes_as_it_reads(openclose_capture: Path, args: tuple[str, ...]) -> None:
    require_built(fastline._fastline, "sysdig_user._fastline")
    got = _read(openclose_capture, True, *args)
    want = _read(openclose_capture, False, *args)
    text = got.getvalue()
    assert text == want.getvalue()
    assert len(text) > 3 * MOST  # (so that writes of at most MOST take several)
    assert max(got.sizes) <= MOST, sorted(got.sizes)[-3:]  # (before: one write of all the text)
    assert len(got.sizes) >= len(text) // MOST
    assert sources.DRAIN_BYTES < MOST
