"""Filters and -p formats compiled for C (sysdig_user/output/compiled.py, sysdig_user/_fastline.c) give
what the Python predicate and formatter give: event by event over the shared samples and a capture
the tests write (generated filters and formats, C == Python), and line for line through the CLI with
the compiled line on and off (SDU_NO_NATIVE=1). A filter with one field the C code does not have is
Python as a whole."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sysdig_user.cli import Environment, EventPipeline, Output
from sysdig_user.cli_options import parse_argv
from sysdig_user.errors import SduError
from sysdig_user.fields.registry import compile_predicate
from sysdig_user.output import compiled, fastline
from sysdig_user.output.formatter import Formatter
from sysdig_user.plan import Need
from sysdig_user.scap import read_capture
from sysdig_user.state.inspector import Inspector
from tests.support import (
    line_diff,
    native_environ,
    oracles_required,
    record_python,
    require_built,
    run_sdu,
    shared_path,
)

SAMPLES = ("falco_cat_write.scap", "libs_curl_google.scap", "libs_single_ipv6_conn.scap")
PROGRAM = r"""
import os, socket
for name in ("/etc/hostname", "/etc/passwd", "missing-file"):
    try:
        fd = os.open(name, os.O_RDONLY)
    except OSError:
        continue
    os.read(fd, 10)
    os.close(fd)
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
cli = socket.create_connection(srv.getsockname())
conn, _ = srv.accept()
cli.sendall(b"x"); conn.recv(10); conn.close(); cli.close(); srv.close()
try:
    socket.create_connection(("127.0.0.1", 1))
except OSError:
    pass
"""


def _require_native() -> None:
    require_built(compiled._fastline, "sysdig_user._fastline")


@pytest.fixture(scope="module")
def program_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record_python(tmp_path_factory.mktemp("compiled") / "prog.scap", PROGRAM)


def _events(path: Path) -> list[Any]:
    """The capture's events, each with the state process() gave it (kept alive: fd infos are shared)."""
    inspector = Inspector()
    return list(inspector.events(read_capture(str(path))))


_SAMPLE_EVENTS: dict[str, list[Any]] = {}


def _sample_events() -> list[Any]:
    out = []
    for name in SAMPLES:
        if name not in _SAMPLE_EVENTS:
            _SAMPLE_EVENTS[name] = _events(shared_path("samples", name))
        out += _SAMPLE_EVENTS[name]
    return out


# a generated filter: checks of the compilable fields with literals seen in the captures
_STRING_CHECKS = st.sampled_from([
    ("evt.type", ["open", "openat", "read", "close", "switch", "connect", "mmap", "clone"]),
    ("evt.dir", ["<", ">"]),
    ("proc.name", ["curl", "cat", "python3", "sh", "<NA>"]),
    ("fd.name", ["/etc", "/etc/ld.so.cache", "lib", "127.0.0.1", "", "/"]),
    ("fd.type", ["file", "ipv4", "ipv6", "unix", "directory", "pipe"]),
    ("evt.res", ["SUCCESS", "ENOENT", "EAGAIN", "EINPROGRESS", "E"]),
    ("user.name", ["root", "nobody", "ro"]),
    ("fd.l4proto", ["tcp", "udp", "<NA>", "t"]),
])
_INT_CHECKS = st.sampled_from([
    ("thread.tid", [1, 100, 25000]), ("proc.pid", [1, 100, 25000]), ("fd.num", [-1, 0, 3, 5]),
    ("evt.num", [1, 50, 400]), ("evt.cpu", [0, 1, 3]), ("fd.sport", [80, 443, 0]), ("fd.cport", [0, 80, 40000]),
])
_STRING_OPS = ["=", "!=", "contains", "startswith", "endswith", "<", ">=", "in", "exists"]
_INT_OPS = ["=", "!=", "<", "<=", ">", ">=", "in", "exists"]


@st.composite
def _check(draw: Any) -> str:
    kind = draw(st.sampled_from(["str", "int", "ip", "bool"]))
    if kind == "bool":  # (the event's EF flags: A_IO; evt.failed: A_FAILED)
        field = draw(st.sampled_from(["evt.is_io", "evt.is_io_read", "evt.is_io_write", "evt.failed"]))
        op = draw(st.sampled_from(["=", "!=", "in", "exists", "<", ">="]))
        values = ["true", "false"]
    elif kind == "ip":
        field = draw(st.sampled_from(["fd.cip", "fd.sip"]))
        op = draw(st.sampled_from(["=", "!=", "in", "exists"]))
        values = ["127.0.0.1", "172.217.12.100", "::1"]
    elif kind == "str":
        field, values = draw(_STRING_CHECKS)
        op = draw(st.sampled_from(_STRING_OPS))
    else:
        field, values = draw(_INT_CHECKS)
        op = draw(st.sampled_from(_INT_OPS))
    if op == "exists":
        return f"{field} exists"
    if op == "in":
        chosen = draw(st.lists(st.sampled_from(values), min_size=1, max_size=3))
        return f"{field} in ({', '.join(_quoted(v) for v in chosen)})"
    return f"{field} {op} {_quoted(draw(st.sampled_from(values)))}"


