"""The table chisels' compiled state (output/fastline.py chisel_core): the events no chisel filter
can pass are kept in C, only the others are built. Its output is the Python pipeline's, byte for
byte (SDU_NO_NATIVE=1), on the shared samples and on a capture of one sample's sections three times
over; tests/chisels/test_top_order_oracle.py and test_golden.py compare the same chisels with
sysdig (they run the compiled path, the default)."""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from sysdig_user.event_table import EF, EVENTS
from sysdig_user.filter.codes import filter_codes
from sysdig_user.output import fastline
from tests.support import run_sdu, shared_path

CHISELS = (
    ("topfiles_bytes",), ("topfiles_time",), ("topfiles_errors",), ("topprocs_file",), ("topprocs_net",),
    ("topconns",), ("topports_server",), ("topscalls",), ("topprocs_errors",), ("fdbytes_by", "proc.name"),
    ("fdtime_by", "fd.name"), ("fdbytes_by", "fd.num"), ("fdbytes_by", "thread.vmsize"), ("fdbytes_by", "thread.vmrss"),
    ("topprocs_cpu",),
)


def _codes(name: str) -> set[int]:
    return {e.code for e in EVENTS if e.name == name}


def test_filter_codes_restricts_by_type_and_io() -> None:
    io = {e.code for e in EVENTS if int(e.flags) & int(EF.READS_FROM_FD | EF.WRITES_TO_FD)}
    assert filter_codes("fd.type=file and evt.is_io=true") == io
    assert filter_codes("(fd.type=ipv4 or fd.type=ipv6) and evt.is_io=true") == io
    generic = {0, 1}
    assert filter_codes("evt.type=procinfo") == _codes("procinfo") | generic
    assert filter_codes("evt.type in (open, close)") == _codes("open") | _codes("close") | generic
    assert filter_codes("evt.type=open or evt.type=close") == _codes("open") | _codes("close") | generic
    assert filter_codes("evt.type=open and evt.type=close") == generic


@pytest.mark.parametrize("text", ["evt.type!=switch", "not evt.type=open", "evt.is_io=false",
                                  "evt.type=open or fd.type=file", "fd.name contains /etc", "evt.failed=true",
                                  "evt.is_io=true or not evt.type=read", "((("])
def test_filter_codes_any_code_when_unsure(text: str) -> None:
    assert filter_codes(text) is None


def _run(capture: Path, args: tuple[str, ...], native: bool) -> str:
    env = {**os.environ, "TZ": "UTC"}
    if native:
        env.pop("SDU_NO_NATIVE", None)
    else:
        env["SDU_NO_NATIVE"] = "1"
    res = run_sdu("-r", str(capture), "-c", *args, environ=env)
    assert res.status == 0, res.stderr
    return res.output


def _captures(tmp: Path) -> list[Path]:
    out = [shared_path("samples", n) for n in ("libs_curl_google.scap", "falco_cat_write.scap",
                                               "libs_single_ipv6_conn.scap")]
    data = out[0].read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    tripled = tmp / "curl3.scap"
    tripled.write_bytes(data * 3)
    return [*out, tripled]


@pytest.mark.skipif(not fastline.available(), reason="the _fastline extension is not built")
def test_compiled_state_prints_what_python_prints(tmp_path: Path) -> None:
    for capture in _captures(tmp_path):
        for args in CHISELS:
            want = _run(capture, args, native=False)
            got = _run(capture, args, native=True)
            assert got == want, (capture.name, args)


