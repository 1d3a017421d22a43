"""Pipelined live capture: the tracer ships events to a consumer process that runs the EventPipeline.

Why. Live, the tracee waits while sdu handles its stop. Single-process, that is ptrace and wait4, the
decoders and the scap encoding, then the EventPipeline (state, filter, formatter, -w, -S): about a third
of the wall time each. The pipeline needs nothing from the stopped tracee, so it runs in a second
process, in parallel: the tracer stops, decodes, encodes and ships bytes, and the consumer builds the
Events, keeps the state and prints. The output is the single-process output, byte for byte: same
lines in the same order, same -w files, same -S/-v lines after the output, same errors and status.

Which runs: the plan's ``pipelined`` strategy (sysdig_user/plan.py): runs without chisels, whose
stdout and stderr are real files, from the main thread, unless SDU_SINGLE_PROCESS=1 (which keeps
tracer/live.py's one process). Chisels stay single-process: their interval ticks fire on SIGALRM in
the tracer and topprocs_cpu reads the engine's threads. Packet capture runs in the consumer: it merges
the packets with the syscall events by timestamp and attributes them through its own Inspector, with
the tracer's note frames for what only a stopped thread can tell (netcap/stream.py).

Processes. The consumer is forked once the run has made a few events (tracer/live.py: until then the
tracer runs the pipeline itself, and a short run never forks it), so it inherits the Inspector as
those events left it, the pipeline and the -w writer with what it has written; stdout and stderr are
flushed first.
It is double-forked (the middle process exits at once) so that it is not a child
of the tracer, whose engine reaps every child with wait4(-1, __WALL). The tracer does not wait for the
middle process (a co-located command is held at the stop that forks the consumer): the engine's
wait4 reaps it (a pid it does not trace), or Link.collect does through its pidfd, and the consumer's
pid is read from the middle process's pipe when first asked for (Link.pid). From then on the tracer never
finishes the pipeline and never writes the capture: EventPipeline.hand_over and CaptureWriter.hand_over
make both no-ops there, the writer's descriptor pointing at /dev/null so that nothing the tracer's copy
holds (the buffered section, a gzip trailer written when it is collected) can reach the file.

Wire. A data pipe carries frames ``cpu (u16 LE) + the event's scap bytes`` (its header holds its
length); a done pipe carries one pickled Result back (the consumer's event count and CPU time, whether
its pipeline ended the capture, the exception it failed with) and then EOF, when the consumer exits.

Batching (LiveCapture._ship, Link.ship). Per event the tracer appends one frame to a bytearray and
writes the batch when it holds BATCH_BYTES, when the event is BATCH_NS after the batch's first, and at
the end. When a batch starts, ITIMER_REAL is armed for its deadline (sharing the timer with -M: the
earliest deadline wins), so that a tracee going idle does not hold events back: the SIGALRM
interrupts the engine's wait4 and Engine.on_wake flushes. An interactive user waits at most BATCH_NS.

Stopping. The consumer ends the capture early when its pipeline says so (-n reached) or fails (EPIPE on
stdout, a -w error, a formatter bug): it finishes the pipeline as LiveCapture.stop would (output
flushed, writer closed, summary printed), writes its Result, sends SIGUSR1 to the tracer and exits. The
tracer serves the signal (or the EPIPE of its next write) like an alarm: a stop detaches as
LiveCapture.stop does (attach mode: the processes run on; launch mode: the command runs on untraced and
sdu returns its status); an error is raised there, from the engine's loop, so that everything happens
as when the pipeline raised in-process. A consumer that died without a Result (killed) is a stop with
a warning. -M and the decoders' error count stay in the tracer, which sees every event.

Memory. The consumer lives as long as the capture and reads the pipe in 1 MiB chunks: it sets glibc's
malloc thresholds first (tracer/heap.py) so that its RSS stays flat instead of growing with heap
fragmentation.

Signals. SIGINT, SIGTERM, SIGHUP (and SIGQUIT) are the tracer's, as in tracer/engine.py; the consumer
ignores them (a terminal's ^C reaches it too) and drains its pipe to EOF, then finishes. If the tracer
dies, the consumer sees EOF and exits the same way.
"""
from __future__ import annotations

