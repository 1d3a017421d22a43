"""Filters nested thousands of groups deep: sysdig 0.29.3 parses, compiles and runs them (its compiler
and evaluator recurse in C++); sdu must too, without recursing (RecursionError past ~160 groups before).

Each filter runs through the CLI in-process and must select the events sysdig selects, or fail with
the line sysdig prints.
"""
from __future__ import annotations

import os
import subprocess

import pytest

from sysdig_user.filter import boolean
from tests.support import require_tool, run_sdu, shared_path

DEPTH = 3000
assert DEPTH > 20 * boolean.CLOSURE_DEPTH  # deep enough for the evaluator loop, not only the closures


def _chain(conn: str, negate_every: int = 0) -> str:
    """``(c1 conn (c2 conn (... conn last)))``: every group has two operands, so nothing collapses."""
    head = "".join(f"{'not ' if negate_every and i % negate_every == 0 else ''}(evt.num={131 + i % 200} {conn} "
                   for i in range(DEPTH))
    return head + "evt.num=1000" + ")" * DEPTH


FILTERS = {
    "parens": "(" * DEPTH + "evt.num=131 or evt.num=133" + ")" * DEPTH,
    "or_chain": _chain("or"),
    "and_chain": _chain("and"),
    "or_chain_negated": _chain("or", 3),
    "alternating": "".join(f"(proc.name=cat {'and' if i % 2 else 'or'} " for i in range(DEPTH))
                   + "evt.num>300" + ")" * DEPTH,
    "not_not": "not (" * DEPTH + "evt.num=131" + ")" * DEPTH,
    "unclosed": "(" * DEPTH + "evt.num=131",
    "mixed_inside": "(" * (DEPTH // 2) + "evt.num=131 and evt.num=1 or evt.num=2" + ")" * (DEPTH // 2),
    "unknown_field_inside": "(" * DEPTH + "evt.nope=131" + ")" * DEPTH,
}


@pytest.mark.oracle
@pytest.mark.parametrize("name", sorted(FILTERS))
def test_deep_filter_like_sysdig(name: str) -> None:
    flt = FILTERS[name]
    sample = str(shared_path("samples", "falco_cat_write.scap"))
    env = {**os.environ, "TZ": "UTC"}
    res = run_sdu("-r", sample, "-p", "%evt.num", flt, environ=env)
    assert "internal error" not in res.stderr
    want = subprocess.run([require_tool("sysdig"), "-r", sample, "-p", "%evt.num", flt], env=env,
                          check=False, capture_output=True, text=True, timeout=120)
    assert (res.status == 0) == (want.returncode == 0), res.stderr
    assert res.stdout.split() == want.stdout.split()
    if want.returncode:
        assert len(res.stderr.splitlines()) == 1
        assert res.stderr.strip() in want.stdout + want.stderr  # sysdig's own error line


def test_deep_evaluation_equals_closures() -> None:
    """The loop that runs deep structures computes what the closures compute, short-circuits included."""
    calls: list[int] = []

    def leaf(i: int, value: bool) -> boolean.Predicate:
        def pred(evt: object) -> bool:
            calls.append(i)
            return value
        return pred

    import itertools
    for values in itertools.product([False, True], repeat=4):
        leaves = [leaf(i, v) for i, v in enumerate(values)]
        inner = boolean.Op(boolean.ANY, (leaves[2], boolean.negate(leaves[3])), 2)
        for kind in (boolean.ALL, boolean.ANY):
            root = boolean.Op(kind, (leaves[0], boolean.negate(leaves[1]), inner), 3)
            calls.clear()
            want = boolean._closure(root)(None)
            want_calls = list(calls)
            calls.clear()
            assert boolean.evaluate(root, None) == want
            assert calls == want_calls
