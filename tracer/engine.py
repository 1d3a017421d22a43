"""The ptrace engine: launch or attach, one blocking wait4 loop, low-level records to a sink.

Records (all synchronous, called while the thread is in a ptrace-stop so the sink may read its memory):

    sink.syscall_enter(th, ts, cpu, nr, args)    args: 6 ints
    sink.syscall_exit(th, ts, cpu, nr, ret)      ret: signed return value (-errno on failure)
    sink.clone(parent, child, flags, ts, cpu)    child is a new Thread (flags: native CLONE_* bits; child.nr:
                                                 the clone-family syscall it returns from)
    sink.exec(th, former_tid, ts, cpu)           after a successful execve, before its syscall exit
    sink.exit(th, status, ts, cpu)               wait status (exit code << 8 | signal)
    sink.signal(th, sig, sender, ts, cpu)        signal about to be delivered (sender pid or 0)

Why each choice:
* PTRACE_SEIZE (not ATTACH) so that job control works: group-stops are reported as PTRACE_EVENT_STOP
  and answered with PTRACE_LISTEN, leaving a SIGSTOP'd tracee stopped until SIGCONT; and PTRACE_INTERRUPT
  gives a clean way to stop a running thread for detaching.
* Enter/exit are told apart by PTRACE_GET_SYSCALL_INFO's op, not by toggling a flag, so a missed stop
  (attach mid-syscall, exec) cannot invert the pairing. Kernels < 5.3 fall back to GETREGS + toggling.
* ts is CLOCK_REALTIME ns read at the stop. cpu is the tracer's own CPU (sched_getcpu, one vDSO call):
  the tracee's CPU is /proc/TID/stat field 39, which costs a file open+read+parse per event (measured
  in bench/tracer_bench.py, ~15x a syscall stop's other work). After a wake-up the tracer usually runs
  on the CPU the tracee just stopped on (wake-affine scheduling), and when both are pinned to one CPU
  the value is exact.
* Signals: SIGINT/SIGTERM/SIGHUP only set a flag and interrupt a tracee, so wait4 returns; the loop
  then detaches everyone. The handler never runs ptrace logic in the middle of handling a stop. In launch
  mode they are forwarded to the command (``on_signal``) until it is reaped, detach included. The launch
  child never runs sdu's Python handlers: the forwarded signals stay blocked across the fork, the child
  gives them the dispositions sdu inherited (SIGPIPE/SIGXFSZ the default), and unblocks them once it is
  traced; so a signal forwarded (or sent to the process group) before its execve ends it, through a
  signal-delivery-stop the loop passes on, and the command never starts (sdu exits 128+N, as if the
  command had been killed). A child whose tracer died before letting it go exits without running it.

Seccomp-bpf pushdown (`Engine(sink, seccomp_syscalls=...)`, launch mode only; see tracer/seccomp.py and
tracer/pushdown.py). The launched child installs a filter returning SECCOMP_RET_TRACE for the chosen
syscalls and SECCOMP_RET_ALLOW otherwise, just before its execve. Such a thread is run with PTRACE_CONT,
so other syscalls never stop it; a chosen one stops it at PTRACE_EVENT_SECCOMP, which the kernel
(>= 4.8) reports at syscall entry *instead of* a syscall-enter-stop: the stop is reported as the enter
record (PTRACE_GET_SYSCALL_INFO's seccomp op carries nr and args), the thread is resumed with
PTRACE_SYSCALL to get the exit stop, and then with PTRACE_CONT again (strace's ptrace_restart for
--seccomp-bpf does the same). Any other stop taken between a seccomp stop and its exit (exec, clone
events) also resumes with PTRACE_SYSCALL, so the exit is never missed. Children and threads inherit
the filter (and so the CONT mode); it survives execve. Kernels < 4.8 ordered the seccomp stop before
syscall-enter; they also lack PTRACE_GET_SYSCALL_INFO (5.3), which this mode requires, so they fall back
to full tracing. If the child cannot install the filter (EINVAL: no CONFIG_SECCOMP_FILTER; EACCES), sdu
warns once and traces everything. PTRACE_O_EXITKILL is set with the filter: a tracee left without its
tracer would get ENOSYS from every RET_TRACE syscall, so it must not outlive sdu; for the same reason
detaching (on an error) kills a command that has the filter instead of leaving it running.
Attach mode keeps full syscall stops: a filter can only be installed by the process itself, and
injecting the seccomp() call into a running process would leave its filter behind after detach.
"""
from __future__ import annotations

import errno
import os
import sys
import time
from _collections_abc import Callable, Collection, Sequence  # (collections.abc without collections)

from sysdig_user.rows import Record
from tracer import libc, ptrace
from tracer.decoders.native import CLONE_THREAD, requested_clone_flags
from tracer.errors import ProcessGone, TracerError
from tracer.placement import SYSCALLS as PLACEMENT_SYSCALLS
from tracer.placement import Placement

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    import signal
    from types import FrameType
    from typing import Any, Protocol
