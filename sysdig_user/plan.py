"""The planner: from what a capture asks for to how it runs. One table each way.

``NEEDS``: every option (a field of the CaptureSpec) states once what it needs of the events, as
``Need`` flags. ``STRATEGIES``: every execution strategy states once which needs it serves and which
rule it out. ``plan(spec, facts)`` is the only place a strategy is chosen; the components that
implement them (output/fastline.py, tracer/pipelined.py, tracer/fastpath.py, tracer/pushdown.py, the
file source's unbuilt skipping) read ``Plan`` and decide nothing themselves.

Adding an option: one row in NEEDS (and the component that implements it). Adding a strategy: one row
in STRATEGIES. tests/test_plan.py checks that every spec field has a row and pins the rules that the
C paths rely on (e.g. nothing but sysdig's default text line reaches the compiled line).

Facts of the run that no option states (the C extensions were not built, or SDU_NO_NATIVE=1; a second
process cannot be used: SDU_SINGLE_PROCESS=1, not the main thread, in-memory streams) enter as needs
too (``NO_NATIVE``, ``ONE_PROCESS``), so the same table rules on them.
"""
from __future__ import annotations

from _collections_abc import Callable  # (collections.abc without collections)

from sysdig_user.rows import TupleRow
from sysdig_user.spec import CaptureSpec

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    from typing import ClassVar

    from typing_extensions import Self

_make = tuple.__new__


class Need(int):
    """What a capture needs of its events, or a fact that limits how it may run: a set of the bits below.

    ``|``, ``&`` and ``~`` of Needs are Needs, and a Need is true when any bit is set, as an enum.Flag's
    members are; a plain int subclass because building an enum.Flag (and its combinations in STRATEGIES)
    cost every run ~2 ms of start-up."""

    __slots__ = ()

    NONE: ClassVar[Need]
    LINES: ClassVar[Need]
    CUSTOM_LINES: ClassVar[Need]
    FORMAT: ClassVar[Need]
    FILTER: ClassVar[Need]
    FILTER_AFTER_STATE: ClassVar[Need]
    COUNTED: ClassVar[Need]
    SUMMARY: ClassVar[Need]
    WRITE: ClassVar[Need]
    WRITE_STATE: ClassVar[Need]
    CHISELS: ClassVar[Need]
    PACKETS: ClassVar[Need]
    DEADLINE: ClassVar[Need]
    SUPPRESS: ClassVar[Need]
    NO_NATIVE: ClassVar[Need]
    ONE_PROCESS: ClassVar[Need]
    PY_FILTER: ClassVar[Need]
    PY_FORMAT: ClassVar[Need]

    def __or__(self, other: int) -> Need:
        return Need(int(self) | int(other))

    __ror__ = __or__

    def __and__(self, other: int) -> Need:
        return Need(int(self) & int(other))

    __rand__ = __and__

    def __invert__(self) -> Need:
        return Need(~int(self) & _ALL)

    def __repr__(self) -> str:
        names = [name for name in _BITS if int(self) & int(getattr(Need, name))]
        return "Need." + ("|".join(names) if names else "NONE")


