"""mmap, munmap, brk, mprotect. Exit events carry the process's VM sizes, read from /proc/PID/status
(the driver reads the same mm counters)."""
from __future__ import annotations

from tracer.decoders import native
from tracer.decoders.base import Call, Decoder, Values, proc_vm, res_only


def mmap_enter(c: Call) -> Values:
    return [c.u64(0), c.u64(1), c.u32(2), native.mmap_flags(c.u32(3)), c.fd(4), c.u64(5)]


def vm_exit(c: Call) -> Values:
    """res (u64 address for mmap/brk, errno for munmap) + vm_size, vm_rss, vm_swap."""
    res = c.ret & 0xFFFFFFFFFFFFFFFF if c.nr in (9, 12) else c.ret
    if not c.want_vm:
        return [res, 0, 0, 0]
    return [res, *proc_vm(c.pid)]


def munmap_enter(c: Call) -> Values:
    return [c.u64(0), c.u64(1)]


def brk_enter(c: Call) -> Values:
    return [c.u64(0)]


def mprotect_enter(c: Call) -> Values:
    return [c.u64(0), c.u64(1), c.u32(2)]


DECODERS: dict[str, Decoder] = {
    "mmap": Decoder(mmap_enter, vm_exit),
    "munmap": Decoder(munmap_enter, vm_exit),
    "brk": Decoder(brk_enter, vm_exit),
    "mprotect": Decoder(mprotect_enter, res_only),
}
