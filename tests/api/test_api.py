"""The Python API (sysdig_user.trace/read/attach) against the command line, its other face.

A field's value must be the text `sdu -r FILE -p '*%FIELD'` prints for that event (None for <NA>),
however late it is asked: the test lists the events first, then asks (the state has moved on by
then). Traced runs are compared with the CLI reading their recording, and with sysdig reading it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sysdig_user
from sysdig_user.output.formatter import Formatter
from tests.support import require_tool, run_sdu, shared_path

SAMPLES = ("falco_cat_write", "libs_curl_google", "libs_single_ipv6_conn")
SEP = "\x1f"
# filter-only fields: sysdig refuses them in -p (sdu's CLI still takes them, and aborts as sysdig's
# extractor does on some events: "wrong event type 41")
FILTER_ONLY = frozenset({"fd.ip", "fd.port", "fd.proto", "fd.net", "fd.cnet", "fd.snet", "fd.lnet", "fd.rnet"})
WITH_ARGS = ("evt.arg.fd", "evt.arg[0]", "evt.arg.name", "proc.aname[1]", "proc.apid[2]", "evt.type.is.openat")
# without an index, these print their own name after the value unless they end the format (as in sysdig):
# compared one at a time
BARE_INDEX = ("proc.apid", "proc.aname")


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


def _printable_fields() -> list[str]:
    """Every field of `sdu -l` that a -p format takes without an argument, and some with one."""
    from sysdig_user.fields.registry import FIELDS

    names = []
    for name in [*FIELDS, *WITH_ARGS]:
        if name in FILTER_ONLY or name in BARE_INDEX:
            continue
        try:
            Formatter("*%" + name)
        except sysdig_user.FieldError:
            continue
        names.append(name)
    return names


def _cli_rows(path: str, fields: list[str], *args: str) -> list[tuple[str | None, ...]]:
    res = run_sdu("-r", path, *args, "-p", "*" + SEP.join("%" + f for f in fields), environ={"TZ": "UTC"})
    assert res.status == 0, res.stderr
    return [tuple(None if v == "<NA>" else v for v in line.split(SEP)) for line in res.stdout.split("\n")[:-1]]


@pytest.mark.parametrize("sample", SAMPLES)
def test_every_field_as_the_cli_prints_it(sample: str) -> None:
    path = str(shared_path("samples", f"{sample}.scap"))
    fields = _printable_fields()
    assert len(fields) > 180
    want = _cli_rows(path, fields)
    events = sysdig_user.Capture(path).events
    got = events.table(*fields)
    assert len(got) == len(want) > 20
    for k, name in enumerate(fields):
        column = [row[k] for row in got]
        assert column == [row[k] for row in want], name
    exercised = [name for k, name in enumerate(fields) if any(row[k] is not None for row in got)]
    assert len(exercised) > 100  # the samples give most fields a value somewhere
    for name in BARE_INDEX:
        assert events.table(name) == _cli_rows(path, [name]), name


@pytest.mark.parametrize("sample", SAMPLES)
def test_values_asked_after_the_list_was_made(sample: str) -> None:
    """list(read()) first, then fields: each event's value is still the one of its moment."""
    path = str(shared_path("samples", f"{sample}.scap"))
    events = list(sysdig_user.read(path))
    fields = ["fd.name", "proc.name", "evt.res", "fd.num", "proc.cwd", "evt.latency"]
    want = _cli_rows(path, fields)
    assert [tuple(ev[f] for f in fields) for ev in events] == want
    assert [ev.num for ev in events] == [int(row[0] or 0) for row in _cli_rows(path, ["evt.num"])]


