"""The optional C extensions (tracer/_fastpath.c, sysdig_user/_fastline.c): loaded when built and current.

`pip install` builds them where a C compiler and the Python headers exist (setup.py, optional=True);
elsewhere sdu is pure Python. Each module states the interface VERSION it was written for, and the
Python side that drives it uses it only when the built module reports the same one: an editable
install whose extension was not rebuilt after a change runs pure Python rather than a stale build.
"""
from __future__ import annotations

TYPE_CHECKING = False  # (not typing's: importing typing costs a start ~6 ms; mypy reads this as typing's)
if TYPE_CHECKING:
    from typing import Any

#: the sysdig_user/_fastline.c interface (its FASTLINE_VERSION) that output/fastline.py and
#: output/compiled.py both drive: one number, raised with the C file's
FASTLINE_VERSION = 14


def extension(name: str, version: int) -> Any:
    """The module ``name`` if it imports and its VERSION is ``version``, else None."""
    try:
        module = __import__(name, fromlist=("VERSION",))  # (the module itself; importlib imports warnings)
    except ImportError:  # pragma: no cover - built without a compiler
        return None
    return module if getattr(module, "VERSION", None) == version else None
