"""`python -m tracer [-o FILE] [-s SNAPLEN] [--count] (-p PID[,PID] | -- CMD ...)`: the tracer alone.

A debugging and test front-end (the sysdig-compatible CLI is sysdig_user.cli): prints one line per
event, `tid dir name [values]`, or with --count only the event count. Errors are one line on stderr,
`sdu: ...`, with exit status 1; in launch mode the exit status is the command's.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any, TextIO

from tracer.engine import Engine
from tracer.errors import TracerError
from tracer.events import Decoded, EventBuilder
from tracer.syscalls_x86_64 import syscall_name


def _printer(out: TextIO) -> Any:
    from sysdig_user.event_table import EVENTS

    def emit(d: Decoded) -> None:
        info = EVENTS[d.code]
        name = syscall_name(d.nr) if d.code in (0, 1) else info.name
        out.write(f"{d.tid} {info.dir} {name} {d.values!r}\n")
    return emit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tracer")
    parser.add_argument("-p", dest="pids", help="attach to PID[,PID...]")
    parser.add_argument("-o", dest="output", help="write events here instead of stdout")
    parser.add_argument("-s", dest="snaplen", type=int, default=80)
    parser.add_argument("--count", action="store_true", help="print only the number of events")
    parser.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    with contextlib.ExitStack() as stack:
        out: TextIO = stack.enter_context(open(args.output, "w")) if args.output else sys.stdout
        return _run(args.pids, cmd, args.snaplen, args.count, out)


def _run(pids: str | None, cmd: list[str], snaplen: int, only_count: bool, out: TextIO) -> int:
    count = [0]

    def counter(_d: Decoded) -> None:
        count[0] += 1

    builder = EventBuilder(counter if only_count else _printer(out), snaplen=snaplen, build=False)
    engine = Engine(builder)
    try:
        if pids:
            engine.attach([int(p) for p in pids.split(",") if p])
        elif cmd:
            engine.launch(cmd)
        else:
            raise TracerError("give -p PID or -- CMD")
        status = engine.run()
    except TracerError as exc:
        print(f"sdu: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"sdu: {exc}", file=sys.stderr)
        return 1
    finally:
        out.flush()
    if only_count:
        print(count[0], file=sys.stderr)
    if builder.errors:
        print(f"sdu: {builder.errors} decoder errors, last: {builder.last_error}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
