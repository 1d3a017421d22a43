"""What every decoder receives (Call) and returns (param value lists), plus argument readers.

A decoder is a pair of functions: on_enter(call) -> values of the enter event, on_exit(call) -> values
of the exit event, in the order of the event table's params (sysdig_user.event_table.EVENTS[code]),
as the python values sysdig_user.params encodes. Arguments are read again at exit from the saved
registers (the tracee's memory is unchanged across the call for inputs), so nothing is carried from
enter to exit except in `call.slot` (the thread's slot, cleared after exit by the sink).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, NamedTuple

from tracer import memory

Values = list[Any]

DEFAULT_SNAPLEN = 80


class Call:
    """One syscall stop of one thread, as decoders see it."""

    __slots__ = ("args", "nr", "pid", "ret", "slot", "snaplen", "tid")

    def __init__(self, tid: int, pid: int, nr: int, args: tuple[int, ...], ret: int, snaplen: int,
                 slot: dict[str, Any]) -> None:
        self.tid = tid
        self.pid = pid
        self.nr = nr
        self.args = args
        self.ret = ret
        self.snaplen = snaplen
        self.slot = slot

    # -- argument views (registers are u64; C ints are the low 32 bits, sign-extended) --

    def s32(self, i: int) -> int:
        v = self.args[i] & 0xFFFFFFFF
        return v - (1 << 32) if v & 0x80000000 else v

    def fd(self, i: int) -> int:
        return self.s32(i)

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
        return memory.read(self.tid, self.args[i], min(size, self.snaplen))

    @property
    def failed(self) -> bool:
        return -4096 < self.ret < 0


class Decoder(NamedTuple):
    on_enter: Callable[[Call], Values]
    on_exit: Callable[[Call], Values]


def no_params(_c: Call) -> Values:
    return []


def res_only(c: Call) -> Values:
    return [c.ret]


def fd_only(c: Call) -> Values:
    return [c.fd(0)]


def proc_vm(pid: int) -> tuple[int, int, int]:
    """(vm_size, vm_rss, vm_swap) in KiB from /proc/PID/status; zeros if the process is gone."""
    size = rss = swap = 0
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmSize:"):
                    size = int(line.split()[1])
                elif line.startswith(b"VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith(b"VmSwap:"):
                    swap = int(line.split()[1])
    except OSError:
        pass
    return size, rss, swap


def fd_dev(pid: int, fd: int) -> int:
    """st_dev of the file behind tracee fd `fd`, in the kernel's new_encode_dev layout (open X dev)."""
    try:
        dev = os.stat(f"/proc/{pid}/fd/{fd}").st_dev
    except OSError:
        return 0
    major, minor = os.major(dev), os.minor(dev)
    return (minor & 0xFF) | (major << 8) | ((minor & ~0xFF) << 12)
