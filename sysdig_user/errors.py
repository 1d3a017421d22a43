"""User-facing errors: each becomes one line on stderr and a non-zero exit status in cli.main."""
from __future__ import annotations


class SduError(Exception):
    """An error the user caused or must act on; ``str()`` is the whole line to print."""

    exit_status = 1


class FieldError(SduError):
    """A field name sdu does not know, or a -p format it cannot print (the CLI's line)."""


class TraceError(SduError):
    """A live capture could not start or go on: the command cannot be run, a process cannot be traced
    (the ptrace rule or capability that applies is named), packet capture refused."""


class FilterError(SduError):
    """A filter sysdig would reject (the filter package's errors derive from it); ``str()`` is the line."""
