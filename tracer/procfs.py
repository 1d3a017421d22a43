"""Reading one thread's identity from /proc, as the driver reads it from task_struct.

Used for clone/execve exit params and for the initial process list. Every accessor is wrapped by
gone_on_missing: a thread that exits while we read it raises ProcessGone (never a raw OSError).
"""
from __future__ import annotations

import os

from sysdig_user.rows import Record
from tracer.errors import gone_on_missing


class Stat(Record):
    """Fields of /proc/TID/stat (man 5 proc numbering in comments)."""

    _fields = ("comm", "state", "ppid", "pgrp", "session", "tty_nr", "minflt", "majflt", "processor")
    __slots__ = _fields
    comm: str
    state: str
    ppid: int  # 4
    pgrp: int  # 5
    session: int  # 6
    tty_nr: int  # 7
    minflt: int  # 10
    majflt: int  # 12
    processor: int  # 39

    def __init__(self, comm: str, state: str, ppid: int, pgrp: int, session: int, tty_nr: int, minflt: int,
                 majflt: int, processor: int) -> None:
        self.comm = comm
        self.state = state
        self.ppid = ppid
        self.pgrp = pgrp
        self.session = session
        self.tty_nr = tty_nr
        self.minflt = minflt
        self.majflt = majflt
        self.processor = processor


@gone_on_missing
def stat(tid: int) -> Stat:
    with open(f"/proc/{tid}/stat", "rb") as f:
        raw = f.read()
    # comm may contain spaces and parentheses: it ends at the last ')'.
    lpar, rpar = raw.index(b"("), raw.rindex(b")")
    comm = raw[lpar + 1:rpar].decode("utf-8", "surrogateescape")
    rest = raw[rpar + 2:].split()
    # rest[0] is field 3 (state)
    return Stat(comm, rest[0].decode(), int(rest[1]), int(rest[2]), int(rest[3]), int(rest[4]),
                int(rest[7]), int(rest[9]), int(rest[36]))


@gone_on_missing
def status(tid: int) -> dict[str, str]:
    out: dict[str, str] = {}
    with open(f"/proc/{tid}/status", "rb") as f:
        for line in f:
            key, _, val = line.partition(b":")
            out[key.decode()] = val.strip().decode("utf-8", "surrogateescape")
    return out


def _nul_list(raw: bytes) -> list[str]:
    if raw.endswith(b"\0"):
        raw = raw[:-1]
    return [s.decode("utf-8", "surrogateescape") for s in raw.split(b"\0")] if raw else []


@gone_on_missing
def cmdline(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return _nul_list(f.read())


#: SCAP_MAX_ENV_SIZE: the bytes of an environment sysdig's driver puts in an execve exit, and its /proc
#: scan in a process table (the last one made a NUL); sinsp reads the rest from /proc only with
#: --large-environment (sysdig_user/state/parsers_process.py LargeEnvironment)
ENV_MAX = 4096


@gone_on_missing
def environ(pid: int) -> list[str]:
    """Environment strings, cut as sysdig's driver cuts them (ENV_MAX); [] when unreadable (another
    user's process without privilege)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            raw = f.read(ENV_MAX + 1)
    except PermissionError:
        return []
    if len(raw) > ENV_MAX:
        raw = raw[:ENV_MAX - 1] + b"\0"
    return _nul_list(raw)


@gone_on_missing
def link(pid: int, name: str) -> str:
    """Target of /proc/PID/<name> (exe, cwd, root, fd/N); "" when not permitted."""
    try:
        return os.readlink(f"/proc/{pid}/{name}")
    except PermissionError:
        return ""


@gone_on_missing
def fdlimit(pid: int) -> int:
    """Soft RLIMIT_NOFILE from /proc/PID/limits ("Max open files  1024  4096  files")."""
    with open(f"/proc/{pid}/limits", "rb") as f:
        for line in f:
            if line.startswith(b"Max open files"):
                soft = line.split()[3]
                return -1 if soft == b"unlimited" else int(soft)
    return 0


@gone_on_missing
def cgroups(pid: int) -> list[str]:
    """ "subsys=/path" entries, one per controller, from /proc/PID/cgroup (v2: "0::/path" -> several).

    libsinsp keys containers by controller name; for a cgroup v2 hierarchy every controller shares the
    one path, so we list the v2 controllers the driver would (cpuset, cpu, cpuacct, io, memory, ...).
    """
    out: list[str] = []
    with open(f"/proc/{pid}/cgroup", "rb") as f:
        for line in f:
            parts = line.rstrip(b"\n").decode("utf-8", "surrogateescape").split(":", 2)
            if len(parts) != 3:
                continue
            _hid, ctrls, path = parts
            if not ctrls:
                for ctrl in ("cpuset", "cpu", "cpuacct", "io", "memory", "devices", "freezer", "net_cls",
                             "perf_event", "net_prio", "hugetlb", "pids", "rdma", "misc"):
                    out.append(f"{ctrl}={path}")
            else:
                out.extend(f"{c}={path}" for c in ctrls.split(",") if c)
    return out


@gone_on_missing
def loginuid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/loginuid") as f:
            val = int(f.read().strip())
    except (PermissionError, ValueError):
        return -1
    return -1 if val == 0xFFFFFFFF else val


def ns_ids(st: dict[str, str], key: str, fallback: int) -> int:
    """Innermost namespace id from an NSpid/NStgid line ("123\\t1" -> 1)."""
    val = st.get(key)
    return int(val.split()[-1]) if val else fallback


def first_id(st: dict[str, str], key: str) -> int:
    val = st.get(key)
    return int(val.split()[0]) if val else 0xFFFFFFFF


def vm_kb(st: dict[str, str], key: str) -> int:
    val = st.get(key)
    return int(val.split()[0]) if val else 0


def exe_writable(exepath: str, uid: int) -> bool:
    """Whether the executable is writable by the process's user (execve_flags EXE_WRITABLE)."""
    try:
        s = os.stat(exepath)
    except OSError:
        return False
    if uid == 0:
        return True
    return bool(s.st_uid == uid and s.st_mode & 0o200 or s.st_mode & 0o002)