@pytest.mark.parametrize("sample", SAMPLES)
def test_default_line_json_type_dir_and_args(sample: str) -> None:
    path = str(shared_path("samples", f"{sample}.scap"))
    events = list(sysdig_user.read(path))
    lines = run_sdu("-r", path, environ={"TZ": "UTC"}).stdout.splitlines()
    assert [str(ev) for ev in events] == lines
    objects = [json.loads(line) for line in run_sdu("-r", path, "-j", environ={"TZ": "UTC"}).stdout.splitlines()]
    assert [ev.to_dict() for ev in events] == objects
    rows = _cli_rows(path, ["evt.type", "evt.dir", "evt.arg[0]", "evt.arg[1]", "evt.arg[2]"])
    assert [(ev.type, ev.dir) for ev in events] == [row[:2] for row in rows]
    # args: each param's text as %evt.arg.NAME / %evt.arg[N] prints it, in the event table's order
    assert [tuple(list(ev.args.values())[:3]) for ev in events] == [
        tuple(v for v in row[2:] if v is not None) for row in rows]


@pytest.mark.parametrize("flt", ["evt.type=openat", "fd.type=ipv4 and evt.dir=<", "proc.name=curl"])
def test_filtered_read_and_filter(flt: str) -> None:
    path = str(shared_path("samples", "libs_curl_google.scap"))
    want = _cli_rows(path, ["evt.num", "fd.name"], flt)
    got = [(str(ev.num), ev["fd.name"]) for ev in sysdig_user.read(path, flt)]
    assert got == want
    capture = sysdig_user.Capture(path)
    assert [(str(ev.num), ev["fd.name"]) for ev in capture.filter(flt)] == want


@pytest.mark.ptrace  # (a launch refused before the fork)
def test_errors_are_typed_with_the_cli_line(tmp_path: Path) -> None:
    path = str(shared_path("samples", "falco_cat_write.scap"))
    cli = run_sdu("-r", path, "evt.type=")
    with pytest.raises(sysdig_user.FilterError) as bad_filter:
        list(sysdig_user.read(path, "evt.type="))
    assert str(bad_filter.value) + "\n" == cli.stderr
    ev = next(sysdig_user.read(path))
    with pytest.raises(sysdig_user.FieldError) as bad_field:
        ev["proc.bogus"]
    assert str(bad_field.value) in run_sdu("-r", path, "-p", "%proc.bogus").stderr
    with pytest.raises(sysdig_user.CaptureError):
        list(sysdig_user.read(tmp_path / "absent.scap"))
    cut = tmp_path / "cut.scap"
    data = Path(path).read_bytes()
    cut.write_bytes(data[: len(data) - 1000])
    readable = run_sdu("-r", str(cut), "-p", "%evt.num")
    got: list[str] = []
    with pytest.raises(sysdig_user.CaptureError) as damaged:
        got.extend(str(ev.num) for ev in sysdig_user.read(cut))
    assert got == readable.stdout.splitlines() and got
    assert str(damaged.value) + "\n" == readable.stderr
    with pytest.raises(sysdig_user.TraceError, match="command not found"):
        sysdig_user.trace([str(tmp_path / "no-such-program")])


PROGRAM = """
import os, socket, sys
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
cli = socket.create_connection(srv.getsockname())
with open(sys.argv[1]) as f:
    f.read()
os.system("true")
sys.exit(3)
"""


@pytest.mark.ptrace
@pytest.mark.oracle
def test_trace_a_command(tmp_path: Path) -> None:
    target = tmp_path / "data.txt"
    target.write_text("x")
    with sysdig_user.trace([sys.executable, "-c", PROGRAM, str(target)]) as run:
        assert run.returncode == 3
        assert (str(target), "O_RDONLY|O_CLOEXEC") in run.files_opened()
        assert len(run.connections()) == 1 and run.connections()[0].startswith("127.0.0.1:")
        assert run.processes_executed()[-1] == "sh -c true"
        counts = run.syscalls()
        assert counts["connect"] == 1 and counts["openat"] >= 1
        # the recording reads the same in the CLI and in sysdig
        copy = tmp_path / "run.scap"
        run.write(copy)
        cli = run_sdu("-r", str(copy), environ={"TZ": "UTC"}).stdout.splitlines()
        assert [str(ev) for ev in run.events] == cli
        sysdig = subprocess.run([require_tool("sysdig"), "-r", str(copy)], capture_output=True, text=True,
                                env={**os.environ, "TZ": "UTC"}, timeout=120, check=False)
        lines = sysdig.stdout.splitlines()
        assert lines == [ln for ln in cli if " > packet " not in ln][: len(lines)] and len(lines) > 100
        recording = run.path
    assert not os.path.exists(recording)  # closed with the with-block


