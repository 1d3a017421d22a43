"""The pipelined live capture (tracer/pipelined.py) prints what the single-process one prints.

Each case runs the same command twice, with SDU_SINGLE_PROCESS=1 (tracer/live.py alone) and without it
(the pipeline in a consumer process), and compares stdout byte for byte, plus the exit status. The
traced program is one process whose syscalls do not depend on the run (no threads or children to
interleave, and its stdout is /dev/null, so only sdu writes to the compared stream); the formats leave
out what differs between any two runs (times, the tracer's CPU, addresses), and the default format has
those columns and the pid normalised. The other tests check what only the pipelined path can get
wrong: EPIPE on stdout, a consumer error, a killed consumer, a stop while the tracee is idle, and the
latency of an interactive run.
"""
from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.live.conftest import ROOT, Run
from tracer.guard import COMM as GUARD_COMM

pytestmark = pytest.mark.ptrace

LOOP_C = r"""
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
    long n = atol(argv[2]);
    char buf[16];
    for (long i = 0; i < n; i++) {
        int fd = open(argv[1], O_RDONLY);
        read(fd, buf, sizeof buf);
        close(fd);
        getppid();
    }
    return atoi(argv[3]);
}
"""
FORMAT = "%evt.num %proc.name %evt.dir %evt.type %fd.name %evt.res"
FILTER = "proc.name=loop and evt.type in (openat, read, close, getppid)"
_TID = re.compile(r"\((\d+)\)")


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> str:
    """LOOP_C compiled: `loop FILE N STATUS` opens, reads and closes FILE N times, then exits STATUS."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed")
    base = tmp_path_factory.mktemp("pipelined")
    src = base / "loop.c"
    src.write_text(LOOP_C)
    subprocess.run([gcc, "-O1", "-o", str(base / "loop"), str(src)], check=True)
    return str(base / "loop")


def _env(single: bool) -> dict[str, str]:
    # the same length either way: the traced program's environment is part of its execve event
    return dict(os.environ, TZ="UTC", PYTHONPATH=str(ROOT), SDU_SINGLE_PROCESS="1" if single else "0")


def _sdu(single: bool, *argv: str, cwd: Path | None = None) -> Run:
    res = subprocess.run([sys.executable, "-m", "sysdig_user", *argv], check=False, capture_output=True,
                         env=_env(single), cwd=cwd, timeout=120)
    return Run(res.stdout.decode("utf-8", "surrogateescape"), res.stderr.decode("utf-8", "replace"),
               res.returncode)


def _both(*argv: str, cwd: Path | None = None) -> tuple[Run, Run]:
    """(single-process run, pipelined run) of `sdu ARGV`; both must succeed alike."""
    single, piped = _sdu(True, *argv, cwd=cwd), _sdu(False, *argv, cwd=cwd)
    assert "Traceback" not in single.stderr + piped.stderr, piped.stderr
    assert single.status == piped.status, (single.stderr, piped.stderr)
    return single, piped


def _default_lines(text: str) -> str:
    """Default-format lines without their time and CPU columns, the traced pid as PID."""
    lines = [line.split(" ", 3) for line in text.splitlines()]
    tids = {m.group(1) for *_, rest in lines for m in _TID.finditer(rest)}
    if not tids:
        return "\n".join(f"{num} {rest}" for num, _time, _cpu, rest in lines)
    # Only the rest of the line: evt.num can equal the pid on a machine with few processes.
    pids = re.compile(r"\b(?:" + "|".join(sorted(tids)) + r")\b")
    return "\n".join(f"{num} {pids.sub('PID', rest)}" for num, _time, _cpu, rest in lines)


@pytest.mark.parametrize("extra", [[], ["-j"]], ids=["text", "json"])
def test_format_with_filter(loop: str, extra: list[str]) -> None:
    single, piped = _both(*extra, "-p", FORMAT, FILTER, "--", loop, "/etc/passwd", "300", "5")
    assert single.status == 5
    assert len(single.lines) > 900 and single.lines[-1].startswith("{" if extra else "2")
    assert piped.stdout == single.stdout


def test_default_format(loop: str) -> None:
    single, piped = _both("evt.type in (openat, read, close)", "--", loop, "/etc/passwd", "50", "0")
    assert len(single.lines) > 300
    assert _default_lines(piped.stdout) == _default_lines(single.stdout)


def test_default_format_every_event(loop: str) -> None:
    """No filter: every event of the run, the dynamic loader's included."""
    single, piped = _both("-p", "%evt.num %proc.name %evt.dir %evt.type %fd.name", "--", loop, "/etc/passwd",
                          "1000", "0")
    assert len(single.lines) > 4000
    assert piped.stdout == single.stdout