else:
    import _signal as signal  # (signal.py only adds enums around it: ~3.4M instructions of a start)
    Protocol = object  # (the protocols are mypy's: plain classes at run time)

_sched_getcpu = libc.sched_getcpu

_GROUP_STOP_SIGS = frozenset({signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU})
_LAUNCH_VERSION = 1  # the tracer/_launch.c interface Engine.launch drives (its LAUNCH_VERSION)
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
_DETACH_ON = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# What sdu's own process inherited for the forwarded signals, read when this module is first imported
# (live.py imports it before it installs any handler): a launched command inherits the same.
_INHERITED_IGNORED = frozenset(sig for sig in _FORWARDED if signal.getsignal(sig) == signal.SIG_IGN)


class Thread:
    """One traced thread. `slot` is the decoders' per-thread scratch, cleared by them at syscall exit."""

    __slots__ = ("args", "call", "exited", "in_syscall", "nr", "pid", "quiet", "seccomp", "slot", "started",
                 "tid")

    def __init__(self, tid: int, pid: int) -> None:
        self.tid = tid
        self.pid = pid
        self.nr = -1
        self.args: tuple[int, ...] = ()
        self.in_syscall = False
        self.quiet = False  # launch child before its execve: its pipe read is sdu's, not CMD's
        self.started = False  # first stop seen (new children stop once before running)
        self.exited = False
        self.seccomp = False  # under sdu's seccomp filter: resumed with PTRACE_CONT outside syscalls
        self.slot: dict[str, object] = {}
        self.call: Any = None  # the sink's reusable per-thread record (EventBuilder's Call)


class Sink(Protocol):
    def syscall_enter(self, th: Thread, ts: int, cpu: int, nr: int, args: tuple[int, ...]) -> None: ...
    def syscall_exit(self, th: Thread, ts: int, cpu: int, nr: int, ret: int) -> None: ...
    def clone(self, parent: Thread, child: Thread, flags: int, ts: int, cpu: int) -> None: ...
    def exec(self, th: Thread, former_tid: int, ts: int, cpu: int) -> None: ...
    def exit(self, th: Thread, status: int, ts: int, cpu: int) -> None: ...
    def signal(self, th: Thread, sig: int, sender: int, ts: int, cpu: int) -> None: ...


class EngineStats(Record):
    _fields = ("stops", "syscalls", "events")
    __slots__ = _fields
    stops: int
    syscalls: int
    events: dict[str, int]

    def __init__(self, stops: int = 0, syscalls: int = 0, events: dict[str, int] | None = None) -> None:
        self.stops = stops
        self.syscalls = syscalls
        self.events = {} if events is None else events


