"""clone/fork/vfork/clone3, execve/execveat, procexit, credentials, rlimits, sessions, namespaces, futex,
nanosleep, ptrace, seccomp, bpf.

The 20-param clone and execve exits describe a whole thread; they are filled from /proc like the driver
fills them from task_struct: exe is argv[0], args the remaining argv NUL-joined, cwd, the soft fd limit,
fault counters, VM sizes in KiB, comm, cgroups ("subsys=path"), and for clone the PPM clone flags plus
uid/gid and the namespace-local tid/pid; for execve the environment, tty, pgid, loginuid and
EXE_WRITABLE.
"""
from __future__ import annotations

from sysdig_user.flags import FLAG_TABLES
from tracer import memory, procfs
from tracer.decoders import native
from tracer.decoders.base import Call, Decoder, Values, no_params, res_only
from tracer.errors import ProcessGone

_EXE_WRITABLE = dict(FLAG_TABLES["execve_flags"])["EXE_WRITABLE"]


def _blob(items: list[str]) -> bytes:
    return b"".join(s.encode("utf-8", "surrogateescape") + b"\0" for s in items)


def _common(tid: int, pid: int) -> tuple[Values, dict[str, str], procfs.Stat]:
    """Params 1..13 shared by clone and execve exits (exe ... comm, before cgroups)."""
    st = procfs.stat(tid)
    status = procfs.status(tid)
    argv = procfs.cmdline(pid)
    exe = argv[0] if argv else st.comm
    ptid = int(status.get("PPid", "0"))
    vals: Values = [exe, _blob(argv[1:]), tid, pid, ptid, procfs.link(pid, "cwd"), procfs.fdlimit(pid),
                    st.majflt, st.minflt, procfs.vm_kb(status, "VmSize"), procfs.vm_kb(status, "VmRSS"),
                    procfs.vm_kb(status, "VmSwap"), st.comm]
    return vals, status, st


def clone_values(res: int, tid: int, pid: int, flags: int) -> Values:
    """CLONE_20 X params for thread `tid` (the caller when res > 0, the child when res == 0)."""
    try:
        vals, status, _ = _common(tid, pid)
        cg = _blob(procfs.cgroups(pid))
    except ProcessGone:
        return [res, "", b"", tid, pid, 0, "", 0, 0, 0, 0, 0, 0, "", b"", native.clone_flags(flags),
                0, 0, tid, pid]
    uid = procfs.first_id(status, "Uid")
    gid = procfs.first_id(status, "Gid")
    return [res, *vals, cg, native.clone_flags(flags), uid, gid,
            procfs.ns_ids(status, "NSpid", tid), procfs.ns_ids(status, "NStgid", pid)]


def clone_exit(c: Call) -> Values:
    """The caller's clone X (res = child tid, or -errno), with the flags the call asked for."""
    return clone_values(c.ret, c.tid, c.pid, native.requested_clone_flags(c.tid, c.nr, c.args))


def execve_enter(c: Call) -> Values:
    return [c.path(0)]


def execveat_enter(c: Call) -> Values:
    return [c.fd(0), c.path(1), c.u32(4)]


def exec_values(res: int, tid: int, pid: int) -> Values:
    """EXECVE_19 X params for `tid` (after a successful exec: the new image; after a failure: the old)."""
    try:
        vals, status, st = _common(tid, pid)
        cg = _blob(procfs.cgroups(pid))
        env = _blob(procfs.environ(pid))
        login = procfs.loginuid(pid)
        exepath = procfs.link(pid, "exe")
    except ProcessGone:
        return [res, "", b"", tid, pid, 0, "", 0, 0, 0, 0, 0, 0, "", b"", b"", 0, 0, -1, 0]
    writable = procfs.exe_writable(exepath, procfs.first_id(status, "Uid"))
    return [res, *vals, cg, env, st.tty_nr, st.pgrp, login, _EXE_WRITABLE if writable else 0]


def execve_exit(c: Call) -> Values:
    return exec_values(c.ret, c.tid, c.pid)


def procexit_values(status: int) -> Values:
    """PROCEXIT_1 params from a wait status: status, exit code, terminating signal, core dumped."""
    sig = status & 0x7F
    return [status, (status >> 8) & 0xFF, sig if sig != 0x7F else 0, 1 if status & 0x80 else 0]


