"""Decoder registry: decoder name (the syscall table's `decoder` column) -> Decoder.

Built here, once, from each family module's DECODERS dict (no registration at import time); a test
checks that every name used by tracer.syscalls_x86_64 resolves and that no two families claim a name.
"""
from __future__ import annotations

from tracer.decoders import fs, generic, io, ipc, memory, net, open, process, signal
from tracer.decoders.base import Call, Decoder

FAMILIES = (open, io, net, fs, memory, process, signal, ipc, generic)


def _build() -> dict[str, Decoder]:
    out: dict[str, Decoder] = {}
    for module in FAMILIES:
        for name, dec in module.DECODERS.items():
            if name in out:
                raise RuntimeError(f"decoder {name!r} defined twice")
            out[name] = dec
    return out


DECODERS: dict[str, Decoder] = _build()

__all__ = ["DECODERS", "Call", "Decoder"]