import errno
import os
import struct
import sys
import time
from _collections_abc import Callable  # (collections.abc without collections)

from sysdig_user import cache
from sysdig_user.environment import silence
from sysdig_user.event import Event
from sysdig_user.rows import Record
from tracer.errors import ConsumerGone
from tracer.heap import steady_heap

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    import signal
    from types import FrameType
    from typing import Any, NoReturn
else:
    import _signal as signal  # (signal.py only adds enums around it: ~3.4M instructions of a start)

BATCH_BYTES = 32 * 1024  # a few hundred typical events
BATCH_NS = 20_000_000  # the most an event waits in the tracer
PIPE_SIZE = 1 << 20  # the data pipe's capacity, if the system allows it (F_SETPIPE_SZ)
NOTICE_SIGNAL = signal.SIGUSR1  # consumer -> tracer: "my Result is ready, I am exiting"
_F_SETPIPE_SZ = 1031
_READ_SIZE = 1 << 20
DRAIN_BYTES = 64 * 1024  # the compiled line's text is written after each window of this many bytes
_FRAME = struct.Struct("<H16xI")  # cpu, then the event header (ts u64, tid i64) up to its length u32
_FRAME_HEAD = _FRAME.size
_CPU = tuple(struct.pack("<H", cpu) for cpu in range(1024))
STATE_CPU = 0xFFFE  # a state frame (state_frame), not an event (netcap's note frames use 0xFFFF)
STATE_TYPE = 0xFFFE
_STATE_HEAD = struct.Struct("<QqIHI")  # the scap event header: ts, tid, len, type, nparams
_IGNORED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


class Result(Record):
    """What the consumer reports back when it is done."""

    _fields = ("events", "cpu_seconds", "stopped", "error", "fast_events", "suppressed", "closed")
    __slots__ = _fields
    events: int  # events that passed the filter (the pipeline's stats.events)
    cpu_seconds: float  # the consumer process's CPU time
    stopped: bool  # its pipeline ended the capture before the tracer did (-n reached)
    error: BaseException | None  # what it failed with (see failure())
    fast_events: int | None  # events the compiled default line handled (None: not used)
    suppressed: int  # events -U dropped
    closed: bool  # its output's reader was gone (EPIPE): it stopped, and sdu ends with 141

    def __init__(self, events: int, cpu_seconds: float, stopped: bool = False, error: BaseException | None = None,
                 fast_events: int | None = None, suppressed: int = 0, closed: bool = False) -> None:
        self.events = events
        self.cpu_seconds = cpu_seconds
        self.stopped = stopped
        self.error = error
        self.fast_events = fast_events
        self.suppressed = suppressed
        self.closed = closed

    def failure(self) -> BaseException | None:
        """The consumer's exception, to raise in the tracer."""
        err = self.error
        return err.rebuild() if isinstance(err, RelayedError) else err


