"""The seccomp-bpf filter that makes only chosen syscalls stop a launched tracee.

The filter is classic BPF over `struct seccomp_data` (linux/seccomp.h: int nr; u32 arch; u64 ip;
u64 args[6]): a syscall of another architecture (i386 `int 0x80`, x32's numbers with bit 30 set) or
one of the chosen numbers returns SECCOMP_RET_TRACE, so the tracer (PTRACE_O_TRACESECCOMP) gets a
PTRACE_EVENT_SECCOMP stop for it; everything else returns SECCOMP_RET_ALLOW and runs without any stop.
Foreign-arch calls stop because the engine cannot tell them apart by number; they are as rare as
they are odd, and tracing them keeps today's output for them.

The program is built in the tracer (`Program`: its bytes, which tracer/_launch.c's child installs), and
where that child is not built `install` runs in the forked Python child between the fork and the execve,
so it uses nothing but ctypes objects made before the fork (`Program.prepare`: ctypes is imported only
then) and two or three system calls.

Privileges (seccomp(2)): installing a filter needs CAP_SYS_ADMIN or PR_SET_NO_NEW_PRIVS. Without root we
set NO_NEW_PRIVS, as `strace --seccomp-bpf` does; it survives execve, so a setuid or file-capability
program run by the command does not gain privileges. An unprivileged tracer's setuid programs do not
gain them under ptrace anyway (the kernel's LSM_UNSAFE_PTRACE), so this changes nothing there; as root
we try without NO_NEW_PRIVS first, so setuid programs behave as they do without seccomp.
"""
from __future__ import annotations

import struct
from collections.abc import Iterable

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    from typing import Any

NR_SECCOMP = 317  # x86_64
NR_PRCTL = 157
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2  # prctl(PR_SET_SECCOMP, ...) mode, and seccomp(2)'s SECCOMP_SET_MODE_FILTER is 1
SECCOMP_SET_MODE_FILTER = 1

SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_TRACE = 0x7FF00000
AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000

# Classic BPF opcodes (linux/bpf_common.h).
_BPF_LD_W_ABS = 0x00 | 0x00 | 0x20   # BPF_LD | BPF_W | BPF_ABS
_BPF_JEQ_K = 0x05 | 0x10 | 0x00      # BPF_JMP | BPF_JEQ | BPF_K
_BPF_JGT_K = 0x05 | 0x20 | 0x00      # BPF_JMP | BPF_JGT | BPF_K
_BPF_JGE_K = 0x05 | 0x30 | 0x00      # BPF_JMP | BPF_JGE | BPF_K
_BPF_RET_K = 0x06 | 0x00             # BPF_RET | BPF_K
_INSN = struct.Struct("<HBBI")       # struct sock_filter {u16 code; u8 jt; u8 jf; u32 k}
_OFF_NR, _OFF_ARCH = 0, 4            # offsets in struct seccomp_data
BPF_MAXINSNS = 4096


def ranges(numbers: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted numbers folded into inclusive ranges: {0, 1, 2, 9} -> [(0, 2), (9, 9)]."""
    out: list[tuple[int, int]] = []
    for n in sorted(set(numbers)):
        if out and out[-1][1] == n - 1:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


def instructions(numbers: Iterable[int]) -> list[tuple[int, int, int, int]]:
    """The filter as (code, jt, jf, k) rows. Each range costs 3 instructions and jumps at most 2 ahead,
    so no jump offset can overflow its 8 bits whatever the set's size."""
    trace = (_BPF_RET_K, 0, 0, SECCOMP_RET_TRACE)
    prog = [
        (_BPF_LD_W_ABS, 0, 0, _OFF_ARCH),
        (_BPF_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        trace,
        (_BPF_LD_W_ABS, 0, 0, _OFF_NR),
        (_BPF_JGE_K, 0, 1, X32_SYSCALL_BIT),
        trace,
    ]
    for lo, hi in ranges(numbers):
        if lo == hi:
            prog += [(_BPF_JEQ_K, 0, 1, lo), trace]
        else:
            prog += [(_BPF_JGE_K, 0, 2, lo), (_BPF_JGT_K, 1, 0, hi), trace]
    prog.append((_BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW))
    return prog


class Program:
    """A ready-to-install filter for `numbers` (native x86_64 syscall numbers)."""

    def __init__(self, numbers: Iterable[int]) -> None:
        rows = instructions(numbers)
        if len(rows) > BPF_MAXINSNS:
            raise ValueError(f"seccomp filter too long ({len(rows)} instructions)")
        self.code = b"".join(_INSN.pack(*row) for row in rows)
        self._calls: Any = None

    def prepare(self) -> None:
        """Make the ctypes objects `install` uses (in the tracer, before the fork of a Python child)."""
        self._calls = _Calls(self.code)

    def install(self, no_new_privs: bool) -> int:
        """Install in the calling process (forked child); returns 0 or the errno of the last attempt.

        seccomp(2) first, prctl(PR_SET_SECCOMP) where it is missing (ENOSYS). EACCES without
        NO_NEW_PRIVS (root without CAP_SYS_ADMIN, e.g. in a user namespace) retries with it.
        """
        calls = self._calls
        assert calls is not None, "Program.prepare() before the fork"
        if no_new_privs and calls.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return calls.get_errno()
        err = calls.set_filter()
        if err == 13 and not no_new_privs:  # EACCES
            if calls.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
                return calls.get_errno()
            err = calls.set_filter()
        return err


class _Calls:
    """prctl and seccomp(2) through ctypes, and the filter's struct sock_fprog, made before the fork."""

    def __init__(self, code: bytes) -> None:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        self.prctl = libc.prctl
        self.prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)
        self.prctl.restype = ctypes.c_int
        self._syscall = libc.syscall
        self._syscall.restype = ctypes.c_long
        self.get_errno = ctypes.get_errno

        class SockFprog(ctypes.Structure):
            _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))

        self._buf = ctypes.create_string_buffer(code, len(code))
        self.fprog = SockFprog(len(code) // _INSN.size, ctypes.addressof(self._buf))
        self._fprog_ref = ctypes.byref(self.fprog)
        self._fprog_addr = ctypes.addressof(self.fprog)

    def set_filter(self) -> int:
        """seccomp(SECCOMP_SET_MODE_FILTER), prctl(PR_SET_SECCOMP) where it is missing; 0 or errno."""
        if self._syscall(NR_SECCOMP, SECCOMP_SET_MODE_FILTER, 0, self._fprog_ref) == 0:
            return 0
        err = self.get_errno()
        if err != 38:  # ENOSYS: kernels 3.5-3.16 have only the prctl interface
            return int(err)
        if self.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, self._fprog_addr, 0, 0) == 0:
            return 0
        return int(self.get_errno())


def is_install_call(nr: int, args: tuple[int, ...]) -> bool:
    """True for the syscalls `Program.install` uses to load the filter (the engine watches their result)."""
    return nr == NR_SECCOMP or (nr == NR_PRCTL and bool(args) and args[0] == PR_SET_SECCOMP)