def test_count_limit(loop: str) -> None:
    single, piped = _both("-n", "300", "-p", FORMAT, "--", loop, "/etc/passwd", "2000", "7")
    assert single.status == 7 and 20 < len(single.lines) < 300
    assert piped.stdout == single.stdout


def test_summary(loop: str) -> None:
    single, piped = _both("-S", "-q", "--", loop, "/etc/passwd", "200", "0")
    assert "getppid" in single.stdout
    assert piped.stdout == single.stdout


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_write_then_read(loop: str, tmp_path: Path, compress: bool) -> None:
    z = ["-z"] if compress else []
    for single in (True, False):
        res = _sdu(single, *z, "-w", str(tmp_path / f"{single}.scap"), "--", loop, "/etc/passwd", "500", "0")
        assert res.status == 0 and res.stdout == "" and res.stderr == "", res.stderr
    read = [_sdu(True, "-r", str(tmp_path / f"{single}.scap"), "-p", FORMAT) for single in (True, False)]
    assert read[0].status == read[1].status == 0, read[1].stderr
    assert len(read[0].lines) > 1000
    assert read[1].stdout == read[0].stdout


def test_write_with_count_limit_and_summary(loop: str, tmp_path: Path) -> None:
    """-n stops the consumer, which closes the file and prints the summary; the tracer writes nothing."""
    outs = []
    for single in (True, False):
        path = tmp_path / f"{single}.scap"
        res = _sdu(single, "-S", "-n", "100", "-w", str(path), "--", loop, "/etc/passwd", "3000", "0")
        assert res.status == 0, res.stderr
        outs.append(res.stdout + _sdu(True, "-r", str(path), "-p", FORMAT).stdout)
    assert outs[1] == outs[0]
    assert outs[0].count("\n") > 40


def _popen(single: bool, *argv: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "sysdig_user", *argv], env=_env(single),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize("single", [True, False], ids=["single", "pipelined"])
def test_closed_stdout_is_quiet(loop: str, single: bool) -> None:
    """`sdu ... | head -1`: status 141 (sysdig's, killed by SIGPIPE), nothing on stderr, the command not
    left stopped."""
    proc = _popen(single, "--", loop, "/etc/passwd", "1000000", "0")
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    try:
        assert proc.wait(timeout=60) == 128 + 13
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr.read() == b""
    proc.stderr.close()


