"""Native x86_64 Linux constants and their translation to the PPM encodings of sysdig_user.flags.

The driver translates native flag values to PPM values before writing events (driver/ppm_flag_helpers.h
at libs e5c53d64); so do we. Native values come from the kernel uapi headers named per table
(x86_64, Linux 6.x; they are ABI and never change). PPM values are never written here: they are looked
up by symbol name in sysdig_user.flags, so a symbol missing there fails at import, not silently.
"""
from __future__ import annotations

from _collections_abc import Callable, Sequence  # (collections.abc without collections)

from sysdig_user.flags import FLAG_TABLES
from tracer import memory

# include/uapi/asm-generic/fcntl.h (x86_64 uses the generic values). O_SYNC is __O_SYNC|O_DSYNC and
# O_TMPFILE is __O_TMPFILE|O_DIRECTORY in the kernel; the driver tests them with `flags & X`, so any
# overlapping bit sets the PPM bit. We test the distinct bits (__O_SYNC, __O_TMPFILE) instead, so a
# plain O_DIRECTORY open is not shown as O_TMPFILE (documented difference from the driver).
O_ACCMODE = 0o3
O_WRONLY = 0o1
O_RDWR = 0o2
O_CREAT = 0o100
__O_TMPFILE = 0o20000000
OPEN_FLAGS: tuple[tuple[int, str], ...] = (
    (0o100, "O_CREAT"), (0o2000, "O_APPEND"), (0o10000, "O_DSYNC"), (0o200, "O_EXCL"),
    (0o4000, "O_NONBLOCK"), (0o4000000, "O_SYNC"), (0o1000, "O_TRUNC"), (0o40000, "O_DIRECT"),
    (0o200000, "O_DIRECTORY"), (0o100000, "O_LARGEFILE"), (0o2000000, "O_CLOEXEC"),
    (__O_TMPFILE, "O_TMPFILE"),
)

# include/uapi/linux/sched.h
CLONE_FLAGS: tuple[tuple[int, str], ...] = (
    (0x00000400, "CLONE_FILES"), (0x00000200, "CLONE_FS"), (0x80000000, "CLONE_IO"),
    (0x08000000, "CLONE_NEWIPC"), (0x40000000, "CLONE_NEWNET"), (0x00020000, "CLONE_NEWNS"),
    (0x20000000, "CLONE_NEWPID"), (0x04000000, "CLONE_NEWUTS"), (0x00008000, "CLONE_PARENT"),
    (0x00100000, "CLONE_PARENT_SETTID"), (0x00002000, "CLONE_PTRACE"), (0x00000800, "CLONE_SIGHAND"),
    (0x00040000, "CLONE_SYSVSEM"), (0x00010000, "CLONE_THREAD"), (0x00800000, "CLONE_UNTRACED"),
    (0x00000100, "CLONE_VM"), (0x10000000, "CLONE_NEWUSER"), (0x00200000, "CLONE_CHILD_CLEARTID"),
    (0x01000000, "CLONE_CHILD_SETTID"), (0x00080000, "CLONE_SETTLS"), (0x00004000, "CLONE_VFORK"),
    (0x02000000, "CLONE_NEWCGROUP"),
)
CLONE_THREAD = 0x00010000
CLONE_FILES = 0x00000400
CLONE_VM = 0x00000100
CLONE_VFORK = 0x00004000
CLONE_UNTRACED = 0x00800000
NR_CLONE, NR_VFORK, NR_CLONE3 = 56, 58, 435  # (arch/x86/entry/syscalls/syscall_64.tbl)


def requested_clone_flags(tid: int, nr: int, args: Sequence[int]) -> int:
    """The native CLONE_* flags the clone-family call `nr` of thread `tid` asked for, at its exit (ptrace
    does not report them): clone's arg 0 without its exit signal, the first word of clone3's struct
    clone_args (read from the tracee), vfork's CLONE_VM|CLONE_VFORK; 0 for fork or no arguments."""
    if nr == NR_CLONE and args:
        return args[0] & ~0xFF
    if nr == NR_CLONE3 and args:
        words = memory.read_u64s(tid, args[0], 1)
        return words[0] if words else 0
    if nr == NR_VFORK:
        return CLONE_VM | CLONE_VFORK
    return 0

