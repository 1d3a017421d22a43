"""Thin bindings for ptrace(2) and wait4(2) on x86_64 Linux, over tracer/libc.py's calls.

Why not python-ptrace: the engine makes three calls per syscall stop (wait4, one
PTRACE_GET_SYSCALL_INFO, one PTRACE_SYSCALL); python-ptrace wraps each in several Python layers and
objects, which doubles the per-stop cost. Here each call is one foreign call on a pre-built argument
buffer. Functions on the hot path (`resume`, `wait`, `syscall_info`) return error numbers or raw
values instead of raising, so the common ESRCH race costs no exception.
"""
from __future__ import annotations

import os
import struct

from tracer import libc
from tracer.errors import ProcessGone, gone_on_missing

# addr and data: small ints or libc.buffer()s (see tracer/libc.py)
_ptrace = _ptrace_fast = libc.ptrace
_get_errno = libc.last_errno

# Requests (linux/ptrace.h).
PTRACE_PEEKDATA = 2
PTRACE_CONT = 7
PTRACE_GETREGS = 12
PTRACE_DETACH = 17
PTRACE_SYSCALL = 24
PTRACE_GETEVENTMSG = 0x4201
PTRACE_GETSIGINFO = 0x4202
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
PTRACE_LISTEN = 0x4208
PTRACE_GET_SYSCALL_INFO = 0x420E

# Options and events.
PTRACE_O_TRACESYSGOOD = 0x01
PTRACE_O_TRACEFORK = 0x02
PTRACE_O_TRACEVFORK = 0x04
PTRACE_O_TRACECLONE = 0x08
PTRACE_O_TRACEEXEC = 0x10
PTRACE_O_TRACEEXIT = 0x40
PTRACE_O_TRACESECCOMP = 0x80
PTRACE_O_EXITKILL = 0x100000
SEIZE_OPTIONS = (PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE
                 | PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT)

PTRACE_EVENT_FORK = 1
PTRACE_EVENT_VFORK = 2
PTRACE_EVENT_CLONE = 3
PTRACE_EVENT_EXEC = 4
PTRACE_EVENT_EXIT = 6
PTRACE_EVENT_SECCOMP = 7
PTRACE_EVENT_STOP = 128

PTRACE_SYSCALL_INFO_ENTRY = 1
PTRACE_SYSCALL_INFO_EXIT = 2
PTRACE_SYSCALL_INFO_SECCOMP = 3

__WALL = 0x40000000
WNOHANG = 1
SYSCALL_STOP_SIG = 0x80 | 5  # SIGTRAP | 0x80 with TRACESYSGOOD
SECCOMP_STOP = 5 | PTRACE_EVENT_SECCOMP << 8  # status >> 8 at a PTRACE_EVENT_SECCOMP stop

_NULL = 0
_wait4 = libc.wait4

# struct ptrace_syscall_info: op u8, pad[3], arch u32, ip u64, sp u64, then a union of
# entry {nr u64, args[6] u64} / exit {rval s64, is_error u8} / seccomp {nr u64, args[6] u64, ret_data
# u32}; 88 bytes with the seccomp member. The seccomp member starts like entry, so the same views read
# both: nr is u64 word 3 (offset 24), args the six u64 at offset 32; at exit rval is s64 word 3.
_INFO_SIZE = 88
_info_buf = libc.buffer(_INFO_SIZE)
_info_op = memoryview(_info_buf).cast("B")  # op byte without copying the buffer (.raw copies 88 bytes)
_info_u64 = _info_op.cast("Q")  # [3]: entry/seccomp nr
_info_s64 = _info_op.cast("q")  # [3]: exit rval
_ARGS = struct.Struct("<6Q")  # entry/seccomp args, at offset 32

# struct user_regs_struct (asm/ptrace.h), 27 u64 in kernel order.
_REGS = struct.Struct("<27Q")
_regs_buf = libc.buffer(_REGS.size)
_REG_RAX, _REG_ORIG_RAX = 10, 15
_REG_ARGS = (14, 13, 12, 7, 9, 8)  # rdi rsi rdx r10 r8 r9

_eventmsg = libc.buffer(8)
_U64 = struct.Struct("<Q")
_siginfo = libc.buffer(128)
_SIGINFO_HEAD = struct.Struct("<iii4xii")  # si_signo, si_errno, si_code, (pad), si_pid, si_uid


def _check(ret: int) -> int:
    if ret == -1:
        err = _get_errno()
        if err:
            raise OSError(err, os.strerror(err))
    return ret


@gone_on_missing
def seize(tid: int, options: int = SEIZE_OPTIONS) -> None:
    """PTRACE_SEIZE: attach without stopping the thread (group-stops then report as PTRACE_EVENT_STOP)."""
    _check(_ptrace(PTRACE_SEIZE, tid, _NULL, options))


def interrupt(tid: int) -> int:
    """PTRACE_INTERRUPT; returns 0 or an errno (ESRCH when the thread is gone)."""
    if _ptrace(PTRACE_INTERRUPT, tid, _NULL, _NULL) == -1:
        return _get_errno()
    return 0


