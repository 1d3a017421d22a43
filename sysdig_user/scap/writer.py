"""scap writer producing what sysdig 0.29.3 writes (reference/scap-format.md sections 3, 9, 17).

A section is SHB v1.2, MI, IL_V2, UL_V2, one PL_V9 block with every thread, one FDL_V2 block per
thread (empty ones included, as sysdig does), then event blocks. `write_section` may be called
again after events to start a concatenated section, which sysdig reads as one capture.
"""
from __future__ import annotations

import gzip
import os
import struct
from _collections_abc import Iterable, Mapping, Sequence  # (collections.abc without collections)
from types import TracebackType
from typing import BinaryIO, Union, final

from sysdig_user.event_table import EF, EVENTS
from sysdig_user.scap import blocks as B
from sysdig_user.scap.metadata import (
    build_fds,
    build_interfaces,
    build_machine_info,
    build_procs,
    build_users,
)
from sysdig_user.scap.records import FdEntry, Group, Interface, MachineInfo, ProcEntry, User

Target = Union[str, "os.PathLike[str]", BinaryIO]

#: Event types flagged EF_LARGE_PAYLOAD (u32 param lengths): sinsp always stores them in *_LARGE
#: blocks (322 PPME_PLUGINEVENT_E and 324 PPME_CONTAINER_JSON_2_E in this table).
LARGE_PAYLOAD_TYPES = frozenset(e.code for e in EVENTS if e.flags & EF.LARGE_PAYLOAD)
#: gzip level of zlib's gzopen(path, "wb"), what `sysdig -z` uses.
GZIP_LEVEL = 6

_EV_HDR = struct.Struct("<IIH")
_EVF_HDR = struct.Struct("<IIHI")
_PADS = (b"", b"\0", b"\0\0", b"\0\0\0")


@final
class ScapWriter:
    """Write a capture to a path or binary file; ``compress`` gzips the whole stream (``-z``)."""

    def __init__(self, target: Target, compress: bool = False) -> None:
        if isinstance(target, (str, os.PathLike)):
            self._raw: BinaryIO = open(target, "wb")  # noqa: SIM115 - closed by close()
            self._owned = True
        else:
            self._raw = target
            self._owned = False
        self._gz: gzip.GzipFile | None = None
        if compress:
            self._gz = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=GZIP_LEVEL, mtime=0)
        self._write = self._gz.write if self._gz is not None else self._raw.write
        self._in_section = False
        self.events_written = 0

    def write_section(self, machine: MachineInfo | None = None, interfaces: Iterable[Interface] = (),
                      users: Iterable[User] = (), groups: Iterable[Group] = (),
                      procs: Sequence[ProcEntry] = (),
                      fds: Mapping[int, Sequence[FdEntry]] | None = None) -> None:
        """Start a section: SHB, then the metadata blocks that have content, in sysdig's order.

        ``fds`` maps a tid of ``procs`` to its fds; a tid missing from ``procs`` is refused, since
        sysdig refuses an FDL block for an unknown thread.
        """
        fds = fds or {}
        tids = {p.tid for p in procs}
        unknown = sorted(set(fds) - tids)
        if unknown:
            raise ValueError(f"fd lists given for tids without a process entry: {unknown}")
        w = self._write
        w(B.section_header_block())
        if machine is not None:
            w(B.frame(B.MI, build_machine_info(machine)))
        interfaces = list(interfaces)
        if interfaces:
            w(B.frame(B.IL_V2, build_interfaces(interfaces)))
        users, groups = list(users), list(groups)
        if users or groups:
            w(B.frame(B.UL_V2, build_users(users, groups)))
        if procs:
            w(B.frame(B.PL_V9, build_procs(procs)))
            for p in procs:
                w(B.frame(B.FDL_V2, build_fds(p.tid, fds.get(p.tid, ()))))
        self._in_section = True

    def write_event(self, cpu: int, dump_flags: int, raw: bytes) -> None:
        """Write one event (v2 layout, `raw` exactly its header's len) in the block sysdig would use.

        EF_LARGE_PAYLOAD types and events too big for the reader's 64 KiB buffer go in *_LARGE
        blocks; non-zero dump flags select the EVF variants.
        """
        if not self._in_section:
            raise ValueError("write_section() must be called before write_event()")
        n = len(raw)
        etype = raw[20] | (raw[21] << 8)
        if dump_flags:
            total = (8 + 6 + n + 4 + 3) & ~3
            large = total - 8 > B.READER_BUF_SIZE or etype in LARGE_PAYLOAD_TYPES
            head = _EVF_HDR.pack(B.EVF_V2_LARGE if large else B.EVF_V2, total, cpu, dump_flags)
            pad = total - 18 - n
        else:
            total = (8 + 2 + n + 4 + 3) & ~3
            large = total - 8 > B.READER_BUF_SIZE or etype in LARGE_PAYLOAD_TYPES
            head = _EV_HDR.pack(B.EV_V2_LARGE if large else B.EV_V2, total, cpu)
            pad = total - 14 - n
        self._write(head + raw + _PADS[pad] + total.to_bytes(4, "little"))
        self.events_written += 1

    def write_blocks(self, data: bytes, count: int) -> None:
        """``count`` events already framed as write_event frames them (dump flags 0), back to back."""
        if not self._in_section:
            raise ValueError("write_section() must be called before write_blocks()")
        self._write(data)
        self.events_written += count

    def close(self) -> None:
        """Flush and close; the file object is closed only if the writer opened it."""
        if self._gz is not None:
            self._gz.close()
            self._gz = None
        if self._owned:
            self._raw.close()
        else:
            self._raw.flush()

    def __enter__(self) -> ScapWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