class Link:
    """The tracer's end: the batch being filled and the two pipes to the consumer."""

    __slots__ = ("_data", "_done", "_middle", "_old_handler", "_pid", "_pid_fd", "buf", "first_ts", "result")

    def __init__(self, data_fd: int, done_fd: int, old_handler: Any, pid_fd: int = -1, middle_fd: int = -1) -> None:
        self._data = data_fd
        self._done = done_fd
        self._old_handler = old_handler
        self.buf = bytearray()
        self.first_ts = 0  # ts of the batch's first event
        self.result: Result | None = None  # set by collect()
        self._pid = 0
        self._pid_fd = pid_fd  # where the middle process writes the consumer's pid (read on demand)
        self._middle = middle_fd  # the middle process's pidfd, -1 once reaped

    @property
    def pid(self) -> int:
        """The consumer process (0 if it could not be forked). Read when first asked for, not at the fork:
        start() returns without waiting for the middle process, so a co-located command held at the stop
        that forks the consumer does not wait for the middle process's fork as well."""
        if self._pid_fd >= 0:
            try:
                got = os.read(self._pid_fd, 4)
            finally:
                os.close(self._pid_fd)
                self._pid_fd = -1
            self._pid = struct.unpack("<i", got)[0] if len(got) == 4 else 0
        return self._pid

    def ship(self, ts: int, cpu: int, raw: bytes, on_batch: Callable[[], None]) -> None:
        """Queue one event; `on_batch()` when it starts a batch (arms the flush timer). Raises ConsumerGone."""
        buf = self.buf
        first = not buf
        if first:
            self.first_ts = ts
        try:
            buf += _CPU[cpu]
        except IndexError:
            buf += struct.pack("<H", cpu)
        buf += raw
        if len(buf) >= BATCH_BYTES or ts - self.first_ts >= BATCH_NS:
            self.flush()
        elif first:
            on_batch()

    def deadline(self) -> int | None:
        """When the current batch must be written (CLOCK_REALTIME ns, the events' clock); None if empty."""
        return self.first_ts + BATCH_NS if self.buf else None

    def flush(self) -> None:
        """Write the batch. Raises ConsumerGone once the consumer has closed its end."""
        buf = self.buf
        if not buf or self._data < 0:
            buf.clear()
            return
        try:
            done = os.write(self._data, buf)
            if done < len(buf):  # a signal interrupted a write larger than the pipe's free space
                with memoryview(buf) as view:
                    while done < len(view):
                        done += os.write(self._data, view[done:])
        except BrokenPipeError:
            raise ConsumerGone from None
        finally:
            buf.clear()

    def close(self) -> None:
        """Write what is left and close the data pipe: the consumer finishes once it has read it all."""
        if self._data < 0:
            return
        try:
            self.flush()
        except ConsumerGone:
            pass
        finally:
            os.close(self._data)
            self._data = -1

    def collect(self) -> Result | None:
        """The consumer's Result (None if it died without one), read up to EOF: it has exited then."""
        if self._middle >= 0:
            self.pid  # noqa: B018 - (the pid pipe closed)
            middle, self._middle = self._middle, -1
            _reap(middle)
        if self._done >= 0:
            chunks = []
            while chunk := os.read(self._done, 65536):
                chunks.append(chunk)
            os.close(self._done)
            self._done = -1
            signal.signal(NOTICE_SIGNAL, self._old_handler)  # no notice can come any more
            data = b"".join(chunks)
            if data:
                self.result = _decode_result(data)
        return self.result


def start(pipeline: Any, writer: Any, on_notice: Callable[[int, FrameType | None], None],
          cpus: frozenset[int] | None = None, net: Any = None) -> Link:
    """Fork the consumer (double fork) and hand it the pipeline and the writer; OSError if it cannot.
    `cpus`: where the consumer runs (None: where the tracer runs now). `net`: a packet stream opened
    but not running (netcap.stream.PacketStream.start(run=False)): the consumer runs its capture
    thread and merges its packets, attributed through the consumer's own, current state."""
    from sysdig_user.output import fastline  # noqa: F401 - imported once, here: the consumer inherits it

    data_r, data_w = os.pipe()
    done_r, done_w = os.pipe()
    pid_r, pid_w = os.pipe()  # the middle process tells the consumer's pid (sdu --all must skip it)
    middle_fd = -1
    try:
        _grow(data_w)
        _flush_all(pipeline)
        old = signal.signal(NOTICE_SIGNAL, on_notice)  # before the fork: a notice may come at any time
        tracer = os.getpid()
        try:
            middle = os.fork()
        except OSError:
            signal.signal(NOTICE_SIGNAL, old)
            raise
        if middle == 0:  # pragma: no cover - runs in the forked processes
            try:
                # Off the tracer's CPU before the second fork (a co-located run forks its consumer while
                # the command runs there): neither the fork nor the consumer queues with the tracing.
                _place_consumer(cpus)
                consumer = os.fork()
                if consumer == 0:
                    os.close(data_w)
                    os.close(done_r)
                    os.close(pid_r)
                    os.close(pid_w)
                    _consumer(pipeline, writer, data_r, done_w, tracer, net)
                os.write(pid_w, struct.pack("<i", consumer))
            finally:
                os._exit(0)
        os.close(pid_w)  # (a middle process that failed to fork: its pid read sees EOF, pid 0)
        pid_w = -1
        middle_fd = _pidfd(middle)
        if middle_fd < 0:  # no pidfd: reaped now, as it could not be told apart later from a reused pid
            os.waitpid(middle, 0)
    except BaseException:
        for fd in (data_r, data_w, done_r, done_w, pid_r):
            os.close(fd)
        raise
    finally:
        if pid_w >= 0:
            os.close(pid_w)
    os.close(data_r)
    os.close(done_w)
    pipeline.hand_over()
    if writer is not None:
        writer.hand_over()
    if net is not None:
        net.hand_over()
    return Link(data_w, done_r, old, pid_r, middle_fd)


