"""lsof and netstat list threads and fds in sysdig's order: the order of libsinsp's hash tables
(state/fdorder.py) as LuaJIT's ``pairs()`` walks the tables get_thread_table fills (chisels/luaorder.py).

Compared with Debian's sysdig 0.29.3 on a capture sdu makes at test time of a program the test starts
(opens, closes, dup2 onto open fds, sockets, forked children, a thread: more than 13 and 29 fds, so the
tables rehash), and on the shared samples; through the built-in chisels and through sysdig's own Lua
chisels run by the Lua bridge."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support import line_diff, oracles_required, record_python, require_tool, run_sdu, shared_path

LUA_DIR = Path("/usr/share/sysdig/chisels")
TIMEOUT = 120

# Ends with kill(self, 0): the capture's marker event, where lsof/netstat (filter evt.type=kill) stop
# and print the tables. The children and the thread are alive then; the parent releases them after.
PROGRAM = r"""
import os, socket, threading, time
fds = [os.open("/etc/hosts", os.O_RDONLY) for _ in range(30)]
for fd in fds[3:20:3]:
    os.close(fd)
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(16)
gate_r, gate_w = os.pipe()
ready_r, ready_w = os.pipe()
kids = []
for k in range(4):
    pid = os.fork()
    if pid == 0:
        mine = [os.open("/etc/passwd", os.O_RDONLY) for _ in range(5 + 7 * k)]
        c = socket.create_connection(srv.getsockname())
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.connect(("127.0.0.1", 9))
        os.dup2(mine[0], 77 + k)
        os.close(mine[1])
        os.write(ready_w, b"r")
        os.read(gate_r, 1)
        os._exit(0)
    kids.append(pid)
conns = [srv.accept()[0] for _ in range(4)]
for _ in kids:
    os.read(ready_r, 1)
started = threading.Event()
def worker():
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(("::1", 0))
    started.set()
    time.sleep(0.3)
t = threading.Thread(target=worker); t.start()
started.wait()
for i in range(25):
    fds.append(os.open("/etc/hosts", os.O_RDONLY))
for high in (150, 1000, 200, 513, 300, 4000):
    os.dup2(fds[0], high)
os.dup2(fds[1], fds[-1]); os.close(fds[2]); os.close(200)
os.kill(os.getpid(), 0)
t.join()
os.write(gate_w, b"xxxx")
for pid in kids:
    os.waitpid(pid, 0)
"""


def _sysdig(capture: Path, *args: str) -> str:
    res = subprocess.run([require_tool("sysdig"), "-r", str(capture), *args], capture_output=True,
                         env=dict(os.environ, TZ="UTC"), timeout=TIMEOUT, check=False)
    assert res.returncode == 0, res.stderr
    return res.stdout.decode("utf-8", "surrogateescape")


def _sdu(capture: Path, engine: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    """sdu's reading of the capture, through the built-in chisels or sysdig's Lua ones (the registry
    reads SDU_CHISEL_ENGINE from the process environment)."""
    monkeypatch.delenv("SDU_CHISEL_ENGINE", raising=False)
    if engine == "lua":
        from sysdig_user.chisels import lua_bridge

        if not lua_bridge.available() or not LUA_DIR.is_dir():
            if oracles_required():
                pytest.fail("lupa and /usr/share/sysdig/chisels are required (SDU_REQUIRE_ORACLES=1)")
            pytest.skip("lupa or sysdig's Lua chisels are not installed")
        monkeypatch.setenv("SDU_CHISEL_ENGINE", "lua")
    res = run_sdu("-r", str(capture), *args, environ={**os.environ, "TZ": "UTC"})
    assert res.status == 0, res.stderr
    return res.stdout


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tool("sysdig")
    return record_python(tmp_path_factory.mktemp("fdorder") / "fdorder.scap", PROGRAM, timeout=TIMEOUT)


@pytest.mark.ptrace
@pytest.mark.oracle
@pytest.mark.parametrize("engine", ["builtin", "lua"])
@pytest.mark.parametrize("chisel", ["lsof", "netstat"])
def test_live_capture_lists_as_sysdig(capture: Path, chisel: str, engine: str,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    args = ("-c", chisel, "", "evt.type=kill")
    want = _sysdig(capture, *args)
    got = _sdu(capture, engine, monkeypatch, *args)
    lines = want.splitlines()
    if chisel == "lsof":
        # the case is meant to exercise the order: the parent's fds are not in numeric order
        parent = [ln.split() for ln in lines[1:] if ln.split()[1] == ln.split()[2]]
        pids = {row[1] for row in parent}
        assert len(pids) == 5, lines  # the parent and its four children
        first = [int(row[4]) for row in parent if row[1] == parent[0][1]]
        assert len(first) > 40 and first != sorted(first), lines
    else:
        assert len(lines) > 15, lines
    diff = line_diff(lines, got.splitlines())
    assert not diff and got == want, diff


SAMPLES = ["falco_cat_write.scap", "libs_curl_google.scap", "libs_single_ipv6_conn.scap"]


@pytest.mark.oracle
@pytest.mark.parametrize("engine", ["builtin", "lua"])
@pytest.mark.parametrize("chisel", ["lsof", "netstat"])
@pytest.mark.parametrize("sample", SAMPLES)
def test_samples_list_as_sysdig(sample: str, chisel: str, engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = shared_path("samples", sample)
    want = _sysdig(path, "-c", chisel)
    got = _sdu(path, engine, monkeypatch, "-c", chisel)
    diff = line_diff(want.splitlines(), got.splitlines())
    assert not diff and got == want, diff
