"""kill, tkill, tgkill, and the signaldeliver event (232) the driver emits from its signal tracepoint."""
from __future__ import annotations

from tracer.decoders.base import Call, Decoder, Values, res_only


def kill_enter(c: Call) -> Values:
    return [c.s32(0), c.u32(1) & 0xFF]


def tgkill_enter(c: Call) -> Values:
    return [c.s32(0), c.s32(1), c.u32(2) & 0xFF]


def signaldeliver(sender: int, target: int, sig: int) -> Values:
    """signaldeliver E params: spid (0 for kernel-made signals), dpid (receiving tid), sig."""
    return [sender, target, sig]


DECODERS: dict[str, Decoder] = {
    "kill": Decoder(kill_enter, res_only),
    "tkill": Decoder(kill_enter, res_only),
    "tgkill": Decoder(tgkill_enter, res_only),
}
