"""The one fallback: syscalls without a dedicated event become PPME_GENERIC_E/X (0/1).

Enter params: ID (the ppm_sc code from the driver's routing table, 0 = <unknown> for syscalls newer
than the 2022 table) and nativeID (the x86_64 number). Exit: ID only.
"""
from __future__ import annotations

from sysdig_user.event_table import SYSCALLS
from tracer.decoders.base import Call, Decoder, Values

_PPM_SC = {nr: route.ppm_sc for nr, route in SYSCALLS.items()}


def ppm_sc(nr: int) -> int:
    return _PPM_SC.get(nr, 0)


def generic_enter(c: Call) -> Values:
    return [ppm_sc(c.nr), c.nr & 0xFFFF]


def generic_exit(c: Call) -> Values:
    return [ppm_sc(c.nr)]


DECODERS: dict[str, Decoder] = {
    "generic": Decoder(generic_enter, generic_exit),
}