BROKEN_FORMATTER = """
import sys
from sysdig_user import cli
from sysdig_user.output.formatter import Formatter

count = [0]

def line_function(self):
    def line(evt):
        count[0] += 1
        if count[0] > 3:
            raise RuntimeError("formatter bug")
        return "line"
    return line

Formatter.line_function = property(line_function)
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("mode", ["launch", "attach"])
def test_consumer_error_is_reported_as_before(loop: str, mode: str) -> None:
    """A pipeline exception in the consumer: the same error line and status, and no tracee left behind."""
    target = subprocess.Popen(["sh", "-c", "while :; do cat /etc/hostname >/dev/null; done"]) \
        if mode == "attach" else None
    try:
        runs = []
        for single in (True, False):
            argv = ["-p", str(target.pid)] if target is not None else ["--", loop, "/etc/passwd", "100000", "0"]
            # (the compiled default line, sysdig_user/output/fastline.py, prints without the Python formatter
            # this breaks: off here; its own errors take the same way out of the consumer)
            res = subprocess.run([sys.executable, "-c", BROKEN_FORMATTER, *argv], check=False, capture_output=True,
                                 env=dict(_env(single), SDU_NO_NATIVE="1"), timeout=60)
            runs.append((res.stdout, res.stderr, res.returncode))
            if target is not None:
                assert _tracer_of(target.pid) == 0 and target.poll() is None
        assert runs[1] == runs[0]
        assert runs[0][0] == b"line\nline\nline\n" and runs[0][2] == 1
        assert runs[0][1] == b"sdu: internal error: RuntimeError: formatter bug (set SDU_DEBUG=1 for details)\n"
    finally:
        if target is not None:
            target.kill()
            target.wait()


def _tracer_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("TracerPid:"):
            return int(line.split()[1])
    return 0


def _consumer_of(tracer: int, argv_tail: str) -> int | None:
    """The pipelined run's consumer: a process with the tracer's command line that is not its child (the
    launched command before its execve is one) nor the co-location watchdog (tracer/guard.py)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == tracer:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            comm = (entry / "comm").read_text().strip()
        except (OSError, IndexError, ValueError):
            continue
        if ppid != tracer and comm != GUARD_COMM and b"sysdig_user" in cmdline and cmdline.endswith(argv_tail.encode() + b"\0"):
            return int(entry.name)
    return None


def _find_consumer(tracer: int, argv_tail: str) -> int:
    deadline = time.monotonic() + 20
    while (found := _consumer_of(tracer, argv_tail)) is None:
        assert time.monotonic() < deadline, "no consumer process"
        time.sleep(0.02)
    return found


def test_killed_consumer_stops_the_capture() -> None:
    """The tracer warns, detaches and still returns the command's status."""
    tail = "sleep 1; exit 3"
    proc = _popen(False, "-q", "--", "sh", "-c", tail)
    try:
        os.kill(_find_consumer(proc.pid, tail), signal.SIGKILL)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 3
    assert err.decode().endswith("ended unexpectedly; output may be incomplete\n"), err


def test_killed_tracer_ends_the_consumer() -> None:
    """EOF on its pipe: the consumer finishes and exits."""
    tail = "sleep 30"
    proc = _popen(False, "-q", "--", "sh", "-c", tail)
    try:
        consumer = _find_consumer(proc.pid, tail)
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 20
        while _state(consumer) != "Z":
            assert time.monotonic() < deadline, "the consumer outlived its tracer"
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


@pytest.mark.parametrize("single", [True, False], ids=["single", "pipelined"])
def test_count_limit_on_an_idle_process_detaches_promptly(single: bool) -> None:
    """-n reached by the consumer while the attached process sleeps: sdu detaches at once."""
    target = subprocess.Popen(["sh", "-c", "while :; do sleep 0.2; done"])
    try:
        start = time.monotonic()
        proc = _popen(single, "-n", "3", "-p", str(target.pid))
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert time.monotonic() - start < 15
        assert len(out.splitlines()) == 3
        assert _tracer_of(target.pid) == 0 and target.poll() is None
    finally:
        target.kill()
        target.wait()


def test_interactive_latency(tmp_path: Path) -> None:
    """--unbuffered: an event is printed while the command still runs, its batch not held back.

    The command blocks on a FIFO that is written only after the line has been read, so the line can
    only arrive early; no clock decides the outcome (a loaded machine just makes it slower).
    """
    fifo = tmp_path / "gate"
    os.mkfifo(fifo)
    proc = _popen(False, "--unbuffered", "-p", "%evt.type", "evt.type=openat and fd.name=/etc/hostname",
                  "--", "sh", "-c", f"cat /etc/hostname >/dev/null; read x <{fifo}")
    assert proc.stdout is not None
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        assert ready, "no line while the command was still running"
        assert proc.stdout.readline() == b"openat\n"
        assert proc.poll() is None
        with open(fifo, "w") as gate:
            gate.write("go\n")
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


