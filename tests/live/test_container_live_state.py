"""Live output names the containers known at the start as a reader of the -w file does: the tracer's
container records are fed to the live Inspector as a capture's head container events are (tracer/live.py
_seed), in one process and, pipelined, in the consumer forked after the seeding.

The command (``cat /dev/null``) runs in a docker-shaped cgroup the test makes, with a fake docker API
under HOST_ROOT (tests/live/test_container_events.py's fixtures); the oracle is sysdig reading the -w file
of the same command (sdu, as sysdig, prints nothing when it writes, so -p and -w are two runs): the live
-p lines (container fields, event types) must be the lines sysdig prints for that file.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.live.test_container_events import FULL_ID, _Api, _lines, _UnixServer, docker_cgroup  # noqa: F401
from tests.support import ROOT, require_tool

pytestmark = [pytest.mark.ptrace, pytest.mark.oracle]

FORMAT = ("*%container.id %container.type %container.name %container.image %container.image.tag "
          "%container.privileged %proc.name %evt.type %evt.dir")
FILTER = "proc.name=cat"


@pytest.mark.parametrize("single", ["1", "0"], ids=["one-process", "pipelined"])
def test_live_container_fields_equal_sysdig_reading_the_w_file(tmp_path: Path, docker_cgroup: Path,  # noqa: F811
                                                               single: str) -> None:
    host_root = tmp_path / "root"
    (host_root / "var/run").mkdir(parents=True)
    server = _UnixServer(str(host_root / "var/run/docker.sock"), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    out = tmp_path / "c.scap"
    env = dict(os.environ, PYTHONPATH=str(ROOT), HOST_ROOT=str(host_root), SDU_SINGLE_PROCESS=single)

    def run(*args: str) -> list[str]:
        script = f'echo $$ > {docker_cgroup}/cgroup.procs && exec "$0" -m sysdig_user "$@" -- cat /dev/null'
        res = subprocess.run(["sh", "-c", script, sys.executable, *args], capture_output=True, text=True,
                             env=env, timeout=120, check=False)
        assert res.returncode == 0, res.stderr
        return [line for line in res.stdout.splitlines() if line.strip()]

    try:
        live = run("-p", FORMAT, FILTER)  # (sdu, as sysdig, prints nothing with -w: two runs of one command)
        run("-w", str(out))
    finally:
        server.shutdown()
        server.server_close()
    theirs = _lines([require_tool("sysdig"), "-r", str(out), "-p", FORMAT, FILTER])
    assert theirs and all(f"{FULL_ID[:12]} docker web-1 nginx:1.25 1.25 false cat" in line for line in theirs), theirs
    assert live == theirs


_ALL = """cg=$1
shift
loop() { sh -c 'echo $$ > "$0"/cgroup.procs; exec sh -c "while :; do cat /dev/null; sleep 0.05; done"' "$cg" & }
if [ -z "$LATE" ]; then loop; lp=$!; sleep 0.3; fi
"$0" -m sysdig_user --all -M 3 "$@" > "$OUT" &
sdu=$!
if [ -n "$LATE" ]; then sleep 1.5; loop; lp=$!; fi
wait $sdu
status=$?
kill $lp
exit $status
"""


@pytest.mark.parametrize("late", ["", "1"], ids=["first-scan", "rescan"])
@pytest.mark.parametrize("single", ["1", "0"], ids=["one-process", "pipelined"])
def test_all_names_the_containers_it_finds(tmp_path: Path, docker_cgroup: Path, single: str,  # noqa: F811
                                           late: str) -> None:
    """sdu --all in a PID namespace the test makes (the test's shell is its init, untraced), with a
    process looping in the container's cgroup, started before sdu (found by the first scan) or 1.5 s after
    it (so, but for a very slow start, found by a rescan: no traced process forked it): its container is in the live state, the distinct
    -p lines equal sysdig's for the -w file of a second run (the runs see different numbers of events)."""
    require_tool("unshare")
    host_root = tmp_path / "root"
    (host_root / "var/run").mkdir(parents=True)
    server = _UnixServer(str(host_root / "var/run/docker.sock"), _Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    out, printed = tmp_path / "all.scap", tmp_path / "printed"
    env = dict(os.environ, PYTHONPATH=str(ROOT), HOST_ROOT=str(host_root), SDU_SINGLE_PROCESS=single,
               OUT=str(printed), LATE=late)
    flt = "proc.name=cat and evt.type=openat"
    try:
        for args in (["-p", FORMAT, flt], ["-w", str(out)]):
            res = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", _ALL, sys.executable,
                                  str(docker_cgroup), *args], capture_output=True, text=True, env=env,
                                 timeout=120, check=False)
            assert res.returncode == 0, res.stderr
            if args[0] == "-p":
                live = {line for line in printed.read_text().splitlines() if line.strip()}
    finally:
        server.shutdown()
        server.server_close()
    theirs = set(_lines([require_tool("sysdig"), "-r", str(out), "-p", FORMAT, flt]))
    assert theirs and all(f"{FULL_ID[:12]} docker web-1 nginx:1.25 1.25 false cat" in line for line in theirs), theirs
    assert live == theirs
