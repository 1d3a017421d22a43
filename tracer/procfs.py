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


#: a first read's size: every per-process file read here but environ fits in it, read whole at once
_CHUNK = 8192


def read(path: str, limit: int = -1) -> bytes:
    """The bytes of a /proc file (its first `limit` when `limit` >= 0), with os.open/os.read: no file
    object, and one read() for a file shorter than what is asked (a /proc file's read returns less than
    asked only at its end: seq_file and the cmdline/environ readers fill the buffer while there is more)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        want = _CHUNK if limit < 0 else limit
        data = os.read(fd, want)
        if len(data) < want:
            return data
        parts = [data]
        got = len(data)
        while limit < 0 or got < limit:
            more = os.read(fd, _CHUNK if limit < 0 else limit - got)
            if not more:
                break
            parts.append(more)
            got += len(more)
        return b"".join(parts)
    finally:
        os.close(fd)


@gone_on_missing
def stat(tid: int) -> Stat:
    raw = read(f"/proc/{tid}/stat")
    # comm may contain spaces and parentheses: it ends at the last ')'.
    lpar, rpar = raw.index(b"("), raw.rindex(b")")
    comm = raw[lpar + 1:rpar].decode("utf-8", "surrogateescape")
    rest = raw[rpar + 2:].split(None, 37)  # (the fields after the 39th not split)
    # rest[0] is field 3 (state)
    return Stat(comm, rest[0].decode(), int(rest[1]), int(rest[2]), int(rest[3]), int(rest[4]),
                int(rest[7]), int(rest[9]), int(rest[36]))


#: what bytes.strip() strips (str.strip() would also strip non-ASCII spaces a value may end with)
_ASCII_SPACE = " \t\n\r\x0b\x0c"


#: the /proc/TID/status lines that are read (by first_id, vm_kb, ns_ids and the clone/exec decoders)
STATUS_KEYS = ("PPid", "Uid", "Gid", "VmSize", "VmRSS", "VmSwap", "NSpid", "NStgid")
_STATUS_MARKS = tuple((key, f"\n{key}:") for key in STATUS_KEYS)


@gone_on_missing
def status(tid: int) -> dict[str, str]:
    """The STATUS_KEYS lines of /proc/TID/status: key -> value (ASCII spaces stripped); a key the file
    lacks is absent (VmSize... of a kernel thread or zombie). No line but Name precedes them, so each is
    found as "\\nKey:"; the others, about 50 lines, are not split."""
    text = read(f"/proc/{tid}/status").decode("utf-8", "surrogateescape")
    out: dict[str, str] = {}
    for key, mark in _STATUS_MARKS:
        at = text.find(mark)
        if at >= 0:
            at += len(mark)
            end = text.find("\n", at)
            out[key] = text[at:end if end >= 0 else len(text)].strip(_ASCII_SPACE)
    return out


def line_after(raw: bytes, key: bytes) -> bytes | None:
    """What follows `key` on the first line of the file `raw` that starts with it, without its "\n";
    None when no line does."""
    if raw.startswith(key):
        at = len(key)
    else:
        at = raw.find(b"\n" + key)
        if at < 0:
            return None
        at += 1 + len(key)
    end = raw.find(b"\n", at)
    return raw[at:end if end >= 0 else len(raw)]


def _lines(raw: bytes) -> list[str]:
    """The lines of a file as iterating over it in binary mode gives them, decoded (surrogateescape),
    without their "\\n" (a decoded multibyte character never holds a "\\n" byte)."""
    if not raw:
        return []
    lines = raw.decode("utf-8", "surrogateescape").split("\n")
    if raw.endswith(b"\n"):
        lines.pop()
    return lines


def _nul_list(raw: bytes) -> list[str]:
    if raw.endswith(b"\0"):
        raw = raw[:-1]
    # decoded whole, then split: a NUL byte is never part of a multibyte sequence, so each string
    # decodes as it would alone
    return raw.decode("utf-8", "surrogateescape").split("\0") if raw else []


@gone_on_missing
def cmdline(pid: int) -> list[str]:
    return _nul_list(read(f"/proc/{pid}/cmdline"))


#: SCAP_MAX_ENV_SIZE: the bytes of an environment sysdig's driver puts in an execve exit, and its /proc
#: scan in a process table (the last one made a NUL); sinsp reads the rest from /proc only with
#: --large-environment (sysdig_user/state/parsers_process.py LargeEnvironment)
ENV_MAX = 4096


@gone_on_missing
def environ(pid: int) -> list[str]:
    """Environment strings, cut as sysdig's driver cuts them (ENV_MAX); [] when unreadable (another
    user's process without privilege)."""
    try:
        raw = read(f"/proc/{pid}/environ", ENV_MAX + 1)
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


_NOFILE = b"Max open files"


def fdlimit(pid: int) -> int:
    """Soft RLIMIT_NOFILE of process `pid`, -1 when unlimited, by prlimit(2): the value /proc/PID/limits
    prints, without the kernel formatting its 16 lines (a tenth of the cost). When prlimit refuses
    (another user's process without CAP_SYS_RESOURCE, a process gone), read from /proc/PID/limits."""
    import resource  # (a small extension module; ctypes would cost a plain run its import)

    try:
        soft = resource.prlimit(pid, resource.RLIMIT_NOFILE)[0]
    except OSError:
        return fdlimit_file(pid)
    return -1 if soft == resource.RLIM_INFINITY else soft


@gone_on_missing
def fdlimit_file(pid: int) -> int:
    """Soft RLIMIT_NOFILE from /proc/PID/limits ("Max open files  1024  4096  files")."""
    rest = line_after(read(f"/proc/{pid}/limits"), _NOFILE)
    if rest is None:
        return 0
    soft = rest.split()[0]
    return -1 if soft == b"unlimited" else int(soft)


@gone_on_missing
def cgroups(pid: int) -> list[str]:
    """ "subsys=/path" entries, one per controller, from /proc/PID/cgroup (v2: "0::/path" -> several).

    libsinsp keys containers by controller name; for a cgroup v2 hierarchy every controller shares the
    one path, so we list the v2 controllers the driver would (cpuset, cpu, cpuacct, io, memory, ...).
    Processes mostly share their cgroups (a parent and its children, a container's processes): the
    entries of the last few distinct files are kept, keyed by the file's bytes.
    """
    raw = read(f"/proc/{pid}/cgroup")
    known = _cgroup_memo.get(raw)
    if known is None:
        if len(_cgroup_memo) >= _CGROUP_MEMO_MAX:
            _cgroup_memo.clear()
        known = _cgroup_memo[raw] = _cgroup_entries(raw)
    return list(known)


_V2_CONTROLLERS = ("cpuset", "cpu", "cpuacct", "io", "memory", "devices", "freezer", "net_cls", "perf_event",
                   "net_prio", "hugetlb", "pids", "rdma", "misc")
_CGROUP_MEMO_MAX = 64
_cgroup_memo: dict[bytes, tuple[str, ...]] = {}


def _cgroup_entries(raw: bytes) -> tuple[str, ...]:
    out: list[str] = []
    for line in _lines(raw):
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _hid, ctrls, path = parts
        out += [f"{c}={path}" for c in (ctrls.split(",") if ctrls else _V2_CONTROLLERS) if c]
    return tuple(out)


@gone_on_missing
def loginuid(pid: int) -> int:
    try:
        val = int(read(f"/proc/{pid}/loginuid"))
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
