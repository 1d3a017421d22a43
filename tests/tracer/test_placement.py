"""CPU co-location of tracer and launched command (tracer/placement.py), driven through the Engine.

Each traced program reports, on stdout, what it saw of its own CPU affinity: the kernel's view
(/proc/self/status Cpus_allowed_list) and the syscall's view (sched_getaffinity), which sdu rewrites
while the command is co-located so that it sees the CPUs it would have had untraced.

Load. Co-location is released when traced threads queue for the shared CPU (tracer/placement.py), and on
a busy machine anything queues: other processes on that CPU count as waiting too. So the tests of what
co-location does (the command on one CPU, the mask it sees, who restores what) turn that rule off
(`no_wait_release`) and hold however loaded the machine is; the rule itself is tested on made-up
run-queue figures, and on a real parallel pair, whose release more load only hastens. How long a serial
command stays co-located on a given machine is measured, not asserted: bench/placement_bench.py.
"""
from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tracer import guard, pushdown
from tracer import placement as placement_mod
from tracer.engine import Engine
from tracer.events import EventBuilder
from tracer.placement import Placement, mask_bytes

ORIGINAL = frozenset(os.sched_getaffinity(0))
needs_two = pytest.mark.skipif(len(ORIGINAL) < 2, reason="co-location needs at least two allowed CPUs")

# Prints "<kernel's allowed list> <sched_getaffinity count>" for this process.
REPORT = ("import os\n"
          "allowed = [ln.split()[1] for ln in open('/proc/self/status') if ln.startswith('Cpus_allowed_list')][0]\n"
          "print(allowed, len(os.sched_getaffinity(0)), flush=True)\n")


@pytest.fixture
def no_wait_release(monkeypatch: pytest.MonkeyPatch) -> None:
    """No release for run-queue waits: what other load on the shared CPU would trigger at any moment."""
    monkeypatch.setattr(placement_mod, "WAIT_SHARE", math.inf)


def _cpu_list(cpus: frozenset[int]) -> set[int]:
    return set(cpus)


def _parse_list(text: str) -> set[int]:
    out: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def _trace(argv: list[str], tmp_path: Path, seccomp: frozenset[int] | None = None,
           colocate: bool = True) -> tuple[Engine, list[str]]:
    out = tmp_path / "out.txt"
    engine = Engine(EventBuilder(lambda e: None), colocate=colocate, seccomp_syscalls=seccomp)
    saved = os.dup(1)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 1)
    try:
        engine.launch(argv)
        status = engine.run()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(fd)
    assert status == 0
    return engine, out.read_text().splitlines()


def test_mask_bytes_layout() -> None:
    assert mask_bytes({0, 1, 9}, 8) == bytes([0b11, 0b10, 0, 0, 0, 0, 0, 0])
    assert mask_bytes({70}, 8) == bytes(8)  # beyond the buffer: left out, as the kernel would cut it


def test_one_cpu_allowed_means_nothing_to_do() -> None:
    p = Placement()
    p.original = frozenset({0})
    assert not p.start() and not p.active and p.other_cpus() is None


@needs_two
@pytest.mark.ptrace
def test_serial_command_runs_on_the_tracers_cpu_but_sees_its_own_mask(tmp_path: Path, no_wait_release: None) -> None:
    engine, lines = _trace([sys.executable, "-c", REPORT], tmp_path)
    allowed, count = lines[0].split()
    assert engine.placement is not None and engine.placement.cpu is not None
    assert _parse_list(allowed) == {engine.placement.cpu}  # really co-located
    assert int(count) == len(ORIGINAL)  # sched_getaffinity shows the original mask
    assert engine.placement.released_reason == "tracing ended"
    assert frozenset(os.sched_getaffinity(0)) == ORIGINAL  # the tracer got its CPUs back


@needs_two
@pytest.mark.ptrace
def test_seccomp_pushdown_still_hides_the_mask(tmp_path: Path, no_wait_release: None) -> None:
    syscalls = frozenset(pushdown.plan({"openat"}, ["evt.type"]).syscalls)
    engine, lines = _trace([sys.executable, "-c", REPORT], tmp_path, seccomp=syscalls)
    assert engine.seccomp_active
    allowed, count = lines[0].split()
    assert engine.placement is not None and _parse_list(allowed) == {engine.placement.cpu}
    assert int(count) == len(ORIGINAL)


class _Thread:
    in_syscall = False
    args: tuple[int, ...] = ()


def _sampled(monkeypatch: pytest.MonkeyPatch, waits_ms: list[dict[int, int]]) -> Placement:
    """A co-located Placement sampled every SAMPLE_NS with the given cumulative run-queue waits (ms)
    per tid (0: the tracer) instead of /proc/TID/schedstat."""
    p = Placement()  # original: this process's real mask, so release() re-applies what it already is
    p.cpu, p.active = min(p.original), True
    current: dict[int, int] = {}
    monkeypatch.setattr(placement_mod, "_runqueue_wait", lambda tid: current[tid] * 1_000_000)
    ts = 1_000_000_000
    for waits in waits_ms:
        current = waits
        threads = {tid: _Thread() for tid in waits if tid}
        p.on_exit(next(iter(threads), 0), _Thread(), threads, 39, 0, ts)  # 39: getpid, nothing to rewrite
        if not p.active:
            break
        ts += placement_mod.SAMPLE_NS
    return p


