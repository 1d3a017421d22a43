"""Which syscalls must stop a launched command, given what the sysdig filter can match (seccomp pushdown).

Pushdown must change speed, never results. A syscall is traced when
* one of its events can pass the filter: its evt.type (tracer.events.event_type_name) is one of the
  filter's possible types (sysdig_user.filter.compile.event_types; None = any type, which disables the
  pushdown altogether);
* or it keeps state right for such events. The state parsers' own registries say which events change
  what (sysdig_user/state/parsers_*.py HANDLERS), so the groups below are derived from them:
  - process lifecycle, always: clone, clone3, fork, vfork, execve, execveat, exit, exit_group (the
    thread table, proc.name, proc.args, ...);
  - credentials, sessions and limits (setuid..., setsid, [gs]etrlimit, prlimit): always, they are rare;
  - fd-creating and -destroying syscalls (the open family, socket, accept, connect, bind, pipe, dup,
    fcntl, close, eventfd, signalfd, timerfd, inotify, socketpair, ...; and send/recv, whose parsers
    fill in datagram tuples) when a matching event, the format or a chisel may read fd state
    (`needs_fd_state`);
  - chdir, fchdir, getcwd when the cwd matters (relative paths, proc.cwd: `needs_cwd`);
  - mmap, munmap, brk when proc.vm* / thread.vm* may be read (`needs_vm`).
Events that do not come from syscalls (procexit, signaldeliver, the child's clone exit) come from
ptrace events and are unaffected.

What pushdown does change: evt.num counts the events sdu saw, and evt.deltatime the gap to the previous
one, so both differ from a full trace, as they would between two sysdig runs with different drops.
"""
from __future__ import annotations

from _collections_abc import Iterable  # (collections.abc without collections)

from sysdig_user.event_table import EF, EVENTS, PT
from sysdig_user.state import parsers_files, parsers_net, parsers_process
from tracer.cuts import CWD_FIELDS, Plan, Settings, needs_vm, reads_fds, settings, without_analysis
from tracer.events import PROCEXIT, event_codes, event_type_name
from tracer.syscalls_x86_64 import SYSCALLS as TABLE

LIFECYCLE = ("clone", "clone3", "fork", "vfork", "execve", "execveat", "exit", "exit_group")
CWD_EVENTS = frozenset({"chdir", "fchdir", "getcwd"})
VM_EVENTS = frozenset({"brk", "mmap", "mmap2", "munmap"})

_FD_PARAM_TYPES = frozenset({PT.FD, PT.FDLIST})
_PATH_PARAM_TYPES = frozenset({PT.FSPATH, PT.FSRELPATH})
_FD_FLAGS = EF.CREATES_FD | EF.DESTROYS_FD | EF.USES_FD


def _handler_events(handlers: Iterable[str]) -> frozenset[str]:
    """State handler keys ("open<", "connect>") -> event names."""
    return frozenset(key[:-1] for key in handlers)


FD_EVENTS = _handler_events(parsers_files.HANDLERS) | _handler_events(parsers_net.HANDLERS)
_PROCESS_EVENTS = _handler_events(parsers_process.HANDLERS)
# Everything else the process parsers follow, minus what comes from ptrace events (procexit) or
# does not exist here (switch).
ALWAYS_EVENTS = (_PROCESS_EVENTS - CWD_EVENTS - VM_EVENTS - {"procexit", "switch"}) | frozenset(LIFECYCLE)


def _numbers_by_type() -> dict[str, frozenset[int]]:
    out: dict[str, set[int]] = {}
    for nr in TABLE:
        out.setdefault(event_type_name(nr), set()).add(nr)
    return {name: frozenset(nrs) for name, nrs in out.items()}


NUMBERS_BY_TYPE: dict[str, frozenset[int]] = _numbers_by_type()
_LIFECYCLE_NRS = frozenset(nr for nr, info in TABLE.items() if info.name in LIFECYCLE)


def _numbers(event_names: Iterable[str]) -> set[int]:
    out: set[int] = set()
    for name in event_names:
        out |= NUMBERS_BY_TYPE.get(name, frozenset())
    return out


def syscalls_to_trace(event_types: set[str] | frozenset[str] | None, needs_fd_state: bool, needs_cwd: bool,
                      needs_vm: bool = False) -> frozenset[int] | None:
    """Native syscall numbers that must stop the command; None = all of them (no pushdown).

    >>> sorted(syscalls_to_trace({"getppid"}, False, False) - syscalls_to_trace(set(), False, False))
    [110]
    """
    if event_types is None:
        return None
    nrs = _numbers(event_types) | _numbers(ALWAYS_EVENTS) | _LIFECYCLE_NRS
    if needs_fd_state:
        nrs |= _numbers(FD_EVENTS)
    if needs_cwd or needs_fd_state:  # relative paths in fd names resolve against the cwd
        nrs |= _numbers(CWD_EVENTS)
    if needs_vm:
        nrs |= _numbers(VM_EVENTS)
    if nrs >= set(TABLE):
        return None
    return frozenset(nrs)