# ---- the deferred consumer fork (tracer/live.py: CONSUMER_AFTER_EVENTS, SDU_TEST_CONSUMER_AFTER) ----------

_AFTER = ["0", "1", "200", "never", "default"]


def _sdu_after(after: str, *argv: str, cwd: Path | None = None, native: bool = True) -> Run:
    """A pipelined run whose consumer is forked after `after` events ("default": the real thresholds);
    `native` False: without the compiled paths (SDU_NO_NATIVE=1)."""
    env = _env(False)
    env.pop("SDU_TEST_CONSUMER_AFTER", None)
    env.pop("SDU_NO_NATIVE", None)
    if after != "default":
        env["SDU_TEST_CONSUMER_AFTER"] = after
    if not native:
        env["SDU_NO_NATIVE"] = "1"
    res = subprocess.run([sys.executable, "-m", "sysdig_user", *argv], check=False, capture_output=True, env=env,
                         cwd=cwd, timeout=120)
    run = Run(res.stdout.decode("utf-8", "surrogateescape"), res.stderr.decode("utf-8", "replace"), res.returncode)
    assert "Traceback" not in run.stderr, run.stderr
    return run


def _first_difference(want: list[str], got: list[str]) -> str:
    """Where two runs' lines part (for a failure's message): the first unequal line of each, and the counts."""
    for i, (a, b) in enumerate(zip(want, got)):
        if a != b:
            return f"line {i}: {a!r} != {b!r} ({len(want)} vs {len(got)} lines)"
    return f"{len(want)} vs {len(got)} lines"


def _started_after(run: Run) -> int | None:
    m = re.search(r"consumer process: (?:started after (\d+) events|not started)", run.stderr)
    assert m is not None, run.stderr
    return int(m.group(1)) if m.group(1) is not None else None


def test_deferred_consumer_prints_the_same_bytes(loop: str) -> None:
    """The consumer forked before the first event, after the first, after 200, never, and at the real
    thresholds: the same lines, the Python formatter's (unfiltered) and the compiled default line's."""
    runs = {after: _sdu_after(after, "-v", "-p", "%evt.num %proc.name %evt.dir %evt.type %fd.name", "--", loop,
                              "/etc/passwd", "400", "4") for after in _AFTER}
    assert {run.status for run in runs.values()} == {4}
    assert len(runs["0"].lines) > 2000
    assert all(run.stdout == runs["0"].stdout for run in runs.values())
    assert [_started_after(runs[a]) for a in ("0", "1", "200", "never")] == [0, 1, 200, None]
    lines = {after: _sdu_after(after, "-v", "evt.type in (openat, read, close)", "--", loop, "/etc/passwd", "300",
                               "0") for after in ("0", "1", "200", "never")}
    first = _default_lines(lines["0"].stdout).splitlines()
    for after, run in lines.items():
        got = _default_lines(run.stdout).splitlines()
        assert got == first, (after, _first_difference(first, got), run.stderr[-2000:])
    counts = {after: re.search(r"compiled default line: (\d+) of (\d+) events", run.stderr) for after, run in
              lines.items()}
    assert all(m is not None for m in counts.values()), lines["never"].stderr
    total = len(lines["0"].lines)
    assert [int(m.group(2)) for m in counts.values() if m is not None] == [total] * 4
    fast = {after: int(m.group(1)) for after, m in counts.items() if m is not None}
    assert fast["never"] == 0 and fast["0"] > total // 2 and fast["200"] <= total - 200 // 2


