"""evt.type literals: sysdig 0.29.3 rejects names outside its event and syscall tables, whatever the
operator, with the position after the value; sdu must print the same line and status."""
from __future__ import annotations

import os
import subprocess

import pytest

from tests.support import require_tool, run_sdu, shared_path

FILTERS = [
    "evt.type=foo", "evt.type=", "evt.type in (open,foo)", "evt.type in (foo)", "evt.type in (open, foo )",
    "evt.type!=foo", "evt.type contains foo", "evt.type=OPEN", "evt.type=<unknown>", "evt.type=procexit",
    "evt.type=getpid", "evt.type=syscall",
]


@pytest.mark.parametrize("flt", FILTERS)
@pytest.mark.oracle
def test_event_type_literal_as_sysdig(flt: str) -> None:
    sysdig = require_tool("sysdig")
    scap = shared_path("samples", "falco_cat_write.scap")
    want = subprocess.run([sysdig, "-r", str(scap), flt], check=False, capture_output=True, text=True,
                          env={**os.environ, "TZ": "UTC"})
    got = run_sdu("-r", str(scap), flt, environ={**os.environ, "TZ": "UTC"})
    assert got.stdout == want.stdout
    assert got.stderr.strip() == want.stderr.strip()
    assert (got.status != 0) == (want.returncode != 0)


def test_packet_is_an_sdu_event_type() -> None:
    """sdu's own packet events (code 4096) are a valid evt.type, which sysdig does not know."""
    scap = shared_path("samples", "falco_cat_write.scap")
    assert run_sdu("-r", str(scap), "evt.type=packet").status == 0
