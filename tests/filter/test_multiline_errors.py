"""A filter error that quotes a filter spanning lines is still one line on stderr (found by the filter
fuzzer: 'unrecognized comparison operator after syslog.message\\n=\\n100' took four lines). sysdig prints
the line breaks as they are; sdu escapes them, and the rest of the line is sysdig's."""
from __future__ import annotations

import os
import subprocess

import pytest

from sysdig_user.filter.errors import one_line
from tests.support import require_tool, run_sdu, shared_path

FILTERS = ("syslog.message\n=\n100\nor not evt.datetime.s\t", "proc.name=cat and\nnot not container.image.tag\n",
           "fd.name=\\x4 and\nnot fd.num=1", "proc.name\r\n=\r\ncat and\r\nproc.name")


@pytest.mark.oracle
@pytest.mark.parametrize("flt", FILTERS)
def test_filter_error_with_line_breaks_is_one_line(flt: str) -> None:
    sample = str(shared_path("samples", "falco_cat_write.scap"))
    env = {**os.environ, "TZ": "UTC"}
    res = run_sdu("-r", sample, flt, environ=env)
    assert res.status == 1
    assert len(res.stderr.splitlines()) == 1, res.stderr
    want = subprocess.run([require_tool("sysdig"), "-r", sample, flt], env=env, check=False, capture_output=True,
                          timeout=60)  # bytes: text mode would turn its \r\n into \n
    assert want.returncode != 0
    text = (want.stdout + want.stderr).decode().removesuffix("\n")
    assert "\n" in text  # sysdig's message does span lines
    assert res.stderr == one_line(text) + "\n"
