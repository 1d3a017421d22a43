"""Attach-mode checks: which threads to seize, and a one-line reason when the kernel says no.

The kernel's ptrace access check (kernel/ptrace.c __ptrace_may_access, security/yama) refuses with EPERM
for several distinct reasons and does not say which; the user needs to know which rule to change, so
`explain` reconstructs the likely cause from /proc and our own credentials.
"""
from __future__ import annotations

import errno
import os

from tracer.errors import ProcessGone, gone_on_missing

CAP_SYS_PTRACE = 19
YAMA_SCOPE = "/proc/sys/kernel/yama/ptrace_scope"


@gone_on_missing
def list_tasks(pid: int) -> set[int]:
    """Thread ids of process `pid` (from /proc/PID/task)."""
    return {int(t) for t in os.listdir(f"/proc/{pid}/task")}


def _status_fields(pid: int) -> dict[str, str]:
    out: dict[str, str] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, val = line.partition(":")
            out[key] = val.strip()
    return out


def has_cap_sys_ptrace() -> bool:
    caps = _status_fields(os.getpid()).get("CapEff", "0")
    return bool(int(caps, 16) >> CAP_SYS_PTRACE & 1)


def yama_scope() -> int | None:
    try:
        with open(YAMA_SCOPE) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def check_target(pid: int) -> None:
    """Raise TracerError-ready ProcessGone or TracerError before trying, for causes visible in /proc."""
    from tracer.errors import TracerError

    if pid <= 0:
        raise TracerError(f"invalid pid {pid}")
    if pid == os.getpid():
        raise TracerError(f"cannot attach to pid {pid}: that is sdu itself")
    try:
        fields = _status_fields(pid)
    except FileNotFoundError as exc:
        raise TracerError(f"cannot attach to pid {pid}: no such process") from exc
    except ProcessLookupError as exc:
        raise TracerError(f"cannot attach to pid {pid}: no such process") from exc
    tracer = int(fields.get("TracerPid", "0") or 0)
    if tracer:
        raise TracerError(f"cannot attach to pid {pid}: already traced by pid {tracer} (one tracer per process)")


def explain(pid: int, err: int) -> str:
    """One line naming why attaching to `pid` failed with `err` (an errno from PTRACE_SEIZE)."""
    return f"cannot attach to pid {pid}: {why(pid, err)}"


def why(pid: int, err: int) -> str:
    """Why attaching to `pid` failed with `err`, as the clause after "cannot attach to pid N: ": which
    ptrace rule or capability said no (kernel/ptrace.c __ptrace_may_access, security/yama)."""
    if err == errno.ESRCH:
        return "no such process"
    if err != errno.EPERM:
        return os.strerror(err)
    try:
        fields = _status_fields(pid)
    except (FileNotFoundError, ProcessLookupError, ProcessGone):
        return "no such process"
    uids = [int(u) for u in fields.get("Uid", "-1").split()]
    me = os.getuid()
    cap = has_cap_sys_ptrace()
    scope = yama_scope()
    tracer = int(fields.get("TracerPid", "0") or 0)
    if tracer and tracer != os.getpid():
        return f"already traced by pid {tracer} (one tracer per process)"
    if is_kernel_thread(pid):
        return "a kernel thread (ptrace cannot attach to kernel threads)"
    if scope == 3:
        return f"ptrace attach is disabled ({YAMA_SCOPE} = 3, only a reboot resets it)"
    if scope == 2 and not cap:
        return f"{YAMA_SCOPE} = 2 allows attaching only with CAP_SYS_PTRACE (run as root)"
    if uids and any(u != me for u in uids) and not cap:
        return (f"it runs as uid {uids[0]} and you are uid {me}; tracing another user's "
                "process needs CAP_SYS_PTRACE (run as root)")
    if scope == 1 and not cap:
        return (f"{YAMA_SCOPE} = 1 allows attaching only to your own descendants; "
                "use `sdu -- CMD`, run as root, or set it to 0")
    if fields.get("State", "").startswith("Z"):
        return "it is a zombie"
    return "operation not permitted (not dumpable, or a security module denied it)"


PF_KTHREAD = 0x00200000  # include/linux/sched.h: the task is a kernel thread


def is_kernel_thread(pid: int) -> bool:
    """/proc/PID/stat's flags (field 9) carry PF_KTHREAD; False when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    fields = stat[stat.rfind(b")") + 2:].split()  # after "pid (comm) ": state is fields[0]
    try:
        return bool(int(fields[6]) & PF_KTHREAD)
    except (IndexError, ValueError):
        return False
