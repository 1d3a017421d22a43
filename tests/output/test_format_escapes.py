"""Backslash escapes in ``-p`` formats (``\\n``, ``\\t``, ``\\e``, ``\\\\``) and the other ways sysdig reads a
command-line format: an empty one is refused, a bad one is refused even when nothing is printed, a
format without fields prints JSON ``null``. Compared with sysdig 0.29.3 on a shared sample."""
from __future__ import annotations

import os
import subprocess

import pytest

from sysdig_user.output.options import FormatError, unescape_format
from tests.support import require_tool, run_sdu, shared_path


@pytest.mark.parametrize(("typed", "used"), [
    ("a\\nb", "a\nb"),
    ("a\\tb", "a\tb"),
    ("\\e[31m", "\x1b[31m"),
    ("\\\\n", "\\n"),  # an escaped backslash, then a plain n
    ("\\\\\\n", "\\\n"),
    ("\\r\\x41\\q\\0\\'", "\\r\\x41\\q\\0\\'"),  # anything else keeps its backslash
    ("%evt.num\\%evt.num", "%evt.num\\%evt.num"),
    ("no escapes", "no escapes"),
])
def test_unescape(typed: str, used: str) -> None:
    assert unescape_format(typed) == used


@pytest.mark.parametrize("typed", ["x\\", "x\\\\\\"])
def test_trailing_backslash_is_refused(typed: str) -> None:
    with pytest.raises(FormatError):
        unescape_format(typed)


SAMPLE = "falco_cat_write.scap"
FILTER = "evt.num<136"

CASES = [
    ["-p", "a\\nb\\tc\\\\nd %evt.num\\x41\\r\\q"],
    ["-p", "*%evt.num\\t%proc.name\\n"],
    ["-p", "%evt.num\\\\\\n%evt.type"],
    ["-p", "x\\e[31m%evt.num"],  # an escape character: sysdig resets the colour at the end
    ["-p", "x\\e", "-q"],
    ["-p", "x\\e", "-S"],
    ["-p", "x\\e", "-c", "topfiles_bytes"],
    ["-p", "x\\e", "-j"],
    ["-p", "x", "-j"],
    ["-p", "*x", "-j"],
    ["-p", ""],
    ["-p", "", "-j"],
    ["-p", "", "-q"],
    ["-p", "%nosuch", "-q"],
    ["-p", "%nosuch", "-c", "topfiles_bytes"],
]


@pytest.mark.oracle
@pytest.mark.parametrize("args", CASES, ids=lambda a: " ".join(a))
def test_format_reading_matches_sysdig(args: list[str]) -> None:
    sysdig = require_tool("sysdig")
    sample = str(shared_path("samples", SAMPLE))
    env = dict(os.environ, TZ="UTC")
    want = subprocess.run([sysdig, "-r", sample, *args, FILTER], capture_output=True, env=env, check=False)
    got = run_sdu("-r", sample, *args, FILTER, environ=env)
    assert got.stdout == want.stdout.decode("utf-8", "surrogateescape")
    assert got.stderr == want.stderr.decode("utf-8", "surrogateescape")
    assert got.status == want.returncode


@pytest.mark.oracle
def test_trailing_backslash_fails_like_sysdig() -> None:
    """sysdig exits 1 printing nothing at all; sdu exits 1 with stdout empty and one line saying why."""
    sysdig = require_tool("sysdig")
    sample = str(shared_path("samples", SAMPLE))
    want = subprocess.run([sysdig, "-r", sample, "-p", "%evt.num\\", FILTER], capture_output=True, check=False)
    got = run_sdu("-r", sample, "-p", "%evt.num\\", FILTER)
    assert (got.stdout, got.status) == (want.stdout.decode(), want.returncode) == ("", 1)
    assert got.stderr.count("\n") == 1 and "\\" in got.stderr