def test_waits_under_the_share_keep_colocation(monkeypatch: pytest.MonkeyPatch) -> None:
    me = os.getpid()
    # 100 ms between samples; tracer and command together waited 10, then 24 ms: under a quarter
    p = _sampled(monkeypatch, [{0: 0, me: 0}, {0: 5, me: 5}, {0: 5, me: 29}])
    assert p.active and p.released_reason == ""
    assert p.next_sample == 1_000_000_000 + 3 * placement_mod.SAMPLE_NS


def test_waits_over_the_share_release(monkeypatch: pytest.MonkeyPatch) -> None:
    me = os.getpid()
    p = _sampled(monkeypatch, [{0: 0, me: 0}, {0: 10, me: 10}, {0: 20, me: 26}, {0: 99, me: 99}])
    assert not p.active and p.released_reason == "traced threads waited for the shared CPU"
    assert frozenset(os.sched_getaffinity(0)) == ORIGINAL


def test_the_window_after_a_rebase_is_not_judged(monkeypatch: pytest.MonkeyPatch) -> None:
    """sdu forked its consumer mid-run (Placement.rebase): the waits up to the end of the next window are
    sdu's own, not counted; the window after that is judged as any."""
    me = os.getpid()
    current = {0: 0, me: 0}
    monkeypatch.setattr(placement_mod, "_runqueue_wait", lambda tid: current[tid] * 1_000_000)
    p = Placement()
    p.cpu, p.active = min(p.original), True
    threads = {me: _Thread()}
    ts = 1_000_000_000
    p.on_exit(me, _Thread(), threads, 39, 0, ts)  # the first sample: a baseline
    current = {0: 30, me: 30}
    p.rebase(threads, ts + 50_000_000)  # the fork, and waits before it: not counted
    current = {0: 90, me: 90}  # 60 ms in the window after it: over a quarter, but sdu's own
    ts += 50_000_000 + placement_mod.SAMPLE_NS
    p.on_exit(me, _Thread(), threads, 39, 0, ts)
    assert p.active
    current = {0: 91, me: 92}  # 3 ms: kept
    ts += placement_mod.SAMPLE_NS
    p.on_exit(me, _Thread(), threads, 39, 0, ts)
    assert p.active
    current = {0: 150, me: 150}  # 117 ms: released, as without a rebase
    ts += placement_mod.SAMPLE_NS
    p.on_exit(me, _Thread(), threads, 39, 0, ts)
    assert not p.active and p.released_reason == "traced threads waited for the shared CPU"


