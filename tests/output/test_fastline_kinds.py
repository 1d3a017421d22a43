"""The event kinds the compiled line (sysdig_user/_fastline.c) takes itself instead of building a Python
Event: each is taken by the core on the shared samples (none declined to the Python pipeline), for the
default line and for a -p format, and the lines are the Python pipeline's and sysdig's own (the samples'
``*.sysdig.txt``, or sysdig run on them)."""
from __future__ import annotations

import collections
import os
import sys
from pathlib import Path

import pytest

from sysdig_user.cli import Environment, EventPipeline, Output
from sysdig_user.cli_options import parse_argv
from sysdig_user.event import Event
from sysdig_user.event_table import EVENTS, EXTENSIONS
from sysdig_user.output import fastline
from sysdig_user.scap import read_capture
from sysdig_user.state import inspector
from tests.support import line_diff, native_environ, require_built, run_sdu, shared_path

SAMPLES = ("libs_curl_google.scap", "libs_single_ipv6_conn.scap", "falco_cat_write.scap")
FORMAT = ("-p", "%evt.num %proc.name %evt.type %fd.name")
#: (event name, exit) the core takes; the samples have some of each (checked below)
KINDS = [("open", True), ("open", False), ("switch", False), ("socket", True), ("socket", False), ("fcntl", True),
         ("fcntl", False)]


def _kind(raw: bytes, argv: tuple[str, ...]) -> tuple[str, bool]:
    code = raw[20] | raw[21] << 8
    kind = (EVENTS[code].name, bool(code & 1)) if code < len(EVENTS) else ("?", False)
    if argv and kind[1] and _failed_fd(raw, code):
        kind = (kind[0] + " failed", True)  # (a -p %fd.name of a failed open: the name param, in Python)
    return kind


def _python_events(path: Path, argv: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> tuple[
        collections.Counter[tuple[str, bool]], collections.Counter[tuple[str, bool]]]:
    """Per (name, exit): the events of known threads, and those that became a Python Event (given to the
    Python pipeline, or built by the core for a parser or a pending enter). An event of a thread not in
    the table yet (the core declines those: process() makes its placeholder) is not counted."""
    built: collections.Counter[tuple[str, bool]] = collections.Counter()
    new_thread = False

    def counted(raw: bytes, cpu: int = 0, flags: int = 0) -> Event:
        if not new_thread:
            built[_kind(raw, argv)] += 1
        return Event(raw, cpu, flags)
    monkeypatch.setattr(fastline, "Event", counted)
    monkeypatch.setattr(inspector, "Event", counted)
    sink = open(os.devnull, "wb")  # noqa: SIM115 - closed below
    pipe = EventPipeline(parse_argv([*argv, "-r", str(path)]), Environment(sink, sys.stderr, native_environ(True)),
                         Output(sink))
    core = fastline.core_for(pipe)
    assert core is not None
    seen: collections.Counter[tuple[str, bool]] = collections.Counter()
    for item in read_capture(str(path), extension_types=frozenset(EXTENSIONS)):
        if type(item) is not tuple:
            pipe.feed_records(item)
            continue
        cpu, flags, raw = item
        new_thread = int.from_bytes(raw[8:16], "little", signed=True) not in pipe.inspector.state.threads.threads
        if not new_thread:
            seen[_kind(raw, argv)] += 1
        if not flags and core.one(raw, cpu):
            continue
        fastline.drain(core, pipe)
        pipe.on_event(counted(raw, cpu, flags))
        new_thread = False
    fastline.drain(core, pipe)
    sink.close()
    return seen, built


def _failed_fd(raw: bytes, code: int) -> bool:
    """An exit whose param 0 is a negative fd (an open that failed)."""
    params = EVENTS[code].params
    nparams = int.from_bytes(raw[22:26], "little")
    if not nparams or not params or params[0].name != "fd" or int.from_bytes(raw[26:28], "little") != 8:
        return False
    at = 26 + 2 * nparams
    return int.from_bytes(raw[at:at + 8], "little", signed=True) < 0


@pytest.mark.parametrize("argv", [(), FORMAT], ids=["default", "format"])
def test_kinds_are_taken_by_the_core(argv: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the first events (which go the long way while the Inspector starts), no event of KINDS becomes
    a Python Event."""
    require_built(fastline._fastline, "sysdig_user._fastline")
    seen: collections.Counter[tuple[str, bool]] = collections.Counter()
    built: collections.Counter[tuple[str, bool]] = collections.Counter()
    for name in SAMPLES:
        s, b = _python_events(shared_path("samples", name), argv, monkeypatch)
        seen.update(s)
        built.update(b)
    for kind in KINDS:
        assert seen[kind] > 0, kind
        # (the enter of an exit left to Python, a failed open's under -p, is built for that exit)
        allowed = 0 if kind[1] else built[kind[0] + " failed", True]
        assert built[kind] <= allowed, (kind, built[kind], seen[kind])


@pytest.mark.parametrize("argv", [(), FORMAT], ids=["default", "format"])
@pytest.mark.parametrize("sample", SAMPLES)
def test_lines_are_the_python_pipelines_and_sysdigs(sample: str, argv: tuple[str, ...]) -> None:
    require_built(fastline._fastline, "sysdig_user._fastline")
    path = shared_path("samples", sample)
    fast = run_sdu(*argv, "-r", str(path), environ=native_environ(True))
    slow = run_sdu(*argv, "-r", str(path), environ=native_environ(False))
    assert fast.status == slow.status == 0
    assert line_diff(slow.stdout.splitlines(), fast.stdout.splitlines()) == ""
    if not argv:
        want = path.with_name(sample.replace(".scap", ".sysdig.txt")).read_text(errors="surrogateescape")
        assert line_diff(want.splitlines(), fast.stdout.splitlines()) == ""
