"""Decoder registry: decoder name (the syscall table's `decoder` column) -> Decoder.

Filled from each family module's DECODERS dict (no registration at import time), a family at a time as
the names are first asked for: a name not among those of the families imported so far imports the next
families, in FAMILIES' order, until one has it. A run so imports the families up to the last its
syscalls need (``sdu -- /bin/true`` neither signal, ipc nor net: ~1.4M instructions of a start,
callgrind), the commonest first. A test loads them all (``load_all``) and checks that every name used by
tracer.syscalls_x86_64 resolves and that no two families claim a name.
"""
from __future__ import annotations

from tracer.decoders.base import Call, Decoder

FAMILIES = ("generic", "memory", "open", "io", "fs", "process", "signal", "ipc", "net")


class _Registry(dict[str, Decoder]):
    """DECODERS: a dict whose misses import the families not yet imported (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.pending = list(FAMILIES)

    def __missing__(self, name: str) -> Decoder:
        while self.pending:
            self._add(self.pending.pop(0))
            if dict.__contains__(self, name):
                return dict.__getitem__(self, name)
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        if dict.__contains__(self, name):
            return True
        try:
            self[name]  # type: ignore[index]
        except KeyError:
            return False
        return True

    def _add(self, family: str) -> None:
        module = __import__(f"tracer.decoders.{family}", fromlist=("DECODERS",))  # (importlib imports warnings)
        for name, dec in module.DECODERS.items():
            if dict.__contains__(self, name):
                raise RuntimeError(f"decoder {name!r} defined twice")
            self[name] = dec


DECODERS: dict[str, Decoder] = _Registry()


def load_all() -> dict[str, Decoder]:
    """DECODERS with every family imported."""
    registry = DECODERS
    assert isinstance(registry, _Registry)
    while registry.pending:
        registry._add(registry.pending.pop(0))
    return registry


__all__ = ["DECODERS", "FAMILIES", "Call", "Decoder", "load_all"]
