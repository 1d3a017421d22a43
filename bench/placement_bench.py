"""How co-location (tracer/placement.py) behaves on this machine, at its current load.

    .venv/bin/python bench/placement_bench.py [--runs N]

Co-location is released when traced threads and the tracer queue for the shared CPU more than
WAIT_SHARE of the time; on a busy machine other processes on that CPU make them queue too, so whether a
serial command keeps its one CPU to the end depends on the load, not only on the command. The tests
(tests/tracer/test_placement.py) assert what holds at any load; this measures the rest. For each
workload and run: the release reason ("tracing ended" = co-located to the end), when it came (seconds
after launch, "-" if never), the whole traced run's wall time. Workloads: "serial" (one busy python
process making syscalls, ~1 s), "parallel" (two of them at once under sh: should be released within a
few SAMPLE_NS). The 1-minute load average is printed first: run it idle and beside `stress`/busy loops
to see the difference.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tracer import placement
from tracer.engine import Engine
from tracer.events import EventBuilder

BUSY = "import os,time; e=time.time()+{secs}\nwhile time.time()<e: sum(range(20000)); os.getppid()"
WORKLOADS = {
    "serial": [sys.executable, "-c", BUSY.format(secs=1.0)],
    "parallel": ["sh", "-c", "{0} & {0}; wait".format(f"{sys.executable} -c '{BUSY.format(secs=1.0)}'")],
}


def run_once(argv: list[str]) -> tuple[str, float | None, float]:
    released_at: list[float] = []
    original_release = placement.Placement.release

    def release(self: placement.Placement, *args: object, **kwargs: object) -> None:
        if self.active:
            released_at.append(time.monotonic())
        original_release(self, *args, **kwargs)  # type: ignore[arg-type]

    placement.Placement.release = release  # type: ignore[method-assign]
    try:
        engine = Engine(EventBuilder(lambda e: None), colocate=True)
        start = time.monotonic()
        engine.launch(argv)
        status = engine.run()
        wall = time.monotonic() - start
    finally:
        placement.Placement.release = original_release  # type: ignore[method-assign]
    if status != 0:
        raise SystemExit(f"{argv}: exit status {status}")
    place = engine.placement
    if place is None:
        return "not co-located (fewer than two allowed CPUs?)", None, wall
    at = released_at[0] - start if released_at else None
    return place.released_reason, at, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    print(f"load average (1 min) {os.getloadavg()[0]:.2f}; allowed CPUs {len(os.sched_getaffinity(0))}; "
          f"WAIT_SHARE {placement.WAIT_SHARE}, SAMPLE_NS {placement.SAMPLE_NS / 1e6:.0f} ms")
    print(f"{'workload':<10} {'run':>3}  {'released after':>14}  {'wall':>6}  reason")
    for name, argv in WORKLOADS.items():
        for i in range(args.runs):
            reason, at, wall = run_once(argv)
            shown = "-" if at is None or reason == "tracing ended" else f"{at:.2f} s"
            print(f"{name:<10} {i + 1:>3}  {shown:>14}  {wall:5.2f}s  {reason}")


if __name__ == "__main__":
    main()
