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
   (``pipelined=True``, what run_live picks for runs without chisels or packet capture; see
   tracer/pipelined.py), is shipped to a consumer process forked at this point, which runs the pipeline
   in parallel with the tracer.

Stopping: when the pipeline is done (-n reached, a chisel ended the capture, -M elapsed) sdu detaches
from every thread. An attached process just keeps running; a launched command keeps running untraced
and sdu waits for it, because sdu's exit status is always the command's (128+N if killed by signal N).
SIGINT/SIGTERM/SIGHUP detach in attach mode (status 0) and are forwarded to the command in launch
mode (the engine does both, Engine.on_signal): caught from just before the launch/attach until the
command is reaped, kept until the command is forked or the pids seized, then the engine's; before that,
see sysdig_user/entry.py. Any exception (a formatter bug, EPIPE on stdout) makes the engine detach
every thread before it propagates, the one whose stop was being handled included, so no tracee is
ever left in a ptrace-stop; in launch mode sdu then still reaps the command before reporting the error
(a command running under the seccomp filter is killed, see tracer/engine.py). Pipelined, the consumer's
end of the capture and its exceptions come back to the tracer and are handled here the same way.

Pushdown (tracer/pushdown.py, ``for_capture``): a launched command stops only at the syscalls the
filter can match or that keep the state it reads (seccomp-bpf); in both modes EventBuilder decodes only
those events and skips open's dev / the mmap VM sizes when nothing reads them. ``--no-seccomp`` turns
all of it off; attach mode always takes full syscall stops. ``-v`` prints the syscall set at start.
"""
from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

from sysdig_user.cli_options import wants_packets
from sysdig_user.errors import SduError
from sysdig_user.event import Event
from sysdig_user.scap.records import FdEntry, FdList, MachineInfo, ProcEntry, ProcList
from tracer.errors import TracerError
from tracer.pipelined import ConsumerGone

if TYPE_CHECKING:
    from sysdig_user.cli import CaptureWriter, EventPipeline
    from sysdig_user.state.inspector import Inspector
    from tracer.engine import Engine
    from tracer.pipelined import Link, Result
    from tracer.pushdown import Settings

DEFAULT_SNAPLEN = 80
_ALARM_RETRY_S = 0.005  # an alarm not yet served (it hit an event being processed) fires again
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
    return MachineInfo(os.cpu_count() or 1, memory, max_pid, socket.gethostname())


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


def state_section(inspector: Inspector) -> dict[str, Any]:
    """The Inspector's current state as ScapWriter.write_section arguments (a -C rotation's new file
    starts with the state at that moment, as sysdig's dumper does)."""
    st = inspector.state
    procs: list[ProcEntry] = []
    fds: dict[int, list[FdEntry]] = {}
    for th in st.threads.threads.values():
        if th.is_placeholder:
            continue
        main = st.threads.threads.get(th.pid, th)
        procs.append(ProcEntry(
            tid=th.tid, pid=th.pid, ptid=th.ptid, sid=th.sid, vpgid=th.vpgid, comm=th.comm, exe=th.exe,
            exepath=th.exepath, args=list(th.args), cwd=main.cwd, fdlimit=th.fdlimit,
            flags=th.flags & 0xFFFFFFFF & ~(1 << 19), uid=th.uid, gid=th.gid, vmsize_kb=th.vmsize_kb,
            vmrss_kb=th.vmrss_kb, vmswap_kb=th.vmswap_kb, pfmajor=th.pfmajor, pfminor=th.pfminor,
            env=list(th.env), vtid=th.vtid, vpid=th.vpid, cgroups=list(th.cgroups), root=th.root,
            loginuid=th.loginuid, exe_writable=th.exe_writable))
        if th.tid == th.pid or th.fdtable is not main.fdtable:
            fds[th.tid] = [_fd_entry(info) for info in th.fdtable.fds.values()]
    return {"machine": st.machine, "interfaces": [*st.interfaces.ipv4, *st.interfaces.ipv6],
            "users": list(st.users.users.values()), "groups": list(st.users.groups.values()),
            "procs": procs, "fds": fds}