@pytest.mark.parametrize("how", ["no-native", "big-snaplen"])
def test_deferred_consumer_without_the_compiled_paths(loop: str, how: str) -> None:
    """No fast path to take up at the switch (SDU_NO_NATIVE=1; a snaplen over what the C path reads, which
    the plan does not know): the engine's loop goes on as it was, to the end of the run."""
    extra = ["-s", "70000"] if how == "big-snaplen" else []
    runs = {after: _sdu_after(after, "-v", *extra, "-p", "%evt.num %proc.name %evt.dir %evt.type %fd.name", "--",
                              loop, "/etc/passwd", "200", "6", native=how != "no-native")
            for after in ("0", "200", "never")}
    assert {run.status for run in runs.values()} == {6}
    assert len(runs["0"].lines) > 1000
    assert all(run.stdout == runs["0"].stdout for run in runs.values())
    assert _started_after(runs["200"]) == 200
    assert "compiled fast path: not used" in runs["200"].stderr


@pytest.mark.parametrize("quiet", [False, True], ids=["parsed", "unparsed"])
def test_deferred_consumer_writes_the_same_capture(loop: str, tmp_path: Path, quiet: bool) -> None:
    """-w (and -q -w, whose consumer writes the events unparsed): the file the tracer began is the one
    the consumer goes on with, the same events in it whenever the switch came."""
    texts = []
    for after in ("0", "1", "200", "never"):
        scap = tmp_path / f"{after}.scap"
        run = _sdu_after(after, *(["-q"] if quiet else ["-p", "%evt.num"]), "-w", str(scap), "--", loop,
                         "/etc/passwd", "300", "0")
        assert run.status == 0, run.stderr
        back = _sdu(False, "-r", str(scap), "-p", "%evt.num %proc.name %evt.dir %evt.type %fd.name")
        assert back.status == 0, back.stderr
        texts.append(back.stdout)
    assert len(texts[0].splitlines()) > 1500
    assert texts[1:] == texts[:1] * 3


def test_a_short_run_never_forks_the_consumer() -> None:
    """`sdu -- true` at the real event threshold: the tracer prints its few events itself. (The 50 ms
    timer is left out: a loaded machine can make `true` last longer, and a test does not time.)"""
    from tracer.live import CONSUMER_AFTER_EVENTS

    run = _sdu_after(str(CONSUMER_AFTER_EVENTS), "-v", "-q", "--", "true")
    assert run.status == 0, run.stderr
    assert _started_after(run) is None


def _gone_or_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
@pytest.mark.parametrize("when", ["before-fork", "after-fork"])
def test_signal_during_the_switch_detaches_and_the_process_runs_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                                   sig: int, when: str) -> None:
    """Attach mode, in-process: the signal lands while the tracer forks its consumer (just before, or
    right after the fork): sdu detaches, the process runs on, untraced and not stopped, and the consumer
    is gone."""
    import io

    from sysdig_user.cli import Environment, EventPipeline, Output
    from sysdig_user.cli_options import parse_argv
    from tracer import pipelined
    from tracer.live import LiveCapture

    real_start = pipelined.start
    switched: list[int] = []

    def start(*args: object, **kwargs: object) -> object:
        if when == "before-fork":
            os.kill(os.getpid(), sig)
        link = real_start(*args, **kwargs)  # type: ignore[arg-type]
        if when == "after-fork":
            os.kill(os.getpid(), sig)
        switched.append(link.pid)
        return link

    monkeypatch.setattr(pipelined, "start", start)
    monkeypatch.setenv("SDU_TEST_CONSUMER_AFTER", "5")
    beat = tmp_path / "beat"
    target = subprocess.Popen(["sh", "-c", f"while :; do echo x >> {beat}; sleep 0.01; done"])
    try:
        buf = io.BytesIO()
        pipe = EventPipeline(parse_argv(["-q"]), Environment(buf, io.StringIO()), Output(buf))
        capture = LiveCapture(pipe, pipelined=True)
        assert capture.run(pids=[target.pid]) == 0
        assert switched and capture.consumer_after == 5
        assert capture.engine is not None and capture.engine.detaching
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{target.pid}/status").read_text().splitlines())
        assert int(fields["TracerPid"]) == 0 and fields["State"].split()[0] not in ("t", "T")
        beats = beat.read_text().count("x")
        deadline = time.monotonic() + 10
        while beat.read_text().count("x") < beats + 3:  # still making progress
            assert time.monotonic() < deadline and target.poll() is None, "the detached process does not run"
            time.sleep(0.02)
        assert _gone_or_zombie(switched[0])  # the consumer has exited
    finally:
        target.kill()
        target.wait()


