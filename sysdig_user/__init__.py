"""sdu ("sysdig, userspace") as a library: trace a command, read a capture, ask sysdig's fields.

    import sysdig_user
    run = sysdig_user.trace(["cat", "/etc/hosts"])
    [ev["fd.name"] for ev in run.filter("evt.type=openat and evt.dir=<")]

The names below come from sysdig_user/api.py, imported on first use (the command line does not pay
for it). The command line itself is sysdig_user.cli.
"""
from __future__ import annotations

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)

if TYPE_CHECKING:
    from typing import Any

    from sysdig_user.api import (
        Capture,
        CaptureError,
        Event,
        Events,
        FieldError,
        FilterError,
        Run,
        SduError,
        Stream,
        StreamedEvent,
        TraceError,
        attach,
        read,
        stream,
        trace,
    )

__all__ = ["Capture", "CaptureError", "Event", "Events", "FieldError", "FilterError", "Run", "SduError", "Stream",
           "StreamedEvent", "TraceError", "attach", "read", "stream", "trace"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sysdig_user import api

        return getattr(api, name)
    raise AttributeError(f"module 'sysdig_user' has no attribute {name!r}")
