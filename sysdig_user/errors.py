"""User-facing errors: each becomes one line on stderr and a non-zero exit status in cli.main."""
from __future__ import annotations


class SduError(Exception):
    """An error the user caused or must act on; ``str()`` is the whole line to print."""

    exit_status = 1
