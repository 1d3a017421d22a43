"""Under a filter, the default line's Core takes the events of types whose line it cannot write (a param kind
without a C writer: setsockopt's val, procexit's) while they fail the filter, and leaves to Python those
that pass (sysdig_user/output/fastline.py recipes): the same lines and state as the Python pipeline."""
from __future__ import annotations

import pytest

from sysdig_user.event_table import EXTENSIONS, event_code
from sysdig_user.output import fastline
from sysdig_user.scap import read_capture
from tests.output.test_fastline import Lockstep, _require_core
from tests.support import line_diff, native_environ, run_sdu, shared_path

SAMPLE = "libs_curl_google.scap"
SETSOCKOPT_X = event_code("setsockopt", False)
FILTERS = ("proc.name=curl and fd.type=ipv4", "evt.type=setsockopt", "evt.type=setsockopt and evt.res=0",
           "evt.type=open and fd.name contains /etc", "evt.type in (procexit, setsockopt) or fd.type=file")


def test_types_without_a_line_have_a_recipe_under_a_filter() -> None:
    """Without a filter setsockopt's exit has no recipe (its line is Python's); under one, a recipe
    without params."""
    _require_core()
    assert fastline.recipes(True, False)[SETSOCKOPT_X] is None
    got = fastline.recipes(True, True)[SETSOCKOPT_X]
    assert got is not None and got[6] == ()


@pytest.mark.parametrize("flt", FILTERS)
def test_lines_and_state_equal_the_python_pipeline(flt: str) -> None:
    _require_core()
    path = str(shared_path("samples", SAMPLE))
    fast = run_sdu("-r", path, flt, environ=native_environ(True))
    slow = run_sdu("-r", path, flt, environ=native_environ(False))
    assert fast.status == slow.status == 0
    assert line_diff(slow.stdout.splitlines(), fast.stdout.splitlines()) == ""
    both = Lockstep(shared_path("samples", SAMPLE), flt)
    taken = 0
    for item in read_capture(path, extension_types=frozenset(EXTENSIONS)):
        if both.feed(item):
            raw = item[2]
            taken += raw[20] | raw[21] << 8 == SETSOCKOPT_X
    fast_state, slow_state = both.states()
    assert fast_state == slow_state
    if flt.startswith("proc.name=curl"):  # (no setsockopt passes it: the core takes them all)
        assert taken > 0
    both.close()
