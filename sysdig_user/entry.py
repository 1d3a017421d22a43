"""The ``sdu`` command's entry point (``console``): a Ctrl-C while sdu is still starting up ends it quietly,
no garbage collection runs while it starts up, and none at its exit.

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

Collections. Start-up creates ~100k objects (module code, tables, the compiled formats) and no garbage
worth a pass of the collector, which still ran ~35 times during a short run (some 5-10 ms). ``console``
turns the collector off first; the CLI turns it on again just before the source runs
(``resume_collection``), after moving everything made so far to the permanent generation (gc.freeze), so
the event loop's collections never scan the start-up's objects (nor, in the processes forked from it,
touch their pages). At exit the interpreter's last full collection and module teardown cost a short run
~10 ms more: ``console`` flushes stdout and stderr itself and ends the process with os._exit, when
nothing else is owed at exit (no atexit function, no other thread, no Lua state whose files a chisel
may hold); otherwise, or if a flush fails, it exits as Python does (everything unfrozen again, so its
last collection finds what it always did), which reports what it must (a failed flush: status 120).
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


def console() -> None:
    """The ``sdu`` console script: ``main`` on the command line, with no collection during start-up nor at
    exit (see the module docstring)."""
    import gc  # (built in, as sys)

    gc.disable()
    try:  # sdu's modules from then on from one cache entry (sysdig_user/module_cache.py)
        from sysdig_user import module_cache

        module_cache.install()
    except KeyboardInterrupt:
        status = interrupted_status(sys.argv[1:])
    else:
        status = main()
        try:
            module_cache.remember()  # (the modules this run found the slow way, for the next runs)
        except KeyboardInterrupt:  # (a Ctrl-C now costs only the cache's update, not a traceback)
            pass
    if _nothing_owed_at_exit():
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - Python's own exit reports it (and says 120)
            _python_exit(gc, status)
        import os

        os._exit(status & 0xFF)
    _python_exit(gc, status)


def _python_exit(gc: Any, status: int) -> None:
    """Python's own exit, its last collection over everything again (finalizers in cycles run)."""
    gc.unfreeze()
    gc.enable()
    sys.exit(status)


#: the collector's first threshold while events run (Python's default is 700): a capture's sections each
#: load ~50 processes and ~300 fds as new objects, which at 700 made a collection every few blocks
#: (callgrind, 20 sections: ~20M of ~230M instructions past start-up went to collecting; at 20,000 the
#: peak RSS of a 200-section read grew ~0.5 MB)
GEN0_THRESHOLD = 20000


def resume_collection() -> None:
    """Before the event loop: the collector back on (if ``console`` turned it off), with what start-up
    made moved out of its way (gc.freeze), and collecting less often (GEN0_THRESHOLD)."""
    import gc

    if not gc.isenabled():
        gc.freeze()
        gc.set_threshold(GEN0_THRESHOLD, *gc.get_threshold()[1:])
        gc.enable()


def _nothing_owed_at_exit() -> bool:
    """Whether ending the process without Python's exit loses nothing: no atexit function is registered
    (weakref.finalize, logging and the like register one), no other thread runs, and no Lua state (a
    chisel's open files, buffered by C) is alive."""
    import atexit

    count = getattr(atexit, "_ncallbacks", None)
    if count is None or count() != 0:
        return False
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        return False
    return "lupa" not in sys.modules
