"""sdu from Python: trace a command, read a capture, and ask sysdig's questions of its events.

    run = sysdig_user.trace(["python3", "-c", "open('/etc/hosts').read()"])
    assert run.returncode == 0
    opened = [ev["fd.name"] for ev in run.filter("evt.type=openat and evt.dir=<")]
    for ev in sysdig_user.read("capture.scap", "proc.name=curl"):
        print(ev.num, ev.type, ev["fd.name"])

The API is a face of the same engine as the command line (sysdig_user/session.py), never a second
one: a traced run is recorded as a scap file (the CLI's ``-w``, framed in C without parsing), and
every question is answered by reading that file through a Session, as ``sdu -r FILE FILTER -p ...``
would. So a field's value is the text the CLI prints for it, computed with the state as it was at
that event (``None`` where sysdig prints ``<NA>``), whenever it is asked: the first time a field is
asked of any event of a run, sdu reads the run once and keeps that field's column for every event.

A run's events are those its filter passes, in order; ``Run.filter(text)`` asks another filter of
the same recording (the events it passes, with that filter's state, as the CLI would show them).
Errors are ``FilterError``, ``FieldError``, ``CaptureError`` and ``TraceError``, whose ``str()`` is
the line the CLI prints.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import weakref
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, overload

from sysdig_user.environment import Environment
from sysdig_user.errors import FieldError, FilterError, SduError, TraceError
from sysdig_user.event import Event as _Event
from sysdig_user.output.lines import Output
from sysdig_user.scap.blocks import CaptureError
from sysdig_user.spec import CaptureSpec, OutputSpec, PacketSpec, TraceSpec, WriteSpec

if TYPE_CHECKING:
    from typing_extensions import Self

NA = "<NA>"
_ARGS, _LINE, _JSON = "\x00args", "\x00line", "\x00json"  # column keys that are not fields


class _View:
    """One filter's reading of a capture: the events it passes (numbers and types, in order) and the
    columns asked so far (field -> each event's text)."""

    def __init__(self, path: str, flt: str) -> None:
        self.path = path
        self.filter = flt
        self.nums = array("q")
        self.codes = array("H")
        self.columns: dict[str, list[Any]] = {}
        nums, codes = self.nums, self.codes

        def note(evt: _Event) -> None:
            nums.append(evt.num)
            codes.append(evt.type)
        self.error = self._read(lambda pipeline: note)

    def column(self, key: str) -> list[Any]:
        found = self.columns.get(key)
        if found is None:
            self.fill([key])
            found = self.columns[key]
        return found

    def fill(self, keys: Sequence[str]) -> None:
        """The columns of ``keys`` not read yet, in one read of the capture."""
        missing = list(dict.fromkeys(k for k in keys if k not in self.columns))
        if not missing:
            return
        lists: list[list[Any]] = [[] for _ in missing]

        def make(pipeline: Any) -> Callable[[_Event], None]:
            takers = [_extractor(k, pipeline, col.append) for k, col in zip(missing, lists)]
            if len(takers) == 1:
                return takers[0]

            def all_of(evt: _Event) -> None:
                for take in takers:
                    take(evt)
            return all_of
        self._read(make)
        for key, col in zip(missing, lists):
            if len(col) != len(self.nums):  # (the same file read the same way: cannot happen)
                raise SduError(f"sdu: reading {self.path} again gave {len(col)} events, not {len(self.nums)}")
            self.columns[key] = col

    def _read(self, make: Callable[[Any], Callable[[_Event], None]]) -> SduError | None:
        """Read the file through a Session with this view's filter; ``make(pipeline)`` gives the function
        called with each event the CLI would print, at the moment it would print it. Returns the error
        that ended a damaged file (the events before it were read), raises any other."""
        from sysdig_user.session import Session
        from sysdig_user.sources import ScapSource

        spec = CaptureSpec(read=[self.path], filter=self.filter, output=OutputSpec(format="*%evt.num"))
        env = Environment(io.BytesIO(), io.StringIO(), {})
        session = Session(spec, env, Output(env.stdout))
        session.pipeline.format_line = make(session.pipeline)  # (returns None: nothing is printed)
        session.pipeline.native_format = None  # (so every event reaches it: no compiled -p line)
        try:
            session.run(ScapSource([self.path]))
        except SduError as exc:
            if isinstance(exc, CaptureError):
                return exc
            raise
        return None


def _extractor(key: str, pipeline: Any, out: Callable[[Any], None]) -> Callable[[_Event], None]:
    """The function that appends ``key``'s value for each event: a field's text as ``-p '*%FIELD'``
    prints it (None for <NA>), the params' texts, sysdig's default line, or the ``-j`` object."""
    from sysdig_user.output.formatter import Formatter
    from sysdig_user.output.options import DEFAULT_FORMAT
    from sysdig_user.pipeline import output_options

    opts = pipeline.output_options
    if key == _ARGS:
        from sysdig_user.output.render import param_display

        render = opts.render

        def args(evt: _Event) -> None:
            info = evt.info
            names = [p.name for p in info.params] if info is not None else []
            out({names[i] if i < len(names) else str(i): param_display(evt, i, render)
                 for i in range(evt.param_count)})
        return args
    if key == _JSON:
        jopts = output_options(OutputSpec(json=True))
        jopts.render.lookup_thread = opts.render.lookup_thread
        jopts.time = opts.time
        fmt = Formatter(DEFAULT_FORMAT, None, jopts).format
        return lambda evt: out(fmt(evt))
    text = Formatter(DEFAULT_FORMAT if key == _LINE else "*%" + key, None, opts).line_function

    def field(evt: _Event) -> None:
        value = text(evt)
        out(None if value == NA else value)
    return field


class Event:
    """One event of a run or capture, as the CLI shows it.

    ``ev["fd.name"]``: any field sdu knows, by sysdig's name (``evt.arg.name``, ``proc.aname[2]`` too),
    as the text the CLI prints, ``None`` where it prints ``<NA>``; ``ev.num``, ``ev.type``,
    ``ev.dir`` (``>`` enter, ``<`` exit); ``ev.args``: the params' texts by name; ``str(ev)``:
    sysdig's default line; ``ev.to_dict()``: the ``-j`` object.
    """

    __slots__ = ("_i", "_view")

    def __init__(self, view: _View, i: int) -> None:
        self._view = view
        self._i = i

    @property
    def num(self) -> int:
        return int(self._view.nums[self._i])

    @property
    def type(self) -> str:
        """``evt.type``: the syscall's name (a generic event's too), or the event's."""
        return str(self._view.column("evt.type")[self._i])

    @property
    def dir(self) -> str:
        from sysdig_user.event_table import event_info

        info = event_info(self._view.codes[self._i])
        return info.dir if info is not None else ">"

    @property
    def args(self) -> dict[str, str]:
        return dict(self._view.column(_ARGS)[self._i])

    def __getitem__(self, field: str) -> str | None:
        if not isinstance(field, str) or not field:
            raise KeyError(field)
        value: str | None = self._view.column(field)[self._i]
        return value

    def get(self, field: str, default: Any = None) -> Any:
        value = self[field]
        return default if value is None else value

    def to_dict(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self._view.column(_JSON)[self._i])
        return loaded

    def __str__(self) -> str:
        return str(self._view.column(_LINE)[self._i])

    def __repr__(self) -> str:
        return f"<sysdig_user.Event {self.num} {self.dir} {self.type}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and other._view is self._view and other._i == self._i

    def __hash__(self) -> int:
        return hash((id(self._view), self._i))


class Events(Sequence[Event]):
    """The events one filter passes, in order (a sequence: ``len``, indexing, slicing, iteration)."""

    def __init__(self, view: _View) -> None:
        self._view = view

    def __len__(self) -> int:
        return len(self._view.nums)

    @overload
    def __getitem__(self, i: int) -> Event: ...

    @overload
    def __getitem__(self, i: slice) -> list[Event]: ...

    def __getitem__(self, i: int | slice) -> Event | list[Event]:
        if isinstance(i, slice):
            return [Event(self._view, k) for k in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("event index out of range")
        return Event(self._view, i)

    def __iter__(self) -> Iterator[Event]:
        view = self._view
        return (Event(view, k) for k in range(len(view.nums)))

    def values(self, field: str) -> list[str | None]:
        """``field`` of every event, in order (one read of the capture for all of them)."""
        return list(self._view.column(field))

    def table(self, *fields: str) -> list[tuple[str | None, ...]]:
        """A row of the ``fields`` per event, in order: what ``sdu -p`` prints, in one read for all."""
        view = self._view
        view.fill(fields)
        return list(zip(*(view.columns[f] for f in fields))) if fields else [() for _ in range(len(self))]


class Capture:
    """A scap capture file read as ``sdu -r PATH FILTER`` reads it (see ``read``)."""

    def __init__(self, path: str | os.PathLike[str], filter: str | None = None) -> None:
        self.path = os.fspath(path)
        self._filter = filter or ""
        self._views: dict[str, _View] = {}

    @property
    def _base(self) -> _View:
        """The capture's own filter's view, read when first needed."""
        return self._view(self._filter)

    @property
    def error(self) -> SduError | None:
        """What ended a damaged or truncated file (the events before it were read), else None."""
        return self._base.error

    def _view(self, flt: str) -> _View:
        view = self._views.get(flt)
        if view is None:
            view = self._views[flt] = _View(self.path, flt)
        return view

    @property
    def events(self) -> Events:
        """The events the filter passes (every event sysdig would print without one)."""
        return Events(self._base)

    def __len__(self) -> int:
        return len(self._base.nums)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def filter(self, text: str) -> list[Event]:
        """The events ``text`` passes (the capture's own filter is not applied), with the values the CLI
        prints for that filter (sysdig's state depends on the filter: an event it drops is not parsed)."""
        return list(Events(self._view(text)))

    def write(self, path: str | os.PathLike[str]) -> None:
        """Copy the capture to ``path``: a scap file that sysdig 0.29.3 and ``sdu -r`` read."""
        shutil.copyfile(self.path, os.fspath(path))

    # ---- the common questions (each a sysdig filter over the capture, within its own filter) ----------

    def _within(self, text: str) -> list[Event]:
        return self.filter(_with(self._filter, text))

    def files_opened(self) -> list[tuple[str, str]]:
        """(fd.name, the open flags as sysdig prints them, e.g. ``O_RDONLY|O_CLOEXEC``) of every file
        opened successfully, in order."""
        rows = Events(self._view(_with(self._filter, _OPENED))).table("fd.name", "evt.arg.flags")
        return [(name or "", flags or "") for name, flags in rows]  # (both columns in one read)

    def connections(self) -> list[str]:
        """The tuple (``fd.name``, e.g. ``127.0.0.1:40000->127.0.0.1:80``) of every connect that
        succeeded or is in progress (a non-blocking socket's EINPROGRESS), in order."""
        return [v or "" for v in Events(self._view(_with(self._filter, _CONNECTED))).values("fd.name")]

    def processes_executed(self) -> list[str]:
        """The command line (``proc.cmdline``) of every successful execve, in order."""
        return [v or "" for v in Events(self._view(_with(self._filter, _EXECUTED))).values("proc.cmdline")]

    def syscalls(self) -> Counter[str]:
        """How many times each syscall was called (its enter events, by ``evt.type``)."""
        return Counter(t for t in Events(self._view(_with(self._filter, "evt.dir=>"))).values("evt.type")
                       if t is not None and t not in _NOT_SYSCALLS)

    def assert_any(self, text: str) -> list[Event]:
        """The events ``text`` passes; AssertionError if there is none."""
        found = self._within(text)
        if not found:
            raise AssertionError(f"no event matches {text!r} (of {len(self)} events)")
        return found

    def assert_no(self, text: str, show: int = 20) -> None:
        """AssertionError, showing the offending events as sysdig lines, if ``text`` passes any event."""
        found = self._within(text)
        if found:
            lines = "\n".join(str(ev) for ev in found[:show])
            more = f"\n... and {len(found) - show} more" if len(found) > show else ""
            raise AssertionError(f"{len(found)} event(s) match {text!r}:\n{lines}{more}")


_OPENED = "evt.type in (open, openat, openat2, creat) and evt.dir=< and evt.rawres>=0"
_CONNECTED = "evt.type=connect and evt.dir=< and (evt.rawres=0 or evt.rawres=-115)"
_EXECUTED = "evt.type in (execve, execveat) and evt.dir=< and evt.rawres=0"
_NOT_SYSCALLS = frozenset({"procexit", "signaldeliver", "switch", "packet", "procinfo", "container",
                           "notification", "drop", "sysdigevent", "infra", "page_fault", "cpu_hotplug"})


def _with(flt: str, text: str) -> str:
    return f"({flt}) and ({text})" if flt else text


class Run(Capture):
    """A traced command (``trace``) or attached processes (``attach``): the recording, its events and
    ``returncode`` (the command's exit status, 128+N if signal N killed it; 0 when attached).
    The recording lives in a temporary directory until ``close()`` (or the Run is collected)."""

    def __init__(self, path: str, filter: str | None, returncode: int, tmpdir: str) -> None:
        super().__init__(path, filter)
        self.returncode = returncode
        self._cleanup = weakref.finalize(self, shutil.rmtree, tmpdir, True)

    def close(self) -> None:
        """Delete the recording (the Run's events can no longer be asked anything new)."""
        self._cleanup()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read(path: str | os.PathLike[str], filter: str | None = None) -> Iterator[Event]:
    """The events of a scap file that ``filter`` passes, as ``sdu -r PATH FILTER`` prints them. A damaged
    or truncated file yields what was readable, then raises its CaptureError."""
    capture = Capture(path, filter)
    yield from capture.events
    if capture.error is not None:
        raise capture.error


class StreamedEvent:
    """An event of a live ``stream``: the fields asked for (``fields=``), taken as the event happened,
    plus ``num``, ``type``, ``dir`` and ``str()`` (sysdig's default line)."""

    __slots__ = ("_line", "_values")

    def __init__(self, values: dict[str, str | None], line: str) -> None:
        self._values = values
        self._line = line

    @property
    def num(self) -> int:
        return int(self._values["evt.num"] or 0)

    @property
    def type(self) -> str:
        return self._values["evt.type"] or ""

    @property
    def dir(self) -> str:
        return self._values["evt.dir"] or ""

    def __getitem__(self, field: str) -> str | None:
        try:
            return self._values[field]
        except KeyError:
            raise KeyError(f"{field} was not asked for: stream(..., fields=[{field!r}, ...])") from None

    def __str__(self) -> str:
        return self._line

    def __repr__(self) -> str:
        return f"<sysdig_user.StreamedEvent {self.num} {self.dir} {self.type}>"


class Stream:
    """The events of a live capture as they happen (``stream``): iterate; ``returncode`` once ended."""

    def __init__(self, proc: subprocess.Popen[bytes], reader: IO[bytes], keys: list[str]) -> None:
        self._proc = proc
        self._reader = reader
        self._keys = keys
        self.returncode: int | None = None

    def __iter__(self) -> Iterator[StreamedEvent]:
        keys, n = self._keys, len(self._keys)
        for raw in self._reader:
            parts = raw.decode("utf-8", "surrogateescape").rstrip("\n").split(_SEP, n)
            if len(parts) <= n:
                continue
            values = {k: (None if v == NA else v) for k, v in zip(keys, parts)}
            yield StreamedEvent(values, parts[n])
        self._end(interrupt=False)

    def _end(self, interrupt: bool) -> None:
        proc = self._proc
        if proc.poll() is None and interrupt:
            proc.send_signal(signal.SIGINT)  # sdu detaches (attach) or forwards it to the command
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self._reader.close()
        err = proc.stderr.read().decode("utf-8", "surrogateescape") if proc.stderr is not None else ""
        if proc.stderr is not None:
            proc.stderr.close()
        self.returncode = proc.returncode
        if proc.returncode != 0 and err.strip() and not interrupt:
            raise _error_from_line(err.strip().splitlines()[-1])


_SEP = "\x1f"


@contextlib.contextmanager
def stream(argv: Sequence[str] | None = None, filter: str | None = None, *, pids: Sequence[int] = (),
           fields: Sequence[str] = (), snaplen: int | None = None) -> Iterator[Stream]:
    """Events as they happen, from a launched command (``argv``) or running processes (``pids``):

        with sysdig_user.stream(["./server"], "evt.type=accept", fields=["fd.name"]) as events:
            for ev in events:
                print(ev.num, ev["fd.name"])
                break                      # leaving early: attached processes are detached and run
                                           # on; a launched command gets SIGINT, as from Ctrl-C

    The capture runs in an sdu process (the command line, its one-line errors raised as this
    module's exceptions); each event carries the ``fields`` asked for, taken when it happened, and
    sysdig's default line. The launched command's own output goes to this process's stdout/stderr."""
    if bool(argv) == bool(pids):
        raise TraceError("give either a command or pids")
    _check_filter(filter)
    keys = ["evt.num", "evt.type", "evt.dir", *fields]
    from sysdig_user.output.formatter import Formatter
    from sysdig_user.output.options import DEFAULT_FORMAT

    for key in fields:
        Formatter("*%" + key)  # FieldError now, not from the sdu process
    fmt = "*" + "".join(f"%{k}{_SEP}" for k in keys) + DEFAULT_FORMAT.lstrip("*")
    read_fd, write_fd = os.pipe()
    cmd = [sys.executable, "-m", "sysdig_user", "--unbuffered", "-o", f"/dev/fd/{write_fd}", "-p", fmt]
    if snaplen is not None:
        cmd += ["-s", str(snaplen)]
    if filter:
        cmd.append(filter)
    cmd += ["--pid", ",".join(str(p) for p in pids)] if pids else ["--", *[os.fspath(a) for a in argv or ()]]
    proc = subprocess.Popen(cmd, pass_fds=(write_fd,), stderr=subprocess.PIPE)
    os.close(write_fd)
    events = Stream(proc, os.fdopen(read_fd, "rb"), keys)
    try:
        yield events
    finally:
        if events.returncode is None:
            events._end(interrupt=True)


def _error_from_line(line: str) -> SduError:
    """The sdu process's one error line as the exception the API raises for it."""
    if "filter" in line:
        return FilterError(line)
    if "field" in line or "formatting" in line:
        return FieldError(line)
    return TraceError(line)


def _check_filter(text: str | None) -> None:
    if text:
        from sysdig_user.pipeline import compile_predicate

        compile_predicate(text)  # FilterError / FieldError before anything runs


def _record(spec_trace: TraceSpec, filter: str | None, snaplen: int | None, duration: float | None,
            packets: PacketSpec | None) -> Run:
    from sysdig_user.session import Session
    from tracer.live import TraceSource

    _check_filter(filter)
    tmpdir = tempfile.mkdtemp(prefix="sdu-run-")
    path = os.path.join(tmpdir, "run.scap")
    try:
        spec = CaptureSpec(trace=spec_trace, packets=packets, write=WriteSpec(path), snaplen=snaplen,
                           duration_s=max(1, round(duration)) if duration is not None else None,
                           output=OutputSpec(quiet=True))
        with open(os.devnull, "wb") as devnull:  # -w prints nothing; warnings go to stderr
            session = Session(spec, Environment(devnull, sys.stderr, dict(os.environ)))
            stats = session.run(TraceSource(spec_trace, packets))
        return Run(path, filter, stats.status, tmpdir)
    except BaseException:
        shutil.rmtree(tmpdir, True)
        raise


def trace(argv: Sequence[str], filter: str | None = None, *, cwd: str | os.PathLike[str] | None = None,
          env: Mapping[str, str] | None = None, snaplen: int | None = None, iface: str | None = None,
          net: bool = False, net_filter: str = "", no_seccomp: bool = False) -> Run:
    """Run ``argv`` under the tracer, whole process tree, to its end; the Run's events are those
    ``filter`` passes. Every syscall is recorded (the filter is applied when the run is read), so
    ``Run.filter`` can ask anything of the same run. ``iface``/``net``: packets too (CAP_NET_RAW).
    Raises TraceError when the command cannot be run or traced."""
    if not argv:
        raise TraceError("no command given")
    spec = TraceSpec(command=[os.fspath(a) for a in argv], no_seccomp=no_seccomp,
                     cwd=os.fspath(cwd) if cwd is not None else None, env=dict(env) if env is not None else None)
    packets = PacketSpec(ifaces=iface, bpf=net_filter) if (iface or net) else None
    return _record(spec, filter, snaplen, None, packets)


def attach(pids: int | Sequence[int], filter: str | None = None, *, duration: float | None = None,
           snaplen: int | None = None) -> Run:
    """Trace running processes (all their threads and future children) for ``duration`` seconds (at
    least 1; None: until they exit), then detach: they run on. Raises TraceError when one cannot be
    traced (the ptrace rule that applies is named)."""
    ids = [pids] if isinstance(pids, int) else list(pids)
    if not ids:
        raise TraceError("no process given")
    return _record(TraceSpec(pids=ids), filter, snaplen, duration, None)

__all__ = ["Capture", "CaptureError", "Event", "Events", "FieldError", "FilterError", "Run", "SduError", "Stream",
           "StreamedEvent", "TraceError", "attach", "read", "stream", "trace"]
