"""The Session: one capture, from a CaptureSpec to its output, whatever the source.

    session = Session(spec, env)             # filter compiled, chisels loaded, -w file created
    stats = session.run(ScapSource(paths))   # or tracer.live.TraceSource(spec.trace, ...)

The Session owns the EventPipeline (Inspector, filter applied where sinsp applies it, formatter,
summary, chisels), the -w writer and the plan (sysdig_user/plan.py). A source feeds it (see
sysdig_user/sources.py); a live source seeds the state and the -w section with its /proc snapshot
(``seed_state``). The command line (sysdig_user/cli.py) and the Python API are two faces of it:
neither does anything to an event that the Session does not.
"""
from __future__ import annotations

import sys
from _collections_abc import Iterable, Mapping  # (collections.abc without collections)

from sysdig_user.environment import Environment
from sysdig_user.errors import SduError
from sysdig_user.output.lines import Output
from sysdig_user.pipeline import EventPipeline, RunStats
from sysdig_user.plan import Need, Plan
from sysdig_user.spec import CaptureSpec

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)

if TYPE_CHECKING:
    from typing import Any, BinaryIO

    from sysdig_user.scap.cycle import CaptureWriter
    from sysdig_user.scap.records import FdEntry, MachineInfo, ProcEntry
    from sysdig_user.sources import EventSource


def run_facts(env: Environment) -> Need:
    """What this process and environment allow, as plan needs (sysdig_user/plan.py)."""
    facts = Need.NONE
    environ = env.environ
    if environ.get("SDU_NO_NATIVE") == "1":
        facts |= Need.NO_NATIVE
    if (environ.get("SDU_SINGLE_PROCESS") == "1" or not _on_main_thread()
            or not (_has_fd(env.stdout) and _has_fd(env.stderr))):
        facts |= Need.ONE_PROCESS
    return facts


def _on_main_thread() -> bool:
    """Whether this is the main thread. Without threading imported no Thread was ever started, so it
    is (threading is not imported for the question: the command line never needs it)."""
    threading = sys.modules.get("threading")
    return threading is None or threading.current_thread() is threading.main_thread()


def _has_fd(stream: Any) -> bool:
    """A stream a forked process can write to as this one would: an OS file (not an in-memory buffer)."""
    try:
        stream.fileno()
    except (AttributeError, ValueError, OSError):
        return False
    return True


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class Session:
    """One capture. Build it (errors in the spec's filter, chisels or -w path are raised here, before
    any source runs), then ``run`` it on a source, once."""

    def __init__(self, spec: CaptureSpec, env: Environment | None = None, out: Output | None = None) -> None:
        self.spec = spec
        from sysdig_user.state.fds import PortNames

        PortNames.on = spec.resolve_ports  # -R, for this run (one switch per process)
        from sysdig_user.state.parsers_process import LargeEnvironment

        LargeEnvironment.on = spec.large_environment and spec.live
        env = env if env is not None else Environment.default()
        self._own_file: BinaryIO | None = None
        if spec.output.to is not None:  # -o FILE: everything this Session prints goes there
            try:
                self._own_file = open(spec.output.to, "wb")  # noqa: SIM115 - closed by run()/close()
            except OSError as exc:
                raise SduError(f"can't open file {spec.output.to}: {exc.strerror}") from None
            _keep_from_command(spec.output.to)
            env = Environment(self._own_file, env.stderr, env.environ)
            out = None
        self.env = env
        self.out = out if out is not None else Output(env.stdout, spec.output.unbuffered)
        if spec.live and not self.out.unbuffered and _isatty(env.stdout):
            self.out.unbuffered = True  # a terminal sees each event as it happens
        try:
            self.pipeline = EventPipeline(spec, env, self.out, spec.source_name, run_facts(env))
        except BaseException:
            self.close()
            raise
        self.writer: CaptureWriter | None = None
        if spec.write is not None:
            from sysdig_user.scap.cycle import make_writer

            self.writer = make_writer(spec.write)

    @property
    def plan(self) -> Plan:
        return self.pipeline.plan

    def replan(self, plan: Plan) -> None:
        """What the source found it can do (packets asked for, but no CAP_NET_RAW)."""
        self.pipeline.plan = plan

    def close(self) -> None:
        """Close the -o file, if this Session opened one (run() does it; idempotent)."""
        if self._own_file is not None:
            try:
                self.out.flush()
            finally:
                self._own_file.close()
                self._own_file = None

    def run(self, source: EventSource) -> RunStats:
        """Run the source to its end (or the capture's: -n, -M, a chisel); the writer is closed and the
        pipeline finished whatever happens. Returns the figures, ``status`` the source's exit status."""
        try:
            status = source.run(self)
        finally:
            try:
                self.pipeline.finish()
            finally:
                try:
                    if self.writer is not None:
                        self.writer.close()  # (handed over to the pipelined consumer: nothing here)
                finally:
                    self.close()
        stats = self.pipeline.stats
        stats.status = status
        return stats