def test_a_thread_seen_first_counts_from_then(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new thread's wait before its first sample is not this period's: no release for its history."""
    me = os.getpid()
    p = _sampled(monkeypatch, [{0: 0}, {0: 1, me: 5000}, {0: 2, me: 5001}])
    assert p.active


@needs_two
@pytest.mark.ptrace
def test_parallel_children_release_colocation(tmp_path: Path) -> None:
    # mostly user code (a syscall-bound pair would spend its time stopped, serialised by the tracer anyway)
    busy = f"{sys.executable} -c 'import os,time; e=time.time()+0.5\nwhile time.time()<e: sum(range(20000)); os.getppid()'"
    script = f"{busy} & {busy}; wait; {sys.executable} -c \"{REPORT}\""
    engine, lines = _trace(["sh", "-c", script], tmp_path)
    assert engine.placement is not None
    assert engine.placement.released_reason == "traced threads waited for the shared CPU"
    allowed, count = lines[-1].split()
    assert _parse_list(allowed) == _cpu_list(ORIGINAL)  # children after release inherit every CPU
    assert int(count) == len(ORIGINAL)


@needs_two
@pytest.mark.ptrace
def test_a_command_choosing_its_affinity_keeps_its_choice(tmp_path: Path, no_wait_release: None) -> None:
    pick = max(ORIGINAL)
    code = f"import os\nos.sched_setaffinity(0, {{{pick}}})\n" + REPORT
    engine, lines = _trace([sys.executable, "-c", code], tmp_path)
    assert engine.placement is not None
    assert engine.placement.released_reason == "the command set its own CPU affinity"
    allowed, count = lines[0].split()
    assert _parse_list(allowed) == {pick} and int(count) == 1


@needs_two
@pytest.mark.ptrace
def test_detached_command_gets_its_cpus_back(tmp_path: Path, no_wait_release: None) -> None:
    """sdu stops tracing early (-n, a chisel's end): the command runs on untraced with its own CPUs."""
    code = "import time\ntime.sleep(0.3)\n" + REPORT
    box: dict[str, Engine] = {}

    def emit(_evt: object) -> None:
        box["engine"].request_detach()

    engine = box["engine"] = Engine(EventBuilder(emit), colocate=True)
    out = tmp_path / "out.txt"
    saved = os.dup(1)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 1)
    try:
        engine.launch([sys.executable, "-c", code])
        status = engine.run()  # detaches at the first event, then waits for the command
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(fd)
    assert status == 0
    assert engine.placement is not None and engine.placement.released_reason == "sdu stopped tracing"
    allowed, count = out.read_text().split()
    assert _parse_list(allowed) == _cpu_list(ORIGINAL) and int(count) == len(ORIGINAL)


@needs_two
def test_release_gives_helpers_their_cpus_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pipelined consumer runs on the CPUs the tracer does not share while co-located; when
    co-location ends (tracing ended, parallel command, detach) it gets the original mask back."""
    import subprocess

    place = Placement()
    place.active = True
    place.cpu = min(ORIGINAL)
    monkeypatch.setattr(os, "sched_setaffinity", _only_others(os.sched_setaffinity))
    helper = subprocess.Popen(["sleep", "30"])
    try:
        others = place.other_cpus()
        assert others is not None and place.cpu not in others
        os.sched_setaffinity(helper.pid, others)
        place.add_helper(helper.pid)
        place.release([], "tracing ended")
        assert frozenset(os.sched_getaffinity(helper.pid)) == ORIGINAL
        assert not place.helpers
    finally:
        helper.kill()
        helper.wait()


def _only_others(real: Any) -> Any:
    """sched_setaffinity for every pid but this process's own (the test process keeps its mask)."""
    def set_affinity(pid: int, cpus: Any) -> None:
        if pid not in (0, os.getpid()):
            real(pid, cpus)
    return set_affinity


@needs_two
@pytest.mark.ptrace
def test_seccomp_pushdown_colocates_without_a_watchdog(tmp_path: Path, no_wait_release: None,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Under the filter every tracee has PTRACE_O_EXITKILL: nothing pinned can outlive the tracer, and no
    watchdog (tracer/guard.py) is forked."""
    def no_start(original: frozenset[int], cpu: int) -> None:
        raise AssertionError("a watchdog was started")

    monkeypatch.setattr(guard, "start", no_start)
    syscalls = frozenset(pushdown.plan({"openat"}, ["evt.type"]).syscalls)
    engine, lines = _trace([sys.executable, "-c", REPORT], tmp_path, seccomp=syscalls)
    allowed, _count = lines[0].split()
    assert engine.seccomp_active and engine.placement is not None
    assert _parse_list(allowed) == {engine.placement.cpu}


# A child cloned with CLONE_UNTRACED (raw clone: SIGCHLD | CLONE_UNTRACED, a fork ptrace does not follow)
# waits on a pipe; its traced parent, back from clone, reports the child's allowed CPUs, then its own.
# (The child makes no filtered syscall: under the seccomp filter, with no tracer, those fail with ENOSYS.)
UNTRACED_CHILD = ("import ctypes, os\n"
                  "libc = ctypes.CDLL(None, use_errno=True)\n"
                  "def allowed(pid):\n"
                  "    return [ln.split()[1] for ln in open(f'/proc/{pid}/status') if ln.startswith('Cpus_allowed_list')][0]\n"
                  "r, w = os.pipe()\n"
                  "pid = libc.syscall(56, 17 | 0x00800000, 0, 0, 0, 0)\n"
                  "if pid == 0:\n"
                  "    os.read(r, 1)\n"
                  "    os._exit(0)\n"
                  "assert pid > 0, ctypes.get_errno()\n"
                  "print('child', allowed(pid), flush=True)\n"
                  "os.write(w, b'x')\n"
                  "os.waitpid(pid, 0)\n"
                  "print('parent', allowed(os.getpid()), flush=True)\n")


@needs_two
@pytest.mark.ptrace
@pytest.mark.parametrize("seccomp", [False, True], ids=["ptrace", "seccomp"])
def test_an_untraced_child_gets_its_cpus_back_at_once(tmp_path: Path, no_wait_release: None, seccomp: bool) -> None:
    """No release nor watchdog would reach a child ptrace does not follow: it gets the original mask at
    its parent's clone exit, while the traced parent stays co-located."""
    syscalls = frozenset(pushdown.plan({"openat"}, ["evt.type"]).syscalls) if seccomp else None
    engine, lines = _trace([sys.executable, "-c", UNTRACED_CHILD], tmp_path, seccomp=syscalls)
    assert engine.seccomp_active == seccomp
    report = dict(line.split() for line in lines)
    assert engine.placement is not None and engine.placement.cpu is not None
    assert _parse_list(report["child"]) == set(ORIGINAL)
    assert _parse_list(report["parent"]) == {engine.placement.cpu}
