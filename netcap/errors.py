"""User-facing packet capture errors.

Each is an `SduError`, so `cli.main` prints ``str(err)`` as one line and goes on (a missing CAP_NET_RAW
means "syscalls only", not a crash). Messages never embed a traceback or a multi-line tool output.
"""
from __future__ import annotations

from sysdig_user.errors import SduError


class NetCapError(SduError):
    """Any packet-capture failure the user must act on."""


class CaptureNotPermitted(NetCapError):
    """AF_PACKET sockets need CAP_NET_RAW in the capturing network namespace's owning user namespace."""


class FilterError(NetCapError):
    """The tcpdump-style expression did not compile, or no compiler (tcpdump, libpcap) is installed."""


class InterfaceError(NetCapError):
    """An interface named by the user does not exist or has a link type netcap cannot dissect."""
