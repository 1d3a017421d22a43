"""State handlers for process identity: clone/fork/vfork/clone3 (every version), execve/execveat (every
version), procexit, cwd changes, credentials, session, fd limits and memory counters.

Follows libsinsp parsers.cpp at libs e5c53d64 (sysdig 0.29.3). Event versions differ in which params
exist, so params are looked up by name (``comm`` appears with CLONE_17/EXECVE_15; ``vtid``/``vpid`` with
the _20 versions); old versions without ``comm`` use ``exe`` for it, as sinsp does.
"""
from __future__ import annotations

from sysdig_user.scap.blocks import CaptureError
from sysdig_user.state import containers
from sysdig_user.state.parsers_files import Handler, concatenate_paths
from sysdig_user.state.threads import (
    CL_ACTIVE,
    CL_CLONE_INVERTED,
    CL_CLONE_THREAD,
    CL_CLOSED,
    CL_NAME_CHANGED,
    CL_PIPE_DST,
    CL_PIPE_SRC,
    NA,
    ThreadInfo,
    env_entries,
    normalize_cgroups,
    normalize_cwd,
)
from sysdig_user.state.verdict import Verdict

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)

if TYPE_CHECKING:
    from typing import Any

    from sysdig_user.event import Event
    from sysdig_user.state.inspector import State

CLONE_STALE_TIME_NS = 2_000_000_000  # a child entry older than this at the child's clone X is stale
RLIMIT_NOFILE = 7


def _opt(evt: Event, name: str) -> Any:
    """A param that only some versions of the event have (None when absent)."""
    return evt.param_by_name(name)


ENV_MAX = 4096  # SCAP_MAX_ENV_SIZE: an environment param this long may have been cut by the driver


class LargeEnvironment:
    """``--large-environment``: an execve whose environment param is ENV_MAX bytes long (cut by the
    driver, or by sdu's tracer as the driver cuts it) takes the whole environment from
    /proc/PID/environ, as sinsp's set_env does; a process already gone keeps the cut one. Set by each
    Session, for live captures only (sinsp would read this machine's /proc for a capture file's pids)."""

    on = False

    @staticmethod
    def read(pid: int) -> list[str] | None:
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                raw = f.read()
        except OSError:
            return None
        return split_args(raw) if raw else None


def split_args(raw: bytes | None) -> list[str]:
    """The NUL-separated args blob of clone/execve (``b"-l\\0/tmp\\0"`` -> ``["-l", "/tmp"]``)."""
    if not raw:
        return []
    parts = raw.split(b"\0")
    if parts and parts[-1] == b"":
        parts.pop()
    return [p.decode("utf-8", "surrogateescape") for p in parts]


def _comm_or_exe(evt: Event, exe: str) -> str:
    comm = _opt(evt, "comm")
    return exe if comm is None else comm


#: params 0..7 (res, exe, args, tid, pid, ptid, cwd, fdlimit): what every clone and execve exit version
#: has and their handlers read unconditionally
_MIN_PARAMS = 8


def _check_comm(evt: Event) -> None:
    """A clone or execve exit whose version has ``comm`` but which stops before it: sinsp throws (whatever
    the result and the thread, verified with sysdig 0.29.3 on clone/fork/vfork_20, clone3, execve_19 and
    execveat; the older versions crash it), and sysdig prints the message and exits 1."""
    info = evt.info
    idx = info.param_index("comm") if info is not None else -1
    if idx >= 0 and evt.nparams <= idx:
        raise CaptureError("Could not find process comm in event argument list")


# ------------------------------------------------------------------------------------------ clone

def _clone_caller(st: State, evt: Event, tid: int, child_tid: int) -> ThreadInfo | None:
    """The thread that called clone; a placeholder caller is patched from the event (sinsp 'invalid
    parent' path: exe/comm/args propagate to it)."""
    caller = st.threads.get(tid) or st.threads.placeholder(tid)
    if caller.is_placeholder:
        exe = evt.param(1)
        caller.exe = exe
        caller.comm = _comm_or_exe(evt, exe)
        caller.args = split_args(evt.param(2))
    return caller