Need.NONE = Need(0)
Need.LINES = Need(1 << 0)  # event lines are printed
Need.CUSTOM_LINES = Need(1 << 1)  # ... other than a text line of fields (-j, -A/-b/-x/-X, -t, -D)
Need.FORMAT = Need(1 << 2)  # -p: a text line of the format's fields instead of sysdig's default one
Need.FILTER = Need(1 << 3)  # a filter decides which events pass (the state must be right for it)
Need.FILTER_AFTER_STATE = Need(1 << 4)  # -d: every event is parsed before the filter sees it
Need.COUNTED = Need(1 << 5)  # -n: the passing events are counted against a limit
Need.SUMMARY = Need(1 << 6)  # -S: every passing event is counted by type
Need.WRITE = Need(1 << 7)  # -w: every passing event's bytes go to a file
Need.WRITE_STATE = Need(1 << 8)  # -w rotation or -F: the writer needs the state or the dropped events
Need.CHISELS = Need(1 << 9)  # chisels: every event, filtered or not, with timers and the tracer's threads
Need.PACKETS = Need(1 << 10)  # packet events merged by timestamp, attributed through the state
Need.DEADLINE = Need(1 << 11)  # -M: each event's time is checked against the deadline where it is made
Need.SUPPRESS = Need(1 << 12)  # -U: the events of some processes are dropped before anything sees them
Need.NO_NATIVE = Need(1 << 13)  # fact: no C extension (not built, or SDU_NO_NATIVE=1)
Need.ONE_PROCESS = Need(1 << 14)  # fact: no second process (SDU_SINGLE_PROCESS=1, a thread, memory streams)
Need.PY_FILTER = Need(1 << 15)  # fact: the filter has a field or operator only Python evaluates (output/compiled.py)
Need.PY_FORMAT = Need(1 << 16)  # fact: the -p format has a field only Python prints (output/compiled.py)
_BITS = tuple(name for name in vars(Need) if name.isupper() and name != "NONE")
_ALL = (1 << len(_BITS)) - 1


# NeedRow and Strategy are TupleRows (sysdig_user/rows.py): each row is made in one C call at every start
# (as FrozenRows, a Python __init__ setting each slot: ~2.5x the instructions, callgrind).
class NeedRow(TupleRow):
    __slots__ = ()
    _fields = ("option", "asks", "needs")  # in the order __new__ takes them

    if TYPE_CHECKING:
        option: str  # the CaptureSpec field, dotted for nested specs
        asks: Callable[[CaptureSpec], bool]  # whether this spec uses it
        needs: Callable[[CaptureSpec], Need]  # what it then needs

    def __new__(cls, option: str, asks: Callable[[CaptureSpec], bool], needs: Callable[[CaptureSpec], Need]) -> Self:
        return _make(cls, (option, asks, needs))


def _lines(spec: CaptureSpec) -> bool:
    """Event lines are printed: not -q, and neither -w nor a chisel (both make sysdig quiet)."""
    return not spec.output.quiet and spec.write is None and not spec.chisels


