"""The ``sdu`` command's entry point: a Ctrl-C while sdu is still starting up ends it quietly.

The console script imports this module, which imports nothing (``sys`` is built in), and only then
the CLI (about 0.1 s of imports): a SIGINT during those imports, before sysdig_user.cli.main's own handling, is a
KeyboardInterrupt that would print a traceback. Nothing is traced yet, so sdu exits as it does when
interrupted later: ``interrupted_status``. (Python's own start-up, before this module runs, is still
Python's: a SIGINT there can print a traceback from the interpreter's imports.)

Statuses. ``sdu -p PID`` and ``sdu -r FILE`` end with 0 when interrupted, as sysdig does on Ctrl-C (an
attached process is detached first). ``sdu -- CMD`` exits with the command's status, and a command that
never started because of the signal counts as killed by it: 128 + SIGINT = 130, what a shell reports for
a command ended by Ctrl-C (strace does the same). SIGTERM and SIGHUP before sdu catches them (it does
from just before it launches the command or attaches) end sdu by their default action.
"""
from __future__ import annotations

import sys

TYPE_CHECKING = False  # (typing itself is no light import)

if TYPE_CHECKING:  # nothing more is imported before the CLI: each import widens the window above
    from collections.abc import Sequence
    from typing import Any

_SIGINT = 2


def interrupted_status(argv: Sequence[str]) -> int:
    """sdu's exit status when a SIGINT ended it before the command ran (see the module docstring)."""
    args = list(argv)
    if "--" in args and args.index("--") < len(args) - 1:
        return 128 + _SIGINT
    return 0


def main(argv: list[str] | None = None, env: Any = None) -> int:
    """sysdig_user.cli.main, imported here so that an interrupt during its imports ends sdu quietly."""
    try:
        from sysdig_user.cli import main as cli_main
    except KeyboardInterrupt:
        return interrupted_status(sys.argv[1:] if argv is None else argv)
    return cli_main(argv, env)
