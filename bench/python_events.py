#!/usr/bin/env python3
"""How many events of a run became Python Events (the compiled line's fallbacks), per event kind.

    .venv/bin/python bench/python_events.py [--top N] -- SDU-ARGS...
    e.g. bench/python_events.py -- -r capture.scap -p '%evt.num %fd.name'

Runs sdu in this process with its output to /dev/null, counting every Event built from raw bytes:
by the read loop for an event the C core declined (sysdig_user/sources.py), by the core itself for
a type whose parser runs in Python, and by the Inspector for a stashed enter an exit needs. Prints
the run's event count, the compiled core's count, and the built Events per (type, direction).
"""
from __future__ import annotations

import argparse
import collections
import io
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--top", type=int, default=15, help="kinds to list (default 15)")
    ap.add_argument("argv", nargs=argparse.REMAINDER, help="sdu's arguments, after --")
    args = ap.parse_args()
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv

    from sysdig_user import cli, pipeline, sources
    from sysdig_user.event import Event
    from sysdig_user.event_table import EVENTS
    from sysdig_user.output import fastline
    from sysdig_user.state import inspector

    built: collections.Counter[str] = collections.Counter()

    def counted(raw: bytes, cpu: int = 0, flags: int = 0) -> Event:
        code = raw[20] | raw[21] << 8
        name = f"{EVENTS[code].name} {'<' if code & 1 else '>'}" if code < len(EVENTS) else f"code {code}"
        built[name] += 1
        return Event(raw, cpu, flags)

    for module in (sources, fastline, inspector):
        module.Event = counted  # type: ignore[attr-defined]
    stats: list[Any] = []
    take = pipeline.EventPipeline.finish

    def finish(self: Any) -> Any:
        stats.append(self.stats)
        return take(self)

    pipeline.EventPipeline.finish = finish  # type: ignore[method-assign]
    with open(os.devnull, "wb") as sink:
        env = cli.Environment(sink, io.StringIO(), dict(os.environ))
        status = cli.main(argv, env)
    if not stats:
        print(f"sdu exited {status} without a pipeline", file=sys.stderr)
        return 1
    st = stats[-1]
    total = sum(built.values())
    print(f"events: {st.events}  compiled core: {st.fast_events}  Python-built Events: {total}  (status {status})")
    for name, n in built.most_common(args.top):
        print(f"  {n:8d}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
