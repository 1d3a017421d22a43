"""The compiled default line (sysdig_user/output/fastline.py, sysdig_user/_fastline.c) prints what the
Python pipeline prints, event for event, and leaves the same state behind: compared over the shared
sample captures and over a capture of a program exercising files (absolute and relative names, dup,
fcntl, chdir), pipes, TCP/UDP/UNIX sockets over loopback, threads, fork and exec."""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from sysdig_user.cli import Environment, EventPipeline, Output
from sysdig_user.cli_options import parse_argv
from sysdig_user.event import Event
from sysdig_user.event_table import EXTENSIONS
from sysdig_user.output import fastline
from sysdig_user.scap import read_capture
from tests.support import (
    ROOT,
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
import os, socket, sys, threading
os.chdir("/tmp")
d = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
for name in ("/etc/hostname", "/etc//hostname", "/etc/./hostname", "/etc/", "hostname-missing"):
    try:
        fd = os.open(name, os.O_RDONLY)
    except OSError:
        continue
    try:
        os.read(fd, 100)
    except OSError:
        pass
    f2 = os.dup(fd)
    import fcntl
    f3 = fcntl.fcntl(fd, fcntl.F_DUPFD, 20)
    os.close(f3)
    os.close(f2)
    os.close(fd)
try:
    os.open("nowhere", os.O_RDONLY, dir_fd=d)
except OSError:
    pass
os.close(d)
r, w = os.pipe()
os.write(w, b"x" * 200 + bytes(range(256)))
os.read(r, 1000)
os.close(r); os.close(w)
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
cli = socket.create_connection(srv.getsockname())
conn, _ = srv.accept()
cli.sendall(b"GET / HTTP/1.0\r\n\r\n"); conn.recv(100); conn.sendall(b"ok")
import select
p = select.poll(); p.register(cli, select.POLLIN); p.register(r2 := os.open("/etc/hostname", os.O_RDONLY)); p.poll(1000)
os.close(r2); cli.recv(10)
conn.close(); cli.close(); srv.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
v = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); v.sendto(b"ping", u.getsockname()); u.recvfrom(10)
u.close(); v.close()
a, b = socket.socketpair(); a.send(b"hi"); b.recv(2); a.close(); b.close()
for fam, typ in ((socket.AF_INET6, socket.SOCK_STREAM), (socket.AF_UNIX, socket.SOCK_DGRAM),
                 (socket.AF_NETLINK, socket.SOCK_RAW), (socket.AF_PACKET, socket.SOCK_RAW)):
    try:  # (OP_SOCKET: each family's fd, an unknown family's none, a failed call's none; fcntl's non-dups)
        s = socket.socket(fam, typ); fcntl.fcntl(s.fileno(), fcntl.F_GETFL); s.close()
    except OSError:
        pass
g = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 30); os.close(g)
t = threading.Thread(target=lambda: [os.stat("/etc/passwd") for _ in range(3)]); t.start(); t.join()
pid = os.fork()
if pid == 0:
    os.execv("/bin/true", ["true"])