def _matching_events(event_types: set[str] | frozenset[str] | None) -> list[int]:
    """Event codes whose name is one of event_types (every code for None)."""
    if event_types is None:
        return list(range(len(EVENTS)))
    names = set(event_types)
    # Generic events (codes 0/1) carry the syscall name; they have no fd params either way.
    return [info.code for info in EVENTS if info.name in names]


def _events_touch(codes: Iterable[int], flags: EF, types: frozenset[PT]) -> bool:
    for code in codes:
        info = EVENTS[code]
        if info.flags & flags or any(p.type in types for p in info.params):
            return True
    return False


def needs_fd_state(fields: Iterable[str], event_types: set[str] | frozenset[str] | None,
                   chisel: bool = False) -> bool:
    """Whether the fd table must be kept right: a chisel runs (it may read anything), or a field of the
    filter or format reads fd state (fd.*, fdlist.*, proc.fd*, evt.args, evt.info, evt.arg.*) and some
    event that can match has an fd (an FD/FDLIST param, or an fd flag).

    >>> needs_fd_state(["evt.type", "evt.info"], {"openat"}), needs_fd_state(["evt.info"], {"getppid"})
    (True, False)
    """
    if chisel:
        return True
    if not reads_fds(fields):
        return False
    return _events_touch(_matching_events(event_types), _FD_FLAGS, _FD_PARAM_TYPES)


def needs_cwd(fields: Iterable[str], event_types: set[str] | frozenset[str] | None, chisel: bool = False) -> bool:
    """Whether chdir/fchdir must be followed: proc.cwd is read, or a path-rendering field (as for
    needs_fd_state) meets an event with a path param, which is resolved against the cwd."""
    fields = list(fields)
    if chisel or any(f in CWD_FIELDS for f in fields):
        return True
    if not reads_fds(fields):
        return False
    return _events_touch(_matching_events(event_types), EF.NONE, _PATH_PARAM_TYPES)


def plan(event_types: set[str] | frozenset[str] | None, fields: Iterable[str], chisel: bool = False) -> Plan:
    """Everything in one call: `fields` are those of the filter and of the output format (a chisel's
    fields are unknown in advance, hence `chisel`)."""
    fields = list(fields)
    fd = needs_fd_state(fields, event_types, chisel)
    cwd = needs_cwd(fields, event_types, chisel)
    vm = needs_vm(fields, chisel)
    types = frozenset(event_types) if event_types is not None else None
    return Plan(syscalls_to_trace(event_types, fd, cwd, vm), types, fd, cwd, vm)


def describe(syscalls: Iterable[int] | None) -> str:
    """One line for -v: "seccomp-bpf: 12 syscalls stop the command: close(3) execve(59) ...".

    >>> describe(None)
    'seccomp-bpf: off, every syscall is traced'
    """
    if syscalls is None:
        return "seccomp-bpf: off, every syscall is traced"
    nrs = sorted(syscalls)
    names = " ".join(f"{TABLE[nr].name if nr in TABLE else '?'}({nr})" for nr in nrs)
    return f"seccomp-bpf: {len(nrs)} syscalls stop the command: {names}"


def describe_plan(p: Plan) -> str:
    """describe() plus why: "... (state kept: fd, cwd)"."""
    kept = [name for name, on in (("fd", p.fd_state), ("cwd", p.cwd), ("vm", p.vm)) if on]
    return f"{describe(p.syscalls)} (state kept: {', '.join(kept) or 'process only'})"


# ---- what a live capture applies (tracer/live.py) ----------------------------------------------------

def wanted_codes(p: Plan) -> frozenset[int] | None:
    """Event codes that can pass the filter or keep needed state: both codes of every traced syscall,
    the filter's own types (signaldeliver, ...) and procexit (it removes threads)."""
    if p.syscalls is None:
        return None
    codes = {PROCEXIT, *_matching_events(p.event_types)}
    for nr in p.syscalls:
        codes.update(event_codes(nr))
    return frozenset(codes)


def for_capture(filter_text: str, format_fields: Iterable[str], everything: bool = False,
                enabled: bool = True) -> Settings:
    """The cuts for one capture. `filter_text`: the filter in effect; `format_fields`: the fields the
    printed lines read (-p, or the default format; none with -q); `everything`: state and params must all
    be right whatever the filter reads (a chisel, whose reads are not known in advance, or -w, whose
    file carries every param and, on -C rotation, the whole state). `enabled=False` (--no-seccomp):
    no cut at all."""
    obvious = without_analysis(filter_text, format_fields, everything, enabled)
    if obvious is not None:  # (the filter package loads lark: not imported at all without a filter)
        return obvious
    fields = set(format_fields)
    from sysdig_user.filter import event_types as filter_types
    from sysdig_user.filter import parse, referenced_fields

    types = filter_types(parse(filter_text))
    fields |= referenced_fields(filter_text)
    p = plan(types, fields, chisel=everything)
    return settings(p, wanted_codes(p), fields, everything)
