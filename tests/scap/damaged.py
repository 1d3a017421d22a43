"""Small captures with one damaged event, written with the repo's scap writer (one process, tid 100), for
the tests of damaged input (tests/scap, tests/state, tests/fuzz)."""
from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from pathlib import Path

from sysdig_user.event import Event, encode_raw
from sysdig_user.scap.records import ProcEntry
from sysdig_user.scap.writer import ScapWriter
from tests.state.events import mk, pair

TID = 100
PROCS = [ProcEntry(tid=TID, pid=TID, ptid=1, comm="cat", exe="cat", exepath="/bin/cat", cwd="/", fdlimit=1024,
                   uid=0, gid=0)]


def open_read_events() -> list[bytes]:
    """openat E/X of /etc/passwd, then read E/X of 10 bytes from it."""
    evts = pair("openat", TID, {"dirfd": -100, "name": "/etc/passwd", "flags": 1},
                fd=3, dirfd=-100, name="/etc/passwd", flags=1)
    evts += pair("read", TID, {"fd": 3, "size": 10}, res=10, data=b"0123456789")
    return [e.raw for e in evts]


def execve_events() -> list[bytes]:
    """execve E/X of /bin/ls (a version with ``comm``), then a getcwd X."""
    return [mk("execve", True, TID, filename="/bin/ls").raw,
            mk("execve", False, TID, res=0, exe="/bin/ls", args=b"-l\0", tid=TID, pid=TID, ptid=1, cwd="/",
               fdlimit=1024, comm="ls").raw,
            mk("getcwd", False, TID, res=0, path="/").raw]


def with_nparams(raw: bytes, n: int) -> bytes:
    """The event with its header's param count set to ``n`` (nothing else changed)."""
    out = bytearray(raw)
    struct.pack_into("<I", out, 22, n)
    return bytes(out)


def first_params(raw: bytes, n: int) -> bytes:
    """The event rebuilt with only its first ``n`` params (a consistent, short event)."""
    evt = Event(raw)
    return encode_raw(evt.type, evt.ts, evt.tid, [evt.rawparam(i) for i in range(n)])


def capture_bytes(raws: Sequence[bytes]) -> bytes:
    buf = io.BytesIO()
    w = ScapWriter(buf)
    w.write_section(procs=PROCS)
    for raw in raws:
        w.write_event(0, 0, raw)
    w.close()
    return buf.getvalue()


def write_capture(path: Path, raws: Sequence[bytes]) -> Path:
    path.write_bytes(capture_bytes(raws))
    return path