def _pidfd(pid: int) -> int:
    """A pidfd for our child `pid` (Linux 5.3), or -1; -1 too when this Python cannot wait on one
    (no os.P_PIDFD)."""
    if not hasattr(os, "P_PIDFD"):
        return -1
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return -1


def _reap(pidfd: int) -> None:
    """Reap the middle process through its pidfd, unless the engine's wait4(-1) did (Engine._dead
    ignores a pid it does not trace); then close the pidfd. A kernel with pidfd_open but no waitid on
    a pidfd (5.3: EINVAL) leaves it a zombie of sdu's own until sdu exits: nothing else waits on it."""
    try:
        os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
    except ChildProcessError:
        pass
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
    finally:
        os.close(pidfd)


def _grow(fd: int) -> None:
    """A bigger data pipe lets the tracer run ahead of a consumer busy with a slow event or a slow stdout."""
    import fcntl

    try:
        fcntl.fcntl(fd, _F_SETPIPE_SZ, PIPE_SIZE)
    except OSError:
        pass  # over /proc/sys/fs/pipe-max-size: the default capacity works, with more hand-offs


def _flush_all(pipeline: Any) -> None:
    """Before the fork: nothing buffered may be inherited by both processes (it would be written twice).
    In the consumer, before it exits (os._exit flushes nothing); a failure here is already reported."""
    for stream in (pipeline.out, pipeline.env.stderr, sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, ValueError, OSError):
            pass


# ---- the consumer process -----------------------------------------------------------------------


def _place_consumer(cpus: frozenset[int] | None) -> None:
    """The middle process's first act: leave the CPU the tracer shares with a co-located command
    (tracer/placement.py, `Placement.other_cpus`), so the state engine and the formatter run beside the
    tracing instead of queueing with it. None keeps the affinity inherited from the tracer."""
    if cpus:
        try:
            os.sched_setaffinity(0, cpus)
        except OSError:
            pass


def _consumer(pipeline: Any, writer: Any, data_fd: int, done_fd: int, tracer: int, net: Any = None) -> NoReturn:
    """The consumer process's whole life: events in until EOF or the pipeline's end, Result out, exit."""
    for sig in _IGNORED:
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(NOTICE_SIGNAL, signal.SIG_DFL)
    try:
        steady_heap()
        result = _consume(pipeline, writer, data_fd, net)
        _flush_all(pipeline)
        _send(done_fd, result)
        if result.stopped or result.error is not None:
            os.kill(tracer, NOTICE_SIGNAL)
        cache.flush()  # (the lines it compiled; os._exit runs no atexit function)
    except BaseException:  # noqa: BLE001, S110 - the tracer sees no Result and stops; it must not hang
        pass
    os._exit(0)


def _consume(pipeline: Any, writer: Any, data_fd: int, net: Any = None) -> Result:
    """Feed the pipeline, then finish it and the writer as LiveCapture.run and TraceSource would (with
    packets: merged by timestamp, the rest after the last event, the counts after the summary)."""
    stopped = closed = False
    error: BaseException | None = None
    try:
        try:
            from sysdig_user.output import fastline

            if net is not None:
                from sysdig_user.sources import drain_merged

                net.run()
                on_event = pipeline.on_event
                stopped = not _feed(data_fd, net.consumer_feed(on_event, pipeline.inspector), None, pipeline)
                if not stopped:
                    drain_merged(on_event, net)
            elif fastline.passthrough(pipeline):
                _feed_blocks(data_fd, fastline.block_writer(pipeline))
            else:
                stopped = not _feed(data_fd, pipeline.on_event, _fast_line(pipeline), pipeline)
        finally:
            try:
                if net is not None:
                    net.close()
                pipeline.finish()
                if net is not None:
                    out = pipeline.spec.output
                    net.report(out.summary, out.verbose, pipeline.out, pipeline.env.stderr)
            finally:
                if writer is not None:
                    writer.close()
    except BrokenPipeError:  # the reader of our output is gone (| head): the capture is over, as with -n
        silence(pipeline.out.stream)
        stopped = closed = True
        _finish_quietly(pipeline, writer, net)
    except Exception as exc:  # noqa: BLE001 - relayed to the tracer, which reports it as it would have
        error = exc
    return Result(pipeline.stats.events, time.process_time(), stopped, error, pipeline.stats.fast_events,
                  pipeline.stats.suppressed, closed)


