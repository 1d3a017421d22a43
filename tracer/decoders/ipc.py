"""System V semaphores (semget, semop, semctl); flags and commands are passed as native values."""
from __future__ import annotations

from tracer import memory
from tracer.decoders.base import Call, Decoder, Values, res_only


def semget_enter(c: Call) -> Values:
    return [c.s32(0), c.s32(1), c.u32(2)]


def semop_enter(c: Call) -> Values:
    return [c.s32(0)]


def semop_exit(c: Call) -> Values:
    """res, nsops, then the first two struct sembuf {u16 num; s16 op; s16 flg} entries (zeros if absent)."""
    nsops = c.u32(2)
    raw = memory.read(c.tid, c.args[1], 12) if nsops else b""
    out: Values = [c.ret, nsops]
    for k in range(2):
        chunk = raw[k * 6:k * 6 + 6] if k < nsops else b""
        if len(chunk) == 6:
            out += [int.from_bytes(chunk[0:2], "little"), int.from_bytes(chunk[2:4], "little", signed=True),
                    int.from_bytes(chunk[4:6], "little")]
        else:
            out += [0, 0, 0]
    return out


def semctl_enter(c: Call) -> Values:
    return [c.s32(0), c.s32(1), c.u32(2) & 0xFFFF, c.s32(3)]


DECODERS: dict[str, Decoder] = {
    "semget": Decoder(semget_enter, res_only),
    "semop": Decoder(semop_enter, semop_exit),
    "semctl": Decoder(semctl_enter, res_only),
}