#: Every option and what it needs (options that need nothing special have a NONE row, so that the
#: table is complete: tests/test_plan.py checks every CaptureSpec field is here).
NEEDS: tuple[NeedRow, ...] = (
    NeedRow("output.quiet", lambda s: _lines(s), lambda s: Need.LINES),
    NeedRow("output.format", lambda s: s.output.format is not None, lambda s: Need.FORMAT),
    NeedRow("output.json", lambda s: s.output.json, lambda s: Need.CUSTOM_LINES),
    NeedRow("output.buffer", lambda s: bool(s.output.buffer), lambda s: Need.CUSTOM_LINES),
    NeedRow("output.time", lambda s: s.output.time != "h", lambda s: Need.CUSTOM_LINES),
    NeedRow("output.show_internal", lambda s: s.output.show_internal, lambda s: Need.CUSTOM_LINES),
    NeedRow("output.verbose", lambda s: s.output.verbose, lambda s: Need.NONE),  # longer buffers only
    NeedRow("output.summary", lambda s: s.output.summary, lambda s: Need.SUMMARY),
    NeedRow("output.progress", lambda s: s.output.progress, lambda s: Need.NONE),
    NeedRow("output.unbuffered", lambda s: s.output.unbuffered, lambda s: Need.NONE),
    NeedRow("output.to", lambda s: s.output.to is not None, lambda s: Need.NONE),  # another stream only
    NeedRow("output.color", lambda s: s.output.color != "auto", lambda s: Need.NONE),  # chisels' text only
    NeedRow("filter", lambda s: bool(s.filter), lambda s: Need.FILTER),
    NeedRow("display_filter", lambda s: s.display_filter and bool(s.filter),
            lambda s: Need.FILTER_AFTER_STATE),
    NeedRow("limit", lambda s: s.limit is not None, lambda s: Need.COUNTED),
    NeedRow("duration_s", lambda s: s.duration_s is not None, lambda s: Need.DEADLINE),
    NeedRow("write", lambda s: s.write is not None,
            lambda s: Need.WRITE | (Need.WRITE_STATE if s.write is not None and (
                s.write.rotates or s.write.fatfile) else Need.NONE)),
    NeedRow("chisels", lambda s: bool(s.chisels), lambda s: Need.CHISELS),
    NeedRow("packets", lambda s: s.packets is not None, lambda s: Need.PACKETS),
    NeedRow("read", lambda s: bool(s.read), lambda s: Need.NONE),
    NeedRow("trace", lambda s: s.trace is not None, lambda s: Need.NONE),
    # what the live source is and how it runs: nothing the pipeline serves differently
    NeedRow("trace.command", lambda s: s.trace is not None and bool(s.trace.command), lambda s: Need.NONE),
    NeedRow("trace.pids", lambda s: s.trace is not None and bool(s.trace.pids), lambda s: Need.NONE),
    NeedRow("trace.no_seccomp", lambda s: s.trace is not None and s.trace.no_seccomp, lambda s: Need.NONE),
    NeedRow("trace.no_colocate", lambda s: s.trace is not None and s.trace.no_colocate, lambda s: Need.NONE),
    NeedRow("trace.cwd", lambda s: s.trace is not None and s.trace.cwd is not None, lambda s: Need.NONE),
    NeedRow("trace.env", lambda s: s.trace is not None and s.trace.env is not None, lambda s: Need.NONE),
    # --all: attach mode over the whole namespace (full syscall stops, as -p; the rescan is the tracer's)
    NeedRow("trace.all_processes", lambda s: s.trace is not None and s.trace.all_processes,
            lambda s: Need.NONE),
    # --kill-on-exit: what ends a launched command when -n/-M end the capture (the tracer's)
    NeedRow("trace.kill_on_exit", lambda s: s.trace is not None and s.trace.kill_on_exit, lambda s: Need.NONE),
    # --cri/--cri-timeout: where the tracer asks for container names (tracer/containers.py)
    NeedRow("trace.cri", lambda s: s.trace is not None and bool(s.trace.cri), lambda s: Need.NONE),
    NeedRow("trace.cri_timeout_ms", lambda s: s.trace is not None and s.trace.cri_timeout_ms != 1000,
            lambda s: Need.NONE),
    NeedRow("snaplen", lambda s: s.snaplen is not None, lambda s: Need.NONE),
    NeedRow("suppress_comms", lambda s: bool(s.suppress_comms), lambda s: Need.SUPPRESS),
    NeedRow("exclude_users", lambda s: s.exclude_users, lambda s: Need.NONE),  # the seeded state only
    NeedRow("resolve_ports", lambda s: s.resolve_ports, lambda s: Need.CUSTOM_LINES),  # port names in text
    NeedRow("large_environment", lambda s: s.large_environment, lambda s: Need.NONE),  # the state only
)


class Strategy(TupleRow):
    __slots__ = ()
    _fields = ("name", "requires", "ruled_out_by", "what")  # in the order __new__ takes them

    if TYPE_CHECKING:
        name: str
        requires: Need  # all of these must be needed
        ruled_out_by: Need  # none of these may be needed
        what: str

    def __new__(cls, name: str, requires: Need, ruled_out_by: Need, what: str) -> Self:
        return _make(cls, (name, requires, ruled_out_by, what))