@pytest.mark.ptrace
def test_trace_with_a_filter_cwd_and_env(tmp_path: Path) -> None:
    run = sysdig_user.trace(["sh", "-c", 'cat "$NAME" > /dev/null'], "evt.type=openat and evt.dir=<",
                            cwd=tmp_path, env={"NAME": "in-cwd.txt", "PATH": os.environ["PATH"]})
    (tmp_path / "in-cwd.txt").write_text("")  # (created after: cat fails, the open is still seen)
    names = [ev["fd.name"] or ev["evt.arg.name"] for ev in run]
    assert any(str(n).endswith("in-cwd.txt") for n in names)
    assert all(ev.type == "openat" and ev.dir == "<" for ev in run)
    assert run.returncode == 1
    run.close()


@pytest.mark.ptrace
def test_attach_for_a_while() -> None:
    proc = subprocess.Popen(["sh", "-c", "while :; do cat /etc/hostname > /dev/null; sleep 0.05; done"])
    try:
        time.sleep(0.2)
        run = sysdig_user.attach(proc.pid, "evt.type=openat", duration=1)
        assert run.returncode == 0 and len(run) > 0
        assert "/etc/hostname" in [ev["fd.name"] for ev in run]
        assert proc.poll() is None  # it runs on, untraced
        with open(f"/proc/{proc.pid}/status") as f:
            assert "TracerPid:\t0\n" in f.read()
        run.close()
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.ptrace
def test_stream_yields_events_as_they_happen(tmp_path: Path) -> None:
    marker = tmp_path / "go"
    script = f"cat /etc/hostname > /dev/null; while [ ! -e {marker} ]; do sleep 0.05; done; exit 4"
    seen = []
    with sysdig_user.stream(["sh", "-c", script], "evt.type=openat and evt.dir=< and fd.name=/etc/hostname",
                            fields=["fd.name", "proc.name", "evt.res"]) as events:
        for ev in events:
            seen.append((ev.type, ev.dir, ev["fd.name"], ev["proc.name"]))
            assert not marker.exists()  # the command is still waiting: the event came while it ran
            assert str(ev).startswith(f"{ev.num} ") and " < openat fd=" in str(ev)
            with pytest.raises(KeyError, match="fields="):
                ev["fd.num"]
            marker.write_text("")
    assert seen == [("openat", "<", "/etc/hostname", "cat")]
    assert events.returncode == 4


@pytest.mark.ptrace
def test_leaving_a_stream_early_detaches() -> None:
    proc = subprocess.Popen(["sh", "-c", "while :; do cat /etc/hostname > /dev/null; sleep 0.02; done"])
    try:
        time.sleep(0.2)
        with sysdig_user.stream(pids=[proc.pid], filter="evt.type=openat", fields=["fd.name"]) as events:
            first = next(iter(events))
        assert first.type == "openat"
        assert events.returncode == 0
        assert proc.poll() is None
        with open(f"/proc/{proc.pid}/status") as f:
            status = f.read()
        assert "TracerPid:\t0\n" in status and "State:\tt" not in status
    finally:
        proc.kill()
        proc.wait()


def test_stream_errors_before_running() -> None:
    with pytest.raises(sysdig_user.FilterError), sysdig_user.stream(["true"], "evt.type="):
        pass
    with pytest.raises(sysdig_user.FieldError), sysdig_user.stream(["true"], fields=["proc.bogus"]):
        pass
