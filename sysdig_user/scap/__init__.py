"""scap capture files: records, a streaming reader and a writer (reference/scap-format.md)."""
from __future__ import annotations

from sysdig_user.scap.blocks import CaptureError
from sysdig_user.scap.reader import convert_v1_event, read_capture
from sysdig_user.scap.records import (
    CaptureItem,
    EventTuple,
    FdEntry,
    FdList,
    FdType,
    Group,
    Interface,
    InterfaceList,
    MachineInfo,
    ProcEntry,
    ProcList,
    SectionHeader,
    User,
    UserList,
)
from sysdig_user.scap.writer import ScapWriter

__all__ = [
    "CaptureError", "CaptureItem", "EventTuple", "FdEntry", "FdList", "FdType", "Group", "Interface",
    "InterfaceList", "MachineInfo", "ProcEntry", "ProcList", "ScapWriter", "SectionHeader", "User",
    "UserList", "convert_v1_event", "read_capture",
]