def _new_child(st: State, evt: Event, caller: ThreadInfo, child_tid: int, flags: int,
               in_container: bool) -> ThreadInfo:
    child = ThreadInfo(tid=child_tid, pid=evt.param(4), ptid=caller.tid, flags=flags)
    if not caller.is_placeholder:
        child.exepath, child.root, child.sid = caller.exepath, caller.root, caller.sid
        child.vpgid, child.tty, child.loginuid = caller.vpgid, caller.tty, caller.loginuid
        if not flags & CL_CLONE_THREAD:
            child.env = list(caller.env)
    if not flags & CL_CLONE_THREAD:
        child.pid = child_tid
        child.fdtable = caller.fdtable.copy()
        child.cwd = st.threads.get_cwd(caller)
    child.exe = evt.param(1)
    child.comm = _comm_or_exe(evt, child.exe)
    child.args = split_args(evt.param(2))
    child.fdlimit = evt.param(7)
    if evt.param_by_name("vm_size") is not None:
        child.pfmajor, child.pfminor = evt.param(8), evt.param(9)
        child.vmsize_kb, child.vmrss_kb, child.vmswap_kb = evt.param(10), evt.param(11), evt.param(12)
    child.uid, child.gid = _opt(evt, "uid"), _opt(evt, "gid")
    if in_container:
        child.vtid, child.vpid = _opt(evt, "vtid"), _opt(evt, "vpid")
    else:
        child.vtid, child.vpid = child.tid, child.pid
    cgroups = _opt(evt, "cgroups")
    if cgroups is not None:
        child.cgroups = normalize_cgroups(split_args(cgroups))
    containers.resolve(st.containers, child)
    child.clone_ts = evt.ts
    return child


