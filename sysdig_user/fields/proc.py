"""The "process" field class: proc.* extractors here, thread.* ones in thread.py (one sysdig class).

Semantics from libsinsp sinsp_filter_check_thread (libs e5c53d64). Process-wide values (cwd, ppid,
ancestors) come from the main thread, found through the state view's thread table; a field whose
thread is unknown returns None, as sinsp returns NULL without a threadinfo.
"""
from __future__ import annotations

from _collections_abc import Callable, Iterator  # (collections.abc without collections)

from sysdig_user.event_table import PF, PT
from sysdig_user.fields import thread
from sysdig_user.fields.base import (
    ArgSyntax,
    Custom,
    FieldClass,
    FieldDef,
    FieldError,
    FieldFlag,
    lookup_thread,
    main_thread,
    plain,
    view_of,
)

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)

if TYPE_CHECKING:
    from typing import Any

    from sysdig_user.event import Event
    from sysdig_user.state.threads import ThreadInfo


def _t(evt: Event) -> ThreadInfo | None:
    return evt.thread


def _pid(evt: Event) -> int | None:
    t = evt.thread
    return None if t is None else t.pid


def _exe(evt: Event) -> str | None:
    t = evt.thread
    return None if t is None else t.exe


def _name(evt: Event) -> str | None:
    t = evt.thread
    return None if t is None else t.comm


def _args(evt: Event) -> str | None:
    t = evt.thread
    return None if t is None else " ".join(t.args)


def _env(evt: Event) -> str | None:
    t = evt.thread
    if t is None:
        return None
    env = t.env
    if not env:  # sinsp get_env(): a thread without its own env shows its main thread's
        mt = main_thread(evt, t)
        env = mt.env if mt is not None else env
    return " ".join(env)


def cmdline(t: ThreadInfo) -> str:
    """sinsp populate_cmdline: comm, then each arg preceded by a space."""
    return " ".join([t.comm, *t.args]) if t.args else t.comm


def _cmdline(evt: Event) -> str | None:
    t = evt.thread
    return None if t is None else cmdline(t)


def _exeline(evt: Event) -> str | None:
    t = evt.thread
    return None if t is None else t.exe + " " + " ".join(t.args)


def thread_cwd(evt: Event, t: ThreadInfo) -> str:
    """sinsp get_cwd(): CLONE_FS threads share their main thread's cwd (the table knows which)."""
    view = view_of(evt)
    if view is not None:
        return view.threads.get_cwd(t)
    return t.cwd


def _cwd(evt: Event) -> str | None:
    t = evt.thread
    return None if t is None else thread_cwd(evt, t)


def _nchilds_of(evt: Event, t: ThreadInfo) -> int:
    n = getattr(t, "nchilds", None)
    if isinstance(n, int):
        return n
    view = view_of(evt)
    if view is None:
        return 0
    return sum(1 for other in view.threads if other.pid == t.pid and other.tid != other.pid)


def _nthreads(evt: Event) -> int | None:
    t = evt.thread
    if t is None:
        return None
    mt = main_thread(evt, t)
    return None if mt is None else _nchilds_of(evt, mt) + 1


def _nchilds(evt: Event) -> int | None:
    t = evt.thread
    return None if t is None else _nchilds_of(evt, t)


def _ppid(evt: Event) -> int | None:
    t = evt.thread
    if t is None:
        return None
    mt = main_thread(evt, t)
    return None if mt is None else mt.ptid


def _parent(evt: Event) -> ThreadInfo | None:
    t = evt.thread
    return None if t is None else lookup_thread(evt, t.ptid)


def _pname(evt: Event) -> str | None:
    p = _parent(evt)
    return None if p is None else p.comm


def _pcmdline(evt: Event) -> str | None:
    p = _parent(evt)
    return None if p is None else cmdline(p)


def ancestors(evt: Event, t: ThreadInfo) -> Iterator[ThreadInfo]:
    """sinsp traverse_parent_state: each parent in turn, stopping at a loop or an unknown parent."""
    seen = {t.tid}
    cur = lookup_thread(evt, t.ptid)
    while cur is not None and cur.tid not in seen:
        yield cur
        seen.add(cur.tid)
        cur = lookup_thread(evt, cur.ptid)


def _nth_ancestor(evt: Event, depth: int) -> ThreadInfo | None:
    t = evt.thread
    if t is None:
        return None
    mt = main_thread(evt, t)
    for _ in range(depth):
        if mt is None:
            return None
        mt = lookup_thread(evt, mt.ptid)
    return mt