def _finish_quietly(pipeline: Any, writer: Any, net: Any) -> None:
    """Finish what an EPIPE interrupted (the -w file is closed, the summary goes nowhere)."""
    for step in (pipeline.finish, writer.close if writer is not None else None,
                 net.close if net is not None else None):
        if step is not None:
            try:
                step()
            except OSError:
                pass


def _fast_line(pipeline: Any) -> Callable[[memoryview, int], int] | None:
    """The compiled default line's batch loop (sysdig_user/output/fastline.py) over windows of
    DRAIN_BYTES of a read (up to _READ_SIZE), taking its lines over to the pipeline after each window,
    so that the core never holds the text of more (a frame crossing a window's end starts the next
    one): None where it does not apply."""
    from sysdig_user.output import fastline

    core = fastline.core_for(pipeline)
    if core is None:
        return None

    def run(data: memoryview, pos: int) -> int:
        end = len(data)
        view = data
        need = 0  # the length of a frame that crossed the last window's end
        while True:
            limit = min(end, pos + max(DRAIN_BYTES, need))
            stop = core.run(view[:limit], pos)
            fastline.drain(core, pipeline)
            if limit == end or end - stop < _FRAME_HEAD:
                return stop  # type: ignore[no-any-return]
            need = 2 + _FRAME.unpack_from(data, stop)[1]
            if stop + need <= limit or stop + need > end:
                return stop  # type: ignore[no-any-return]  # (declined, or the next read's to complete)
            pos = stop
    return run


def state_frame(ts: int, procs: list[Any], fds: dict[int, list[Any]]) -> bytes:
    """A frame's event bytes (shipped with cpu STATE_CPU) carrying processes the tracer took up after the
    start (sdu --all's rescan), for the consumer's Inspector: an event header of type STATE_TYPE, which
    no C path handles, then the pickled (procs, fds)."""
    import pickle  # (only sdu --all's rescans make state frames)

    body = pickle.dumps((procs, fds), protocol=pickle.HIGHEST_PROTOCOL)
    return _STATE_HEAD.pack(ts, -1, _STATE_HEAD.size + len(body), STATE_TYPE, 0) + body


def _feed(fd: int, on_event: Callable[[Event], bool], fast: Callable[[memoryview, int], int] | None = None,
          pipeline: Any = None) -> bool:
    """Every event of the data pipe through on_event; False as soon as it returns False, True at EOF.
    ``fast(data, pos)`` handles the frames it can from ``pos`` on and returns where it stopped. State
    frames (state_frame) go to the pipeline's Inspector (session.adopt_state). The pipeline's lines are
    flushed whenever a read drained the pipe (the next read may block: a command that went quiet, waiting
    on its input, shows its last lines now, as the tracer shows them before it waits)."""
    unpack = _FRAME.unpack_from
    out = pipeline.out if pipeline is not None else None
    pipe = _Pipe(fd)
    while got := pipe.read():
        data = pipe.data
        pos, end = 0, len(data)
        while end - pos >= _FRAME_HEAD:
            if fast is not None:
                pos = fast(data, pos)
                if end - pos < _FRAME_HEAD:
                    break
            cpu, size = unpack(data, pos)
            stop = pos + 2 + size
            if stop > end:
                break
            if cpu == STATE_CPU:
                import pickle

                from sysdig_user.session import adopt_state

                adopt_state(pipeline, *pickle.loads(data[pos + 2 + _STATE_HEAD.size:stop]))
            elif not on_event(Event(bytes(data[pos + 2:stop]), cpu, 0)):
                return False
            pos = stop
        pipe.keep(pos)
        if out is not None and out.pending() and (got < _READ_SIZE or not _readable(fd)):
            out.flush()  # (a read of _READ_SIZE may have drained a pipe that held exactly that: PIPE_SIZE)
    return True