def resume(tid: int, sig: int = 0) -> int:
    """PTRACE_SYSCALL: run to the next syscall stop, delivering `sig`; returns 0 or an errno."""
    if _ptrace_fast(PTRACE_SYSCALL, tid, 0, sig) == -1:
        return _get_errno()
    return 0


def cont(tid: int, sig: int = 0) -> int:
    """PTRACE_CONT: run without syscall stops (seccomp stops and ptrace events still stop); 0 or errno."""
    if _ptrace_fast(PTRACE_CONT, tid, 0, sig) == -1:
        return _get_errno()
    return 0


def listen(tid: int) -> int:
    """PTRACE_LISTEN: leave a group-stopped thread stopped, but let SIGCONT wake it; 0 or errno."""
    if _ptrace(PTRACE_LISTEN, tid, _NULL, _NULL) == -1:
        return _get_errno()
    return 0


def detach(tid: int, sig: int = 0) -> int:
    """PTRACE_DETACH (thread must be in a ptrace-stop); returns 0 or an errno."""
    if _ptrace(PTRACE_DETACH, tid, _NULL, sig) == -1:
        return _get_errno()
    return 0


def wait(pid: int = -1, options: int = __WALL) -> tuple[int, int, int]:
    """wait4(pid, options|__WALL): returns (pid, status, errno); pid is -1 on error (EINTR, ECHILD).

    libc's wait4 instead of os.waitpid because os.waitpid retries EINTR itself (PEP 475), which would
    hide the signal that asks an attached tracer to detach.
    """
    return _wait4(pid, options | __WALL)


def event_msg(tid: int) -> int:
    """PTRACE_GETEVENTMSG: new child tid (clone events), former tid (exec), exit status (exit)."""
    if _ptrace(PTRACE_GETEVENTMSG, tid, _NULL, _eventmsg) == -1:
        raise ProcessGone(tid)
    return int(_U64.unpack_from(_eventmsg)[0])


def siginfo(tid: int) -> tuple[int, int, int]:
    """PTRACE_GETSIGINFO -> (signo, si_code, sender pid); sender pid is 0 for kernel-made signals."""
    if _ptrace(PTRACE_GETSIGINFO, tid, _NULL, _siginfo) == -1:
        raise ProcessGone(tid)
    signo, _errno, code, pid, _uid = _SIGINFO_HEAD.unpack_from(_siginfo)
    # si_pid is only meaningful for user-sent signals (SI_USER 0, SI_TKILL -6, SI_QUEUE -1) and SIGCHLD.
    return signo, code, pid if code <= 0 or signo == 17 else 0


class SyscallInfoUnsupported(Exception):
    """PTRACE_GET_SYSCALL_INFO is missing (kernel < 5.3); callers fall back to GETREGS."""


def syscall_info(tid: int) -> tuple[int, int, tuple[int, ...] | int]:
    """PTRACE_GET_SYSCALL_INFO -> (op, nr, args) at entry and at a seccomp stop, (op, -1, rval) at exit,
    (0, -1, 0) otherwise.

    Raises ProcessGone when the thread vanished, SyscallInfoUnsupported on old kernels.
    """
    if _ptrace_fast(PTRACE_GET_SYSCALL_INFO, tid, _INFO_SIZE, _info_buf) == -1:
        err = _get_errno()
        if err == 5 or err == 22:  # EIO/EINVAL: unknown request
            raise SyscallInfoUnsupported()
        raise ProcessGone(tid)
    op = _info_op[0]
    if op == PTRACE_SYSCALL_INFO_EXIT:
        return op, -1, _info_s64[3]
    if op == PTRACE_SYSCALL_INFO_ENTRY or op == PTRACE_SYSCALL_INFO_SECCOMP:
        return op, _info_u64[3], _unpack_args(_info_buf, 32)
    return op, -1, 0


_unpack_args = _ARGS.unpack_from


def regs_syscall(tid: int) -> tuple[int, tuple[int, ...], int]:
    """GETREGS fallback -> (orig_rax, six args, rax as signed); rax is -ENOSYS at syscall entry."""
    if _ptrace(PTRACE_GETREGS, tid, _NULL, _regs_buf) == -1:
        raise ProcessGone(tid)
    r = _REGS.unpack_from(_regs_buf)
    rax = r[_REG_RAX]
    if rax >= 1 << 63:
        rax -= 1 << 64
    return r[_REG_ORIG_RAX], tuple(r[i] for i in _REG_ARGS), rax


# ---- status decoding (sys/wait.h macros) -------------------------------------------------------

def stopped(status: int) -> bool:
    return (status & 0xFF) == 0x7F


def stop_sig(status: int) -> int:
    return (status >> 8) & 0xFF


def stop_event(status: int) -> int:
    return status >> 16


def exit_code(status: int) -> int | None:
    """Shell-style status of a dead process: exit code, or 128+N when killed by signal N; None if alive."""
    if status & 0x7F == 0:
        return (status >> 8) & 0xFF
    if status & 0x7F != 0x7F:
        return 128 + (status & 0x7F)
    return None