@pytest.mark.skipif(not fastline.available(), reason="the _fastline extension is not built")
def test_compiled_state_is_used_for_table_chisels(tmp_path: Path) -> None:
    """The plan picks it for a table chisel's file read, and most events stay in C."""
    from sysdig_user import pipeline, sources

    seen: dict[str, int | None] = {}
    orig = sources.read_files

    def spy(paths: list[str], pipe: pipeline.EventPipeline, writer: object) -> pipeline.RunStats:
        stats = orig(paths, pipe, writer)  # type: ignore[arg-type]
        seen["fast"], seen["all"] = stats.fast_events, stats.events
        return stats

    capture = _captures(tmp_path)[-1]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sources, "read_files", spy)
        _run(capture, ("topfiles_bytes",), native=True)
    assert seen["fast"] is not None and seen["all"]
    assert seen["fast"] > 0.8 * seen["all"]
    seen.clear()
    with pytest.MonkeyPatch.context() as mp:  # no filter, but its sums run in C (a Table) for the events
        mp.setattr(sources, "read_files", spy)  # without a parser
        _run(capture, ("topscalls_time",), native=True)
    assert seen["fast"]
    seen.clear()
    with pytest.MonkeyPatch.context() as mp:  # a chisel that needs every event in Python: no compiled state
        mp.setattr(sources, "read_files", spy)
        _run(capture, ("echo_fds",), native=True)
    assert not seen["fast"]


USER_CHISEL = '''
from sysdig_user.chisels.api import Chisel, ChiselInfo


class Both(Chisel):
    info = ChiselInfo("both_filters", "test", "Test", "a global filter and a chisel filter")

    def on_init(self):
        self.n = 0
        self.f = self.ctx.request_field("fd.name")
        self.ctx.set_global_filter("proc.name=curl")
        self.ctx.set_filter("evt.is_io=true")
        return True

    def on_event(self, evt):
        self.n += 1
        return True

    def on_capture_end(self, ts, delta):
        self.ctx.print(str(self.n))
'''


def _fast_events(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """The compiled core's event count of each read_files run from now on (None: no core)."""
    from sysdig_user import pipeline, sources

    seen: list[int | None] = []
    orig = sources.read_files

    def spy(paths: list[str], pipe: pipeline.EventPipeline, writer: object) -> pipeline.RunStats:
        stats = orig(paths, pipe, writer)  # type: ignore[arg-type]
        seen.append(stats.fast_events)
        return stats

    monkeypatch.setattr(sources, "read_files", spy)
    return seen


@pytest.mark.skipif(not fastline.available(), reason="the _fastline extension is not built")
@pytest.mark.parametrize(("text", "compiled"), [("proc.name=curl", True), ("thread.vmsize > 0", False)])
def test_a_chisel_global_filter_runs_in_c_when_compiled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         text: str, compiled: bool) -> None:
    """sysdig.set_filter filters every event before the chisels see it: the silent Core runs it where it
    compiled (output/compiled.py), else every event goes the Python way; the same output either way."""
    (tmp_path / "both_filters.py").write_text(USER_CHISEL.replace("proc.name=curl", text))
    monkeypatch.setenv("SDU_CHISELS_DIR", str(tmp_path))
    seen = _fast_events(monkeypatch)
    capture = _captures(tmp_path)[-1]
    got = _run(capture, ("both_filters",), native=True)
    assert (seen[0] is not None) is compiled
    assert got == _run(capture, ("both_filters",), native=False)
    assert int(got) > 0


FILTERED = (("topfiles_bytes", "evt.type=open"), ("topfiles_bytes", "proc.name=curl"),
            ("topprocs_net", "fd.type=ipv4"), ("topfiles_time", "evt.type in (open, read, close)"),
            ("topprocs_file", "proc.name!=curl"), ("fdbytes_by", "fd.name", "fd.name contains lib"))


@pytest.mark.skipif(not fastline.available(), reason="the _fastline extension is not built")
def test_a_chisel_with_a_command_line_filter_stays_in_c(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A compiled command-line filter with table chisels: the silent Core filters (and keeps the state of)
    the events no chisel needs, with the Python pipeline's output."""
    seen = _fast_events(monkeypatch)
    for capture in _captures(tmp_path):
        for args in FILTERED:
            want = _run(capture, args, native=False)
            got = _run(capture, args, native=True)
            assert got == want, (capture.name, args)
            assert seen[-1] is not None, (capture.name, args)  # (a Core; it counts the passing events it took)