def _readable(fd: int) -> bool:
    """The pipe has bytes to read now (or its writer is gone): the next read would not block."""
    import select  # (built in; only after a read of a whole _READ_SIZE)

    return bool(select.select([fd], [], [], 0)[0])


def _feed_blocks(fd: int, write: Callable[[memoryview, int], int]) -> None:
    """Every frame of the data pipe through ``write(data, pos) -> pos`` (fastline.block_writer), to EOF."""
    pipe = _Pipe(fd)
    while pipe.read():
        pipe.keep(write(pipe.data, 0))


class _Pipe:
    """The consumer's reads of the data pipe, into one buffer for the whole run: each read lands after
    what the last one left unconsumed (a frame cut by the read's end, moved to the buffer's start). An
    os.read of _READ_SIZE would allocate a buffer per read and shrink it to what came, which with
    steady_heap's settings maps, remaps and unmaps it every time (~8% of the consumer's CPU time by
    perf on 20,000 open/read/close)."""

    __slots__ = ("_buf", "_fd", "_have", "data")

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buf = bytearray(_READ_SIZE)
        self._have = 0  # bytes kept at the buffer's start (keep)
        self.data = memoryview(self._buf)[:0]  # what the last read() made available

    def read(self) -> int:
        """The next read, appended to what was kept: its byte count, 0 at EOF; then `data` holds both."""
        have, buf = self._have, self._buf
        if len(buf) - have < _READ_SIZE:  # a frame longer than a read: a larger buffer (never resized in place)
            grown = bytearray(have + _READ_SIZE)
            grown[:have] = buf[:have]
            self._buf = buf = grown
        with memoryview(buf) as view:
            got = os.readv(self._fd, (view[have:have + _READ_SIZE],))
        self.data = memoryview(buf)[:have + got]
        return got

    def keep(self, pos: int) -> None:
        """data[pos:] is not consumed: it starts the buffer for the next read."""
        end = len(self.data)
        self._have = end - pos
        if pos and pos < end:
            self._buf[:end - pos] = bytes(self.data[pos:end])  # (a copy: the two may overlap)


def _send(fd: int, result: Result) -> None:
    """The Result: its figures, or with an error, pickled (an error pickle cannot carry is sent as its
    class name and message)."""
    err = result.error
    if err is None:
        data = _encode_result(result)
    else:
        data = _pickled_failure(result)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


# A Result without an error, the end of nearly every run, goes as its figures (a leading zero byte,
# where a pickle starts with its 0x80 protocol byte): the two processes import pickle only for an error.
_RESULT = struct.Struct("<xqd?qq?")


def _encode_result(result: Result) -> bytes:
    fast = -1 if result.fast_events is None else result.fast_events
    return _RESULT.pack(result.events, result.cpu_seconds, result.stopped, fast, result.suppressed, result.closed)


def _decode_result(data: bytes) -> Result:
    if data[0] == 0 and len(data) == _RESULT.size:
        events, cpu_seconds, stopped, fast, suppressed, closed = _RESULT.unpack(data)
        return Result(events, cpu_seconds, stopped, None, None if fast < 0 else fast, suppressed, closed)
    import pickle

    result = pickle.loads(data)
    assert isinstance(result, Result)
    return result


def _pickled_failure(result: Result) -> bytes:
    import pickle

    err = result.error
    if err is not None:
        note = getattr(err, "add_note", None)
        if note is not None:  # shown with SDU_DEBUG=1, where the tracer re-raises it with a traceback
            import traceback  # only on an error: not worth its import on every run

            note("raised in sdu's consumer process:\n" + "".join(traceback.format_exception(err)))
        try:
            pickle.loads(pickle.dumps(err))
        except Exception:  # noqa: BLE001 - any failure: send what the user would have seen
            result.error = RelayedError(type(err).__name__, str(err))
    return pickle.dumps(result)


class RelayedError(Exception):
    """A consumer error that does not pickle: rebuilt in the tracer (``rebuild``) under its own class name,
    so sdu's "internal error: NAME: MESSAGE" line reads as it would have."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(name, message)
        self.name = name
        self.message = message

    def rebuild(self) -> Exception:
        return type(self.name, (Exception,), {})(self.message)