os.waitpid(pid, 0)
"""


def _require_core() -> None:
    require_built(fastline._fastline, "sysdig_user._fastline")


@pytest.fixture(scope="module")
def program_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record_python(tmp_path_factory.mktemp("fastline") / "prog.scap", PROGRAM)


def _captures(program_capture: Path) -> list[Path]:
    return [program_capture] + [shared_path("samples", name) for name in SAMPLES]


@pytest.mark.parametrize("verbose", [False, True], ids=["default", "v"])
@pytest.mark.ptrace  # program_capture: sdu -w -- a traced program
def test_lines_equal_the_python_pipeline(program_capture: Path, verbose: bool) -> None:
    _require_core()
    extra = ["-v"] if verbose else []
    for path in _captures(program_capture):
        fast = run_sdu(*extra, "-r", str(path), environ=native_environ(True))
        slow = run_sdu(*extra, "-r", str(path), environ=native_environ(False))
        assert fast.status == slow.status == 0
        assert line_diff(slow.stdout.splitlines(), fast.stdout.splitlines()) == "", path


@pytest.mark.ptrace  # program_capture: sdu -w -- a traced program
def test_not_used_beyond_the_default_line(program_capture: Path) -> None:
    """A filter or a format the C code does not run, -n, -j, -A, -w, -S: the Python pipeline alone
    (filters and formats it runs: tests/output/test_compiled.py)."""
    _require_core()
    for argv in (["fd.directory=/etc"], ["-p", "%evt.num %fd.directory"], ["-n", "5"], ["-j"], ["-A"], ["-w", "/dev/null"],
                 ["-S"], ["-D"]):
        sink = open(os.devnull, "wb")  # noqa: SIM115 - closed below
        env = Environment(sink, sys.stderr, native_environ(True))
        pipe = EventPipeline(parse_argv([*argv, "-r", str(program_capture)]), env, Output(sink))
        if "-w" in argv:
            pipe.writer = object()  # (run_capture sets it once the file is open)
        assert fastline.core_for(pipe) is None, argv
        sink.close()
    default = _pipeline(program_capture, True)
    assert fastline.core_for(default[0]) is not None
    default[2].close()


def _pipeline(path: Path, native: bool, *argv: str) -> tuple[EventPipeline, Any, Any]:
    sink = open(os.devnull, "wb")  # noqa: SIM115 - closed by the caller through the Output
    env = Environment(sink, sys.stderr, native_environ(native))
    pipe = EventPipeline(parse_argv([*argv, "-r", str(path)]), env, Output(sink))
    return pipe, fastline.core_for(pipe), sink


def _through_core(pipe: EventPipeline, core: Any, item: Any) -> bool:
    """One capture item as run_capture gives it to the pipeline with the core (None: without one);
    True if the core took it."""
    if type(item) is not tuple:
        pipe.feed_records(item)
        return False
    cpu, flags, raw = item
    if core is not None:
        if not flags and core.one(raw, cpu):
            return True
        fastline.drain(core, pipe)
    pipe.on_event(Event(raw, cpu, flags))
    return False


class Lockstep:
    """One capture's items through the pipeline with the core (`fast`) and through the Python pipeline
    (`slow`) side by side; `handled` counts the events the core took."""

    def __init__(self, path: Path, *argv: str) -> None:
        self.fast, self.core, fast_sink = _pipeline(path, True, *argv)
        self.slow, none, slow_sink = _pipeline(path, False, *argv)
        assert self.core is not None and none is None
        self._sinks = (fast_sink, slow_sink)
        self.handled = 0

    def feed(self, item: Any) -> bool:
        """`item` to both pipelines; True if the core took it."""
        took = _through_core(self.fast, self.core, item)
        self.handled += took
        _through_core(self.slow, None, item)
        return took

    def states(self) -> tuple[Any, Any]:
        """Both pipelines' _state, the core's pending lines drained first."""
        fastline.drain(self.core, self.fast)
        return _state(self.fast), _state(self.slow)

    def close(self) -> None:
        for sink in self._sinks:
            sink.close()


def _state(pipe: EventPipeline) -> Any:
    """Everything the Inspector keeps per thread and per fd, comparable."""
    insp = pipe.inspector
    threads = []
    for tid, th in insp.state.threads.threads.items():
        ent = th.last_enter
        if isinstance(ent, tuple):  # the core's unbuilt enter: (raw, cpu, num)
            ent = Event(ent[0], ent[1])
        fds = [(fd, int(i.type), i.name, i.open_flags, i.dev, i.ino, sorted(i.extra.items()), i.sip, i.sport, i.dip,
                i.dport, i.l4proto, int(i.role))
               for fd, i in th.fdtable.fds.items()]
        threads.append((tid, th.comm, th.lastevent_type, th.lastevent_fd, th.latency, th.last_latency_entertime,
                        th.last_event_ts, None if ent is None else ent.raw, fds, th.fdtable.in_sysdig_order(),
                        th.vmsize_kb, th.vmrss_kb, th.vmswap_kb, th.pfmajor, th.pfminor))
    return insp.num, pipe.stats.events, threads


@pytest.mark.ptrace  # program_capture: sdu -w -- a traced program
@pytest.mark.parametrize("argv", [(), ("evt.type in (open, openat, read) or fd.type=ipv4",),
                                  ("-p", "%evt.num %fd.name", "not fd.name contains lib")],
                         ids=["default", "filter", "format-filter"])
def test_state_equals_the_python_pipeline(program_capture: Path, argv: tuple[str, ...]) -> None:
    """After every capture (and after each event of the program's), the same thread and fd state; with
    a compiled filter too (output/compiled.py), whose dropped events leave what process() leaves."""
    _require_core()
    for path in _captures(program_capture):
        both = Lockstep(path, *argv)
        for item in read_capture(str(path), extension_types=frozenset(EXTENSIONS)):
            both.feed(item)
            if path == program_capture and type(item) is tuple:
                fast, slow = both.states()
                assert fast == slow, (path, item[2][:26].hex())
        fast, slow = both.states()
        assert both.handled > 0
        assert fast == slow, path
        both.close()


@pytest.mark.ptrace  # program_capture: sdu -w -- a traced program
def test_pipelined_frames(program_capture: Path) -> None:
    """The live consumer's loop (tracer.pipelined._feed) with the core: frames as the tracer sends them,
    through a pipe, print what the Python loop prints."""
    _require_core()
    from tracer import pipelined

    frames = bytearray()
    records = []
    for item in read_capture(str(program_capture), extension_types=frozenset(EXTENSIONS)):
        if type(item) is tuple:
            cpu, _flags, raw = item
            frames += cpu.to_bytes(2, "little") + raw
        else:
            records.append(item)

    def run(native: bool) -> bytes:
        out_r, out_w = os.pipe()
        data_r, data_w = os.pipe()
        sink = os.fdopen(out_w, "wb")
        env = Environment(sink, sys.stderr, native_environ(native))
        pipe = EventPipeline(parse_argv(["-r", str(program_capture)]), env, Output(sink))
        for rec in records:
            pipe.feed_records(rec)
        result = bytearray()
        reader = threading.Thread(target=lambda: result.extend(_read_all(out_r)))
        writer = threading.Thread(target=lambda: (_write_all(data_w, frames, 777), os.close(data_w)))
        reader.start()
        writer.start()
        fast = pipelined._fast_line(pipe)
        assert (fast is not None) == native
        assert pipelined._feed(data_r, pipe.on_event, fast)
        writer.join()
        pipe.finish()
        sink.close()
        reader.join()
        os.close(data_r)
        return bytes(result)

    fast, slow = run(True), run(False)
    assert fast and line_diff(slow.decode().splitlines(), fast.decode().splitlines()) == ""


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes, step: int) -> None:
    """In odd-sized pieces, so frames arrive cut at every place."""
    for pos in range(0, len(data), step):
        os.write(fd, data[pos:pos + step])


@pytest.mark.ptrace
def test_live_capture_uses_it(tmp_path: Path) -> None:
    """`sdu -v -- CMD`: the consumer process prints through the core, every event counted once."""
    _require_core()
    env = dict(native_environ(True), SDU_TEST_CONSUMER_AFTER="0")  # the consumer from the first event on
    proc = subprocess.run([sys.executable, "-m", "sysdig_user", "-v", "--", sys.executable, "-S", "-c", PROGRAM],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0 and "ptrace" in proc.stderr.lower() and not oracles_required():
        pytest.skip(f"ptrace is not usable here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    m = re.search(r"compiled default line: (\d+) of (\d+) events", proc.stderr)
    assert m is not None, proc.stderr
    assert int(m.group(1)) > int(m.group(2)) // 2, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == int(m.group(2))
    scap = tmp_path / "out.scap"  # -w: every event written unparsed
    proc = subprocess.run([sys.executable, "-m", "sysdig_user", "-v", "-w", str(scap), "--", sys.executable, "-S", "-c",
                           PROGRAM], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    m = re.search(r"-w events written unparsed: (\d+) of (\d+) events", proc.stderr)
    assert m is not None and m.group(1) == m.group(2) and int(m.group(1)) > 100, proc.stderr
    assert [int(line.split(" ", 1)[0]) for line in lines] == sorted(int(line.split(" ", 1)[0]) for line in lines)


@pytest.mark.ptrace  # program_capture: sdu -w -- a traced program
def test_an_error_in_python_it_calls_propagates(program_capture: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The core calls back into Python (relative paths here): an exception there is the caller's, as it
    would be from the Python formatter, not a swallowed or garbled line."""
    _require_core()

    def broken(*args: Any) -> str:
        raise RuntimeError("path bug")
    monkeypatch.setattr(fastline, "_RECIPES", None)
    monkeypatch.setattr(fastline, "_path_text", broken)
    pipe, core, sink = _pipeline(program_capture, True)
    with pytest.raises(RuntimeError, match="path bug"):
        for item in read_capture(str(program_capture), extension_types=frozenset(EXTENSIONS)):
            _through_core(pipe, core, item)
    sink.close()


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "z"])
@pytest.mark.ptrace  # program_capture: sdu -w -- a traced program
def test_capture_only_passthrough_writes_the_same_file(program_capture: Path, tmp_path: Path,
                                                       compress: bool) -> None:
    """`-q -w FILE` (and -z): the consumer writes the frames as scap blocks without parsing them
    (fastline.block_writer); the file is the one the Python pipeline writes, byte for byte."""
    _require_core()
    import gzip

    from sysdig_user.cli import make_writer
    from tracer import pipelined

    frames = bytearray()
    for item in read_capture(str(program_capture), extension_types=frozenset(EXTENSIONS)):
        if type(item) is tuple:
            cpu, _flags, raw = item
            frames += cpu.to_bytes(2, "little") + raw

    def write(native: bool) -> bytes:
        path = tmp_path / f"out-{native}.scap"
        argv = ["-q", "-w", str(path), *(["-z"] if compress else []), "-r", str(program_capture)]
        opts = parse_argv(argv)
        sink = open(os.devnull, "wb")  # noqa: SIM115 - closed below
        pipe = EventPipeline(opts, Environment(sink, sys.stderr, native_environ(native)), Output(sink))
        writer = make_writer(opts)
        writer.start({})
        pipe.writer = writer
        assert fastline.passthrough(pipe) == native
        data_r, data_w = os.pipe()
        feeder = threading.Thread(target=lambda: (_write_all(data_w, frames, 1000), os.close(data_w)))
        feeder.start()
        if native:
            pipelined._feed_blocks(data_r, fastline.block_writer(pipe))
        else:
            assert pipelined._feed(data_r, pipe.on_event)
        feeder.join()
        os.close(data_r)
        pipe.finish()
        writer.close()
        sink.close()
        assert pipe.stats.events == frames_count
        data = path.read_bytes()
        return gzip.decompress(data) if compress else data

    frames_count = sum(1 for item in read_capture(str(program_capture), extension_types=frozenset(EXTENSIONS))
                       if type(item) is tuple)
    fast, slow = write(True), write(False)
    assert len(fast) > 1000 and fast == slow


