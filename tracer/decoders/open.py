"""open, openat, openat2, creat: paths, PPM file flags, creation mode and the opened file's device.

dirfd values are passed through (AT_FDCWD = -100, as the driver writes it). The exit repeats the
enter's params (the 2022 driver does, so an unpaired exit still names the file).

Each enter keeps its values in the thread's slot and the exit repeats them: the path (and openat2's
open_how) is read from the tracee once per call, at the enter stop, not again at the exit (the compiled
fast path, tracer/_fastpath.c, keeps the path the same way). sysdig's driver reads the path again at
the exit, so the two differ only if another thread of the process rewrites the path's buffer while
the open is in flight. An exit whose enter was not decoded here (attached mid-call, or the enter taken
by the fast path) reads the arguments itself, as before.
"""
from __future__ import annotations

from _collections_abc import Callable  # (collections.abc without collections)

from tracer import memory
from tracer.decoders import native
from tracer.decoders.base import Call, Decoder, Values, fd_dev


def _dev(c: Call) -> int:
    return fd_dev(c.pid, c.ret) if c.ret >= 0 and c.want_dev else 0


def open_enter(c: Call) -> Values:
    flags = c.u32(1)
    vals = [c.path(0), native.open_flags(flags), native.open_mode(flags, c.u32(2))]
    c.slot["open"] = vals
    return vals


def _entered(c: Call, key: str, enter: Callable[[Call], Values]) -> Values:
    """The values the enter stop of this call decoded (its slot), else decoded now."""
    vals = c.slot.get(key)
    return vals if isinstance(vals, list) else enter(c)


def open_exit(c: Call) -> Values:
    return [c.ret, *_entered(c, "open", open_enter), _dev(c)]


def openat_enter(c: Call) -> Values:
    a = c.args  # c.fd(0), c.u32(2) and c.u32(3) inlined (see Call.fd)
    flags = a[2] & 0xFFFFFFFF
    vals = [((a[0] & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000, c.path(1), native.open_flags(flags),
            native.open_mode(flags, a[3] & 0xFFFFFFFF)]
    c.slot["openat"] = vals  # the exit repeats them (module docstring)
    return vals


def openat_exit(c: Call) -> Values:
    vals = c.slot.get("openat")
    dirfd, name, flags, mode = vals if isinstance(vals, list) else openat_enter(c)
    ret = c.ret  # _dev(c) inlined
    return [ret, dirfd, name, flags, mode, fd_dev(c.pid, ret) if ret >= 0 and c.want_dev else 0]


def _open_how(c: Call) -> tuple[int, int, int]:
    """struct open_how {u64 flags; u64 mode; u64 resolve} at arg 2 (linux/openat2.h)."""
    words = memory.read_u64s(c.tid, c.args[2], 3)
    return tuple(words) if len(words) == 3 else (0, 0, 0)  # type: ignore[return-value]


def openat2_enter(c: Call) -> Values:
    flags, mode, resolve = _open_how(c)
    vals = [c.fd(0), c.path(1), native.open_flags(flags), native.open_mode(flags, mode), resolve]
    c.slot["openat2"] = vals
    return vals


def openat2_exit(c: Call) -> Values:
    return [c.ret, *_entered(c, "openat2", openat2_enter)]


def creat_enter(c: Call) -> Values:
    vals = [c.path(0), c.u32(1) & 0o7777]
    c.slot["creat"] = vals
    return vals


def creat_exit(c: Call) -> Values:
    return [c.ret, *_entered(c, "creat", creat_enter), _dev(c)]


DECODERS: dict[str, Decoder] = {
    "open": Decoder(open_enter, open_exit),
    "openat": Decoder(openat_enter, openat_exit),
    "openat2": Decoder(openat2_enter, openat2_exit),
    "creat": Decoder(creat_enter, creat_exit),
}
