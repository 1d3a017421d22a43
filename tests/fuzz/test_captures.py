"""Capture fuzzing: seeded mutations of small captures the test writes itself (tests/fuzz/capgen.py) are
read through the CLI in-process, with the default line, -j and -p lines of many fields in turn.

Every run must end with exit 0, or one line on stderr and a non-zero exit; never an internal error or a
traceback. What was readable must come first: the events of the blocks before the first changed byte are
printed exactly as for the intact capture (and a truncated gzip capture prints a prefix of its lines).

The default run takes 1,000 mutants; ``-m fuzz`` takes 20,000 with another seed.
"""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.fuzz import capgen
from tests.fuzz.harness import FORMATS, cli_failure, format_for, run_capture, save_capture

DEFAULT_MUTANTS = 1_000
LONG_MUTANTS = 20_000


def _numbered_prefix(lines: list[str], events: int) -> list[str]:
    """The lines of the first ``events`` events (lines start with evt.num)."""
    out = []
    for line in lines:
        head = line.split(" ", 1)[0]
        if not head.isdigit() or int(head) > events:
            break
        out.append(line)
    return out


class _Fuzz:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.bases = capgen.bases()
        self.expected: dict[tuple[str, int], list[str]] = {}
        for base in self.bases:
            path = tmp / f"{base.name}.scap"
            path.write_bytes(base.data)
            for i, fmt in enumerate(FORMATS):
                res = run_capture(path, fmt)
                assert res.status == 0 and not res.stderr, (base.name, res.stderr)
                lines = res.stdout.splitlines()
                assert len(lines) > 10
                self.expected[base.name, i] = lines
        self.kinds: dict[str, int] = {}
        self.prefixes = 0  # mutants whose intact events (one at least) were compared

    def run(self, seed: int, count: int) -> list[str]:
        rng = random.Random(seed)
        failures = []
        path = self.tmp / "mutant.scap"
        for n in range(count):
            base = self.bases[n % len(self.bases)]
            fi = format_for(n // len(self.bases))
            mutant = capgen.mutate(rng, base)
            self.kinds[mutant.kind] = self.kinds.get(mutant.kind, 0) + 1
            path.write_bytes(mutant.data)
            res = run_capture(path, FORMATS[fi])
            problem = cli_failure(res)
            if problem is None:
                problem = self._prefix_problem(base, fi, mutant, res.stdout.splitlines())
            if problem is not None:
                save_capture(mutant.data, FORMATS[fi])
                failures.append(f"{base.name} {mutant.kind} at {mutant.offset} {FORMATS[fi][:1]}: {problem}")
        return failures

    def _prefix_problem(self, base: capgen.Base, fi: int, mutant: capgen.Mutant, got: list[str]) -> str | None:
        want = self.expected[base.name, fi]
        if FORMATS[fi] == ("-j",):
            return None  # JSON lines do not start with the event number
        if mutant.offset is not None:
            prefix = _numbered_prefix(want, capgen.events_before(base, mutant.offset))
            self.prefixes += bool(prefix)
            if got[:len(prefix)] != prefix:
                return f"the {len(prefix)} events before the damage are not printed as before it"
        elif mutant.truncated and got != want[:len(got)]:
            return "a truncated compressed capture must print a prefix of its lines"
        return None


@pytest.mark.slow  # (seconds: part of the default run, not of -m unit)
def test_mutated_captures(tmp_path: Path) -> None:
    fuzz = _Fuzz(tmp_path)
    failures = fuzz.run(20261207, DEFAULT_MUTANTS)
    assert not failures, f"{len(failures)} of {DEFAULT_MUTANTS} captures failed; first ones:\n" + "\n".join(
        failures[:10])
    assert set(fuzz.kinds) >= {"truncate", "bitflip", "byteset", "block_length", "event_field", "event_type",
                               "splice", "gzip_bitflip"}
    assert fuzz.prefixes >= DEFAULT_MUTANTS // 4  # the readable-first check ran on many of them


@pytest.mark.fuzz
@pytest.mark.timeout(3600)
def test_mutated_captures_long(tmp_path: Path) -> None:
    fuzz = _Fuzz(tmp_path)
    failures = fuzz.run(7, LONG_MUTANTS)
    assert not failures, f"{len(failures)} of {LONG_MUTANTS} captures failed; first ones:\n" + "\n".join(
        failures[:10])
