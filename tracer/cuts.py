"""What a live capture may cut (tracer/pushdown.py decides it): the Plan and Settings records, the field
tests that need no event table, and the settings of a capture without a filter (``unfiltered``).

Apart from tracer/pushdown.py so that a capture without a filter (``sdu -- CMD``, the most common run)
gets its settings without importing pushdown's tables (built from the event table, the syscall table
and the state parsers' registries at import: ~1 ms of every such start). Without a filter every event
type can pass, so nothing is cut from the syscalls or the events: what remains is whether the state and
params the printed fields read are kept, which the fields alone decide (``unfiltered`` states it;
tests/tracer/test_pushdown.py checks it against pushdown's general rule for many field sets).
"""
from __future__ import annotations

from _collections_abc import Iterable  # (collections.abc without collections)

from sysdig_user.rows import FrozenRow, set_slot

# Fields that read the fd table or the cwd, by prefix or exact name. evt.args / evt.info / evt.arg.X
# render an FD param as "3(<f>/etc/passwd)" and a relative path with the directory it resolves in.
FD_FIELD_PREFIXES = ("fd.", "fdlist.", "proc.fd", "thread.fd", "evt.arg", "evt.abspath")
FD_FIELDS = frozenset({"evt.args", "evt.info"})
CWD_FIELDS = frozenset({"proc.cwd", "thread.cwd"})
_VM_FIELD_PREFIXES = ("proc.vm", "thread.vm")
# Fields that may show open's dev param or an fd's dev, and the VM sizes of mmap/munmap/brk exits.
_DEV_FIELD_PREFIXES = ("fd.dev", "evt.arg", "evt.rawarg")
_VM_PARAM_PREFIXES = ("evt.arg", "evt.rawarg")


def reads_fds(fields: Iterable[str]) -> bool:
    """Whether a field reads fd state (fd.*, fdlist.*, proc.fd*, evt.args, evt.info, evt.arg.*)."""
    return any(f in FD_FIELDS or f.startswith(FD_FIELD_PREFIXES) for f in fields)


def needs_vm(fields: Iterable[str], chisel: bool = False) -> bool:
    """Whether the process VM sizes (kept from mmap/munmap/brk exits) may be read."""
    return chisel or any(f.startswith(_VM_FIELD_PREFIXES) for f in fields)


class Plan(FrozenRow):
    """A pushdown decision with its reasons (printed by -v)."""

    _fields = ("syscalls", "event_types", "fd_state", "cwd", "vm")
    __slots__ = _fields
    syscalls: frozenset[int] | None  # None: trace everything
    event_types: frozenset[str] | None
    fd_state: bool
    cwd: bool
    vm: bool

    def __init__(self, syscalls: frozenset[int] | None, event_types: frozenset[str] | None, fd_state: bool,
                 cwd: bool, vm: bool) -> None:
        set_slot(self, "syscalls", syscalls)
        set_slot(self, "event_types", event_types)
        set_slot(self, "fd_state", fd_state)
        set_slot(self, "cwd", cwd)
        set_slot(self, "vm", vm)


class Settings(FrozenRow):
    """What a live capture cuts: the seccomp syscall set (launch mode), the event codes EventBuilder
    decodes (`wanted`, None = all) and whether it reads open's dev and the mmap/brk VM sizes."""

    _fields = ("plan", "wanted", "read_dev", "read_vm")
    __slots__ = _fields
    plan: Plan
    wanted: frozenset[int] | None
    read_dev: bool
    read_vm: bool

    def __init__(self, plan: Plan, wanted: frozenset[int] | None, read_dev: bool, read_vm: bool) -> None:
        set_slot(self, "plan", plan)
        set_slot(self, "wanted", wanted)
        set_slot(self, "read_dev", read_dev)
        set_slot(self, "read_vm", read_vm)

    def builder_options(self) -> dict[str, object]:
        wanted = self.wanted
        return {"wanted": None if wanted is None else wanted.__contains__, "read_dev": self.read_dev,
                "read_vm": self.read_vm}


FULL = Settings(Plan(None, None, True, True, True), None, True, True)


def settings(p: Plan, wanted: frozenset[int] | None, fields: set[str], everything: bool) -> Settings:
    """The Settings of plan ``p``: open's dev and the VM sizes are read when a field (``fields``: the
    filter's and the format's) may show them, or ``everything`` is kept."""
    read_dev = everything or any(f in FD_FIELDS or f.startswith(_DEV_FIELD_PREFIXES) for f in fields)
    read_vm = everything or needs_vm(fields) or any(
        f in FD_FIELDS or f.startswith(_VM_PARAM_PREFIXES) for f in fields)
    return Settings(p, wanted, read_dev, read_vm)


def without_analysis(filter_text: str, fields: Iterable[str], everything: bool, enabled: bool) -> Settings | None:
    """The settings that need no look at a filter (tracer.pushdown.for_capture's first two rules): no cut
    at all when pushdown is off (``enabled`` False: --no-seccomp), ``unfiltered`` without a filter; None
    when there is a filter, which pushdown.for_capture reads."""
    if not enabled:
        return FULL
    if not filter_text:
        return unfiltered(set(fields), everything)
    return None


def unfiltered(fields: set[str], everything: bool) -> Settings:
    """The settings of a capture whose filter lets every event type through (no filter): every syscall
    stops the command and every event is decoded. The fd table is kept when a field reads it (every
    table has events with fd params); the cwd when a field reads it, or reads fds (relative paths and
    path params resolve against it); the VM sizes when a field reads them."""
    fd = everything or reads_fds(fields)
    cwd = fd or any(f in CWD_FIELDS for f in fields)
    return settings(Plan(None, None, fd, cwd, needs_vm(fields, everything)), None, fields, everything)


__all__ = ["CWD_FIELDS", "FD_FIELDS", "FD_FIELD_PREFIXES", "FULL", "Plan", "Settings", "needs_vm", "reads_fds", "settings",
           "unfiltered", "without_analysis"]
