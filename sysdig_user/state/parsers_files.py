"""State handlers for file-descriptor creating/destroying events: open family, close, dup, fcntl, pipe,
and the single-fd creators (eventfd, signalfd, timerfd, inotify, userfaultfd, bpf).

Semantics follow libsinsp's parsers.cpp at the libs version sysdig 0.29.3 uses (e5c53d64): open,
creat and the old openat need their paired enter event (an unpaired exit adds nothing), OPENAT_2/openat2
carry everything in the exit; names are resolved against the cwd or dirfd with sinsp's
concatenate_paths, whose normalisation (``./``, ``../``, ``//``, trailing ``/``) fd.name shows.
"""
from __future__ import annotations

from _collections_abc import Callable  # (collections.abc without collections)

from sysdig_user.event_table import event_code
from sysdig_user.flags import FLAG_TABLES
from sysdig_user.state.fds import FdInfo, FdType
from sysdig_user.state.threads import CL_PIPE_DST, CL_PIPE_SRC, ThreadInfo
from sysdig_user.state.verdict import Verdict

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)

if TYPE_CHECKING:
    from sysdig_user.event import Event
    from sysdig_user.state.inspector import State

Handler = Callable[["State", "Event", "ThreadInfo | None", Verdict], None]

O_DIRECTORY = dict(FLAG_TABLES["file_flags"])["O_DIRECTORY"]
_FCNTL = dict(FLAG_TABLES["fcntl_commands"])
F_DUPFD = _FCNTL["F_DUPFD"]
F_DUPFD_CLOEXEC = _FCNTL["F_DUPFD_CLOEXEC"]
AT_FDCWD = -100  # PPM_AT_FDCWD: the driver passes the native value through
UNKNOWN_DIR = "<UNKNOWN>"

OPEN_X = event_code("open", False)
CREAT_X = event_code("creat", False)
OPENAT_OLD_X = 103  # PPME_SYSCALL_OPENAT_X: name/flags/dirfd only in the enter event
OPENAT2_X = event_code("openat2", False)


# ------------------------------------------------------------------------------------------ paths

def _sanitize_char(path: str) -> str:
    """sinsp replaces non-printable bytes with '.' while copying a path (g_invalidchar)."""
    if path.isascii() and path.isprintable():
        return path
    raw = path.encode("utf-8", "surrogateescape")
    return bytes(b if 32 <= b < 127 else 0x2E for b in raw).decode("ascii")


def _rewind(out: list[str]) -> None:
    """rewind_to_parent_path: drop the last component of ``out`` (which ends with '/')."""
    if len(out) <= 1:
        return
    out.pop()
    while len(out) >= 1 and out[-1] != "/":
        out.pop()


_JOINED: dict[tuple[str, str], str] = {}  # concatenate_paths' results: programs open the same paths
_JOINED_MAX = 4096


def concatenate_paths(base: str, path: str) -> str:
    """sinsp_utils::concatenate_paths: ``path`` if absolute, else ``base + path``, normalised.

    ``concatenate_paths("/home/u/", "../x//./y/")`` -> ``"/home/x/y"``; an empty ``path`` yields
    ``base`` without its trailing slash (``"/home/u"``); a root stays ``"/"``.
    """
    key = (base, path)
    joined = _JOINED.get(key)
    if joined is None:
        joined = _concatenate(base, path)
        if len(_JOINED) >= _JOINED_MAX:
            _JOINED.clear()
        _JOINED[key] = joined
    return joined


def _concatenate(base: str, path: str) -> str:
    if ("//" not in path and "/." not in path and (path[:1] != "." or base[-1:] not in ("/", ""))
            and path.isascii() and path.isprintable()):
        # nothing to fold or replace (the loop below would copy every character): join, drop a final '/'
        joined = path if path[:1] == "/" else base + path
        return joined[:-1] if len(joined) > 1 and joined[-1] == "/" else joined
    out = list(base) if path[:1] != "/" else []
    path = _sanitize_char(path)
    i, n = 0, len(path)
    while i < n:
        c = path[i]
        at_start = not out or out[-1] == "/"
        if c == "." and at_start:
            nxt = path[i + 1:i + 2]
            if nxt == "/":
                i += 2
                continue
            if nxt == "":
                i += 1
                continue
            if nxt == "." and path[i + 2:i + 3] in ("/", ""):
                _rewind(out)
                i += 3
                continue
        elif c == "/" and out and out[-1] == "/":
            i += 1
            continue
        out.append(c)
        i += 1
    if len(out) > 1 and out[-1] == "/":
        out.pop()
    return "".join(out)


def dirfd_base(st: State, th: ThreadInfo, name: str, dirfd: int) -> str:
    """sinsp parse_openat_dir: '.' for absolute names, the cwd for AT_FDCWD, else the dirfd's name
    with a trailing '/', or '<UNKNOWN>' when the dirfd is not in the table."""
    if name[:1] == "/":
        return "."
    if dirfd == AT_FDCWD:
        return st.threads.get_cwd(th)
    info = th.fdtable.get(dirfd)
    if info is None:
        return UNKNOWN_DIR
    return info.name if info.name.endswith("/") else info.name + "/"