def _fd_entry(info: Any) -> FdEntry:
    t = int(info.type)
    return FdEntry(fd=info.fd, ino=info.ino, type=t, name=info.name, open_flags=info.open_flags,
                   dev=info.dev, sip=info.sip, dip=info.dip, sport=info.sport, dport=info.dport,
                   l4proto=info.l4proto, source=info.unix_source, dest=info.unix_dest)


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
        self._early_signals: list[int] = []
        self._traced = False  # launched or attached: early signals go to the engine
        self._alarm = False  # SIGALRM seen, not yet served (see _on_alarm)
        self._timer_on = False
        self._stop_at: int | None = None  # -M deadline, time.monotonic_ns()
        self.net: Any = None  # a started netcap.stream.PacketStream (--net/--iface), set by run_live
        self.colocate = False  # a launched command shares the tracer's CPU (tracer/placement.py)
        self._link_ship: Callable[[int, int, bytes, Callable[[], None]], None] = _no_link
        self._arm_cb: Callable[[], None] = self._arm  # bound once, not at every event

    # ---- the sink's emit ------------------------------------------------------------------------

    def _emit(self, evt: Event) -> None:
        if self._alarm:
            self._serve_alarm()
        if self._stopping:
            return
        if self.duration_ns is not None and self._duration_over(evt.ts):
            return
        net = self.net
        if net is None:
            self._feed(evt)
            return
        # packets (netcap.stream) go in timestamp order before the syscall event; the tracer never waits
        inspector = self.pipeline.inspector
        for pkt_evt in net.before(evt, inspector):
            if not self._feed(pkt_evt):
                return
        if self._feed(evt):
            net.after(evt, inspector)

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
        net = self.net
        if net is None:
            return
        for pkt_evt in net.finish():
            if self._stopping or not self._feed(pkt_evt):
                return

    def _feed(self, evt: Event) -> bool:
        """One event through the pipeline; False once the capture is over. A pipeline exception unwinds
        the engine: Engine.run() detaches every tracee (the thread held in this stop too) and re-raises."""
        more = self.pipeline.on_event(evt)
        if not more:
            self.stop()
        return bool(more)

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

    def _start_consumer(self) -> None:
        """Fork the consumer now that the state is seeded; from here on events are shipped to it."""
        from tracer import pipelined

        try:
            place = self.engine.placement if self.engine is not None else None
            cpus = place.other_cpus() if place is not None else None
            self.link = pipelined.start(self.pipeline, self.writer, self._on_notice, cpus)
        except OSError:
            return  # no process to spare: the pipeline runs here, as single-process
        self._link_ship = self.link.ship  # bound once, not at every event
        self.builder.ship = self._ship
        engine = self.engine
        if engine is not None and self.net is None and self.duration_ns is None:
            from tracer import fastpath

            engine.fast = fastpath.make(self.builder, self.link, self._fast_paused, self.flush_batch,
                                        engine.pinned_cpu)

    def _fast_paused(self) -> bool:
        """The fast path leaves the next stop to Python: an alarm to serve, or the capture is stopping."""
        return self._alarm or self._stopping

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
        if self._stop_at is not None:
            delays.append(self._stop_at - time.monotonic_ns())
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

    def run(self, command: Sequence[str] = (), pids: Sequence[int] = ()) -> int:
        from tracer.engine import Engine
        from tracer.events import EventBuilder

        launched = bool(command)
        pd = self.pushdown
        # printed lines read every param: the builder hands its values over already decoded
        prefill = self.pipeline.format_line is not None
        self.builder = EventBuilder(self._emit, snaplen=self.snaplen, prefill=prefill,
                                    **(pd.builder_options() if pd is not None else {}))  # type: ignore[arg-type]
        syscalls = pd.plan.syscalls if pd is not None and launched else None
        engine = self.engine = Engine(self.builder, seccomp_syscalls=syscalls, warn=self.warn,
                                      colocate=launched and self.colocate)
        engine.on_wake = self._on_wake
        if self.pipeline.chisels is not None:  # topprocs_cpu samples these processes' CPU time live
            self.pipeline.chisels.engine.traced_pids = lambda: {th.pid for th in engine.threads.values()}
        early = _catch_signals(self._on_early_signal)
        try:
            try:
                if launched:
                    roots = [engine.launch(list(command))]
                else:
                    engine.attach(list(pids))
                    roots = list(pids)
            except TracerError as exc:
                self.pipeline.finish()
                raise SduError(f"sdu: {exc}") from None
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
                    self._start_consumer()
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
                and self.link is None:
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

    def _seed(self, roots: list[int], launched: bool) -> None:
        inspector = self.pipeline.inspector
        st = inspector.state
        machine = machine_info()
        st.machine = machine
        st.users.load_system()
        st.interfaces.load_system()
        procs, fds = initial_state(roots, launched)
        inspector.feed_records(ProcList(procs))
        for p in procs:
            inspector.feed_records(FdList(p.tid, fds.get(p.tid, [])))
        if self.writer is not None:
            self.writer.start({
                "machine": machine, "interfaces": [*st.interfaces.ipv4, *st.interfaces.ipv6],
                "users": list(st.users.users.values()), "groups": list(st.users.groups.values()),
                "procs": procs, "fds": fds})
            self.writer.section_source = lambda: state_section(inspector)
            self.pipeline.writer = self.writer

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