def _ancestor_factory(attr: Callable[[ThreadInfo], Any]) -> Callable[[str | None], Custom]:
    """proc.apid[N] / proc.aname[N]: the N-th ancestor's value; without N (filters only) the field
    matches any ancestor, which ``many`` lists (the process itself excluded, as in sinsp)."""
    def make(arg: str | None) -> Custom:
        if arg is None:
            def many(evt: Event) -> list[Any]:
                t = evt.thread
                mt = main_thread(evt, t) if t is not None else None
                return [] if mt is None else [attr(a) for a in ancestors(evt, mt)]

            def none(evt: Event) -> Any:
                vals = many(evt)
                return vals[0] if vals else None
            return Custom(none, many=many)
        try:
            depth = int(arg)
        except ValueError as exc:
            raise FieldError(f"{arg} is not a valid number", arg) from exc

        def extract(evt: Event) -> Any:
            a = _nth_ancestor(evt, depth)
            return None if a is None else attr(a)
        return Custom(extract)
    return make


_apid = _ancestor_factory(lambda t: t.pid)
_aname = _ancestor_factory(lambda t: t.comm)


def _loginshellid(evt: Event) -> int | None:
    """The pid of the eldest process among self and ancestors whose comm ends in "sh"."""
    t = evt.thread
    if t is None:
        return None
    mt = main_thread(evt, t)
    if mt is None:
        return None
    res: int | None = None
    for cand in (mt, *ancestors(evt, mt)):
        if cand.comm.endswith("sh") and len(cand.comm) >= 2:
            res = cand.pid
    return res


def _duration(evt: Event) -> int | None:
    t = evt.thread
    if t is None or not t.clone_ts:
        return None
    return evt.ts - t.clone_ts


def _fd_owner(evt: Event, t: ThreadInfo) -> ThreadInfo:
    mt = main_thread(evt, t)
    return mt if mt is not None else t


def _fdopencount(evt: Event) -> int | None:
    t = evt.thread
    return None if t is None else len(_fd_owner(evt, t).fdtable)


def _fdlimit(evt: Event) -> int | None:
    t = evt.thread
    return None if t is None else _fd_owner(evt, t).fdlimit


def _fdusage(evt: Event) -> float | None:
    t = evt.thread
    if t is None:
        return None
    owner = _fd_owner(evt, t)
    if owner.fdlimit <= 0:
        return 0.0
    return len(owner.fdtable) * 100.0 / owner.fdlimit


def _vmsize(evt: Event) -> int | None:
    t = evt.thread
    return None if t is None else t.vmsize_kb


def _vmrss(evt: Event) -> int | None:
    t = evt.thread
    return None if t is None else t.vmrss_kb


def _vmswap(evt: Event) -> int | None:
    t = evt.thread
    return None if t is None else t.vmswap_kb


def _vpid(evt: Event) -> int | None:
    t = evt.thread
    return None if t is None or t.vpid == -1 else t.vpid


def _sid(evt: Event) -> int | None:
    t = evt.thread
    return None if t is None else t.sid


def _sname(evt: Event) -> str | None:
    """The session leader's comm: the thread whose tid is the sid, else the eldest ancestor with the
    same sid (the leader has exited)."""
    t = evt.thread
    if t is None:
        return None
    leader = lookup_thread(evt, t.sid)
    if leader is not None:
        return leader.comm
    mt = main_thread(evt, t)
    if mt is None:
        return None
    best = mt
    for a in ancestors(evt, mt):
        if a.sid != mt.sid:
            break
        best = a
    return best.comm


def _tty(evt: Event) -> int | None:
    t = evt.thread
    return None if t is None else t.tty


def _exepath(evt: Event) -> str | None:
    t = evt.thread
    return None if t is None else t.exepath


def _vpgid(evt: Event) -> int | None:
    t = evt.thread
    return None if t is None else t.vpgid


def _category_is(name: str) -> Callable[[Event], bool | None]:
    """proc.is_container_*: sinsp's thread category; sdu has no container probes, so always false."""
    def extract(evt: Event) -> bool | None:
        t = evt.thread
        return None if t is None else getattr(t, "category", "") == name
    return extract


_is_container_healthcheck = _category_is("healthcheck")
_is_container_liveness_probe = _category_is("liveness_probe")
_is_container_readiness_probe = _category_is("readiness_probe")


def _is_exe_writable(evt: Event) -> bool | None:
    t = evt.thread
    return None if t is None else t.exe_writable