def clone_exit(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
    """Both sides of clone: the caller's X (res = child tid) creates the child from the caller; the
    child's X (res = 0) creates it only if the caller's X has not (an 'inverted' clone). A damaged exit
    without the params read here changes nothing (or stops the capture, see _check_comm)."""
    _check_comm(evt)
    res = evt.param(0)
    if res is None or res < 0 or evt.nparams < _MIN_PARAMS:
        return
    flags = _opt(evt, "flags") or 0
    tid = evt.tid
    vtid = _opt(evt, "vtid")
    in_container = vtid is not None and vtid != tid
    inverted = False
    if res == 0:
        if th is not None and th.clone_ts and evt.ts - th.clone_ts > CLONE_STALE_TIME_NS:
            st.threads.remove(tid, force=True)
            th = evt.thread = None
        if th is not None:
            if in_container:
                th.vtid, th.vpid = vtid, _opt(evt, "vpid")
            return
        inverted = True
        child_tid, tid = tid, evt.param(4 if flags & CL_CLONE_THREAD else 5)
    elif in_container:
        return
    else:
        child_tid = res
    caller = _clone_caller(st, evt, tid, child_tid)
    if caller is None:
        return
    old = st.threads.get(child_tid)
    if old is not None:
        if old.flags & CL_CLONE_INVERTED:
            return
        st.threads.remove(child_tid, force=True)
    child = _new_child(st, evt, caller, child_tid, flags, in_container)
    if inverted:
        child.flags |= CL_CLONE_INVERTED
    st.threads.add(child)
    if inverted:
        evt.thread = child  # the child's own event shows the new thread (verified with sysdig)
    elif evt.thread is None:
        evt.thread = caller


# ------------------------------------------------------------------------------------------ execve

def execve_exit(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
    """A successful execve replaces identity (exe, comm, args, env, cgroups, tty, exepath) in place.

    A damaged exit without the params read here changes nothing (or stops the capture, see _check_comm)."""
    _check_comm(evt)
    res = evt.param(0)
    if th is None or res is None or res < 0 or evt.nparams < _MIN_PARAMS:
        return
    th.exe = evt.param(1)
    th.comm = _comm_or_exe(evt, th.exe)
    th.args = split_args(evt.param(2))
    th.pid = evt.param(4)
    if th.ptid == -1:
        th.ptid = evt.param(5)
    th.fdlimit = evt.param(7)
    if evt.param_by_name("vm_size") is not None:
        th.pfmajor, th.pfminor = evt.param(8), evt.param(9)
        th.vmsize_kb, th.vmrss_kb, th.vmswap_kb = evt.param(10), evt.param(11), evt.param(12)
    env = _opt(evt, "env")
    if env is not None:
        th.env = env_entries(split_args(env))
        if len(env) == ENV_MAX and LargeEnvironment.on:  # possibly cut: the whole one from /proc
            whole = LargeEnvironment.read(th.pid)
            if whole is not None:
                th.env = env_entries(whole)
    cgroups = _opt(evt, "cgroups")
    if cgroups is not None and env is not None and evt.param_by_name("comm") is not None:
        th.cgroups = normalize_cgroups(split_args(cgroups))
    tty = _opt(evt, "tty")
    if tty is not None:
        th.tty = tty
    if evt.enter is not None and evt.enter.param_by_name("filename") is not None:
        filename = evt.enter.param_by_name("filename")
        th.exepath = NA if filename.startswith(NA) else concatenate_paths(th.cwd, filename)
    for name, attr in (("pgid", "vpgid"), ("loginuid", "loginuid")):
        val = _opt(evt, name)
        if val is not None:
            setattr(th, attr, val)
    containers.resolve(st.containers, th)  # an execve may bring the cgroups of another container
    th.lastexec_ts = evt.ts
    th.flags = (th.flags & (CL_PIPE_SRC | CL_PIPE_DST | CL_CLONE_INVERTED)) | CL_ACTIVE | CL_NAME_CHANGED


def procexit_enter(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
    """The thread is removed after this event is printed (a main thread with live threads stays)."""
    if th is not None:
        th.flags |= CL_CLOSED
        v.tid_to_remove = evt.tid


# ------------------------------------------------------------------------------------------ cwd

def chdir_exit(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
    """chdir and getcwd exits carry the path; relative paths resolve against the current cwd."""
    if th is not None and evt.param(0) >= 0:
        st.threads.set_cwd(th, evt.param(1))


def fchdir_exit(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
    if th is not None and evt.fdinfo is not None and evt.param(0) >= 0:
        st.threads.set_cwd(th, evt.fdinfo.name)


# ------------------------------------------------------------------------------------------ creds

def _enter_cred(evt: Event, th: ThreadInfo | None, idx: int) -> int | None:
    """The id a set*id call asked for, when it succeeded (sinsp reads it from the enter event)."""
    if th is None or evt.enter is None or evt.param(0) < 0:
        return None
    val: int = evt.enter.param(idx)
    return None if val == 0xFFFFFFFF else val


def setuid_exit(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
    uid = _enter_cred(evt, th, 0)
    if th is not None and uid is not None:
        th.uid = uid


def setgid_exit(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
    gid = _enter_cred(evt, th, 0)
    if th is not None and gid is not None:
        th.gid = gid


def setresuid_exit(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
    uid = _enter_cred(evt, th, 1)  # the effective uid
    if th is not None and uid is not None:
        th.uid = uid


def setresgid_exit(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
    gid = _enter_cred(evt, th, 1)
    if th is not None and gid is not None:
        th.gid = gid


def setsid_exit(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
    res = evt.param(0)
    if th is not None and res >= 0:
        th.sid = res


# ------------------------------------------------------------------------------------------ limits, memory

def rlimit_exit(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
    """getrlimit/setrlimit: RLIMIT_NOFILE's current value becomes the process fdlimit."""
    if th is None or evt.enter is None or evt.param(0) < 0:
        return
    if evt.enter.param(0) == RLIMIT_NOFILE and evt.param(1) != -1:
        st.threads.main_thread(th).fdlimit = evt.param(1)


def prlimit_exit(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
    if th is None or evt.enter is None or evt.param(0) < 0:
        return
    if evt.enter.param(1) != RLIMIT_NOFILE or evt.param(1) == -1:
        return
    target_tid = evt.enter.param(0) or evt.tid
    target = st.threads.get(target_tid)
    if target is not None:
        st.threads.main_thread(target).fdlimit = evt.param(1)


def vm_exit(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
    """brk/mmap/mmap2/munmap exits report the process memory counters."""
    if th is not None:
        vals = evt.param_values()
        if len(vals) >= 4:
            th.vmsize_kb, th.vmrss_kb, th.vmswap_kb = vals[1], vals[2], vals[3]


def switch_enter(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
    """sinsp parse_context_switch: page faults go to the thread, memory counters to its main thread
    (none when the main thread is unknown), so a thread's switch updates what the process shows."""
    if th is None:
        return
    vals = evt.param_values()
    if len(vals) >= 6:
        th.pfmajor, th.pfminor = vals[1], vals[2]
        main = th if th.tid == th.pid else st.threads.get(th.pid)
        if main is not None:
            main.vmsize_kb, main.vmrss_kb, main.vmswap_kb = vals[3], vals[4], vals[5]


HANDLERS: dict[str, Handler] = {
    "clone<": clone_exit,
    "fork<": clone_exit,
    "vfork<": clone_exit,
    "clone3<": clone_exit,
    "execve<": execve_exit,
    "execveat<": execve_exit,
    "procexit>": procexit_enter,
    "chdir<": chdir_exit,
    "getcwd<": chdir_exit,
    "fchdir<": fchdir_exit,
    "setuid<": setuid_exit,
    "setgid<": setgid_exit,
    "setresuid<": setresuid_exit,
    "setresgid<": setresgid_exit,
    "setsid<": setsid_exit,
    "getrlimit<": rlimit_exit,
    "setrlimit<": rlimit_exit,
    "prlimit<": prlimit_exit,
    "brk<": vm_exit,
    "mmap<": vm_exit,
    "mmap2<": vm_exit,
    "munmap<": vm_exit,
    "switch>": switch_enter,
}

# normalize_cwd is re-exported for inspector's PL loading
__all__ = ["HANDLERS", "normalize_cwd", "split_args"]
