"""Seccomp-bpf pushdown changes speed, never results.

For each filter, the events passing it (through EventBuilder, the Inspector and the compiled filter,
as `sdu` runs them) are the same with the pushed-down syscall set as with full tracing. Programs that
install their own seccomp filter, setuid programs and threads run the same under pushdown.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sysdig_user.cli import compile_predicate
from sysdig_user.filter.compile import event_types, referenced_fields
from sysdig_user.filter.parse import parse
from sysdig_user.output.formatter import Formatter
from sysdig_user.state.inspector import Inspector
from tests.support import ROOT
from tests.tracer.conftest import PROGRAMS
from tracer import pushdown, seccomp
from tracer.engine import Engine
from tracer.events import EventBuilder

pytestmark = pytest.mark.ptrace

FILTERS = ["evt.type=openat", "evt.type in (open,openat,close)", "evt.type=connect", "proc.name=calls",
           "fd.name contains /etc"]
MODES = ["files", "pipes", "tcp", "udp", "unix", "threads", "forks", "signals", "execthread"]
KEY_FORMAT = "%evt.type %evt.dir %evt.res %fd.name %proc.name %evt.arg.name"
_FORMAT_FIELDS = ["evt.num", "evt.outputtime", "evt.cpu", "proc.name", "thread.tid", "evt.dir", "evt.type",
                  "evt.info"]
_CLONES = {"clone", "fork", "vfork", "clone3"}
_PORT = re.compile(r":\d+")
_BIGNUM = re.compile(r"\b(?:0x)?[0-9a-f]{5,}\b")


def _plan(flt: str) -> pushdown.Plan:
    fields = referenced_fields(flt) | set(_FORMAT_FIELDS)
    return pushdown.plan(event_types(parse(flt)), fields)


def _trace_events(argv: list[str], cwd: Path, syscalls: frozenset[int] | None) -> tuple[list, Engine]:
    events: list = []
    builder = EventBuilder(events.append, build=True)
    engine = Engine(builder, seccomp_syscalls=syscalls)
    old = os.getcwd()
    os.chdir(cwd)
    try:
        engine.launch(argv)
        status = engine.run()
    finally:
        os.chdir(old)
    assert status == 0, argv
    assert builder.errors == 0, builder.last_error
    return events, engine


def _passing(events: list, flt: str) -> list[tuple[str, ...]]:
    """Per-thread sequences of the passing events' keys, sorted (thread interleaving is not stable)."""
    pred = compile_predicate(flt)
    key = Formatter(KEY_FORMAT)
    insp = Inspector()
    per_tid: dict[int, list[str]] = {}
    for evt in events:
        insp.process(evt)
        if pred is not None and not pred(evt):
            continue
        text = key.format(evt) or ""
        parts = text.split(" ")
        if parts[0] in _CLONES and parts[1] == "<" and parts[2] not in ("0", ""):
            parts[2] = "TID"  # the child's tid differs from run to run
        text = _BIGNUM.sub("N", _PORT.sub(":P", " ".join(parts)))
        per_tid.setdefault(evt.tid, []).append(text)
    insp.flush()
    return sorted(tuple(seq) for seq in per_tid.values())


