"""Fixtures for tracer tests: compiled test programs, an in-process trace runner, strace parsing."""
from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PROGRAMS = Path(__file__).parent / "programs"


def _ptrace_possible() -> bool:
    return os.path.exists("/proc/self/status")


@pytest.fixture(scope="session")
def calls_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/tracer/programs/calls.c compiled with gcc (skips without gcc)."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed")
    out = tmp_path_factory.mktemp("bin") / "calls"
    subprocess.run([gcc, "-O1", "-pthread", "-o", str(out), str(PROGRAMS / "calls.c")], check=True)
    out.parent.chmod(0o755)
    return out


@dataclass
class Trace:
    status: int
    records: list = field(default_factory=list)
    errors: int = 0
    last_error: str = ""


def trace(argv: list[str], cwd: Path | None = None, build: bool = False) -> Trace:
    """Run argv under the engine in this process; returns the decoded records and the exit status."""
    from tracer.engine import Engine
    from tracer.events import EventBuilder

    records: list = []
    builder = EventBuilder(records.append, build=build)
    engine = Engine(builder)
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        engine.launch(argv)
        status = engine.run()
    finally:
        os.chdir(old)
    return Trace(status, records, builder.errors, builder.last_error)


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    tmp_path.chmod(0o777)
    yield tmp_path


_LINE = re.compile(r"^(\d+)\s+(.*)$")
_CALL = re.compile(r"^([a-z_0-9]+)\(.*\)\s+=\s+(.+)$")
_RESUMED = re.compile(r"^<\.\.\. ([a-z_0-9]+) resumed>.*\)\s+=\s+(.+)$")
_SIGNAL = re.compile(r"^--- (SIG[A-Z0-9]+) ")


def _ret(text: str) -> int | None:
    tok = text.split()[0]
    if tok == "?":
        return None
    if tok.startswith("0x"):
        return int(tok, 16)
    val = int(tok)
    if val == -1:
        m = re.search(r"\b(E[A-Z0-9]+)\b", text)
        if m and hasattr(errno, m.group(1)):
            return -getattr(errno, m.group(1))
        if m and m.group(1) in ("ERESTARTSYS", "ERESTARTNOINTR", "ERESTARTNOHAND", "ERESTART_RESTARTBLOCK"):
            return -{"ERESTARTSYS": 512, "ERESTARTNOINTR": 513, "ERESTARTNOHAND": 514,
                     "ERESTART_RESTARTBLOCK": 516}[m.group(1)]
    return val


def strace_sequences(path: Path) -> dict[int, list[tuple[str, int | None]]]:
    """Per-pid [(syscall or signal name, result)] from `strace -f -qq -o path` output."""
    import signal as signal_mod

    seqs: dict[int, list[tuple[str, int | None]]] = {}
    for line in path.read_text().splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        pid, rest = int(m.group(1)), m.group(2)
        seq = seqs.setdefault(pid, [])
        if rest.startswith("+++"):
            continue
        sm = _SIGNAL.match(rest)
        if sm:
            seq.append(("signal", int(getattr(signal_mod, sm.group(1)))))
            continue
        if rest.endswith("<unfinished ...>"):
            name = rest.split("(", 1)[0]
            if name in ("exit", "exit_group"):
                seq.append((name, None))
            else:
                seq.append((name, "pending"))  # type: ignore[arg-type]
            continue
        rm = _RESUMED.match(rest)
        if rm:
            ret = _ret(rm.group(2))
            for i in range(len(seq) - 1, -1, -1):
                if seq[i] == (rm.group(1), "pending"):
                    if ret is None:  # never returned (pause ended by another thread's exec)
                        del seq[i]
                    else:
                        seq[i] = (rm.group(1), ret)
                    break
            else:
                # Completed in another pid: a non-leader execve finishes under the leader's pid.
                if ret is not None:
                    seq.append((rm.group(1), ret))
            continue
        cm = _CALL.match(rest)
        if cm:
            seq.append((cm.group(1), _ret(cm.group(2))))
        elif "= ?" in rest:
            seq.append((rest.split("(", 1)[0], None))
    return {pid: [e for e in seq if e[1] != "pending"] for pid, seq in seqs.items()}
