"""Live capture: the ptrace engine feeding sdu's EventPipeline (``sdu -- CMD`` and ``sdu -p PIDS``).

The order matters and is what a user can rely on:

1. the pipeline is built first (filter compiled, chisels loaded, -w file opened), so a bad filter or
   an unwritable file fails before anything is launched or attached;
2. the command is launched (it stops at its execve) or the pids are seized;
3. /proc is snapshotted for every traced thread (plus the ancestors of each traced process, without
   their fds, so proc.pname and proc.aname resolve) and the Inspector is seeded with it, the system's users and groups
   and the interfaces; with -w the same state opens the capture (SHB, MI, IL, UL, one PL_V9, one
   FDL_V2 per thread), and threads created later come from clone/execve events;
4. the engine runs; every event goes through the pipeline while its thread is stopped, or, pipelined
   (``pipelined=True``, what run_live picks for runs without chisels; see tracer/pipelined.py), is
   shipped to a consumer process, which runs the pipeline in parallel with the tracer. The consumer is
   forked only once the run has made CONSUMER_AFTER_EVENTS events: until then the tracer runs the
   pipeline itself, as single-process, so a run with few events (``sdu -- /bin/true``, a command whose
   syscalls the seccomp filter mostly lets through) never pays for a second process (~10 ms of CPU:
   imports, the recipe, the fork). Meanwhile the lines it holds are written out whenever the engine is
   about to block in wait4 (Engine.before_block: no stop ready), as strace writes, so an idle command
   (a shell waiting on its input) has its lines printed at once, without a timer. The tracer so writes
   itself the lines of at most CONSUMER_AFTER_EVENTS events, what it flushed at the switch before, and
   once it has written TRACER_WRITES_MAX bytes so it forks the consumer at that wait (half a pipe's
   default size: a reader that stops reading, a paused pager, fills the rest before the tracer would
   block on a write with the command held; the consumer absorbs the rest). At the switch,
   between two events, the consumer is forked with the pipeline as it stands (its state, its -w file,
   the lines printed so far flushed), the builder ships from the next event on and the engine takes
   up the compiled fast path (Engine.use_fast); the output is the same bytes either way. With packet
   capture the consumer is forked at once (its capture thread runs there from the start).
   SDU_TEST_CONSUMER_AFTER=N (tests only) forks it after N events and at no byte count (0: at once,
   before the first event), ``never`` never.

Stopping: when the pipeline is done (-n reached, a chisel ended the capture, -M elapsed, or the reader
of the output is gone: EPIPE, ``sdu -- CMD | head``) sdu detaches from every thread. An attached process just keeps running; a launched command keeps running untraced
and sdu waits for it, because sdu's exit status is always the command's (128+N if killed by signal N);
with --kill-on-exit (sysdig's "everything stops") the command is killed instead, as under pushdown.
After EPIPE the status is 141 instead, quietly (sysdig dies of SIGPIPE): once the command has ended.
SIGINT/SIGTERM/SIGHUP detach in attach mode (status 0) and are forwarded to the command in launch
mode (the engine does both, Engine.on_signal): caught from just before the launch/attach until the
command is reaped, kept until the command is forked or the pids seized, then the engine's; before that,
see sysdig_user/entry.py. Any exception (a formatter bug, EPIPE on stdout) makes the engine detach
every thread before it propagates, the one whose stop was being handled included, so no tracee is
ever left in a ptrace-stop; in launch mode sdu then still reaps the command before reporting the error
(a command running under the seccomp filter is killed, see tracer/engine.py). Pipelined, the consumer's
end of the capture and its exceptions come back to the tracer and are handled here the same way.

Pushdown (tracer/pushdown.py, ``for_capture``; without a filter tracer/cuts.py): a launched command stops only at the syscalls the
filter can match or that keep the state it reads (seccomp-bpf); in both modes EventBuilder decodes only
those events and skips open's dev / the mmap VM sizes when nothing reads them. ``--no-seccomp`` turns
all of it off; attach mode always takes full syscall stops. ``-v`` prints the syscall set at start.
"""
from __future__ import annotations

import os
import sys
import time
from _collections_abc import Callable, Sequence  # (collections.abc without collections)

from sysdig_user.environment import silence
from sysdig_user.errors import TraceError
from sysdig_user.event import Event
from sysdig_user.scap.records import FdEntry, MachineInfo, ProcEntry
from sysdig_user.session import adopt_state, seed_state
from sysdig_user.sources import drain_merged, merged
from sysdig_user.spec import DEFAULT_SNAPLEN, PacketSpec, TraceSpec
from sysdig_user.state.section import state_section
from tracer.errors import ConsumerGone, TracerError

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)