# ---- credentials, sessions, limits ----------------------------------------------------------------

def _int_arg0(c: Call) -> Values:
    return [c.u32(0)]


def _three_u32(c: Call) -> Values:
    return [c.u32(0), c.u32(1), c.u32(2)]


def getresid_exit(c: Call) -> Values:
    raw = [memory.read(c.tid, c.args[i], 4) for i in range(3)]
    return [c.ret, *(int.from_bytes(r, "little") if len(r) == 4 else 0xFFFFFFFF for r in raw)]


def id_exit(c: Call) -> Values:
    return [c.ret & 0xFFFFFFFF]


def setpgid_enter(c: Call) -> Values:
    return [c.s32(0), c.s32(1)]


def rlimit_enter(c: Call) -> Values:
    return [c.u32(0) & 0xFF]


def _limits_at(c: Call, i: int) -> list[int]:
    words = memory.read_u64s(c.tid, c.args[i], 2) if c.args[i] else []
    return [w - (1 << 64) if w >= 1 << 63 else w for w in words] if len(words) == 2 else [-1, -1]


def getrlimit_exit(c: Call) -> Values:
    return [c.ret, *(_limits_at(c, 1) if not c.failed else [-1, -1])]


def prlimit_enter(c: Call) -> Values:
    return [c.s32(0), c.u32(1) & 0xFF]


def prlimit_exit(c: Call) -> Values:
    new = _limits_at(c, 2)
    old = _limits_at(c, 3) if not c.failed else [-1, -1]
    return [c.ret, *new, *old]


def unshare_enter(c: Call) -> Values:
    return [native.clone_flags(c.u32(0))]


def setns_enter(c: Call) -> Values:
    return [c.fd(0), native.clone_flags(c.u32(1))]


def futex_enter(c: Call) -> Values:
    return [c.u64(0), c.u32(1) & 0xFFFF, c.u64(2)]


def nanosleep_enter(c: Call) -> Values:
    ts = memory.read_u64s(c.tid, c.args[0], 2)
    return [ts[0] * 1_000_000_000 + ts[1] if len(ts) == 2 else 0]


def ptrace_enter(c: Call) -> Values:
    return [c.u32(0) & 0xFFFF, c.s32(1)]


def ptrace_exit(c: Call) -> Values:
    return [c.ret, (0, c.u64(2)), (0, c.u64(3))]


def seccomp_enter(c: Call) -> Values:
    return [c.u64(0)]


def bpf_enter(c: Call) -> Values:
    return [c.i64(0)]


def bpf_exit(c: Call) -> Values:
    return [(1, c.ret) if c.failed else (0, c.ret)]


DECODERS: dict[str, Decoder] = {
    "clone": Decoder(no_params, clone_exit),
    "clone3": Decoder(no_params, clone_exit),
    "fork": Decoder(no_params, clone_exit),
    "vfork": Decoder(no_params, clone_exit),
    "execve": Decoder(execve_enter, execve_exit),
    "execveat": Decoder(execveat_enter, execve_exit),
    "getuid": Decoder(no_params, id_exit),
    "geteuid": Decoder(no_params, id_exit),
    "getgid": Decoder(no_params, id_exit),
    "getegid": Decoder(no_params, id_exit),
    "setuid": Decoder(_int_arg0, res_only),
    "setgid": Decoder(_int_arg0, res_only),
    "setresuid": Decoder(_three_u32, res_only),
    "setresgid": Decoder(_three_u32, res_only),
    "getresuid": Decoder(no_params, getresid_exit),
    "getresgid": Decoder(no_params, getresid_exit),
    "setpgid": Decoder(setpgid_enter, res_only),
    "setsid": Decoder(no_params, res_only),
    "getrlimit": Decoder(rlimit_enter, getrlimit_exit),
    "setrlimit": Decoder(rlimit_enter, getrlimit_exit),
    "prlimit64": Decoder(prlimit_enter, prlimit_exit),
    "unshare": Decoder(unshare_enter, res_only),
    "setns": Decoder(setns_enter, res_only),
    "futex": Decoder(futex_enter, res_only),
    "nanosleep": Decoder(nanosleep_enter, res_only),
    "ptrace": Decoder(ptrace_enter, ptrace_exit),
    "seccomp": Decoder(seccomp_enter, res_only),
    "bpf": Decoder(bpf_enter, bpf_exit),
}
