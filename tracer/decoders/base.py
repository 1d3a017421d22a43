"""What every decoder receives (Call) and returns (param value lists), plus argument readers.

A decoder is a pair of functions: on_enter(call) -> values of the enter event, on_exit(call) -> values
of the exit event, in the order of the event table's params (sysdig_user.event_table.EVENTS[code]),
as the python values sysdig_user.params encodes. Arguments are read again at exit from the saved
registers (the tracee's memory is unchanged across the call for inputs), so nothing is carried from
enter to exit except in `call.slot` (the thread's slot, cleared after exit by the sink).
"""
from __future__ import annotations

import os
from _collections_abc import Callable  # (collections.abc without collections)

from sysdig_user.rows import TupleRow
from tracer import libc, memory

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    from typing import Any

    from typing_extensions import Self

Values = list["Any"]

DEFAULT_SNAPLEN = 80


class Call:
    """One syscall stop of one thread, as decoders see it."""

    __slots__ = ("args", "nr", "pid", "ret", "slot", "snaplen", "tid", "want_dev", "want_vm")

    def __init__(self, tid: int, pid: int, nr: int, args: tuple[int, ...], ret: int, snaplen: int,
                 slot: dict[str, Any], want_dev: bool = True, want_vm: bool = True) -> None:
        self.tid = tid
        self.pid = pid
        self.nr = nr
        self.args = args
        self.ret = ret
        self.snaplen = snaplen
        self.slot = slot
        # Params that cost a /proc read and that nothing may read (EventBuilder's read_dev/read_vm):
        # when false, open's dev and the VM sizes of mmap/munmap/brk exits are written as 0.
        self.want_dev = want_dev
        self.want_vm = want_vm

    # -- argument views (registers are u64; C ints are the low 32 bits, sign-extended) --

    def s32(self, i: int) -> int:
        v = self.args[i] & 0xFFFFFFFF
        return v - (1 << 32) if v & 0x80000000 else v

    fd = s32  # (an alias, not a call to s32: one call less per fd argument)
    # The hottest decoders inline these views: s32(i) is ((args[i] & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000,
    # u32(i) is args[i] & 0xFFFFFFFF (a method call costs more than the arithmetic).

    def u32(self, i: int) -> int:
        return self.args[i] & 0xFFFFFFFF

    def u64(self, i: int) -> int:
        return self.args[i]

    def i64(self, i: int) -> int:
        v = self.args[i]
        return v - (1 << 64) if v >= 1 << 63 else v

    def path(self, i: int) -> str:
        """NUL-terminated string argument; "(NULL)" for a NULL pointer, like the driver."""
        raw = memory.read_cstring(self.tid, self.args[i], 4096)
        return "(NULL)" if raw is None else raw.decode("utf-8", "surrogateescape")

    def data(self, i: int, size: int) -> bytes:
        """Buffer argument cut at snaplen (the driver's data params are at most snaplen bytes)."""
        if size <= 0:
            return b""
        return memory.read(self.tid, self.args[i], size if size < self.snaplen else self.snaplen)  # noqa: FURB136 - no min() call

    @property
    def failed(self) -> bool:
        return -4096 < self.ret < 0


class Decoder(TupleRow):
    """A syscall's two decoders (a TupleRow: typing.NamedTuple imports typing, collections.namedtuple
    collections)."""

    __slots__ = ()
    _fields = ("on_enter", "on_exit")  # in the order __new__ takes them

    if TYPE_CHECKING:
        on_enter: Callable[[Call], Values]
        on_exit: Callable[[Call], Values]

    def __new__(cls, on_enter: Callable[[Call], Values], on_exit: Callable[[Call], Values]) -> Self:
        return tuple.__new__(cls, (on_enter, on_exit))


def no_params(_c: Call) -> Values:
    return []


def res_only(c: Call) -> Values:
    return [c.ret]