@pytest.fixture(scope="module")
def calls(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed")
    out = tmp_path_factory.mktemp("pdbin") / "calls"
    subprocess.run([gcc, "-O1", "-pthread", "-o", str(out), str(PROGRAMS / "calls.c")], check=True)
    return out


@pytest.fixture(scope="module")
def traces(calls: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """(mode, syscall set) -> (events, engine), each traced once for all filters."""
    cache: dict = {}
    work = tmp_path_factory.mktemp("pdwork")

    def get(mode: str, syscalls: frozenset[int] | None) -> tuple[list, Engine]:
        if (mode, syscalls) not in cache:
            cache[mode, syscalls] = _trace_events([str(calls), mode], work, syscalls)
        return cache[mode, syscalls]  # type: ignore[no-any-return]

    yield {"get": get}


@pytest.mark.parametrize("flt", FILTERS)
@pytest.mark.parametrize("mode", MODES)
def test_same_events_with_pushdown(traces: dict, flt: str, mode: str) -> None:
    plan = _plan(flt)
    full, _ = traces["get"](mode, None)
    pushed, engine = traces["get"](mode, plan.syscalls)
    assert _passing(pushed, flt) == _passing(full, flt)
    if plan.syscalls is not None:
        assert engine.seccomp_active
        assert len(pushed) < len(full)


def test_plans() -> None:
    assert _plan("proc.name=calls").syscalls is None
    assert _plan("fd.name contains /etc").syscalls is None
    openat = _plan("evt.type=openat")
    assert openat.syscalls is not None and 257 in openat.syscalls and openat.fd_state
    assert 110 not in openat.syscalls  # getppid
    bare = pushdown.plan({"openat"}, ["evt.type", "evt.res"])
    assert bare.syscalls is not None and 3 not in bare.syscalls and not bare.fd_state
    assert set(pushdown._LIFECYCLE_NRS) <= bare.syscalls
    assert "openat(257)" in pushdown.describe(bare.syscalls)


def test_filter_program_shape() -> None:
    rows = seccomp.instructions({0, 1, 2, 9})
    assert rows[-1] == (0x06, 0, 0, seccomp.SECCOMP_RET_ALLOW)
    assert seccomp.ranges({0, 1, 2, 9}) == [(0, 2), (9, 9)]
    assert all(jt <= 2 and jf <= 2 for _c, jt, jf, _k in rows)
    seccomp.Program(range(0, 460, 2))  # long sets stay within BPF_MAXINSNS and 8-bit jumps


def _compile(tmp: Path, name: str) -> Path:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed")
    out = tmp / name
    subprocess.run([gcc, "-O1", "-o", str(out), str(PROGRAMS / f"{name}.c")], check=True)
    return out


def test_program_with_its_own_seccomp_filter(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    prog = _compile(tmp_path, "own_seccomp")
    plan = _plan("evt.type=openat")
    events, engine = _trace_events([str(prog)], tmp_path, plan.syscalls)
    assert engine.seccomp_active
    assert "ok 1" in capfd.readouterr().out
    names = [Formatter("%evt.type %evt.arg.name").format(e) for e in events]
    assert "openat /etc/hostname" in names  # traced after the program's own filter went in


def test_threads_under_pushdown(traces: dict) -> None:
    events, engine = traces["get"]("threads", _plan("evt.type=openat").syscalls)
    assert engine.seccomp_active
    assert len({e.tid for e in events}) == 3


_SETUID_RUNNER = r"""
import ctypes, json, os, sys
sys.path.insert(0, sys.argv[1])
from tracer.engine import Engine
from tracer.events import EventBuilder
from tracer import pushdown
prog, out = sys.argv[2], sys.argv[3]
os.setgid(65534); os.setuid(65534)
ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: dropping root cleared it, and with it ptrace access
res = {}
for name, sc in (("full", None), ("pushdown", pushdown.syscalls_to_trace({"openat"}, False, False))):
    events = []
    e = Engine(EventBuilder(events.append, build=False), seccomp_syscalls=sc)
    r, w = os.pipe()
    saved = os.dup(1); os.dup2(w, 1); os.close(w)
    try:
        e.launch([prog]); status = e.run()
    finally:
        os.dup2(saved, 1); os.close(saved)
    res[name] = [status, os.read(r, 4096).decode(), e.seccomp_active, sorted({x.nr for x in events})]
    os.close(r)
open(out, "w").write(json.dumps(res))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="installing a setuid-root program needs root")
def test_setuid_program_run_by_unprivileged_user() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="sdu-setuid-"))
    try:
        tmp.chmod(0o777)
        prog = _compile(tmp, "whoami")
        os.chown(prog, 0, 0)
        prog.chmod(0o4755)
        out = tmp / "result.json"
        subprocess.run([sys.executable, "-c", _SETUID_RUNNER, str(ROOT), str(prog), str(out)], check=True,
                       timeout=60)
        res = json.loads(out.read_text())
        assert res["full"][:2] == res["pushdown"][:2]
        assert res["full"][0] == 0 and res["full"][1].split()[2] == "1"
        assert res["pushdown"][2] is True
        assert 257 in res["pushdown"][3] and 1 not in res["pushdown"][3]  # write does not stop
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_setuid_program_run_by_root(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    prog = _compile(tmp_path, "whoami")
    _events, engine = _trace_events([str(prog)], tmp_path, _plan("evt.type=openat").syscalls)
    assert engine.seccomp_active
    uid, euid, opened = capfd.readouterr().out.split()
    assert (uid, euid, opened) == (str(os.getuid()), str(os.geteuid()), "1")


def test_no_seccomp_keeps_full_stops(traces: dict) -> None:
    _events, engine = traces["get"]("files", None)
    assert not engine.seccomp_active
    assert engine.seccomp_syscalls is None