# include/uapi/asm-generic/mman-common.h, arch/x86/include/uapi/asm/mman.h, linux/mman.h
MMAP_FLAGS: tuple[tuple[int, str], ...] = (
    (0x01, "MAP_SHARED"), (0x02, "MAP_PRIVATE"), (0x10, "MAP_FIXED"), (0x20, "MAP_ANONYMOUS"),
    (0x40, "MAP_32BIT"), (0x4000, "MAP_NORESERVE"), (0x8000, "MAP_POPULATE"), (0x10000, "MAP_NONBLOCK"),
    (0x0100, "MAP_GROWSDOWN"), (0x0800, "MAP_DENYWRITE"), (0x1000, "MAP_EXECUTABLE"),
    (0x2000, "MAP_LOCKED"),
)

# include/uapi/asm-generic/fcntl.h (value-indexed: the command number itself)
FCNTL_CMDS: tuple[tuple[int, str], ...] = (
    (0, "F_DUPFD"), (1, "F_GETFD"), (2, "F_SETFD"), (3, "F_GETFL"), (4, "F_SETFL"), (5, "F_GETLK"),
    (6, "F_SETLK"), (7, "F_SETLKW"), (8, "F_SETOWN"), (9, "F_GETOWN"), (10, "F_SETSIG"),
    (11, "F_GETSIG"), (15, "F_SETOWN_EX"), (16, "F_GETOWN_EX"), (36, "F_OFD_GETLK"),
    (37, "F_OFD_SETLK"), (38, "F_OFD_SETLKW"), (1024, "F_SETLEASE"), (1025, "F_GETLEASE"),
    (1026, "F_NOTIFY"), (1029, "F_CANCELLK"), (1030, "F_DUPFD_CLOEXEC"), (1031, "F_SETPIPE_SZ"),
    (1032, "F_GETPIPE_SZ"),
)
F_DUPFD, F_DUPFD_CLOEXEC = 0, 1030

# include/uapi/asm-generic/socket.h, linux/socket.h, linux/tcp.h
SOL_SOCKET, SOL_TCP = 1, 6
SOCKOPT_LEVELS: tuple[tuple[int, str], ...] = ((SOL_SOCKET, "SOL_SOCKET"), (SOL_TCP, "SOL_TCP"))

# include/uapi/linux/resource.h: RLIMIT_* numbering is identical in PPM (rlimit_resources)
# include/uapi/asm-generic/signal.h: signals are native in events (PT_SIGTYPE)


def _ppm(table: str) -> dict[str, int]:
    return dict(FLAG_TABLES[table])


def _bits(native: tuple[tuple[int, str], ...], table: str) -> tuple[tuple[int, int], ...]:
    ppm = _ppm(table)
    return tuple((nat, ppm[name]) for nat, name in native)


_OPEN = _bits(OPEN_FLAGS, "file_flags")
_PPM_O = _ppm("file_flags")
_CLONE = _bits(CLONE_FLAGS, "clone_flags")
_MMAP = _bits(MMAP_FLAGS, "mmap_flags")
_FCNTL = dict(_bits(FCNTL_CMDS, "fcntl_commands"))
_LEVELS = dict(_bits(SOCKOPT_LEVELS, "sockopt_levels"))


# The bit translations run at every open, mmap, clone, poll: each remembers its results (a program uses
# few distinct flag words), up to _MEMO_MAX of them.
_MEMO_MAX = 4096