class Engine:
    """Traces process trees; `launch()` or `attach()` then `run()` (returns the exit status for sdu)."""

    def __init__(self, sink: Sink, seccomp_syscalls: Collection[int] | None = None,
                 warn: Callable[[str], None] | None = None, colocate: bool = False) -> None:
        """`seccomp_syscalls`: native numbers that stop a launched command (seccomp-bpf pushdown, see the
        module docstring); None traces every syscall. `warn(text)` reports the one-time fallback
        (default: a line on stderr). `colocate`: run a launched command on the tracer's CPU while it runs
        serially (tracer/placement.py)."""
        self.sink = sink
        self._colocate = colocate
        self.placement: Placement | None = None  # set by launch() when co-location took effect
        self.seccomp_syscalls = frozenset(seccomp_syscalls) if seccomp_syscalls is not None else None
        self._warn = warn if warn is not None else _warn_stderr
        self._seccomp_err = 0  # errno of the child's failed filter install
        self._launch_block: object = None  # what tracer/_launch.c's child reads until its execve
        self.seccomp_active = False  # the launched command runs under the filter
        self.kill_on_detach = False  # --kill-on-exit: detaching ends the launched command (SIGKILL)
        self.threads: dict[int, Thread] = {}
        self.root: int | None = None  # launched child
        self.root_status: int | None = None
        self.stats = EngineStats()
        self._detach_requested = False
        self._leave_loop = False  # the loop returns at its next iteration: a detach, or use_fast()
        self._refast = False  # use_fast() changed the fast path: the loop starts again with it
        self._unclaimed: dict[int, int] = {}  # new child tid -> its first stop status, before its parent's event
        # child tid -> (parent, clone flags, the parent's clone-family nr): taken at the clone event, since
        # the parent may be in another syscall by the child's first stop
        self._pending_children: dict[int, tuple[Thread, int, int]] = {}
        # tid -> signal to deliver: threads whose ptrace-stop the loop has collected and not yet resumed
        # (the sink may raise while they are held; detach_all then detaches them directly).
        self._held: dict[int, int] = {}
        self._use_info = True
        self._old_handlers: dict[int, object] = {}
        self._pid = os.getpid()  # the tracer (on_signal does nothing in a process forked from it)
        # Called by the loop when a signal interrupted its wait4 (no tracee is held then): the live
        # capture runs its timers there (chisel intervals, -M), on the main thread, between stops.
        self.on_wake: Callable[[], None] | None = None
        # Called by the loop (the slow one, not the fast path) when no stop is ready and it is about to
        # block in wait4 (no tracee is held then): the live capture writes out the lines it holds, so
        # an idle command's lines appear at once, as strace's do. None: wait4 blocks straight away.
        self.before_block: Callable[[], None] | None = None
        # The compiled fast path (tracer/fastpath.py), set by a pipelined live capture (before run(), or
        # while it runs through use_fast()): it waits and handles the commonest syscall stops itself,
        # and hands the others to this loop.
        self.fast: Any = None
        # Whole-namespace mode: called when no tracee is left; it waits for (and attaches) new processes
        # and returns False once the capture should end.
        self.on_idle: Callable[[], bool] | None = None

    @property
    def pinned_cpu(self) -> int:
        """The one CPU a co-located launch pins the tracer to (tracer/placement.py), -1 if none."""
        place = self.placement
        return place.cpu if place is not None and place.cpu is not None else -1

    # ---- starting ------------------------------------------------------------------------------

    def launch(self, argv: Sequence[str], env: dict[str, str] | None = None, cwd: str | None = None) -> int:
        """Fork, seize the child, then let it exec argv (in ``cwd``, with ``env`` when given). Returns
        the child's pid.

        The child blocks on a pipe read until it is seized, so its execve is the first thing traced;
        its own pre-exec syscalls are marked quiet and not reported.
        """
        if not argv:
            raise TracerError("no command given")
        path: str | None = argv[0]
        if "/" not in argv[0]:
            import shutil  # (shutil brings bz2, lzma and fnmatch: not worth it at every start)

            path = shutil.which(argv[0], path=(env or os.environ).get("PATH"))
        elif cwd is not None:  # (relative to the command's directory; absolute, since the child chdirs)
            path = os.path.abspath(os.path.join(cwd, argv[0]))
        if cwd is not None and not os.path.isdir(cwd):
            raise TracerError(f"{cwd}: no such directory")
        if path is None or not os.path.exists(path):
            raise TracerError(f"{argv[0]}: command not found")
        if not os.access(path, os.X_OK) or os.path.isdir(path):
            raise TracerError(f"{argv[0]}: permission denied")
        if self._colocate:
            placement = Placement()
            # the watchdog, before the fork (none under the filter: EXITKILL); pinned once the child exists
            if placement.start(watchdog=self.seccomp_syscalls is None):
                self.placement = placement
        program = None
        no_new_privs = False
        if self.seccomp_syscalls is not None:
            stops = self.seccomp_syscalls
            if self.placement is not None:
                stops = stops | PLACEMENT_SYSCALLS
            from tracer import seccomp  # (a launch under the filter only: tracer/pushdown.py's plan)

            program = seccomp.Program(stops)
            no_new_privs = os.geteuid() != 0
        dispositions = _command_dispositions()
        rfd, wfd = os.pipe()
        # The terminating signals stay blocked across the fork: the child must never run sdu's Python
        # handlers (they would swallow a signal meant for the command, see _command_dispositions).
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _FORWARDED)
        spawn = _native_spawn()
        if spawn is None and program is not None:
            program.prepare()  # the Python child's ctypes objects, made before the fork
        try:
            if spawn is not None:  # the same child, cloned in C without running Python (tracer/_launch.c)
                pid, self._launch_block = spawn(
                    os.fsencode(path), [os.fsencode(arg) for arg in argv],
                    None if env is None else [os.fsencode(k) + b"=" + os.fsencode(v) for k, v in env.items()],
                    None if cwd is None else os.fsencode(cwd),
                    [(sig, disposition == signal.SIG_IGN) for sig, disposition in dispositions.items()],
                    [int(sig) for sig in mask], rfd, wfd, None if program is None else program.code,
                    no_new_privs, os.fsencode(argv[0]))
            else:
                pid = os.fork()
        except BaseException:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            raise
        if pid == 0:  # pragma: no cover - child
            try:
                for sig, disposition in dispositions.items():
                    signal.signal(sig, disposition)
                os.close(wfd)
                go = os.read(rfd, 1)
                os.close(rfd)
                if not go:  # the tracer died before it let the child go: the command never starts
                    os._exit(127)
                if cwd is not None:
                    os.chdir(cwd)
                # Traced from here (or the tracer is gone): a pending or later signal ends this child
                # (or is ignored, as the command would), a signal-delivery-stop the tracer passes on.
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
                if go == b"s" and program is not None:
                    program.install(no_new_privs)  # the tracer reads the outcome at the syscall's exit
                if env is None:
                    os.execv(path, list(argv))
                os.execve(path, list(argv), env)
            except OSError as exc:
                os.write(2, f"sdu: {argv[0]}: {exc.strerror}\n".encode())
            os._exit(127)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a signal sent meanwhile is handled now
        if self.placement is not None and not self.placement.pin(pid):
            self.placement = None
        os.close(rfd)
        options = ptrace.SEIZE_OPTIONS
        if program is not None:
            options |= ptrace.PTRACE_O_TRACESECCOMP | ptrace.PTRACE_O_EXITKILL
        try:
            ptrace.seize(pid, options)
        except (OSError, ProcessGone) as exc:
            os.close(wfd)
            os.waitpid(pid, 0)
            self._release_placement("launch failed")
            raise TracerError(f"cannot trace {argv[0]}: {exc}") from exc
        th = Thread(pid, pid)
        th.quiet = True
        th.started = True
        self.threads[pid] = th
        self.root = pid
        # Syscall stops start only once the thread is resumed with PTRACE_SYSCALL: stop it first.
        ptrace.interrupt(pid)
        ptrace.wait(pid, 0)
        go = b"g"
        if program is not None:
            try:
                ptrace.syscall_info(pid)
                go = b"s"
            except ptrace.SyscallInfoUnsupported:
                self._seccomp_err = errno.ENOSYS
            except ProcessGone:
                pass
        ptrace.resume(pid, 0)
        os.write(wfd, go)
        os.close(wfd)
        return pid

    def attach(self, pids: Sequence[int]) -> list[int]:
        """Seize every thread of each pid (and follow their future children). Returns the tids seized.

        Threads created while we walk /proc/PID/task are caught by re-reading the list until no new
        tid shows up (a thread cloned by an already-seized thread is followed by TRACECLONE anyway).
        On a failure everything seized so far is released and a one-line TracerError explains why.
        """
        from tracer import attach as attach_rules  # (attach mode only)

        seized: list[int] = []
        try:
            for pid in pids:
                attach_rules.check_target(pid)
                seen: set[int] = set()
                while True:
                    tids = attach_rules.list_tasks(pid) - seen
                    if not tids:
                        break
                    for tid in sorted(tids):
                        seen.add(tid)
                        if tid in self.threads:
                            continue
                        try:
                            ptrace.seize(tid)
                        except ProcessGone:
                            continue
                        except OSError as exc:
                            raise TracerError(attach_rules.explain(pid, exc.errno or 0)) from exc
                        th = Thread(tid, pid)
                        th.started = True
                        self.threads[tid] = th
                        seized.append(tid)
                        # The interrupt stop is answered with PTRACE_SYSCALL by the loop, which is
                        # what turns syscall stops on for this thread.
                        ptrace.interrupt(tid)
                if not seen:
                    raise TracerError(attach_rules.explain(pid, errno.ESRCH))
        except BaseException:
            self.detach_all()
            raise
        return seized

    def attach_some(self, pids: Sequence[int]) -> tuple[list[int], list[tuple[int, int]]]:
        """Whole-namespace mode (tracer/namespace.py): seize every thread of each pid that may be traced,
        and follow their children, as attach() does; a pid the kernel refuses is left alone and reported
        as (pid, errno), and nothing seized before is released. Returns (pids seized, refusals)."""
        attached: list[int] = []
        refused: list[tuple[int, int]] = []
        for pid in pids:
            try:
                if self._seize_threads(pid):
                    attached.append(pid)
            except ProcessGone:
                continue
            except OSError as exc:
                refused.append((pid, exc.errno or 0))
        return attached, refused

    def _seize_threads(self, pid: int) -> bool:
        """Seize the threads of `pid` (re-reading its task list until no new tid shows up). OSError if
        the kernel refuses its first thread (a later refusal, after one was seized, leaves that thread
        to the one sdu already holds: it cannot differ in what ptrace allows); ProcessGone if it is gone."""
        from tracer import attach as attach_rules  # (attach mode only)

        seen: set[int] = set()
        seized = False
        while True:
            tids = attach_rules.list_tasks(pid) - seen
            if not tids:
                return seized
            for tid in sorted(tids):
                seen.add(tid)
                if tid in self.threads:
                    continue
                try:
                    ptrace.seize(tid)
                except ProcessGone:
                    continue
                except OSError:
                    if not seized:
                        raise
                    continue
                th = Thread(tid, pid)
                th.started = True
                self.threads[tid] = th
                seized = True
                ptrace.interrupt(tid)  # answered with PTRACE_SYSCALL by the loop (see attach())

    def knows(self, pid: int) -> bool:
        """`pid` is one of this engine's tracees (traced, or a new child not yet reported)."""
        return pid in self.threads or pid in self._pending_children or pid in self._unclaimed

    # ---- main loop -----------------------------------------------------------------------------

    def run(self) -> int:
        """Trace until every tracee is gone (or a detach is requested). Returns sdu's exit status.

        Launch mode: the launched command's status (128+N if killed by signal N). Attach mode: 0.
        Any exception from the sink detaches everything first, then propagates.
        """
        self._install_signal_handlers()  # kept until the command is reaped: signals go on being forwarded
        try:
            try:
                self._loop()
            except BaseException:
                self.detach_all()
                raise
            if self._detach_requested:
                self.detach_all()
            self._release_placement("tracing ended")
            if self.root is not None and self.root_status is None:
                # Detached (error or request) while our child still runs: reap it, so no zombie stays.
                _, status = os.waitpid(self.root, 0)
                self.root_status = ptrace.exit_code(status)
        finally:
            self._restore_signal_handlers()
        return self.root_status if self.root_status is not None else 0

    def use_fast(self, fast: Any) -> None:
        """Set the compiled fast path while run() runs (a live capture that forked its consumer late,
        tracer/live.py): the loop takes it up after the stop being handled, before it waits again."""
        if fast is self.fast:
            return
        self.fast = fast
        self._refast = True
        self._leave_loop = True

    def _loop(self) -> None:
        self._leave_loop = self._detach_requested  # (a use_fast() before run() is no reason to leave)
        self._refast = False
        while True:
            fast = self.fast if self._use_info else None
            if fast is not None:
                fast.core.arm()
            try:
                self._loop_stops(fast)
            finally:
                if fast is not None:
                    fast.core.disarm()
                    stops, syscalls, declined = fast.counts()
                    self.stats.stops += stops - declined
                    self.stats.syscalls += syscalls
            if self._detach_requested or not self._refast:
                return
            self._refast = False  # use_fast(): the same loop again, with the new fast path
            self._leave_loop = False

    def _loop_stops(self, fast: Any) -> None:
        """The loop proper: each stop from wait4, or from the fast path (which handled those before it)."""
        threads = self.threads
        wait = ptrace.wait
        nohang = ptrace.WNOHANG
        now = time.time_ns
        getcpu = _sched_getcpu
        sink = self.sink
        info = ptrace.syscall_info
        stats = self.stats
        # The hot path calls ptrace directly (ptrace.syscall_info, resume and cont, inlined): a Python
        # call and a result tuple less per request. syscall_info is called only to raise what a failed
        # request means (the thread is gone, or the kernel lacks the request).
        call_ptrace = ptrace._ptrace_fast
        get_info, info_size, info_buf = ptrace.PTRACE_GET_SYSCALL_INFO, ptrace._INFO_SIZE, ptrace._info_buf
        info_op, info_u64, info_s64 = ptrace._info_op, ptrace._info_u64, ptrace._info_s64
        unpack_args = ptrace._unpack_args
        do_syscall, do_cont = ptrace.PTRACE_SYSCALL, ptrace.PTRACE_CONT
        syscall_stop = ptrace.SYSCALL_STOP_SIG
        seccomp_stop = ptrace.SECCOMP_STOP
        held = self._held
        place = self.placement
        # While co-located the tracer is pinned to one CPU: sched_getcpu could only return it.
        place_cpu = self.pinned_cpu
        use_info = self._use_info
        idle = self.on_idle
        while not self._leave_loop:
            if not threads:
                # no tracee left: done, unless the whole-namespace mode waits for new processes
                if idle is None or not idle():
                    break
                continue
            got = fast.run(threads, place) if fast is not None else None
            if got is None:
                if self.before_block is not None:
                    tid, status, err = wait(-1, nohang)
                    if tid == 0:  # nothing ready: this wait4 would block
                        self.before_block()
                        if self._leave_loop:
                            continue
                        tid, status, err = wait(-1, 0)
                else:
                    tid, status, err = wait(-1, 0)
                if tid >= 0:
                    ts = now()
                    cpu = place_cpu if place is not None and place.active else getcpu()
            else:
                tid, status, err, ts, cpu = got
                if tid == 0:  # an event the fast path added started the batch (status 1) or made it due
                    if status:
                        fast.batch_started(ts)
                    else:
                        fast.batch_due()
                    continue
            if tid < 0:
                if err == errno.EINTR:
                    if self.on_wake is not None:
                        self.on_wake()
                    continue
                if idle is not None and not threads:
                    continue  # ECHILD: nothing left for now (on_idle decides at the loop's top)
                break  # ECHILD: nothing left
            stats.stops += 1
            th = threads.get(tid)
            sig8 = status >> 8
            if (status & 0xFF) == 0x7F and (sig8 == syscall_stop or sig8 == seccomp_stop) and th is not None:
                # Syscall or seccomp stop: the hot path.
                held[tid] = 0
                try:
                    if use_info:
                        if call_ptrace(get_info, tid, info_size, info_buf) == -1:
                            info(tid)  # raises ProcessGone or SyscallInfoUnsupported
                        op = info_op[0]
                        if op == 2:
                            if th.in_syscall:
                                ret = info_s64[3]
                                th.in_syscall = False
                                if not th.quiet:
                                    sink.syscall_exit(th, ts, cpu, th.nr, ret)
                                else:
                                    self._quiet_exit(th, ret)
                                # on_exit has nothing to do at most exits: called only when it has
                                if place is not None and place.active and (
                                        ts >= place.next_sample or th.nr in PLACEMENT_SYSCALLS):
                                    place.on_exit(tid, th, threads, th.nr, ret, ts)
                        elif op == 1 or (op == 3 and not th.in_syscall):
                            # A seccomp stop of a thread already in the syscall (it was resumed with
                            # PTRACE_SYSCALL, so its enter-stop came first) is not a new syscall.
                            th.nr = nr = info_u64[3]
                            th.args = args = unpack_args(info_buf, 32)
                            th.in_syscall = True
                            stats.syscalls += 1
                            if th.quiet:
                                self._wake_at_exec(th, nr)
                            if not th.quiet:
                                sink.syscall_enter(th, ts, cpu, nr, args)
                    else:
                        self._syscall_stop_regs(th, ts, cpu)
                except ptrace.SyscallInfoUnsupported:
                    self._use_info = use_info = False
                    self._syscall_stop_regs(th, ts, cpu)
                except ProcessGone:
                    del held[tid]
                    continue
                # (an error means the thread is gone: its exit is the next thing wait4 reports)
                call_ptrace(do_cont if th.seccomp and not th.in_syscall else do_syscall, tid, 0, 0)
                del held[tid]
                continue
            self._other_stop(tid, th, status, ts, cpu)

    def _syscall_stop_regs(self, th: Thread, ts: int, cpu: int) -> None:
        nr, args, rax = ptrace.regs_syscall(th.tid)
        if not th.in_syscall:
            th.nr, th.args, th.in_syscall = nr, args, True
            self.stats.syscalls += 1
            if th.quiet:
                self._wake_at_exec(th, nr)
            if not th.quiet:
                self.sink.syscall_enter(th, ts, cpu, nr, args)
        else:
            th.in_syscall = False
            if not th.quiet:
                self.sink.syscall_exit(th, ts, cpu, th.nr, rax)

    def _restart(self, th: Thread, sig: int) -> int:
        """Resume a thread after a non-syscall stop: PTRACE_CONT under the filter (unless between a
        seccomp stop and its syscall's exit), else PTRACE_SYSCALL."""
        self._held.pop(th.tid, None)
        if th.seccomp and not th.in_syscall:
            return ptrace.cont(th.tid, sig)
        return ptrace.resume(th.tid, sig)

    def _quiet_exit(self, th: Thread, ret: int) -> None:
        """Exit of a launch child's own pre-exec syscall: notes whether the seccomp filter went in."""
        if self.seccomp_syscalls is None:
            return
        from tracer import seccomp

        if seccomp.is_install_call(th.nr, th.args):
            if ret == 0:
                th.seccomp = True
                self.seccomp_active = True
            else:
                self._seccomp_err = -ret

    def _wake_at_exec(self, th: Thread, nr: int) -> None:
        """The launch child becomes visible at its execve enter (before, it runs sdu's own fork code)."""
        if nr in (59, 322):
            th.quiet = False
            if self.seccomp_syscalls is not None and not th.seccomp:
                err = self._seccomp_err or errno.EINVAL
                self._warn(f"sdu: cannot use seccomp-bpf ({errno.errorcode.get(err, err)}: "
                           f"{os.strerror(err)}); tracing every syscall")

    def _other_stop(self, tid: int, th: Thread | None, status: int, ts: int, cpu: int) -> None:
        if not ptrace.stopped(status):
            self._dead(tid, th, status, ts, cpu)
            return
        sig, event = ptrace.stop_sig(status), ptrace.stop_event(status)
        if th is None:
            pending = self._pending_children.pop(tid, None)
            if pending is None:
                # A new child's first stop arrived before its parent's clone event: hold it stopped.
                self._unclaimed[tid] = status
                return
            self._held[tid] = 0
            th = self._adopt(tid, *pending, ts, cpu)
            self._restart(th, 0)
            return
        self._held[tid] = 0
        if event in (ptrace.PTRACE_EVENT_CLONE, ptrace.PTRACE_EVENT_FORK, ptrace.PTRACE_EVENT_VFORK):
            self._new_child(th, ts, cpu)
            self._restart(th, 0)
        elif event == ptrace.PTRACE_EVENT_EXEC:
            self._exec(th, ts, cpu)
        elif event == ptrace.PTRACE_EVENT_EXIT:
            try:
                code = ptrace.event_msg(tid)
            except ProcessGone:
                code = None
            if code is not None and not th.exited and not th.quiet:
                th.exited = True
                self.sink.exit(th, code, ts, cpu)
            self._restart(th, 0)
        elif event == ptrace.PTRACE_EVENT_STOP:
            if sig in _GROUP_STOP_SIGS:
                del self._held[tid]
                ptrace.listen(tid)  # stay stopped; SIGCONT will produce another EVENT_STOP
            else:
                self._restart(th, 0)  # interrupt stop or a new child's initial stop
        elif event == 0:
            # Signal-delivery-stop: report, then deliver the signal unchanged.
            self._held[tid] = sig  # detached with it if the sink raises
            if not th.quiet:
                try:
                    _, _, sender = ptrace.siginfo(tid)
                except ProcessGone:
                    sender = 0
                self.stats.events["signal"] = self.stats.events.get("signal", 0) + 1
                self.sink.signal(th, sig, sender, ts, cpu)
            self._restart(th, sig)
        else:
            # Includes PTRACE_EVENT_SECCOMP stops that are not the syscall hot path's (a thread the
            # loop does not know yet): resumed like any other stop.
            self._restart(th, 0)

    def _new_child(self, parent: Thread, ts: int, cpu: int) -> None:
        try:
            child_tid = ptrace.event_msg(parent.tid)
        except ProcessGone:
            return
        flags = requested_clone_flags(parent.tid, parent.nr, parent.args)
        if child_tid in self._unclaimed:
            self._unclaimed.pop(child_tid)
            self._held[child_tid] = 0
            child = self._adopt(child_tid, parent, flags, parent.nr, ts, cpu)
            self._restart(child, 0)
        else:
            # Register now so its first stop finds it; the sink hears about it at that first stop.
            self._pending_children[child_tid] = (parent, flags, parent.nr)

    def _adopt(self, tid: int, parent: Thread, flags: int, nr: int, ts: int, cpu: int) -> Thread:
        child = Thread(tid, parent.pid if flags & CLONE_THREAD else tid)
        child.nr = nr  # the clone-family call it returns from (the sink reads it)
        child.started = True
        child.quiet = parent.quiet
        child.seccomp = parent.seccomp  # seccomp filters are inherited by every child and thread
        self.threads[tid] = child
        place = self.placement
        if place is not None and place.active:
            place.add(tid)  # it inherited the shared CPU: the watchdog must know it (tracer/guard.py)
        if not child.quiet:
            self.sink.clone(parent, child, flags, ts, cpu)
        return child

    def _exec(self, th: Thread, ts: int, cpu: int) -> None:
        """PTRACE_EVENT_EXEC: exec succeeded. If a non-leader thread exec'd, it now has the leader's tid.

        The other threads of the group are already gone (the kernel reports no exit for the exec'ing
        thread's old tid), so state keyed by the old tid moves to the leader's tid.
        """
        tid = th.tid
        try:
            former = ptrace.event_msg(tid)
        except ProcessGone:
            former = tid
        if former != tid:
            old = self.threads.pop(former, None)
            if old is not None:
                old.tid = tid
                old.pid = tid
                if not th.exited and not th.quiet:
                    th.exited = True
                    self.sink.exit(th, 0, ts, cpu)
                self.threads[tid] = old
                th = old
        self.sink.exec(th, former, ts, cpu)
        self._restart(th, 0)

    def _release_placement(self, reason: str) -> None:
        if self.placement is not None:
            self.placement.release(list(self.threads), reason)

    def _dead(self, tid: int, th: Thread | None, status: int, ts: int, cpu: int) -> None:
        if th is not None:
            if not th.exited and not th.quiet:
                th.exited = True
                self.sink.exit(th, status, ts, cpu)
            del self.threads[tid]
            place = self.placement
            if place is not None and place.active:
                place.drop(tid)
        if tid == self.root:
            self.root_status = ptrace.exit_code(status)

    # ---- signals and detaching ----------------------------------------------------------------------

    def _install_signal_handlers(self) -> None:
        sigs = _FORWARDED if self.root is not None else _DETACH_ON
        for sig in sigs:
            try:
                self._old_handlers[sig] = signal.signal(sig, self._on_signal)
            except ValueError:  # not the main thread (tests driving the engine from a thread)
                return

    def _restore_signal_handlers(self) -> None:
        for sig, old in self._old_handlers.items():
            signal.signal(sig, old)  # type: ignore[arg-type]
        self._old_handlers.clear()

    def _on_signal(self, sig: int, _frame: FrameType | None) -> None:
        self.on_signal(sig)

    def on_signal(self, sig: int) -> None:
        """What SIGINT/SIGTERM/SIGHUP (SIGQUIT) to sdu mean, from launch()/attach() on: forwarded to a
        launched command that still runs (which, before its execve, ends it: the command never starts),
        a detach request in attach mode. For the live capture's handler, before run() installs its own.
        Ignored in a process forked from the tracer (the consumer, the watchdog) before it set its own."""
        if os.getpid() != self._pid:
            return
        if self.root is not None:
            if self.root_status is None and not _tty_delivered_too(sig):
                try:
                    os.kill(self.root, sig)
                except ProcessLookupError:
                    pass
            return
        self.request_detach()

    @property
    def detaching(self) -> bool:
        """A detach was requested (a signal, the capture's end): the loop is about to let go."""
        return self._detach_requested

    def request_detach(self) -> None:
        """Ask the loop to detach everything at its next wake-up (for embedding code and tests)."""
        self._detach_requested = True
        self._leave_loop = True
        for tid in list(self.threads):
            if ptrace.interrupt(tid) == 0:
                break

    def detach_all(self) -> None:
        """Detach every tracee and leave it running (or stopped, if it was group-stopped).

        PTRACE_DETACH only works on a thread in a ptrace-stop. The threads the loop holds in a stop it
        has collected (the sink raised while handling it) are detached directly; every other thread is
        first interrupted and its stop collected. A pending signal-delivery-stop is detached with its
        signal, so the signal is not lost. Children appearing meanwhile are detached too; threads that
        exit are dropped.
        """
        self._release_placement("sdu stopped tracing")  # a detached command runs on with its own CPUs
        killing = self.seccomp_active or self.kill_on_detach
        if killing:
            # Detached, the command's RET_TRACE syscalls would fail with ENOSYS: end it instead. SIGKILL
            # wakes every thread, stopped or not; the loop below collects each one's exit (or the
            # PTRACE_EVENT_EXIT stop some kernels still report, which is detached), so none is left.
            for pid in ({th.pid for th in self.threads.values()} | set(self._unclaimed)
                        | set(self._pending_children)):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        todo = set(self.threads) | set(self._unclaimed) | set(self._pending_children)
        held = dict(self._held)
        self._held.clear()
        if not killing:
            for tid, sig in held.items():
                ptrace.detach(tid, sig)
                todo.discard(tid)
            for tid in list(self._unclaimed):
                ptrace.detach(tid, 0)
                todo.discard(tid)
            for tid in list(todo):
                if ptrace.interrupt(tid) == errno.ESRCH:
                    todo.discard(tid)  # gone, or not (yet) ours
        self._unclaimed.clear()
        deadline = time.monotonic() + 5.0
        while todo and time.monotonic() < deadline:
            tid, status, err = ptrace.wait(-1, ptrace.WNOHANG)
            if tid == 0 or (tid < 0 and err == errno.EINTR):
                time.sleep(0.001)
                continue
            if tid < 0:
                break
            if not ptrace.stopped(status):
                todo.discard(tid)
                self.threads.pop(tid, None)
                if tid == self.root:
                    self.root_status = ptrace.exit_code(status)
                continue
            sig, event = ptrace.stop_sig(status), ptrace.stop_event(status)
            if event in (ptrace.PTRACE_EVENT_CLONE, ptrace.PTRACE_EVENT_FORK, ptrace.PTRACE_EVENT_VFORK):
                try:
                    todo.add(ptrace.event_msg(tid))
                except ProcessGone:
                    pass
            deliver = sig if event == 0 and sig != ptrace.SYSCALL_STOP_SIG else 0
            if event == ptrace.PTRACE_EVENT_STOP and sig in _GROUP_STOP_SIGS:
                deliver = 0
            ptrace.detach(tid, deliver)
            todo.discard(tid)
            self.threads.pop(tid, None)
        self.threads.clear()
        self._pending_children.clear()