def _quoted(v: Any) -> str:
    return f'"{v}"' if isinstance(v, str) and (not v or "<" in v) else str(v)


_FILTERS = st.recursive(
    _check(),
    lambda inner: st.one_of(
        st.builds(lambda a, b, c: f"({a}) {c} ({b})", inner, inner, st.sampled_from(["and", "or"])),
        st.builds(lambda a: f"not ({a})", inner)),
    max_leaves=5)


def _compile(text: str) -> tuple[Any, Any]:
    try:
        predicate = compile_predicate(text)
    except SduError:
        assume(False)
    native = compiled.native_filter(text)
    assert native is not None, text
    return predicate, native


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_FILTERS)
def test_generated_filters_equal_python_over_the_samples(text: str) -> None:
    _require_native()
    predicate, native = _compile(text)
    for evt in _sample_events():
        assert native(evt) == predicate(evt), (text, evt.num, evt.type)
    assert native.event_types == getattr(predicate, "event_types", None)


@pytest.mark.ptrace  # program_capture: sdu -w -- a traced program
def test_generated_filters_equal_python_over_a_written_capture(program_capture: Path) -> None:
    _require_native()
    events = _events(program_capture)

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(text=_FILTERS)
    def check(text: str) -> None:
        predicate, native = _compile(text)
        for evt in events:
            assert native(evt) == predicate(evt), (text, evt.num, evt.type)
    check()


_FORMAT_FIELDS = ["evt.num", "evt.cpu", "thread.tid", "evt.type", "evt.dir", "proc.name", "proc.pid", "fd.num",
                  "fd.name", "fd.type", "fd.sport", "fd.cport", "fd.cip", "fd.sip", "evt.outputtime", "evt.res",
                  "user.name", "fd.l4proto"]
_FORMATS = st.builds(
    lambda star, parts, tail: ("*" if star else "") + "".join(parts) + tail,
    st.booleans(),
    st.lists(st.builds(lambda lit, width, field: f"{lit}%{'' if field == 'evt.outputtime' else width or ''}{field}",
                       st.sampled_from(["", " ", " | ", "é:"]), st.sampled_from([0, 0, 3, 12]),
                       st.sampled_from(_FORMAT_FIELDS)), min_size=1, max_size=6),
    st.sampled_from(["", " end", "é"]))  # (evt.outputtime with a width is Python's)


def _formatter(fmt: str) -> tuple[Formatter, Any]:
    formatter = Formatter(fmt)
    native = compiled.native_format(formatter)
    assert native is not None, fmt
    return formatter, native


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fmt=_FORMATS)
def test_generated_formats_equal_python_over_the_samples(fmt: str) -> None:
    _require_native()
    formatter, native = _formatter(fmt)
    line = formatter.line_function
    for evt in _sample_events():
        assert native(evt) == line(evt), (fmt, evt.num, evt.type)


_CLI_CASES = [
    ["evt.type=open and fd.name contains /etc"], ["proc.name=curl and fd.type=ipv4"],
    ["not fd.name contains lib and evt.dir=<"], ["evt.res != SUCCESS or fd.name = ''"], ["fd.sport=80 or fd.cip exists"], ["evt.type in (switch, procinfo)"],
    ["-p", "%evt.num %proc.name %evt.type %fd.name"],
    ["-p", "*%evt.num %evt.outputtime %5fd.type %fd.sport %fd.cip %fd.sip %10proc.name|"],
    ["-p", "%evt.cpu %3evt.type %proc.pid %fd.num", "evt.dir=> or fd.num>2"],
    ["-p", "%evt.num %evt.res %fd.name %user.name", "evt.type in (open, connect, read, openat)"],
    ["user.name=root and evt.res=SUCCESS"],
    ["evt.is_io=true and proc.name=curl"], ["-p", "%evt.num %fd.name", "evt.is_io_write=true or evt.is_io_read=false"],
]


@pytest.mark.ptrace  # program_capture: sdu -w -- a traced program
def test_cli_lines_with_and_without_the_compiled_path(program_capture: Path) -> None:
    """Each case prints the same lines (and the same count with -q... here: the lines) either way, and
    the compiled line really runs (its event count is in the stats)."""
    _require_native()
    for path in [program_capture] + [shared_path("samples", name) for name in SAMPLES]:
        for argv in _CLI_CASES:
            fast = run_sdu("-r", str(path), *argv, environ=native_environ(True))
            slow = run_sdu("-r", str(path), *argv, environ=native_environ(False))
            assert fast.status == slow.status == 0, (argv, fast.stderr)
            assert line_diff(slow.stdout.splitlines(), fast.stdout.splitlines()) == "", (path, argv)