if TYPE_CHECKING:
    import signal
    from types import FrameType
    from typing import Any

    from sysdig_user.pipeline import EventPipeline, RunStats
    from sysdig_user.scap.cycle import CaptureWriter
    from sysdig_user.session import Session
    from tracer.containers import Detector
    from tracer.cuts import Settings
    from tracer.engine import Engine
    from tracer.namespace import Census
    from tracer.pipelined import Link, Result
else:
    import _signal as signal  # (signal.py only adds enums around it: ~3.4M instructions of a start)

_ALARM_RETRY_S = 0.005  # an alarm not yet served (it hit an event being processed) fires again
CONSUMER_AFTER_EVENTS = 200  # pipelined: the consumer is forked after this many events (module docstring)
TRACER_WRITES_MAX = 32 << 10  # or once the tracer has written this many bytes of lines itself
_NEVER = 1 << 62
_PPM_O_CLOEXEC = 4096  # file_flags O_CLOEXEC


def machine_info() -> MachineInfo:
    """The MI block sysdig writes: cpus, physical memory, pid_max, hostname."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError):
        memory = 0
    try:
        with open("/proc/sys/kernel/pid_max") as f:
            max_pid = int(f.read().strip())
    except (OSError, ValueError):
        max_pid = 32768
    return MachineInfo(os.cpu_count() or 1, memory, max_pid, os.uname().nodename)  # gethostname(2)


def initial_state(roots: Sequence[int], launched: bool) -> tuple[list[ProcEntry], dict[int, list[FdEntry]]]:
    """Snapshot of the traced processes, with their parents' main threads (no fds) first.

    A launched command is still sdu's fork, stopped before its execve: its close-on-exec fds (sdu's
    own) are left out, since they will not exist once the command runs.
    """
    from tracer.snapshot import proc_entries, snapshot

    procs, fds = snapshot(list(roots))
    known = {p.tid for p in procs}
    parents: list[ProcEntry] = []
    for p in procs:
        # the whole ancestor chain, as a kernel capture knows it: proc.aname[N] / proc.apid[N] resolve
        # (spy_users shows a command only if a shell is among its ancestors)
        ptid = p.ptid if p.tid == p.pid else 0
        while ptid > 0 and ptid not in known:
            main = [e for e in proc_entries(ptid, main_only=True) if e.tid == e.pid]
            if not main:
                break
            parents.extend(main)
            known.update(e.tid for e in main)
            ptid = main[0].ptid
    if launched:
        for pid in roots:
            fds[pid] = [e for e in fds.get(pid, []) if not e.open_flags & _PPM_O_CLOEXEC]
    return parents + procs, fds


def _no_note(ts: int, tid: int, pid: int, fd: int) -> bytes:
    """LiveCapture._note_frame until packets are merged in the consumer (_ship_noting is not used then)."""
    raise AssertionError("a note frame without a packet stream")


def _no_link(ts: int, cpu: int, raw: bytes, on_batch: Callable[[], None]) -> None:
    """LiveCapture._link_ship before a consumer is started (the builder ships nothing until then)."""
    raise AssertionError("an event was shipped before the consumer process was started")


class LiveCapture:
    """One live run: ``run(command=...)`` or ``run(pids=...)`` returns the exit status."""

    def __init__(self, pipeline: EventPipeline, writer: CaptureWriter | None = None,
                 snaplen: int = DEFAULT_SNAPLEN, duration_s: int | None = None,
                 pushdown: Settings | None = None, warn: Any = None, pipelined: bool = False) -> None:
        """`pushdown`: what the capture may cut (tracer.pushdown.for_capture; None: nothing). Its
        seccomp syscall set applies to a launched command only: attach mode always uses full syscall
        stops (the engine cannot install a filter in a running process). `warn(text)`: the engine's
        one-line seccomp fallback notice. `pipelined`: run the pipeline in a consumer process
        (tracer/pipelined.py; its ``wanted`` says when that is possible); if it cannot be forked, the
        capture runs in this process."""
        self.pipeline = pipeline
        self.pipelined = pipelined
        self.link: Link | None = None  # the consumer process, once forked
        # Deferred consumer fork (module docstring): events still to go before it; 0 when no fork is
        # pending. consumer_after: the events the tracer handled itself before it forked the consumer
        # (None: not forked).
        self._consumer_left = 0
        self._written = 0  # bytes of lines the tracer wrote before a wait (_before_block)
        self._writes_max = TRACER_WRITES_MAX  # (none under SDU_TEST_CONSUMER_AFTER)
        self.consumer_after: int | None = None
        self._in_process = 0  # events through the pipeline here
        self._notice = False  # the consumer signalled that its Result is ready
        self._consumer_reported = False  # its end (error, or death without a Result) was dealt with
        self.pushdown = pushdown
        self.warn = warn
        self.writer = writer
        self.snaplen = snaplen
        self.duration_ns = duration_s * 1_000_000_000 if duration_s else None
        self.engine: Engine | None = None
        self.builder: Any = None
        self._first_ts: int | None = None
        self._stopping = False
        self.output_closed = False  # the reader of the output is gone (EPIPE): sdu ends with 141
        self._early_signals: list[int] = []
        self._traced = False  # launched or attached: early signals go to the engine
        self._alarm = False  # SIGALRM seen, not yet served (see _on_alarm)
        self._timer_on = False
        self._stop_at: int | None = None  # -M deadline, time.monotonic_ns()
        self.net: Any = None  # a started netcap.stream.PacketStream (--net/--iface), set by run_live
        self.colocate = False  # a launched command shares the tracer's CPU (tracer/placement.py)
        self.kill_on_exit = False  # --kill-on-exit: an early end of the capture ends a launched command
        self._link_ship: Callable[[int, int, bytes, Callable[[], None]], None] = _no_link
        self._arm_cb: Callable[[], None] = self._arm  # bound once, not at every event
        self._merged_feed: Callable[[Event], bool] = self._feed  # _feed, with the packets merged (run)
        # pipelined with packets (_ship_noting): netcap.stream's note-frame codes, cpu and encoder
        self._note_codes: frozenset[int] = frozenset()
        self._note_cpu = 0
        self._note_frame: Callable[[int, int, int, int], bytes] = _no_note
        # sdu --all (tracer/namespace.py): the census of the namespace, when to rescan /proc
        # (time.monotonic_ns()), and whether a consumer process is told of the processes a rescan takes
        # up (not when it writes the events unparsed: nothing there reads the state)
        self.census: Census | None = None
        self._rescan_at: int | None = None
        self._ships_state = True
        self.containers: Detector | None = None  # container identity (tracer/containers.py), set by TraceSource
        self._pending_containers: list[bytes] = []  # container events due after the event being emitted

    # ---- the sink's emit ------------------------------------------------------------------------

    def _emit(self, evt: Event) -> None:
        if self._alarm:
            self._serve_alarm()
        if self._stopping:
            return
        if self.duration_ns is not None and self._duration_over(evt.ts):
            return
        # packets (netcap.stream) go in timestamp order before the syscall event; the tracer never waits
        self._merged_feed(evt)
        if self._pending_containers:
            self._flush_containers()
        if self._consumer_left:
            self._in_process += 1
            self._consumer_left -= 1
            if not self._consumer_left:
                self._switch_to_consumer()

    def _ship(self, ts: int, cpu: int, raw: bytes) -> None:
        """The builder's ship when pipelined: what _emit does, the consumer doing the pipeline's part."""
        if self._alarm:
            self._serve_alarm()
        if self._stopping:
            return
        if self.duration_ns is not None and self._duration_over(ts):
            return
        try:
            self._link_ship(ts, cpu, raw, self._arm_cb)
        except ConsumerGone:
            self._consumer_ended()
        if self._pending_containers:
            self._flush_containers()

    def _ship_noting(self, ts: int, cpu: int, raw: bytes) -> None:
        """_ship with packets merged in the consumer: before a send or connect exit, what the kernel
        bound the socket to, read now that the thread is stopped (netcap.stream.note_frame)."""
        if raw[20] | raw[21] << 8 in self._note_codes and self.engine is not None:
            tid = int.from_bytes(raw[8:16], "little", signed=True)
            th = self.engine.threads.get(tid)
            if th is not None and th.args:
                fd = th.args[0] & 0xFFFFFFFF
                self._ship(ts, self._note_cpu, self._note_frame(ts, tid, th.pid, fd - (1 << 32) if fd >> 31 else fd))
        self._ship(ts, cpu, raw)

    def _duration_over(self, ts: int) -> bool:
        """-M by event time: True (and the capture stopped) once an event is past the duration."""
        if self._first_ts is None:
            self._first_ts = ts
        elif ts - self._first_ts > self.duration_ns:  # type: ignore[operator]
            self.stop()
            return True
        return False

    def _feed_packets(self) -> None:
        """The packets still queued once the tracer is done (the capture stops here)."""
        if self.net is not None and not self._stopping:
            drain_merged(self._feed, self.net)

    def _feed(self, evt: Event) -> bool:
        """One event through the pipeline; False once the capture is over. A pipeline exception unwinds
        the engine: Engine.run() detaches every tracee (the thread held in this stop too) and re-raises."""
        try:
            more = self.pipeline.on_event(evt)
        except BrokenPipeError:
            self._output_gone()
            return False
        if not more:
            self.stop()
        return bool(more)

    def _output_gone(self) -> None:
        """The reader of our output is gone (``| head``: EPIPE): the capture is over, quietly."""
        silence(self.pipeline.out.stream)
        self.output_closed = True
        self.stop()

    def stop(self) -> None:
        """End the capture now: finish the pipeline's output, then detach at the engine's next wake-up.
        Pipelined, the consumer finishes once it has read the last batch (its Result is read at the end)."""
        if self._stopping:
            return
        self._stopping = True
        if self.link is not None:
            self.link.close()
        else:
            self.pipeline.finish()
        if self.engine is not None:
            self.engine.request_detach()

    # ---- the consumer process (pipelined) ---------------------------------------------------------

    def _defer_consumer(self) -> None:
        """Pipelined: fork the consumer now (packet capture, SDU_TEST_CONSUMER_AFTER=0) or arm the
        deferred fork (module docstring)."""
        events = CONSUMER_AFTER_EVENTS
        forced = os.environ.get("SDU_TEST_CONSUMER_AFTER")
        if forced is not None:
            self._writes_max = _NEVER
            if forced == "never":
                events = _NEVER
            elif forced.isdigit():
                events = int(forced)
        if events == 0 or self.net is not None:
            self._start_consumer()
            if self.link is not None:
                self.consumer_after = 0
            return
        self._consumer_left = events
        if self.engine is not None:
            self.engine.before_block = self._before_block

    def _before_block(self) -> None:
        """Engine.before_block while the tracer prints itself: the lines it holds, out before it waits."""
        out = self.pipeline.out
        if self._stopping or not out.pending():
            return
        try:
            self._written += out.flush()
        except BrokenPipeError:
            self._output_gone()
            return
        if self._written >= self._writes_max and self._consumer_left:
            self._switch_to_consumer()  # (between two stops, no tracee held: as at an event's end)

    def _switch_to_consumer(self) -> None:
        """Between two events: the consumer takes the pipeline over from the next event on."""
        self._consumer_left = 0
        if self._stopping:
            return
        self.consumer_after = self._in_process
        self._start_consumer()
        engine = self.engine
        if self.link is None:
            self.consumer_after = None  # it could not be forked: the run stays single-process
        elif engine is not None:
            engine.before_block = None  # the consumer writes the lines from here on
        if engine is not None and engine.placement is not None:
            engine.placement.rebase(engine.threads, time.time_ns())  # the fork is no sign of a parallel command

    def _start_consumer(self) -> None:
        """Fork the consumer (the state is seeded, the first events perhaps through the pipeline here);
        from here on events are shipped to it. If it cannot be forked, the run stays single-process."""
        from tracer import pipelined

        try:
            place = self.engine.placement if self.engine is not None else None
            cpus = place.other_cpus() if place is not None else None
            if self.census is not None:
                from sysdig_user.output import fastline

                self._ships_state = not fastline.passthrough(self.pipeline)
            self.link = pipelined.start(self.pipeline, self.writer, self._on_notice, cpus, self.net)
            if cpus is not None and place is not None:
                link = self.link
                place.add_helper(lambda: link.pid)  # its original CPUs back when co-location ends
            if self.census is not None:
                self.census.exclude(self.link.pid)
        except OSError:
            if self.net is not None:  # no process to spare: the pipeline runs here, packets too
                self.net.run()
            return
        self._link_ship = self.link.ship  # bound once, not at every event
        self.builder.ship = self._ship
        if self.net is not None:  # (netcap is imported only for packet capture, and then once)
            from netcap.stream import NOTE_CODES, NOTE_CPU, note_frame

            self._note_codes, self._note_cpu, self._note_frame = NOTE_CODES, NOTE_CPU, note_frame
            self.builder.ship = self._ship_noting
        engine = self.engine
        if engine is not None and self.pipeline.plan.tracer_fast_path:
            from tracer import fastpath

            engine.use_fast(fastpath.make(self.builder, self.link, self._fast_paused, self.flush_batch,
                                          engine.pinned_cpu, self._arm_cb))

    def _fast_paused(self) -> bool:
        """The fast path leaves the next stop to Python: an alarm to serve, the capture is stopping, or
        container events wait to go right after the next event (_ship)."""
        return self._alarm or self._stopping or bool(self._pending_containers)

    def flush_batch(self) -> None:
        """Write the batch now (the fast path filled it to its size or age), as _ship's link.ship does."""
        if self.link is None:
            return
        try:
            self.link.flush()
        except ConsumerGone:
            self._consumer_ended()

    def _on_notice(self, sig: int, frame: FrameType | None) -> None:
        """The consumer's signal: its pipeline ended the capture or failed (served like an alarm)."""
        self._notice = True
        self._on_alarm(sig, frame)

    def _consumer_ended(self) -> None:
        """The consumer is done before the tracer (its notice, or a broken pipe): detach as stop() does,
        or raise its error here, from the engine's loop, as if the pipeline had raised in this process."""
        if self._stopping:
            return
        self._stopping = True
        self._consumer_reported = True
        result = self.link.collect()  # type: ignore[union-attr]
        if result is not None and result.closed:
            self.output_closed = True
        if self.engine is not None:
            self.engine.request_detach()
        self._report_consumer(result)

    def _end_consumer(self) -> None:
        """At the end of the run: last batch out, wait for the consumer to exit, take its figures, and
        report its end unless _consumer_ended already did."""
        link = self.link
        assert link is not None
        link.close()
        result = link.collect()
        if result is not None:
            self.pipeline.take_stats(result.events, result.cpu_seconds, result.fast_events)
            self.pipeline.stats.suppressed = result.suppressed
            self.output_closed = self.output_closed or result.closed
        if not self._consumer_reported:
            self._consumer_reported = True
            self._report_consumer(result)

    def _report_consumer(self, result: Result | None) -> None:
        """Raise the consumer's error; warn if it exited without a Result (killed: output may be lost)."""
        if result is None:
            text = "sdu: the event processing process ended unexpectedly; output may be incomplete"
            if self.warn is not None:
                self.warn(text)
            else:
                print(text, file=sys.stderr, flush=True)
            return
        error = result.failure()
        if error is not None:
            raise error

    # ---- timers: chisel intervals, -M and batches ---------------------------------------------------
    # sysdig's chisel intervals fire on event times, which live are wall-clock times; a kernel capture
    # sees events all the time, a traced command may not (a CPU-bound loop makes no syscall). So
    # ITIMER_REAL is armed for the next chisel interval, the -M deadline or, pipelined, the deadline of
    # the batch being filled (whichever comes first), and SIGALRM only sets a flag that the main thread
    # serves at a safe point: before the next event, or when the signal interrupted the engine's wait4
    # (Engine.on_wake, no tracee held). An alarm that lands while an event is processed re-fires every
    # few ms until served. Tracees never see it (sdu's own signal, and itimers are not inherited). The
    # consumer's notice (tracer/pipelined.py) is served the same way.

    def _on_alarm(self, _sig: int, _frame: FrameType | None) -> None:
        self._alarm = True
        if self._timer_on and not self._stopping:
            signal.setitimer(signal.ITIMER_REAL, _ALARM_RETRY_S)

    def _on_wake(self) -> None:
        if self._alarm:
            self._serve_alarm()

    def _serve_alarm(self) -> None:
        """The consumer's notice, the batch, the -M deadline, then the chisels' interval ticks at the
        wall-clock time, then re-arm."""
        self._alarm = False
        if self._stopping:
            return
        link = self.link
        if link is not None:
            if self._notice:
                self._consumer_ended()
                return
            try:
                link.flush()
            except ConsumerGone:
                self._consumer_ended()
                return
        if self._stop_at is not None and time.monotonic_ns() >= self._stop_at:
            self.stop()
            return
        if self._rescan_at is not None and time.monotonic_ns() >= self._rescan_at:
            self._rescan()
        chisels = self.pipeline.chisels
        if chisels is not None:
            due = chisels.next_deadline()
            now = time.time_ns()
            if due is not None and now >= due:
                chisels.tick(now)
                self.pipeline.out.flush()
                if chisels.capture_ended:
                    self.stop()
                    return
        self._arm()

    def _arm(self) -> None:
        """ITIMER_REAL for the earliest of the -M deadline, the next chisel interval and the batch's
        deadline; off when there is none."""
        if not self._timer_on or self._stopping:
            return
        delays: list[int] = []
        for at in (self._stop_at, self._rescan_at):
            if at is not None:
                delays.append(at - time.monotonic_ns())
        chisels = self.pipeline.chisels
        for due in (chisels.next_deadline() if chisels is not None else None,
                    self.link.deadline() if self.link is not None else None):
            if due is not None:
                delays.append(due - time.time_ns())
        signal.setitimer(signal.ITIMER_REAL, max(min(delays) / 1e9, 0.001) if delays else 0)

    def _on_early_signal(self, sig: int, _frame: FrameType | None) -> None:
        """SIGINT/SIGTERM/SIGHUP from before launch/attach until the engine's loop serves them: kept
        until the command is forked (or the pids seized), then the engine's (Engine.on_signal)."""
        if self._traced and self.engine is not None:
            self.engine.on_signal(sig)
        else:
            self._early_signals.append(sig)

    # ---- the run ----------------------------------------------------------------------------------

    def run(self, command: Sequence[str] = (), pids: Sequence[int] = (), env: dict[str, str] | None = None,
            cwd: str | None = None, everything: bool = False) -> int:
        """Launch `command`, attach to `pids`, or (`everything`) attach to the whole PID namespace."""
        from tracer.engine import Engine
        from tracer.events import EventBuilder

        launched = bool(command)
        pd = self.pushdown
        if self.net is not None:
            self._merged_feed = merged(self._feed, self.net, self.pipeline.inspector)
        # printed lines read every param: the builder hands its values over already decoded
        prefill = self.pipeline.format_line is not None
        self.builder = EventBuilder(self._emit, snaplen=self.snaplen, prefill=prefill,
                                    **(pd.builder_options() if pd is not None else {}))  # type: ignore[arg-type]
        syscalls = pd.plan.syscalls if pd is not None and launched else None
        engine = self.engine = Engine(self.builder, seccomp_syscalls=syscalls, warn=self.warn,
                                      colocate=launched and self.colocate)
        engine.on_wake = self._on_wake
        engine.kill_on_detach = launched and self.kill_on_exit
        if self.containers is not None:
            self._watch_containers()
        if self.pipeline.chisels is not None:  # topprocs_cpu samples these processes' CPU time live
            self.pipeline.chisels.engine.traced_pids = lambda: {th.pid for th in engine.threads.values()}
        early = _catch_signals(self._on_early_signal)
        try:
            try:
                if launched:
                    roots = [engine.launch(list(command), env, cwd)]
                elif everything:
                    roots = self._attach_namespace(engine)
                else:
                    engine.attach(list(pids))
                    roots = list(pids)
            except TracerError as exc:
                self.pipeline.finish()
                raise TraceError(f"sdu: {exc}") from None
            except BaseException:
                self.pipeline.finish()
                raise
            self._traced = True
            for sig in self._early_signals:
                engine.on_signal(sig)
            try:
                self._seed(roots, launched)
                self.pipeline.start()
                if self.pipelined:
                    self._defer_consumer()
            except BaseException:
                self._abandon(engine, launched)
                self.pipeline.finish()
                raise
        except BaseException:
            _restore_signals(early)
            raise
        old_alarm = self._start_timer()
        try:
            try:
                status = engine.run()  # its own handlers while it runs; the early ones around it
            except BaseException:
                # The engine detached every tracee (a command under the seccomp filter is killed); a
                # launched command is reaped before the error is reported.
                if launched:
                    _reap(roots[0])
                raise
            finally:
                _restore_signals(early)
            self._feed_packets()
        finally:
            if old_alarm is not None:
                self._timer_on = False
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old_alarm)
            if self.net is not None:
                self.net.close()
            if self.link is not None:
                self._end_consumer()
            self.pipeline.finish()  # pipelined: nothing (handed over)
        return status

    def _start_timer(self) -> Any:
        chisels = self.pipeline.chisels
        if self.duration_ns is None and (chisels is None or chisels.next_deadline() is None) \
                and self.link is None and not self._consumer_left and self.census is None:
            return None
        try:
            old = signal.signal(signal.SIGALRM, self._on_alarm)
        except ValueError:  # not the main thread: event times alone drive -M and the intervals
            return None
        if self.duration_ns is not None:
            self._stop_at = time.monotonic_ns() + self.duration_ns
        self._timer_on = True
        self._arm()
        return old

    # ---- the whole namespace (sdu --all, tracer/namespace.py) ------------------------------------------

    def _attach_namespace(self, engine: Engine) -> list[int]:
        """Seize every process of the namespace that may be traced; name the others; arm the rescan."""
        from tracer.namespace import Census, check_proc_is_ours

        check_proc_is_ours()
        census = self.census = Census(self.warn if self.warn is not None else _warn_stderr)
        attached, refused = engine.attach_some(census.candidates(engine.knows))
        census.refuse_all(refused)
        engine.on_idle = self._idle
        self._rescan_at = time.monotonic_ns() + int(census.delay * 1e9)
        return attached

    def _rescan(self) -> None:
        """Look for processes that no traced process forked; attach to them and tell the state."""
        census, engine = self.census, self.engine
        assert census is not None and engine is not None
        attached, refused = engine.attach_some(census.candidates(engine.knows))
        census.refuse_all(refused)
        census.scanned(len(attached))
        self._rescan_at = time.monotonic_ns() + int(census.delay * 1e9)
        if not attached:
            return
        procs, fds = initial_state(attached, False)
        self._new_containers(procs)
        if self.link is None:
            adopt_state(self.pipeline, procs, fds)
        elif self._ships_state and not self._stopping:
            from tracer.pipelined import STATE_CPU, state_frame

            now = time.time_ns()
            try:
                self._link_ship(now, STATE_CPU, state_frame(now, procs, fds), self._arm_cb)
            except ConsumerGone:
                self._consumer_ended()

    def _idle(self) -> bool:
        """Engine.on_idle: no tracee left; serve the timers and rescan until a process is taken up (True)
        or the capture ends (False)."""
        engine = self.engine
        assert engine is not None
        while not self._stopping and not engine.detaching:
            if self._alarm:
                self._serve_alarm()
            if engine.threads:
                return True
            now = time.monotonic_ns()
            due = self._rescan_at if self._rescan_at is not None else now
            if now >= due:
                self._rescan()
                continue
            time.sleep(min((due - now) / 1e9, 0.05))
        return False

    def _seed(self, roots: list[int], launched: bool) -> None:
        procs, fds = initial_state(roots, launched)
        seed_state(self.pipeline, self.writer, machine_info(), procs, fds)
        if self.containers is not None:
            # the containers of the starting state are what a capture's head holds: the pipeline's
            # Inspector consumes them as it does at a file's head (the live lines then name the
            # containers as a reader of the -w file does) and -w writes them after the section, before
            # any event, whatever the filter (sinsp's dump_containers at the start of a dump). Pipelined,
            # the consumer is forked after this and inherits that state.
            from sysdig_user.scap.container_json import event_raw, to_json

            now = time.time_ns()
            for rec in self.containers.new_records(p.cgroups for p in procs):
                self.pipeline.on_event(Event(event_raw(now, to_json(rec)), 0, 0))

    def _watch_containers(self) -> None:
        """A thread that execs or is cloned is resolved again, as sinsp resolves its container at those
        exits: a container seen for the first time (a process that moved into a container's cgroup, then
        exec'd) gets its container event right after the event being built (notify_new_container queues
        it for the next one). The builder's exec and clone are wrapped: nothing is added to other stops."""
        builder = self.builder
        on_exec, on_clone = builder.exec, builder.clone

        def exec_seen(th: Any, former: int, ts: int, cpu: int) -> None:
            on_exec(th, former, ts, cpu)
            self._resolve_container(th.tid)

        def clone_seen(parent: Any, child: Any, flags: int, ts: int, cpu: int) -> None:
            on_clone(parent, child, flags, ts, cpu)
            if child.tid == child.pid:  # (a new thread shares its process's cgroups)
                self._resolve_container(child.tid)

        builder.exec, builder.clone = exec_seen, clone_seen

    def _resolve_container(self, tid: int) -> None:
        from tracer import procfs

        try:
            cgroups = procfs.cgroups(tid)
        except OSError:
            return
        assert self.containers is not None
        records = self.containers.new_records([cgroups])
        if records:
            from sysdig_user.scap.container_json import event_raw, to_json

            now = time.time_ns()
            self._pending_containers.extend(event_raw(now, to_json(rec)) for rec in records)

    def _flush_containers(self) -> None:
        pending, self._pending_containers = self._pending_containers, []
        for raw in pending:
            if self.link is not None:
                self._ship(int.from_bytes(raw[:8], "little"), 0, raw)
            else:
                self._emit(Event(raw, 0, 0))

    def _new_containers(self, procs: Sequence[ProcEntry]) -> None:
        """Containers first seen in processes taken up later: one container event each, through the
        pipeline like any event (sinsp's notify_new_container queues it before the next event)."""
        if self.containers is None:
            return
        from sysdig_user.scap.container_json import event_raw, to_json

        for rec in self.containers.new_records(p.cgroups for p in procs):
            now = time.time_ns()
            raw = event_raw(now, to_json(rec))
            if self.link is not None:
                self._ship(now, 0, raw)
            else:
                self._emit(Event(raw, 0, 0))

    @staticmethod
    def _abandon(engine: Engine, launched: bool) -> None:
        """Failure before the loop ran: a launched command has not exec'd yet, so it is killed;
        attached processes are detached and keep running."""
        root = engine.root
        if launched and root is not None:
            try:
                os.kill(root, signal.SIGKILL)
            except ProcessLookupError:
                pass
        engine.detach_all()
        if launched:
            _reap(root)