@pytest.mark.ptrace  # program_capture: sdu -w -- a traced program
def test_passthrough_only_for_capture_only(program_capture: Path) -> None:
    """-w alone (sysdig's -w prints nothing) but not with a filter, -S, -n or rotation: there the events
    are parsed (state and output need them)."""
    _require_core()
    from sysdig_user.cli import make_writer

    for argv, expected in ((["-q", "-w", "X"], True), (["-w", "X"], True), (["-q", "-w", "X", "evt.type=read"], False),
                           (["-q", "-w", "X", "-S"], False), (["-q", "-w", "X", "-n", "3"], False),
                           (["-q", "-w", "X", "-C", "1"], False), (["-q", "-w", "X", "-G", "5"], False)):
        opts = parse_argv([*argv, "-r", str(program_capture)])
        sink = open(os.devnull, "wb")  # noqa: SIM115 - closed below
        pipe = EventPipeline(opts, Environment(sink, sys.stderr, native_environ(True)), Output(sink))
        opts.write = os.devnull if opts.write == "X" else opts.write
        writer = make_writer(opts)
        pipe.writer = writer
        assert fastline.passthrough(pipe) == expected, argv
        writer.close()
        sink.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.ptrace  # program_capture: sdu -w -- a traced program
def test_damaged_events_are_handled_as_the_python_pipeline_does(program_capture: Path, seed: int) -> None:
    """Events with random bytes changed (3 in 10, headers included: lengths, types, thread ids, params)
    print the same lines, raise the same errors and leave the same state either way: the core declines
    what it cannot check, and never reads past an event."""
    _require_core()
    import random

    rng = random.Random(seed)
    fast, core, sink1 = _pipeline(program_capture, True)
    slow, _none, sink2 = _pipeline(program_capture, False)
    fast_out, slow_out = io.BytesIO(), io.BytesIO()
    fast.out, slow.out = Output(fast_out), Output(slow_out)
    for item in read_capture(str(program_capture), extension_types=frozenset(EXTENSIONS)):
        if type(item) is tuple and rng.random() < 0.3:
            cpu, flags, raw = item
            damaged = bytearray(raw)
            for _ in range(rng.randint(1, 3)):
                low = 16 if rng.random() < 0.2 or len(damaged) <= 26 else 26
                damaged[rng.randrange(low, len(damaged))] = rng.randrange(256)
            item = (cpu, flags, bytes(damaged))
        errors = []
        for pipe, fn in ((fast, lambda it: _through_core(fast, core, it)), (slow, lambda it: _through_core(slow, None, it))):
            try:
                fn(item)
            except Exception as exc:  # noqa: BLE001 - compared below
                errors.append(type(exc).__name__)
            else:
                errors.append(None)
        assert errors[0] == errors[1], item
    fastline.drain(core, fast)
    fast.out.flush()
    slow.out.flush()
    assert line_diff(slow_out.getvalue().decode(errors="replace").splitlines(),
                     fast_out.getvalue().decode(errors="replace").splitlines()) == ""
    assert _state(fast) == _state(slow)
    sink1.close()
    sink2.close()