#: Every way of running a part of the pipeline faster than the general Python path.
STRATEGIES: tuple[Strategy, ...] = (
    Strategy("compiled_line", Need.LINES,
             Need.CUSTOM_LINES | Need.PY_FORMAT | Need.PY_FILTER | Need.FILTER_AFTER_STATE | Need.COUNTED
             | Need.SUMMARY | Need.WRITE | Need.CHISELS | Need.PACKETS | Need.SUPPRESS | Need.NO_NATIVE,
             "sysdig's default line or a -p format printed in C, filtered in C (output/fastline.py)"),
    Strategy("compiled_chisels", Need.CHISELS,
             Need.LINES | Need.PY_FILTER | Need.FILTER_AFTER_STATE | Need.COUNTED | Need.SUMMARY | Need.WRITE
             | Need.PACKETS | Need.DEADLINE | Need.SUPPRESS | Need.NO_NATIVE,
             "table chisels: the state kept (and a filter run) in C, only the events they use built "
             "(output/fastline.py)"),
    Strategy("compiled_filter", Need.FILTER, Need.PY_FILTER | Need.NO_NATIVE,
             "the filter evaluated in C wherever it runs (output/compiled.py)"),
    Strategy("passthrough", Need.WRITE,
             Need.LINES | Need.FILTER | Need.COUNTED | Need.SUMMARY | Need.WRITE_STATE | Need.CHISELS
             | Need.PACKETS | Need.SUPPRESS | Need.NO_NATIVE,
             "-w frames the events as scap blocks in C without parsing them (output/fastline.py)"),
    Strategy("skip_unbuilt", Need.NONE, Need.CHISELS | Need.WRITE_STATE | Need.FILTER_AFTER_STATE | Need.SUPPRESS,
             "events that cannot pass are skipped from their bytes (Inspector.skip_raw)"),
    Strategy("pipelined", Need.NONE, Need.CHISELS | Need.ONE_PROCESS,
             "live: state, filter, output and the packet merge in a second process (tracer/pipelined.py)"),
    Strategy("tracer_fast_path", Need.NONE, Need.CHISELS | Need.ONE_PROCESS | Need.DEADLINE | Need.NO_NATIVE,
             "live, pipelined: whole syscall stops handled in C (tracer/fastpath.py)"),
    Strategy("pushdown", Need.NONE, Need.CHISELS | Need.WRITE | Need.PACKETS,
             "live launch: stop only at syscalls the filter and the output can use (tracer/pushdown.py)"),
)


def needs_of(spec: CaptureSpec) -> Need:
    need = Need.NONE
    for row in NEEDS:
        if row.asks(spec):
            need |= row.needs(spec)
    return need


class Plan:
    """The strategies chosen for one capture (``plan``), one property each."""

    __slots__ = ("chosen", "needs")

    def __init__(self, needs: Need) -> None:
        self.needs = needs
        self.chosen = frozenset(s.name for s in STRATEGIES
                                if (needs & s.requires) == s.requires and not needs & s.ruled_out_by)

    def without(self, need: Need) -> Plan:
        """The plan once ``need`` turned out not to apply (packets asked for, but no CAP_NET_RAW)."""
        return Plan(self.needs & ~need)

    @property
    def compiled_line(self) -> bool:
        return "compiled_line" in self.chosen

    @property
    def compiled_chisels(self) -> bool:
        return "compiled_chisels" in self.chosen

    @property
    def compiled_filter(self) -> bool:
        return "compiled_filter" in self.chosen

    @property
    def passthrough(self) -> bool:
        return "passthrough" in self.chosen

    @property
    def skip_unbuilt(self) -> bool:
        return "skip_unbuilt" in self.chosen

    @property
    def pipelined(self) -> bool:
        return "pipelined" in self.chosen

    @property
    def tracer_fast_path(self) -> bool:
        return "tracer_fast_path" in self.chosen

    @property
    def pushdown(self) -> bool:
        return "pushdown" in self.chosen


def plan(spec: CaptureSpec, facts: Need = Need.NONE) -> Plan:
    return Plan(needs_of(spec) | facts)
