"""scap capture files: records, a streaming reader and a writer (reference/scap-format.md).

The reader and the writer are imported on first use (``read_capture``, ``convert_v1_event``,
``ScapWriter``): the records alone, which the state engine needs, do not pull them in.
"""
from __future__ import annotations

from sysdig_user.scap.blocks import CaptureError
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

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)

if TYPE_CHECKING:
    from typing import Any

    from sysdig_user.scap.reader import convert_v1_event, read_capture
    from sysdig_user.scap.writer import ScapWriter

_LAZY = {"convert_v1_event": "reader", "read_capture": "reader", "ScapWriter": "writer"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # (__import__ with a fromlist returns the submodule itself: importlib would import warnings too)
    value = getattr(__import__(f"{__name__}.{module}", fromlist=(name,)), name)
    globals()[name] = value
    return value


__all__ = [
    "CaptureError", "CaptureItem", "EventTuple", "FdEntry", "FdList", "FdType", "Group", "Interface",
    "InterfaceList", "MachineInfo", "ProcEntry", "ProcList", "ScapWriter", "SectionHeader", "User",
    "UserList", "convert_v1_event", "read_capture",
]
