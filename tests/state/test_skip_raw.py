"""Inspector.skip_raw (events skipped unbuilt) must leave exactly the output of the full path.

Each case is run twice, with the fast path on and off (skip_table monkeypatched to None), over the
concatenation of all the samples (sections merging into one state).
"""
from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from sysdig_user.event import Event
from sysdig_user.scap import read_capture
from sysdig_user.state import inspector as inspector_mod
from sysdig_user.state.inspector import NOT_SKIPPED, Inspector
from tests.support import run_sdu, shared_path

pytestmark = pytest.mark.slow  # 160 CLI runs over all the samples: ~15 s

RICH = ("*%evt.num %evt.outputtime %evt.type %evt.dir %evt.latency %evt.category %evt.is_io %fd.num "
        "%fd.name %fd.typechar %proc.name %thread.tid %evt.info")
FILTERS = [
    "",
    "evt.type=open and fd.name contains /etc",
    "evt.type in (read, write, close) and evt.dir=<",
    "evt.type=connect or evt.type=sendto",
    "evt.type=close",
    "evt.type=procinfo",
    "evt.type=mmap and evt.latency > 1000",
    "evt.type=open and proc.name=curl",
    "evt.type in (fstat, fcntl) and fd.num >= 0",
    "not evt.type=read",
    "evt.type=read and fd.typechar=f",
    "evt.type=connect and fd.port=80",
    "evt.type=ptrace",  # a known type that never occurs in the samples: every event is skipped
    "evt.type in (open, mprotect)",  # generic events: kept by their syscall's name (mprotect)
    "evt.type=arch_prctl or evt.type=<unknown>",
    "evt.type=syscall",  # what a generic event past the ppm_sc table would show: never skipped
]


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    blobs = []
    for p in sorted(shared_path("samples").glob("*.scap")):
        data = p.read_bytes()
        blobs.append(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
    path = tmp_path_factory.mktemp("skip") / "all.scap"
    path.write_bytes(b"".join(blobs))
    return path


def _run(monkeypatch: pytest.MonkeyPatch, fast: bool, *argv: str) -> tuple[str, int]:
    with monkeypatch.context() as m:
        if not fast:
            m.setattr(inspector_mod, "skip_table", lambda *a: None)
        res = run_sdu(*argv, environ={"TZ": "UTC"})
    return res.output, res.status


@pytest.mark.parametrize("flt", FILTERS)
@pytest.mark.parametrize("fmt", [None, RICH])
@pytest.mark.parametrize("debug", [False, True])
def test_cli_same_output(monkeypatch: pytest.MonkeyPatch, capture: Path, flt: str, fmt: str | None,
                         debug: bool) -> None:
    argv = ["-r", str(capture)] + (["-D"] if debug else []) + (["-p", fmt] if fmt else [])
    argv += [flt] if flt else []
    slow = _run(monkeypatch, False, *argv)
    fast = _run(monkeypatch, True, *argv)
    assert fast == slow


@pytest.mark.parametrize("flt", [f for f in FILTERS if f])
def test_inspector_state_same(capture: Path, flt: str) -> None:
    """Thread and fd state after every event, compared between the two paths."""
    from sysdig_user.cli import compile_predicate

    def states(fast: bool) -> list[tuple[object, ...]]:
        ins = Inspector()
        ins.prefilter = compile_predicate(flt)
        if not fast:
            ins._skip = None
        out = []
        for item in read_capture(capture):
            if not isinstance(item, tuple):
                ins.feed_records(item)
                continue
            cpu, flags, raw = item
            if ins.skip_raw(raw) == NOT_SKIPPED:
                evt = Event(raw, cpu, flags)
                ins.apply(ins.process(evt))
            snap = tuple((th.tid, th.lastevent_type, th.lastevent_fd, th.latency, th.last_latency_entertime,
                          th.last_enter is None, len(th.fdtable.fds)) for th in ins.threads)
            out.append((ins.num, hash(snap)))
        return out

    assert states(True) == states(False)


def test_skips_something(capture: Path) -> None:
    from sysdig_user.cli import compile_predicate

    ins = Inspector()
    ins.prefilter = compile_predicate("evt.type=open")
    assert ins._skip is not None
    # generic events: their evt.type is the syscall's name, which skip_raw checks per event
    assert ins._skip[0] == ins._skip[1] == inspector_mod._SKIPPED_IF_GENERIC
    ins.prefilter = compile_predicate("evt.type=syscall")
    assert ins._skip is not None
    assert ins._skip[0] == ins._skip[1] == 0
    ins.prefilter = compile_predicate("fd.port=80 and evt.type=open")  # may raise on any IP event
    assert ins._skip is None
