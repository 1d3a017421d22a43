"""Running fuzz inputs and judging the outcome: only sdu's own errors (SduError, one line on stderr, a
non-zero exit) are allowed, never an internal error or a traceback. Failing inputs go to the regression
corpus (tests/fuzz/corpus/) when SDU_FUZZ_SAVE=1, so they are replayed by test_corpus.py from then on."""
from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path

from sysdig_user.errors import SduError
from sysdig_user.event import Event
from sysdig_user.scap.records import FdList, ProcList
from sysdig_user.scap.writer import ScapWriter
from sysdig_user.state.inspector import Inspector
from tests.state import scenario
from tests.support import SduResult, run_sdu

CORPUS = Path(__file__).resolve().parent / "corpus"
FILTER_CORPUS = CORPUS / "filters"
CAPTURE_CORPUS = CORPUS / "captures"
ENV = {**os.environ, "TZ": "UTC"}
#: What the capture runs print, in turn (see format_for): the default line, -j, and -p lines of many fields
#: reading params and state ("*": every event, even with fields missing). A -p line compiles code per event
#: type, ~40 ms a run on these small captures, so they run one time in ten.
_FIELDS_A = ("*%evt.num %evt.type %evt.dir %evt.args %evt.res %evt.arg[0] %evt.latency %evt.is_io %evt.category "
             "%fd.num %fd.name %fd.type %fd.sip %fd.l4proto %proc.name %proc.exe %proc.pname %proc.apid[1] %user.name")
_FIELDS_B = ("*%evt.num %evt.info %evt.rawarg.res %fd.cport %fd.directory %fd.typechar %proc.args %proc.cwd "
             "%thread.tid %thread.vtid %group.name %proc.fdopencount %evt.abspath %proc.exepath")
FORMATS: tuple[tuple[str, ...], ...] = ((), ("-j",), ("-p", _FIELDS_A), ("-p", _FIELDS_B))


def format_for(n: int) -> int:
    """The FORMATS index of run ``n``."""
    if n % 20 in (7, 17):
        return 2 if n % 20 == 7 else 3
    return 1 if n % 4 == 1 else 0


def state_events() -> list[Event]:
    """The scenario's events after the Inspector processed them (threads and fds attached), for running
    compiled filters on."""
    insp = Inspector()
    insp.feed_records(ProcList(list(scenario.PROCS)))
    for tid, fds in scenario.FDS.items():
        insp.feed_records(FdList(tid, list(fds)))
    events = scenario.events()
    for evt in events:
        insp.process(evt)
    return events


def scenario_capture(folder: Path) -> Path:
    """The scenario (tests/state/scenario.py) written as a capture in ``folder``, for running filters
    through the CLI."""
    buf = io.BytesIO()
    w = ScapWriter(buf)
    w.write_section(interfaces=scenario.INTERFACES, procs=scenario.PROCS, fds=scenario.FDS)
    for evt in scenario.events():
        w.write_event(evt.cpu, evt.dump_flags, evt.raw)
    w.close()
    path = folder / "scenario.scap"
    path.write_bytes(buf.getvalue())
    return path


def filter_failure(text: str, events: Sequence[Event]) -> str | None:
    """None when ``text`` compiles and runs over ``events``, or fails with an SduError; else what went
    wrong. Compiled as the CLI compiles it (cli.compile_predicate)."""
    from sysdig_user.cli import compile_predicate
    try:
        pred = compile_predicate(text)
    except SduError:
        return None
    except Exception as exc:  # noqa: BLE001 - what the fuzzer looks for
        return f"compiling {text!r}: {type(exc).__name__}: {exc}"
    if pred is None:
        return None
    for evt in events:
        try:
            pred(evt)
        except SduError:
            return None  # sysdig stops at such an error too
        except Exception as exc:  # noqa: BLE001
            return f"running {text!r} on event {evt.num}: {type(exc).__name__}: {exc}"
    return None


def cli_failure(res: SduResult) -> str | None:
    """What is wrong with a CLI run's outcome, None if nothing: exit 0, or one line and a non-zero exit."""
    err = res.stderr
    if "internal error" in err or "Traceback" in err:
        return err.strip()[-500:]
    lines = err.splitlines()
    if res.status != 0 and (len(lines) != 1 or not lines[0].strip()):
        return f"exit {res.status} with {len(lines)} stderr lines: {err[-300:]!r}"
    if res.status == 0 and len(lines) > 1:
        return f"exit 0 with {len(lines)} stderr lines: {err[-300:]!r}"
    return None


def run_capture(path: Path, fmt: Sequence[str] = (), flt: str | None = None) -> SduResult:
    return run_sdu("-r", str(path), *fmt, *([flt] if flt else []), environ=ENV)


def save_filter(text: str) -> Path | None:
    if os.environ.get("SDU_FUZZ_SAVE") != "1":
        return None
    FILTER_CORPUS.mkdir(parents=True, exist_ok=True)
    path = FILTER_CORPUS / (hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()[:16] + ".json")
    path.write_text(json.dumps({"filter": text}) + "\n")
    return path


def load_filters() -> list[tuple[str, str]]:
    return [(p.name, json.loads(p.read_text())["filter"]) for p in sorted(FILTER_CORPUS.glob("*.json"))]


def save_capture(data: bytes, fmt: Sequence[str]) -> Path | None:
    """A failing capture, named by its hash; the -p format it failed with goes in a .args file beside it."""
    if os.environ.get("SDU_FUZZ_SAVE") != "1":
        return None
    CAPTURE_CORPUS.mkdir(parents=True, exist_ok=True)
    path = CAPTURE_CORPUS / (hashlib.sha1(data).hexdigest()[:16] + ".scap")
    path.write_bytes(data)
    path.with_suffix(".args").write_text(json.dumps(list(fmt)) + "\n")
    return path


def load_captures() -> list[tuple[str, Path, list[str]]]:
    out = []
    for p in sorted(CAPTURE_CORPUS.glob("*.scap")):
        args = p.with_suffix(".args")
        out.append((p.name, p, json.loads(args.read_text()) if args.exists() else []))
    return out
