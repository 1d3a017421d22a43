"""The compiled line's hexadecimal and octal params (K_HEX, K_OCT: put_radix) are written as the Python
pipeline writes them, over values of every width: an event of each kind with zero, small, large and all-ones
values, the lines compared with SDU_NO_NATIVE's."""
from __future__ import annotations

from pathlib import Path

import pytest

from sysdig_user.event import Event
from sysdig_user.output import fastline
from tests.state.events import mk
from tests.state.test_state_corners import write_capture
from tests.support import line_diff, native_environ, require_built, run_sdu

VALUES = (0, 1, 7, 8, 0o644, 0o7777, 0xA, 0xF0, 0xDEADBEEF, 0xFFFFFFFF, 1 << 40, 0x7FA69774E000, (1 << 64) - 1)


def _events() -> list[Event]:
    out: list[Event] = []
    for v in VALUES:
        v32 = v & 0xFFFFFFFF
        out += [mk("openat", True, 100, dirfd=-100, name="/etc/x", flags=0, mode=v32),
                mk("openat", False, 100, fd=-2, dirfd=-100, name="/etc/x", flags=0, mode=v32, dev=v32),
                mk("creat", True, 100, name="/tmp/y", mode=v32),
                mk("creat", False, 100, fd=-13, name="/tmp/y", mode=v32, dev=v32),
                mk("brk", True, 100, addr=v),
                mk("brk", False, 100, res=v, vm_size=0, vm_rss=0, vm_swap=0)]
    return out


@pytest.mark.parametrize("verbose", [False, True], ids=["default", "v"])
def test_hex_and_octal_params_equal_the_python_pipeline(tmp_path: Path, verbose: bool) -> None:
    require_built(fastline._fastline, "sysdig_user._fastline")
    path = str(write_capture(tmp_path / "radix.scap", _events()))
    extra = ["-v"] if verbose else []
    fast = run_sdu(*extra, "-r", path, environ=native_environ(True))
    slow = run_sdu(*extra, "-r", path, environ=native_environ(False))
    assert fast.status == slow.status == 0
    assert "mode=0644" in slow.stdout and "res=DEADBEEF" in slow.stdout
    assert line_diff(slow.stdout.splitlines(), fast.stdout.splitlines()) == ""
