"""glibc malloc settings for the long-lived consumer process (tracer/pipelined.py), so that its memory
stays flat over millions of events.

Why. The consumer read the data pipe in chunks of up to 1 MiB, each joined with the previous chunk's
tail (another ~1 MiB), while the events, lines and state in between are small objects (it now reads
into one buffer kept for the whole run, pipelined._Pipe; other large buffers remain).
glibc serves a request of 128 KiB or more with its own mmap, but raises that threshold, up to 32 MiB,
to the size of every such chunk it frees (its "dynamic mmap threshold"): after the first few reads the
1 MiB buffers come from the heap, between small objects that outlive them, and the heap's top is
rarely free to give back. The RSS then grows in steps (17 MB to 32 MB over 10M events in
bench/memory_bench.py) although nothing leaks.

What. Setting M_MMAP_THRESHOLD turns the dynamic threshold off: every buffer of 256 KiB or more is an
mmap of its own, returned to the system when freed. M_TRIM_THRESHOLD (fixed at 1 MiB, also no longer
dynamic) gives back a free heap top past that size. M_ARENA_MAX 1: a packet capture's thread
(netcap/stream.py) allocates from the main heap instead of an arena of its own (64 MiB reserved,
partly resident, never trimmed as tightly). Elsewhere (musl, a C library without mallopt) nothing
changes.
"""
from __future__ import annotations

# glibc's malloc.h
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

MMAP_THRESHOLD = 256 * 1024
TRIM_THRESHOLD = 1024 * 1024
ARENA_MAX = 1


def steady_heap() -> bool:
    """Apply the settings above to this process; False where the C library has no mallopt (or refuses
    one of them)."""
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (ImportError, OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    ok = True
    for param, value in ((M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD),
                         (M_ARENA_MAX, ARENA_MAX)):
        ok = mallopt(param, value) == 1 and ok  # (mallopt returns 1 on success)
    return ok