def _native_spawn() -> Any:
    """tracer/_launch.c's spawn (Engine.launch's child without forking the interpreter), or None when
    it is not built or current, or SDU_NO_NATIVE is set: the Python child then."""
    if os.environ.get("SDU_NO_NATIVE"):
        return None
    from sysdig_user.native import extension

    module = extension("tracer._launch", _LAUNCH_VERSION)
    return getattr(module, "spawn", None)


def _command_dispositions() -> dict[int, Any]:
    """The dispositions a launched command starts with, set in the child before its execve.

    sdu's Python handlers must not be what the child runs before its execve: a signal forwarded (or sent
    to the process group) then would run sdu's handler in the child and be lost, while sdu waits for a
    command that never got it. So the forwarded signals get what sdu itself inherited (default, or
    ignored under nohup or `&` in a script), and SIGPIPE and SIGXFSZ, which Python ignores for itself,
    the default, as subprocess restores them (an execve keeps an ignored signal ignored).
    """
    out: dict[int, Any] = {sig: signal.SIG_IGN if sig in _INHERITED_IGNORED else signal.SIG_DFL
                           for sig in _FORWARDED}
    for name in ("SIGPIPE", "SIGXFSZ"):
        sig = getattr(signal, name, None)
        if sig is not None:
            out[sig] = signal.SIG_DFL
    return out


def _warn_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _tty_delivered_too(sig: int) -> bool:
    """True when a SIGINT/SIGQUIT most likely came from our terminal, which signalled the child too.

    The launched command shares our process group; a terminal's ^C or ^\\ reaches every member of the
    foreground group, so forwarding it would deliver it twice. kill(1) on sdu alone is forwarded.
    """
    if sig not in (signal.SIGINT, signal.SIGQUIT):
        return False
    for fd in (0, 1, 2):
        try:
            return os.tcgetpgrp(fd) == os.getpgrp()
        except OSError:
            continue
    return False