def fd_only(c: Call) -> Values:
    return [((c.args[0] & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000]  # c.fd(0) inlined (close, dup, ...)


# Per traced process, sdu's open fds on /proc/PID/status and /proc/PID/fd: a procfs file re-read with
# pread at offset 0 is regenerated, and a stat relative to an open directory skips the path walk, so
# the per-event cost is one pread or one fstatat instead of open+read+close or a 4-level lookup
# (bench/tracer_bench.py). A pid is only reused after its exit, when forget_process closes them. And
# the pidfds the socket decoders duplicate the tracee's fds through (tracer/decoders/net.py).
_status_fds: dict[int, int] = {}
_fd_dirs: dict[int, int] = {}
pidfds: dict[int, int] = {}


def forget_process(pid: int) -> None:
    """Close the /proc fds and the pidfd kept for `pid` (called at its exit)."""
    for cache in (_status_fds, _fd_dirs, pidfds):
        fd = cache.pop(pid, None)
        if fd is not None:
            os.close(fd)


def _field_kib(text: bytes, key: bytes) -> int:
    i = text.find(key)
    if i < 0:
        return 0
    j = text.find(b"\n", i)
    return int(text[i + len(key):j].split()[0])


def proc_vm(pid: int) -> tuple[int, int, int]:
    """(vm_size, vm_rss, vm_swap) in KiB from /proc/PID/status; zeros if the process is gone."""
    fd = _status_fds.get(pid)
    try:
        if fd is None:
            fd = _status_fds[pid] = os.open(f"/proc/{pid}/status", os.O_RDONLY | os.O_CLOEXEC)
        text = os.pread(fd, 8192, 0)
    except OSError:
        return 0, 0, 0
    return _field_kib(text, b"VmSize:"), _field_kib(text, b"VmRSS:"), _field_kib(text, b"VmSwap:")


def fd_dev(pid: int, fd: int) -> int:
    """st_dev of the file behind tracee fd `fd`, in the kernel's new_encode_dev layout (open X dev)."""
    dirfd = _fd_dirs.get(pid)
    if dirfd is None:
        try:
            dirfd = _fd_dirs[pid] = os.open(f"/proc/{pid}/fd", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            return 0
    if _fstatat_dev is not None:
        # libc's fstatat for st_dev alone: half the instructions of os.stat, which builds a 20-field
        # stat_result (float and ns times) for the one field needed here.
        name = _fd_names.get(fd)
        if name is None:
            name = b"%d" % fd
            if 0 <= fd < 1024:
                _fd_names[fd] = name
        dev = _fstatat_dev(dirfd, name)
        if dev < 0:
            return 0
    else:
        try:
            dev = os.stat(str(fd), dir_fd=dirfd).st_dev
        except OSError:
            return 0
    code = _dev_codes.get(dev)
    if code is None:
        major, minor = os.major(dev), os.minor(dev)
        code = (minor & 0xFF) | (major << 8) | ((minor & ~0xFF) << 12)
        if len(_dev_codes) < 4096:
            _dev_codes[dev] = code
    return code


_fstatat_dev = libc.fstatat_dev
# The file system types whose stat st_dev is their superblock's device, which /proc/PID/mountinfo shows
# (their getattr is generic_fillattr's, or sets it so): for a file on one of these, open's dev may come
# from the mount its /proc/PID/fdinfo/FD names (tracer/_fastpath.c fdinfo_dev: a read of a file kept
# open, about 40% of this stat). Not here: those whose st_dev is a subvolume's, a layer's or a
# pseudo-device (btrfs, bcachefs, overlay), and anything unverified: they take the stat.
STAT_DEV_FSTYPES = (b"ext2", b"ext3", b"ext4", b"xfs", b"tmpfs", b"ramfs", b"devtmpfs", b"proc", b"sysfs", b"devpts",
                    b"vfat", b"cgroup", b"cgroup2")
# fd -> its /proc/PID/fd entry name, for fd_dev: filled as fds are seen (all 1024 made at import cost a
# start 1.4M instructions, callgrind)
_fd_names: dict[int, bytes] = {}
_dev_codes: dict[int, int] = {}  # st_dev -> its new_encode_dev value (a run sees few devices)