_EARLY_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _catch_signals(handler: Any) -> dict[int, Any]:
    old: dict[int, Any] = {}
    for sig in _EARLY_SIGNALS:
        try:
            old[sig] = signal.signal(sig, handler)
        except ValueError:  # not the main thread
            break
    return old


def _restore_signals(old: dict[int, Any]) -> None:
    for sig, handler in old.items():
        signal.signal(sig, handler)


def _reap(pid: int | None) -> None:
    if pid is None:
        return
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def pushdown_settings(session: Session, trace: TraceSpec, env: Any) -> Settings:
    """What this capture may cut (tracer.pushdown.for_capture), from the filter in effect and the fields
    the printed lines read. Where the plan rules pushdown out (a chisel, whose reads are not declared in
    advance; -w, whose file carries every param and, on -C rotation, the state; packet capture, whose
    attribution reads the socket fds) all state and params are kept. -v prints the decision on stderr."""
    pipeline = session.pipeline
    fmt = pipeline.formatter
    fields = [t.key for t in fmt.tokens] if fmt is not None else []
    everything = not session.plan.pushdown
    from tracer.cuts import without_analysis

    settings = without_analysis(pipeline.filter_text, fields, everything, not trace.no_seccomp)
    if settings is None:  # (a filter: pushdown's tables are built only then)
        from tracer import pushdown

        settings = pushdown.for_capture(pipeline.filter_text, fields, everything, not trace.no_seccomp)
    if session.spec.output.verbose:
        if trace.no_seccomp:
            line = "seccomp-bpf: off (--no-seccomp), every syscall is traced"
        elif not trace.command:
            line = "seccomp-bpf: off in attach mode, every syscall stops the traced threads"
        else:
            from tracer import pushdown

            line = pushdown.describe_plan(settings.plan)
        env.stderr.write(line + "\n")
        env.stderr.flush()
    return settings