def test_a_command_idle_before_the_threshold_still_gets_its_lines() -> None:
    """A shell that blocks on its input after a few events, fewer than CONSUMER_AFTER_EVENTS: the
    tracer, about to wait for its next stop (Engine.before_block), writes the lines it holds, so they
    appear while the shell still waits; no consumer is forked for so few events."""
    import select

    env = _env(False)
    env.pop("SDU_TEST_CONSUMER_AFTER", None)
    proc = subprocess.Popen([sys.executable, "-m", "sysdig_user", "-v", "-p", "%evt.num %evt.type", "--", "sh", "-c",
                             "read x; exit 5"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)  # (a bound against a hang, not a timing)
        assert ready and proc.poll() is None, "no line while the command waits on its input"
        _out, err = proc.communicate(b"go\n", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 5
    assert b"consumer process: not started" in err, err


def _read_at_least(fd: int, size: int, deadline: float) -> bytes:
    """Bytes read from pipe `fd` until more than `size` arrived (or end of file, or the deadline)."""
    got = b""
    while len(got) <= size and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        got += chunk
    return got


def test_a_tracer_that_wrote_much_hands_the_rest_to_the_consumer(tmp_path: Path) -> None:
    """Few events but long lines: once the tracer has written TRACER_WRITES_MAX bytes itself (before a
    wait), it forks the consumer there, so a slow reader of the output never holds the command on the
    tracer's own writes; the lines are the same as with the consumer from the start. The command waits on
    a FIFO the test opens only once the long line is out, so the tracer surely finds every tracee blocked
    (a machine under load could otherwise keep a stop ready at each of its waits), and a consumer that
    holds lines while the command is quiet fails here too: it must flush once it has drained the pipe."""
    from tracer.live import TRACER_WRITES_MAX

    big = tmp_path / "big"
    big.write_bytes(b"a" * (TRACER_WRITES_MAX + 1000))
    gate = tmp_path / "gate"
    outs = {}
    for after in ("default", "0"):
        os.mkfifo(gate)
        argv = ["-v", "-s", "65536", "-p", "%evt.num %evt.type %evt.buffer", "evt.type=write", "--", "sh", "-c",
                f"cat {big} > /dev/null; read x < {gate}; exit 3"]
        env = _env(False)
        env.pop("SDU_TEST_CONSUMER_AFTER", None)
        if after != "default":
            env["SDU_TEST_CONSUMER_AFTER"] = after
        with (tmp_path / "stderr").open("w+b") as err, subprocess.Popen(
                [sys.executable, "-m", "sysdig_user", *argv], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=err, env=env) as proc:
            assert proc.stdout is not None
            try:
                early = _read_at_least(proc.stdout.fileno(), TRACER_WRITES_MAX, time.monotonic() + 60)

                assert len(early) > TRACER_WRITES_MAX, early[:200]
                with gate.open("w") as w:  # (blocks until the shell opens its end)
                    w.write("go\n")
                rest = proc.stdout.read()
                status = proc.wait(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
            err.seek(0)
            stderr = err.read()
        gate.unlink()
        assert status == 3, stderr
        outs[after] = early + rest
        started = re.search(rb"consumer process: started after (\d+) events", stderr)
        assert started is not None, stderr
        if after == "default":
            assert 0 < int(started.group(1)) < 200, stderr
    assert len(outs["0"]) > TRACER_WRITES_MAX and outs["default"] == outs["0"]
