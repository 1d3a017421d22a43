"""The compiled PL/FDL module (sysdig_user/_sections.c) set up for the entry records it builds and reads.

The state engine's loaders (state/inspector.py: thread_infos, load_fds, ip_sockets) need only this; the
PL parser's step table is scap/metadata.py's, taken by ``NATIVE.configure`` when a capture's blocks are
parsed (a live run that writes no file never imports metadata).
"""
from __future__ import annotations

import os

from sysdig_user.native import extension
from sysdig_user.scap.blocks import MAX_PATH_SIZE
from sysdig_user.scap.records import FdEntry, FdType, ProcEntry

#: The FDL entry types whose payload is a name only (scap-format.md 8.2)
NAME_FD_TYPES = frozenset({
    FdType.FILE, FdType.DIRECTORY, FdType.FIFO, FdType.EVENT, FdType.UNSUPPORTED, FdType.SIGNALFD,
    FdType.EVENTPOLL, FdType.INOTIFY, FdType.TIMERFD, FdType.NETLINK,
})

#: The compiled PL/FDL module (None when not built, or built for another interface VERSION, or turned off
#: with SDU_NO_NATIVE=1 as the other C paths are).
NATIVE = extension("sysdig_user._sections", 4) if os.environ.get("SDU_NO_NATIVE") != "1" else None
if NATIVE is not None:
    NATIVE.configure_entries(ProcEntry, ProcEntry._fields, FdEntry, FdEntry._fields,
                             frozenset(int(t) for t in NAME_FD_TYPES), MAX_PATH_SIZE - 1)