def adopt_state(pipeline: EventPipeline, procs: Iterable[ProcEntry], fds: Mapping[int, list[FdEntry]]) -> None:
    """Processes a live source took up after the start (``sdu --all``'s rescan: processes that no traced
    process forked), fed to the Inspector as the starting state was; the -w file is not told (a kernel
    capture's file knows such a process from its clone event, which ptrace never saw)."""
    from sysdig_user.scap.records import FdList, ProcList

    inspector = pipeline.inspector
    procs = list(procs)
    inspector.feed_records(ProcList(procs))
    for p in procs:
        inspector.feed_records(FdList(p.tid, fds.get(p.tid, [])))


def _keep_from_command(path: str) -> None:
    """``-o /dev/fd/N`` (the README's way to send events down a pipe of their own, ``3>&1``): now that
    sdu holds its own copy, fd N is closed on exec, so a launched command does not inherit the event
    stream (its reader then sees the end when sdu ends, not when the command's last child does)."""
    import fcntl
    import re

    m = re.fullmatch(r"/(?:dev/fd|proc/self/fd)/(\d+)", path)
    if m is None or int(m.group(1)) <= 2:
        return
    fd = int(m.group(1))
    try:
        fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.fcntl(fd, fcntl.F_GETFD) | fcntl.FD_CLOEXEC)
    except OSError:
        pass


def seed_state(pipeline: EventPipeline, writer: CaptureWriter | None, machine: MachineInfo,
               procs: Iterable[ProcEntry], fds: Mapping[int, list[FdEntry]]) -> None:
    """A live source's starting state: the machine, the system's users, groups and interfaces, the traced
    processes (``procs``, ancestors first) and their fds, fed to the pipeline's Inspector; with -w the
    file's first section holds the same, and a rotation's new file the state at that moment."""
    from sysdig_user.scap.records import FdList, ProcList
    from sysdig_user.state.section import state_section

    inspector = pipeline.inspector
    st = inspector.state
    st.machine = machine
    if not pipeline.spec.exclude_users:  # -E: no user or group table, here or in the -w file
        st.users.load_system()
    st.interfaces.load_system()
    procs = list(procs)
    if pipeline.suppressor is not None:  # -U: the running processes, as libscap checks its /proc scan
        pipeline.suppressor.seed((p.tid, p.ptid, p.comm) for p in procs)
    inspector.feed_records(ProcList(procs))
    for p in procs:
        inspector.feed_records(FdList(p.tid, fds.get(p.tid, [])))
    if writer is not None:
        writer.start(pipeline.section({
            "machine": machine, "interfaces": [*st.interfaces.ipv4, *st.interfaces.ipv6],
            "users": list(st.users.users.values()), "groups": list(st.users.groups.values()),
            "procs": procs, "fds": fds}))
        writer.section_source = lambda: state_section(inspector)
        pipeline.writer = writer