def _warn_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _warner(env: Any) -> Any:
    def warn(text: str) -> None:
        env.stderr.write(text + "\n")
        env.stderr.flush()
    return warn


class TraceSource:
    """The tracer as a Session's source: launch ``trace.command`` or attach to ``trace.pids``, with
    packets (``packets``) merged in when asked; the status is the launched command's (0 attached)."""

    def __init__(self, trace: TraceSpec, packets: PacketSpec | None = None) -> None:
        self.trace = trace
        self.packets = packets
        self.capture: LiveCapture | None = None

    def run(self, session: Session) -> int:
        spec, env, pipeline = session.spec, session.env, session.pipeline
        snaplen = spec.snaplen if spec.snaplen is not None else DEFAULT_SNAPLEN
        if pipeline.chisels is not None and pipeline.chisels.snaplen is not None:
            snaplen = pipeline.chisels.snaplen
        capture = self.capture = LiveCapture(pipeline, session.writer, snaplen, spec.duration_s)
        try:
            if self.packets is not None:  # (netcap is imported only for packet capture)
                from netcap.stream import open_stream

                # pipelined, the consumer process runs the capture thread and merges (hand_over here)
                capture.net = open_stream(self.packets, snaplen, env.stderr, run=not session.plan.pipelined)
                if capture.net is None:
                    from sysdig_user.plan import Need

                    session.replan(session.plan.without(Need.PACKETS))
            capture.pushdown = pushdown_settings(session, self.trace, env)
            capture.warn = _warner(env)
            capture.colocate = not self.trace.no_colocate
            from tracer.containers import Detector

            capture.containers = Detector(self.trace.cri_timeout_ms, cri=self.trace.cri)
            capture.kill_on_exit = self.trace.kill_on_exit
            capture.pipelined = session.plan.pipelined
            status = capture.run(command=self.trace.command, pids=self.trace.pids, env=self.trace.env,
                                 cwd=self.trace.cwd, everything=self.trace.all_processes)
        finally:
            if capture.net is not None:
                capture.net.close()
        if capture.output_closed:  # (`sdu -- CMD | head`) the command was detached; sdu ends as sysdig does
            raise BrokenPipeError  # (the CLI ends with 141)
        if capture.net is not None:
            capture.net.report(spec.output.summary, spec.output.verbose, session.out, env.stderr)
        if spec.output.verbose:
            self._report(capture, pipeline.stats, pipeline.formatter is not None, env)
        return status

    @staticmethod
    def _report(capture: LiveCapture, stats: RunStats, printing: bool, env: Any) -> None:
        """-v: where the command ran, the decoders' errors, and what the C paths handled."""
        if capture.census is not None:  # tracer/namespace.py
            env.stderr.write(capture.census.report() + "\n")
        place = capture.engine.placement if capture.engine is not None else None
        if place is not None:  # tracer/placement.py: where the command ran, and until when
            env.stderr.write(f"sdu: the command shared CPU {place.cpu} with sdu until {place.released_reason}\n")
        if capture.builder is not None and capture.builder.errors:
            env.stderr.write(f"sdu: {capture.builder.errors} decoder errors, last: {capture.builder.last_error}\n")
        if capture.engine is not None:  # tracer/fastpath.py
            fast = capture.engine.fast
            if fast is None:
                env.stderr.write("sdu: compiled fast path: not used\n")
            else:
                stops, _syscalls, declined = fast.counts()
                from_table, stat, _reloads = fast.dev_reads()
                env.stderr.write(f"sdu: compiled fast path: {stops - declined} of {capture.engine.stats.stops} "
                                 f"stops, {fast.paths_reused()} paths reused from the enter stop, open's dev "
                                 f"{from_table} times from the mount table, {stat} from a stat\n")
        if capture.pipelined:  # the deferred consumer fork (module docstring)
            after = capture.consumer_after
            env.stderr.write("sdu: consumer process: not started (the run ended first)\n" if after is None else
                             f"sdu: consumer process: started after {after} events\n")
        # sysdig_user/output/fastline.py: what the printing (or writing) process did in C
        what = "compiled default line" if printing else "-w events written unparsed"
        fast_events = stats.fast_events
        if fast_events is None and capture.pipelined and capture.consumer_after is None and (
                capture.pipeline.plan.compiled_line or capture.pipeline.plan.passthrough):
            fast_events = 0  # what the consumer would have done in C: none of the events, all ran here
        if fast_events is None:
            env.stderr.write(f"sdu: {what}: not used\n")
        else:
            env.stderr.write(f"sdu: {what}: {fast_events} of {stats.events} events\n")


__all__ = ["LiveCapture", "TraceSource", "initial_state", "machine_info", "pushdown_settings", "state_section"]