@pytest.mark.oracle
@pytest.mark.parametrize("argv", _CLI_CASES, ids=lambda a: " ".join(a))
def test_cli_lines_equal_sysdig(argv: list[str], tmp_path: Path) -> None:
    import subprocess

    from tests.support import require_tool

    _require_native()
    sysdig = require_tool("sysdig")
    for name in SAMPLES:
        path = shared_path("samples", name)
        ours = run_sdu("-r", str(path), *argv, environ=native_environ(True))
        theirs = subprocess.run([sysdig, "-r", str(path), *argv], capture_output=True, text=True,
                                env=native_environ(True), check=False, errors="surrogateescape")
        assert line_diff(theirs.stdout.splitlines(), ours.stdout.splitlines()) == "", (name, argv)


def _pipeline(argv: list[str], path: Path) -> EventPipeline:
    sink = open(os.devnull, "wb")  # noqa: SIM115 - the pipeline's output, dropped
    env = Environment(sink, None, native_environ(True))  # type: ignore[arg-type]
    return EventPipeline(parse_argv([*argv, "-r", str(path)]), env, Output(sink))


def test_fallback_is_chosen_per_filter() -> None:
    """One field without a C accessor (fd.directory) makes the whole filter Python: the planner's
    PY_FILTER fact, no compiled line, the Python predicate; the same filter without it is C."""
    _require_native()
    path = shared_path("samples", "libs_curl_google.scap")
    python = _pipeline(["proc.name=curl and fd.directory=/etc"], path)
    assert compiled.native_filter("proc.name=curl and fd.directory=/etc") is None
    assert python.plan.needs & Need.PY_FILTER and not python.plan.compiled_line
    assert not python.plan.compiled_filter and fastline.core_for(python) is None
    assert not isinstance(python.predicate, compiled._fastline.Filter)
    native = _pipeline(["proc.name=curl and fd.name contains /etc"], path)
    assert native.plan.compiled_line and native.plan.compiled_filter
    assert isinstance(native.predicate, compiled._fastline.Filter)
    assert native.inspector.prefilter is native.predicate
    for fmt, ok in (("%evt.num %fd.directory", False), ("%evt.num %fd.name", True), ("%evt.num %evt.info", False)):
        pipe = _pipeline(["-p", fmt], path)
        assert pipe.plan.compiled_line is ok and bool(pipe.plan.needs & Need.PY_FORMAT) is not ok, fmt


def test_operators_and_multi_valued_fields_stay_python() -> None:
    _require_native()
    for text in ("fd.name glob /etc*", "fd.name icontains ETC", "fd.ip=127.0.0.1", "fd.port=80",
                 "fd.name pmatch (/etc)", "evt.arg.fd=3", "evt.type=open and fd.lip=127.0.0.1"):
        assert compiled.native_filter(text) is None, text


@pytest.mark.ptrace
def test_live_capture_filters_and_formats_in_c() -> None:
    """`sdu -v -p FORMAT FILTER -- CMD`: the printing process runs both through the compiled line."""
    import re
    import subprocess
    import sys

    from tests.support import ROOT

    _require_native()
    argv = [sys.executable, "-m", "sysdig_user", "-v", "-p", "*%evt.num %proc.name %evt.type %fd.name %fd.type",
            "evt.type in (openat, read, close) and fd.name contains /etc", "--", sys.executable, "-S", "-c", PROGRAM]
    proc = subprocess.run(argv, cwd=ROOT, env=native_environ(True), capture_output=True, text=True, timeout=120,
                          check=False)
    if proc.returncode != 0 and "ptrace" in proc.stderr.lower() and not oracles_required():
        pytest.skip(f"ptrace is not usable here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    m = re.search(r"compiled default line: (\d+) of (\d+) events", proc.stderr)
    assert m is not None, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == int(m.group(2)) > 3 and int(m.group(1)) > int(m.group(2)) // 2, proc.stderr
    assert all("/etc" in line.split(" ")[3] and line.split(" ")[2] in ("openat", "read", "close") for line in lines)


_ONE_ANSWER = ("evt.is_io exists", "evt.is_io_read in (true, false)", "evt.failed exists")  # (true for every event)


@pytest.mark.parametrize("text", ["evt.is_io=true", "evt.is_io=false", "evt.is_io_read=true", "evt.is_io_write!=true",
                                  "evt.is_io_read in (true, false)", "evt.is_io exists",
                                  "evt.is_io_write=true and fd.type=ipv6", "not evt.is_io=true or proc.name=curl",
                                  "evt.failed=true", "evt.failed=false", "evt.failed!=true", "evt.failed exists",
                                  "fd.type=file or evt.failed=true", "evt.is_io=true and evt.failed=false"])
def test_flag_fields_compile_and_equal_python(text: str) -> None:
    """evt.is_io, evt.is_io_read and evt.is_io_write (A_IO, the code's EF flags) and evt.failed (A_FAILED:
    evt.res's params below 0) are C checks, with the Python predicate's answer on every sample event, true
    for some and false for others (except the texts true of every event)."""
    _require_native()
    predicate, native = _compile(text)
    answers = set()
    for evt in _sample_events():
        got = native(evt)
        assert got == predicate(evt), (text, evt.num, evt.type)
        answers.add(got)
    assert answers == ({True} if text in _ONE_ANSWER else {True, False})