def pushdown_settings(opts: Any, pipeline: EventPipeline, env: Any, net: bool = False) -> Settings:
    """What this capture may cut (tracer.pushdown.for_capture), from the filter in effect and the fields
    the printed lines read. A chisel (its reads are not declared in advance), -w (the file carries every
    param and, on -C rotation, the state) and packet capture (attribution reads the socket fds) keep
    all state and params. -v prints the decision on stderr."""
    from tracer import pushdown

    fmt = pipeline.formatter
    fields = [t.key for t in fmt.tokens] if fmt is not None else []
    everything = pipeline.chisels is not None or opts.write is not None or net
    settings = pushdown.for_capture(pipeline.filter_text, fields, everything, not opts.no_seccomp)
    if opts.verbose:
        if opts.no_seccomp:
            line = "seccomp-bpf: off (--no-seccomp), every syscall is traced"
        elif not opts.command:
            line = "seccomp-bpf: off in attach mode, every syscall stops the traced threads"
        else:
            line = pushdown.describe_plan(settings.plan)
        env.stderr.write(line + "\n")
        env.stderr.flush()
    return settings


def _warner(env: Any) -> Any:
    def warn(text: str) -> None:
        env.stderr.write(text + "\n")
        env.stderr.flush()
    return warn


def run_live(opts: Any, env: Any, out: Any) -> Any:
    """cli.run_live's body: build the pipeline, then trace; returns RunStats with ``status`` set."""
    from sysdig_user.cli import EventPipeline, make_writer

    pipeline = EventPipeline(opts, env, out)
    snaplen = DEFAULT_SNAPLEN
    if opts.snaplen is not None:
        try:
            snaplen = int(opts.snaplen, 0)
        except ValueError:
            raise SduError("invalid snaplen " + opts.snaplen) from None
    if pipeline.chisels is not None and pipeline.chisels.snaplen is not None:
        snaplen = pipeline.chisels.snaplen
    duration = None
    if opts.duration is not None:
        try:
            duration = int(opts.duration, 0)
        except ValueError:
            raise SduError(f"invalid duration {opts.duration}") from None
    writer = make_writer(opts) if opts.write else None
    capture = LiveCapture(pipeline, writer, snaplen, duration)
    from tracer import pipelined

    try:
        if wants_packets(opts):  # (netcap is imported only for packet capture)
            from netcap.stream import open_stream

            capture.net = open_stream(opts, snaplen, env.stderr)  # None without CAP_NET_RAW
        capture.pushdown = pushdown_settings(opts, pipeline, env, capture.net is not None)
        capture.warn = _warner(env)
        capture.colocate = not opts.no_colocate
        capture.pipelined = pipelined.wanted(env, pipeline, capture.net)
        status = capture.run(command=opts.command, pids=opts.pids)
    finally:
        if capture.net is not None:
            capture.net.close()
        if writer is not None:
            writer.close()  # pipelined: nothing, the consumer closed it (CaptureWriter.hand_over)
    stats = pipeline.stats
    stats.status = status
    if capture.net is not None:
        capture.net.report(opts, out, env.stderr)
    place = capture.engine.placement if capture.engine is not None else None
    if place is not None and opts.verbose:  # tracer/placement.py: where the command ran, and until when
        env.stderr.write(f"sdu: the command shared CPU {place.cpu} with sdu until {place.released_reason}\n")
    if capture.builder is not None and capture.builder.errors and opts.verbose:
        env.stderr.write(f"sdu: {capture.builder.errors} decoder errors, last: {capture.builder.last_error}\n")
    fast = capture.engine.fast if capture.engine is not None else None
    if opts.verbose and capture.engine is not None:  # tracer/fastpath.py
        if fast is None:
            env.stderr.write("sdu: compiled fast path: not used\n")
        else:
            stops, _syscalls, declined = fast.counts()
            env.stderr.write(f"sdu: compiled fast path: {stops - declined} of {capture.engine.stats.stops} "
                             "stops\n")
    if opts.verbose:  # sysdig_user/output/fastline.py: what the printing (or writing) process did in C
        what = "compiled default line" if pipeline.formatter is not None else "-w events written unparsed"
        if stats.fast_events is None:
            env.stderr.write(f"sdu: {what}: not used\n")
        else:
            env.stderr.write(f"sdu: {what}: {stats.fast_events} of {stats.events} events\n")
    return stats