def resolve_at(st: State, th: ThreadInfo, dirfd: int, name: str) -> str:
    """The full path an *at() call names (what fd.name shows for openat, also for failed calls)."""
    return concatenate_paths(dirfd_base(st, th, name, dirfd), name)


# ------------------------------------------------------------------------------------------ handlers

def open_exit(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
    """open/creat/openat/openat2 exit: add a FILE_V2 (or DIRECTORY with O_DIRECTORY) fd."""
    if th is None:
        return
    code = evt.type
    dev = 0
    if code in (OPEN_X, CREAT_X, OPENAT_OLD_X) and evt.enter is None:
        return  # sinsp needs the stored enter event for these versions
    if code == OPEN_X:
        name, flags, base = evt.param(1), evt.param(2), st.threads.get_cwd(th)
        dev = evt.param(4) or 0
    elif code == CREAT_X:
        name, flags, base = evt.param(1), 0, st.threads.get_cwd(th)
        dev = evt.param(3) or 0
    elif code == OPENAT_OLD_X:
        assert evt.enter is not None
        ent = evt.enter
        name, flags = ent.param(1), ent.param(2)
        base = dirfd_base(st, th, name, ent.param(0))
    else:  # OPENAT_2 and openat2 carry dirfd/name/flags in the exit
        name, flags = evt.param(2), evt.param(3)
        base = dirfd_base(st, th, name, evt.param(1))
        if code != OPENAT2_X:
            dev = evt.param(5) or 0
    fd = evt.param(0)
    if fd < 0:
        return
    ftype = FdType.DIRECTORY if flags & O_DIRECTORY else FdType.FILE_V2
    path = concatenate_paths(base, name)
    evt.fdinfo = st.add_fd(th, FdInfo(fd, ftype, path, flags, dev))  # (by position: quicker)


def close_exit(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
    """A successful paired close schedules the removal; the event itself still shows the fd."""
    if th is None or evt.fdinfo is None or evt.param(0) < 0:
        return
    v.remove_fd(th.fdtable, th.lastevent_fd)


def dup_exit(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
    """dup/dup2/dup3: the new fd is a copy of the enter event's fd (replacing any fd of that number)."""
    if th is None:
        return
    res = evt.param(0)
    if res < 0:
        return
    if res == 0:  # sinsp's shell-pipe heuristic
        th.flags |= CL_PIPE_DST
    elif res == 1:
        th.flags |= CL_PIPE_SRC
    if evt.fdinfo is None:
        return
    evt.fdinfo = st.add_fd(th, evt.fdinfo.clone(res), evt.fdinfo.name)


def fcntl_exit(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
    """F_DUPFD/F_DUPFD_CLOEXEC duplicate the fd like dup (the command is in the enter event)."""
    if th is None or evt.enter is None or evt.fdinfo is None:
        return
    if evt.enter.param(1) not in (F_DUPFD, F_DUPFD_CLOEXEC):
        return
    res = evt.param(0)
    if res >= 0:
        evt.fdinfo = st.add_fd(th, evt.fdinfo.clone(res), evt.fdinfo.name)


def pipe_exit(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
    """pipe/pipe2: two FIFO fds with no name; fd.num ends up on the second one, as in sinsp."""
    if th is None or evt.param(0) < 0:
        return
    ino = evt.param(3)
    for i in (1, 2):
        evt.fdinfo = st.add_fd(th, FdInfo(evt.param(i), FdType.FIFO, "", ino=ino))


def _single_fd(ftype: FdType) -> Handler:
    """Exit events whose return value is a new fd of a fixed type and no name."""
    def handler(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
        if th is None:
            return
        fd = evt.param(0)
        if fd >= 0:
            evt.fdinfo = st.add_fd(th, FdInfo(fd, ftype, ""))
    handler.__name__ = f"{ftype.name.lower()}_exit"
    handler.__doc__ = f"Add a {ftype.name} fd for a successful call."
    return handler


def bpf_exit(st: State, evt: Event, th: ThreadInfo | None, v: Verdict) -> None:
    """bpf's return is a DYN param: index 0 means an fd (program/map), index 1 an errno."""
    val = evt.param(0)
    if th is None or val is None or val[0] != 0 or val[1] < 0:
        return
    evt.fdinfo = st.add_fd(th, FdInfo(val[1], FdType.BPF, ""))


HANDLERS: dict[str, Handler] = {
    "open<": open_exit,
    "creat<": open_exit,
    "openat<": open_exit,
    "openat2<": open_exit,
    "close<": close_exit,
    "dup<": dup_exit,
    "fcntl<": fcntl_exit,
    "pipe<": pipe_exit,
    "eventfd<": _single_fd(FdType.EVENT),
    "signalfd<": _single_fd(FdType.SIGNALFD),
    "timerfd_create<": _single_fd(FdType.TIMERFD),
    "inotify_init<": _single_fd(FdType.INOTIFY),
    "userfaultfd<": _single_fd(FdType.USERFAULTFD),
    "bpf<": bpf_exit,
}