def _memoised(translate: Callable[[int], int]) -> Callable[[int], int]:
    """`translate` with its results remembered, for at most _MEMO_MAX distinct words."""
    memo: dict[int, int] = {}

    def cached(word: int) -> int:
        res = memo.get(word)
        if res is None:
            res = translate(word)
            if len(memo) < _MEMO_MAX:
                memo[word] = res
        return res

    cached.__doc__ = translate.__doc__
    return cached


def _open_flags(flags: int) -> int:
    """Native open(2) flags -> PPM file_flags. Example: O_WRONLY|O_CREAT|O_TRUNC (0o1101) -> 0x106."""
    acc = flags & O_ACCMODE
    res = _PPM_O["O_WRONLY"] if acc == O_WRONLY else _PPM_O["O_RDWR"] if acc == O_RDWR else _PPM_O["O_RDONLY"]
    for nat, ppm in _OPEN:
        if flags & nat:
            res |= ppm
    return res


open_flags = _memoised(_open_flags)


def open_mode(flags: int, mode: int) -> int:
    """The mode param: the permission bits only when the call creates a file (O_CREAT or O_TMPFILE)."""
    return mode & 0o7777 if flags & (O_CREAT | __O_TMPFILE) else 0


def _clone_flags(flags: int) -> int:
    res = 0
    for nat, ppm in _CLONE:
        if flags & nat:
            res |= ppm
    return res


clone_flags = _memoised(_clone_flags)


def _mmap_flags(flags: int) -> int:
    res = 0
    for nat, ppm in _MMAP:
        if flags & nat:
            res |= ppm
    return res


mmap_flags = _memoised(_mmap_flags)


def fcntl_cmd(cmd: int) -> int:
    """Native fcntl command -> PPM fcntl_commands value (UNKNOWN = 0 for anything else)."""
    return _FCNTL.get(cmd, 0)


def sockopt_level(level: int) -> int:
    return _LEVELS.get(level, 0)


SOL_SOCKET = 1
# asm-generic/socket.h (x86_64): SO_DEBUG (1) .. SO_ATTACH_BPF (50) have the PPM sockopt_options values;
# the driver's sockopt_optname_to_scap also knows SO_PEERGROUPS, SO_MEMINFO and SO_COOKIE, renumbered
_SO_PPM = {**{n: n for n in range(1, 51)}, 59: 51, 55: 52, 57: 53}
SO_ERROR, SO_RCVTIMEO, SO_SNDTIMEO, SO_COOKIE = 4, 20, 21, 57
# SOL_SOCKET options the driver's parse_sockopt reads as one u32 (the rest go out as a byte buffer):
# SO_LINGER, SO_PEERCRED, SO_BINDTODEVICE, the filters, SO_PEERNAME and SO_PEERSEC are structs or strings
SO_U32 = frozenset(range(1, 51)) - {SO_ERROR, SO_RCVTIMEO, SO_SNDTIMEO, 13, 17, 25, 26, 27, 28, 31, 48, 50}


def sockopt_optname(level: int, optname: int) -> int:
    """sockopt_optname_to_scap: the PPM option of a SOL_SOCKET option, UNKNOWN (0) for other levels."""
    return _SO_PPM.get(optname, 0) if level == SOL_SOCKET else 0

# include/uapi/asm-generic/poll.h (POLLRDHUP from the same header; x86_64 uses the generic values)
POLL_FLAGS: tuple[tuple[int, str], ...] = (
    (0x001, "POLLIN"), (0x002, "POLLPRI"), (0x004, "POLLOUT"), (0x2000, "POLLRDHUP"), (0x008, "POLLERR"),
    (0x010, "POLLHUP"), (0x020, "POLLNVAL"), (0x040, "POLLRDNORM"), (0x080, "POLLRDBAND"),
    (0x100, "POLLWRNORM"), (0x200, "POLLWRBAND"),
)
_POLL = _bits(POLL_FLAGS, "poll_flags")


def _poll_flags(events: int) -> int:
    res = 0
    for nat, ppm in _POLL:
        if events & nat:
            res |= ppm
    return res


poll_flags = _memoised(_poll_flags)