CLASS = FieldClass("process", "Additional information about the process and thread executing the syscall event.", (
    FieldDef("proc.pid", PT.INT64, PF.ID,
        'the id of the process generating the event.',
        plain(_pid)),
    FieldDef("proc.exe", PT.CHARBUF, PF.NA,
        'the first command line argument (usually the executable name or a custom one).',
        plain(_exe)),
    FieldDef("proc.name", PT.CHARBUF, PF.NA,
        'the name (excluding the path) of the executable generating the event.',
        plain(_name)),
    FieldDef("proc.args", PT.CHARBUF, PF.NA,
        'the arguments passed on the command line when starting the process generating the event.',
        plain(_args)),
    FieldDef("proc.env", PT.CHARBUF, PF.NA,
        'the environment variables of the process generating the event.',
        plain(_env)),
    FieldDef("proc.cmdline", PT.CHARBUF, PF.NA,
        'full process command line, i.e. proc.name + proc.args.',
        plain(_cmdline)),
    FieldDef("proc.exeline", PT.CHARBUF, PF.NA,
        'full process command line, with exe as first argument, i.e. proc.exe + proc.args.',
        plain(_exeline)),
    FieldDef("proc.cwd", PT.CHARBUF, PF.NA,
        'the current working directory of the event.',
        plain(_cwd)),
    FieldDef("proc.nthreads", PT.UINT32, PF.DEC,
        'the number of threads that the process generating the event currently has, including the'
        ' main process thread.',
        plain(_nthreads)),
    FieldDef("proc.nchilds", PT.UINT32, PF.DEC,
        'the number of child threads that the process generating the event currently has. This '
        'excludes the main process thread.',
        plain(_nchilds)),
    FieldDef("proc.ppid", PT.INT64, PF.ID,
        'the pid of the parent of the process generating the event.',
        plain(_ppid)),
    FieldDef("proc.pname", PT.CHARBUF, PF.NA,
        'the name (excluding the path) of the parent of the process generating the event.',
        plain(_pname)),
    FieldDef("proc.pcmdline", PT.CHARBUF, PF.NA,
        'the full command line (proc.name + proc.args) of the parent of the process generating '
        'the event.',
        plain(_pcmdline)),
    FieldDef("proc.apid", PT.INT64, PF.ID,
        'the pid of one of the process ancestors. E.g. proc.apid[1] returns the parent pid, '
        'proc.apid[2] returns the grandparent pid, and so on. proc.apid[0] is the pid of the '
        'current process. proc.apid without arguments can be used in filters only and matches any'
        ' of the process ancestors, e.g. proc.apid=1234.',
        _apid, FieldFlag.ARG_OPTIONAL, ArgSyntax.INDEX),
    FieldDef("proc.aname", PT.CHARBUF, PF.NA,
        'the name (excluding the path) of one of the process ancestors. E.g. proc.aname[1] '
        'returns the parent name, proc.aname[2] returns the grandparent name, and so on. '
        'proc.aname[0] is the name of the current process. proc.aname without arguments can be '
        'used in filters only and matches any of the process ancestors, e.g. proc.aname=bash.',
        _aname, FieldFlag.ARG_OPTIONAL, ArgSyntax.INDEX),
    FieldDef("proc.loginshellid", PT.INT64, PF.ID,
        'the pid of the oldest shell among the ancestors of the current process, if there is one.'
        ' This field can be used to separate different user sessions, and is useful in '
        'conjunction with chisels like spy_user.',
        plain(_loginshellid)),
    FieldDef("proc.duration", PT.RELTIME, PF.DEC,
        'number of nanoseconds since the process started.',
        plain(_duration)),
    FieldDef("proc.fdopencount", PT.UINT64, PF.DEC,
        'number of open FDs for the process',
        plain(_fdopencount)),
    FieldDef("proc.fdlimit", PT.INT64, PF.DEC,
        'maximum number of FDs the process can open.',
        plain(_fdlimit)),
    FieldDef("proc.fdusage", PT.DOUBLE, PF.DEC,
        'the ratio between open FDs and maximum available FDs for the process.',
        plain(_fdusage)),
    FieldDef("proc.vmsize", PT.UINT64, PF.DEC,
        'total virtual memory for the process (as kb).',
        plain(_vmsize)),
    FieldDef("proc.vmrss", PT.UINT64, PF.DEC,
        'resident non-swapped memory for the process (as kb).',
        plain(_vmrss)),
    FieldDef("proc.vmswap", PT.UINT64, PF.DEC,
        'swapped memory for the process (as kb).',
        plain(_vmswap)),
    FieldDef("thread.pfmajor", PT.UINT64, PF.DEC,
        'number of major page faults since thread start.',
        plain(thread.pfmajor)),
    FieldDef("thread.pfminor", PT.UINT64, PF.DEC,
        'number of minor page faults since thread start.',
        plain(thread.pfminor)),
    FieldDef("thread.tid", PT.INT64, PF.ID,
        'the id of the thread generating the event.',
        plain(thread.tid)),
    FieldDef("thread.ismain", PT.BOOL, PF.NA,
        "'true' if the thread generating the event is the main one in the process.",
        plain(thread.ismain)),
    FieldDef("thread.exectime", PT.RELTIME, PF.DEC,
        'CPU time spent by the last scheduled thread, in nanoseconds. Exported by switch events '
        'only.',
        thread.make_exectime),
    FieldDef("thread.totexectime", PT.RELTIME, PF.DEC,
        'Total CPU time, in nanoseconds since the beginning of the capture, for the current '
        'thread. Exported by switch events only.',
        thread.make_totexectime),
    FieldDef("thread.cgroups", PT.CHARBUF, PF.NA,
        'all the cgroups the thread belongs to, aggregated into a single string.',
        plain(thread.cgroups)),
    FieldDef("thread.cgroup", PT.CHARBUF, PF.NA,
        'the cgroup the thread belongs to, for a specific subsystem. E.g. thread.cgroup.cpuacct.',
        thread.make_cgroup, FieldFlag.REQUIRES_ARGUMENT, ArgSyntax.WORD),
    FieldDef("thread.vtid", PT.INT64, PF.ID,
        'the id of the thread generating the event as seen from its current PID namespace.',
        plain(thread.vtid)),
    FieldDef("proc.vpid", PT.INT64, PF.ID,
        'the id of the process generating the event as seen from its current PID namespace.',
        plain(_vpid)),
    FieldDef("thread.cpu", PT.DOUBLE, PF.NA,
        'the CPU consumed by the thread in the last second.',
        thread.make_cpu),
    FieldDef("thread.cpu.user", PT.DOUBLE, PF.NA,
        'the user CPU consumed by the thread in the last second.',
        thread.make_cpu_user),
    FieldDef("thread.cpu.system", PT.DOUBLE, PF.NA,
        'the system CPU consumed by the thread in the last second.',
        thread.make_cpu_system),
    FieldDef("thread.vmsize", PT.UINT64, PF.DEC,
        'For the process main thread, this is the total virtual memory for the process (as kb). '
        'For the other threads, this field is zero.',
        plain(thread.vmsize)),
    FieldDef("thread.vmrss", PT.UINT64, PF.DEC,
        'For the process main thread, this is the resident non-swapped memory for the process (as'
        ' kb). For the other threads, this field is zero.',
        plain(thread.vmrss)),
    FieldDef("proc.sid", PT.INT64, PF.ID,
        'the session id of the process generating the event.',
        plain(_sid)),
    FieldDef("proc.sname", PT.CHARBUF, PF.NA,
        "the name of the current process's session leader. This is either the process with "
        'pid=proc.sid or the eldest ancestor that has the same sid as the current process.',
        plain(_sname)),
    FieldDef("proc.tty", PT.INT32, PF.ID,
        'The controlling terminal of the process. 0 for processes without a terminal.',
        plain(_tty)),
    FieldDef("proc.exepath", PT.CHARBUF, PF.NA,
        'The full executable path of the process.',
        plain(_exepath)),
    FieldDef("proc.vpgid", PT.INT64, PF.ID,
        'the process group id of the process generating the event, as seen from its current PID '
        'namespace.',
        plain(_vpgid)),
    FieldDef("proc.is_container_healthcheck", PT.BOOL, PF.NA,
        "true if this process is running as a part of the container's health check.",
        plain(_is_container_healthcheck)),
    FieldDef("proc.is_container_liveness_probe", PT.BOOL, PF.NA,
        "true if this process is running as a part of the container's liveness probe.",
        plain(_is_container_liveness_probe)),
    FieldDef("proc.is_container_readiness_probe", PT.BOOL, PF.NA,
        "true if this process is running as a part of the container's readiness probe.",
        plain(_is_container_readiness_probe)),
    FieldDef("proc.is_exe_writable", PT.BOOL, PF.NA,
        "true if this process' executable file is writable by the same user that spawned the "
        'process.',
        plain(_is_exe_writable)),
    # hidden in -l (EPF_TABLE_ONLY) but accepted by sysdig 0.29.3
    FieldDef("thread.vmsize.b", PT.UINT64, PF.DEC,
        "For the process main thread, this is the total virtual memory for the process (in bytes). For "
        "the other threads, this field is zero.", plain(thread.vmsize_b), FieldFlag.TABLE_ONLY),
    FieldDef("thread.vmrss.b", PT.UINT64, PF.DEC,
        "For the process main thread, this is the resident non-swapped memory for the process (in "
        "bytes). For the other threads, this field is zero.", plain(thread.vmrss_b), FieldFlag.TABLE_ONLY),
    FieldDef("thread.nametid", PT.CHARBUF, PF.NA,
        "this field chains the process name and tid of a thread and can be used as a specific "
        "identifier of a thread for a specific execve.", plain(thread.nametid), FieldFlag.TABLE_ONLY),
))
