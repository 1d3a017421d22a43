"""sdu against sysdig 0.29.3's own output on the shared sample captures.

Every CASES.tsv row without a chisel (``-c``) runs in-process with TZ=UTC and is compared with
``golden/<id>.out`` (sysdig's stdout followed by its stderr) and ``<id>.rc`` as the compare column
says: ``exact``, ``column1`` (first word of each line, for top tables whose ties sysdig breaks at
random) or ``nolast`` (all lines but the last, a timing summary). The default output of each sample
must also equal its ``*.sysdig.txt``.
"""
from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from tests.support import run_sdu, shared_base

ENV = {"TZ": "UTC"}
SAMPLES = ("falco_cat_write", "libs_curl_google", "libs_single_ipv6_conn")


def _shared() -> Path | None:
    base = shared_base() / "samples"
    return base if (base / "golden" / "CASES.tsv").exists() else None


def _cases() -> list[tuple[str, str, list[str], str]]:
    base = _shared()
    if base is None:
        return []
    rows = []
    for line in (base / "golden" / "CASES.tsv").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        case_id, sample, args = cols[0], cols[1], cols[2] if len(cols) > 2 else ""
        compare = cols[3] if len(cols) > 3 and cols[3] else "exact"
        argv = shlex.split(args)
        if "-c" in argv or any(a.startswith("-c") and len(a) > 2 and a[1] == "c" for a in argv):
            continue
        rows.append((case_id, sample, argv, compare))
    return rows


def _compare(expected: str, actual: str, mode: str) -> tuple[list[str], list[str]]:
    exp, act = expected.splitlines(), actual.splitlines()
    if mode == "column1":
        return [(ln.split() or [""])[0] for ln in exp], [(ln.split() or [""])[0] for ln in act]
    if mode == "nolast":
        return exp[:-1], act[:-1]
    return exp, act


_CASES = _cases()


@pytest.mark.skipif(not _CASES, reason="shared golden cases not found (../shared/samples/golden)")
@pytest.mark.parametrize(("case_id", "sample", "argv", "compare"), _CASES, ids=[c[0] for c in _CASES])
def test_golden_case(case_id: str, sample: str, argv: list[str], compare: str) -> None:
    base = _shared()
    assert base is not None
    result = run_sdu("-r", str(base / sample), *argv, environ=ENV)
    expected = (base / "golden" / f"{case_id}.out").read_text(errors="surrogateescape")
    expected_rc = int((base / "golden" / f"{case_id}.rc").read_text().strip() or 0)
    if compare == "exact":
        assert result.output == expected
    else:
        exp, act = _compare(expected, result.output, compare)
        assert act == exp
    assert result.status == expected_rc


@pytest.mark.skipif(_shared() is None, reason="shared samples not found (../shared/samples)")
@pytest.mark.parametrize("sample", SAMPLES)
def test_default_output_matches_sysdig(sample: str) -> None:
    base = _shared()
    assert base is not None
    result = run_sdu("-r", str(base / f"{sample}.scap"), environ=ENV)
    expected = (base / f"{sample}.sysdig.txt").read_text(errors="surrogateescape")
    assert result.stderr == ""
    assert result.stdout == expected
    assert result.status == 0
