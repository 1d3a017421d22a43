"""-cl and -i against sysdig (every built-in; user chisels from ./chisels, ~/.chisels and
$SDU_CHISELS_DIR, in Python and in Lua), and Debian's own .lua chisels run through sdu's Lua bridge
on a capture file this test writes."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sysdig_user.chisels import lua_bridge
from sysdig_user.chisels.registry import SYSTEM_LUA_DIR, builtin_chisels
from tests.support import ROOT, oracles_required, require_tool

TIMEOUT = 60


def _sdu(*argv: str, cwd: Path | None = None, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("SDU_CHISEL_ENGINE", "SDU_CHISELS_DIR",
                                                             "SYSDIG_CHISEL_DIR")}
    full = dict(base, TZ="UTC", PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run([sys.executable, "-m", "sysdig_user", *argv], capture_output=True, text=True,
                          cwd=cwd, env=full, timeout=TIMEOUT, check=False)


def _sysdig(*argv: str, cwd: Path | None = None, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    sysdig = require_tool("sysdig")
    base = {k: v for k, v in os.environ.items() if k != "SYSDIG_CHISEL_DIR"}
    return subprocess.run([sysdig, *argv], capture_output=True, text=True, cwd=cwd,
                          env=dict(base, TZ="UTC", **(env or {})), timeout=TIMEOUT, check=False)


def _need_lua() -> None:
    if not lua_bridge.available() or not Path(SYSTEM_LUA_DIR).is_dir():
        if oracles_required():
            pytest.fail(f"lupa and {SYSTEM_LUA_DIR} are required (SDU_REQUIRE_ORACLES=1)")
        pytest.skip(f"lupa or {SYSTEM_LUA_DIR} is not installed")


# --------------------------------------------------------------------------------- built-ins
@pytest.mark.oracle
def test_list_of_builtins_matches_sysdig(tmp_path: Path) -> None:
    _need_lua()  # sysdig lists its Lua chisels too: sdu lists them through lupa
    want = _sysdig("-cl", cwd=tmp_path)
    got = _sdu("-cl", cwd=tmp_path)
    assert got.returncode == want.returncode == 0, got.stderr
    assert got.stdout == want.stdout


@pytest.mark.oracle
def test_every_builtin_described_as_sysdig_does(tmp_path: Path) -> None:
    names = sorted(builtin_chisels())
    sysdig = require_tool("sysdig")
    script = "; ".join(f"{sysdig} -i {n}; echo \"rc=$?\"" for n in names)
    want = subprocess.run(["sh", "-c", script], capture_output=True, text=True, cwd=tmp_path,
                          timeout=TIMEOUT, check=False)
    from sysdig_user.chisels.registry import describe_chisel
    from sysdig_user.errors import SduError

    got = []
    for n in names:
        try:
            got.append(describe_chisel(n) + "rc=0\n")
        except SduError:  # hidden (table_generator): sysdig has no such listable chisel either
            got.append("rc=1\n")
    assert "".join(got) == want.stdout


# --------------------------------------------------------------------------------- user chisels
TINY_LUA = """\
description = "Counts the events that match FILTER and prints the total when the capture ends."
short_description = "Count matching events (tiny test chisel)"
category = "Testing"
args = {
    {name = "filter", description = "the events to count, e.g. evt.type=write", argtype = "filter",
     optional = true},
}
local n = 0
local flt = ""
function on_set_arg(name, val)
    flt = val
    return true
end
function on_init()
    if flt ~= "" then chisel.set_filter(flt) end
    return true
end
function on_event()
    n = n + 1
    return true
end
function on_capture_end()
    print("events: " .. n)
end
"""

TINY_PY = '''\
from sysdig_user.chisels.api import Chisel, ChiselArg, ChiselInfo


class {cls}(Chisel):
    info = ChiselInfo(
        name="{name}",
        short_description="Count matching events (tiny test chisel)",
        category="Testing",
        description="Counts the events that match FILTER and prints the total when the capture ends.",
        args=(ChiselArg("filter", "filter", "the events to count, e.g. evt.type=write", True),),
    )

    def __init__(self, ctx):
        super().__init__(ctx)
        self.n = 0
        self.flt = ""

    def on_set_arg(self, name, value):
        self.flt = value
        return True

    def on_init(self):
        if self.flt:
            self.ctx.set_filter(self.flt)
        return True

    def on_event(self, evt):
        self.n += 1
        return True

    def on_capture_end(self, ts, delta):
        self.ctx.print(f"events: {{self.n}}")
'''


@pytest.fixture()
def chisel_dirs(tmp_path: Path) -> dict[str, Path]:
    """./chisels (cwd), ~/.chisels (HOME) and $SDU_CHISELS_DIR, a Lua and a Python chisel in each."""
    dirs = {"cwd": tmp_path / "work", "home": tmp_path / "home", "envdir": tmp_path / "envdir"}
    places = {"cwd": dirs["cwd"] / "chisels", "home": dirs["home"] / ".chisels", "envdir": dirs["envdir"]}
    for where, d in places.items():
        d.mkdir(parents=True)
        (d / f"{where}_lua.lua").write_text(TINY_LUA)
        (d / f"{where}_py.py").write_text(TINY_PY.format(cls=f"Tiny{where.capitalize()}", name=f"{where}_py"))
    return dirs


def _user_env(dirs: dict[str, Path]) -> dict[str, str]:
    return {"HOME": str(dirs["home"]), "SDU_CHISELS_DIR": str(dirs["envdir"])}


def test_user_chisels_listed(chisel_dirs: dict[str, Path]) -> None:
    res = _sdu("-cl", cwd=chisel_dirs["cwd"], env=_user_env(chisel_dirs))
    assert res.returncode == 0, res.stderr
    block = res.stdout.split("Category: Testing\n-----------------\n")[1].split("\n\n")[0]
    names = ["cwd_py", "envdir_py", "home_py"]
    if lua_bridge.available():
        names += ["cwd_lua", "envdir_lua", "home_lua"]
    want = "".join(f"{n:<16}Count matching events (tiny test chisel)\n" for n in sorted(names))
    assert block + "\n" == want


def _anonymous(text: str, name: str) -> str:
    """-i output with the chisel's name (and the padding after it) taken out."""
    return re.sub(rf"^{name} *", "NAME ", text, flags=re.MULTILINE)


@pytest.mark.oracle
def test_user_chisels_described(chisel_dirs: dict[str, Path]) -> None:
    """A Python and a Lua chisel with the same metadata describe the same way; and as sysdig
    describes the Lua one (sysdig reads ./chisels and $SYSDIG_CHISEL_DIR)."""
    env = _user_env(chisel_dirs)
    texts = {}
    for where in ("cwd", "home", "envdir"):
        res = _sdu("-i", f"{where}_py", cwd=chisel_dirs["cwd"], env=env)
        assert res.returncode == 0, res.stderr
        texts[where] = _anonymous(res.stdout, f"{where}_py")
        assert "[filter] filter - the events to count" in res.stdout
    assert texts["cwd"] == texts["home"] == texts["envdir"]
    if not lua_bridge.available():
        return
    for where in ("cwd", "home", "envdir"):
        res = _sdu("-i", f"{where}_lua", cwd=chisel_dirs["cwd"], env=env)
        assert res.returncode == 0, res.stderr
        assert _anonymous(res.stdout, f"{where}_lua") == texts["cwd"]
    if shutil.which("sysdig") is None and not oracles_required():
        return
    oracle_env = {"SYSDIG_CHISEL_DIR": str(chisel_dirs["envdir"])}
    for name in ("cwd_lua", "envdir_lua"):
        want = _sysdig("-i", name, cwd=chisel_dirs["cwd"], env=oracle_env)
        got = _sdu("-i", name, cwd=chisel_dirs["cwd"], env=oracle_env)
        assert got.stdout == want.stdout
    want = _sysdig("-cl", cwd=chisel_dirs["cwd"], env=oracle_env)
    got = _sdu("-cl", cwd=chisel_dirs["cwd"], env={**oracle_env, "HOME": str(chisel_dirs["cwd"])})
    # sysdig knows no Python chisels: drop sdu's from its listing before comparing
    got_lines = [ln for ln in got.stdout.splitlines() if not ln.startswith(("cwd_py", "envdir_py"))]
    assert got_lines == want.stdout.splitlines()


# --------------------------------------------------------------------------------- a capture file
def _write_capture(path: Path) -> None:
    """bash (pid 100) and its child cat (pid 101): cat reads "hello\\nworld\\n" from fd 0 (a pipe),
    writes it to fd 1 (a tty), then reads EOF."""
    from sysdig_user.event import Event
    from sysdig_user.event_table import event_code
    from sysdig_user.scap import ScapWriter
    from sysdig_user.scap.records import FdEntry, FdType, MachineInfo, ProcEntry

    procs = [
        ProcEntry(tid=100, pid=100, ptid=1, comm="bash", exe="bash", exepath="/usr/bin/bash", args=[],
                  cwd="/tmp/", uid=0, gid=0, vtid=100, vpid=100),
        ProcEntry(tid=101, pid=101, ptid=100, comm="cat", exe="cat", exepath="/usr/bin/cat", args=[],
                  cwd="/tmp/", uid=0, gid=0, vtid=101, vpid=101),
    ]
    fds = {101: [FdEntry(fd=0, type=FdType.FIFO, ino=4242),
                 FdEntry(fd=1, type=FdType.FILE_V2, name="/dev/pts/0", open_flags=3)]}
    data = b"hello\nworld\n"
    ts = 1_700_000_000_000_000_000
    events: list[tuple[str, bool, list[object]]] = [
        ("read", True, [0, 131072]), ("read", False, [len(data), data]),
        ("write", True, [1, len(data)]), ("write", False, [len(data), data]),
        ("read", True, [0, 131072]), ("read", False, [0, b""])]
    with ScapWriter(str(path)) as w:
        w.write_section(machine=MachineInfo(2, 1 << 30, 32768, "sdu-test"), procs=procs, fds=fds)
        for i, (name, enter, values) in enumerate(events):
            evt = Event.build(event_code(name, enter), ts + i * 1000, 101, 0, values)
            w.write_event(0, 0, evt.raw)


@pytest.mark.parametrize(("chisels", "shows"), [(["stdin", "stdout"], "hello\nworld\n\nhello\nworld\n"),
                                               (["topscalls"], "4                   read\n"),
                                               (["echo_fds"], "Write 12B to")])
@pytest.mark.oracle
def test_debian_lua_chisels_through_sdu(tmp_path: Path, chisels: list[str], shows: str) -> None:
    """sysdig's own .lua files (require "common", chisel.exec into table_generator, terminal colours)
    run by the bridge, matching sdu's Python versions and, when installed, sysdig itself."""
    _need_lua()
    capture = tmp_path / "cat.scap"
    _write_capture(capture)
    args = [a for c in chisels for a in ("-c", c)]
    lua = _sdu("-r", str(capture), *args, env={"SDU_CHISEL_ENGINE": "lua"})
    py = _sdu("-r", str(capture), *args)
    assert lua.returncode == 0, lua.stderr
    assert py.returncode == 0, py.stderr
    assert shows in lua.stdout, lua.stdout
    assert lua.stdout == py.stdout
    if shutil.which("sysdig") is not None or oracles_required():
        want = _sysdig("-r", str(capture), *args)
        assert want.returncode == 0, want.stderr
        assert lua.stdout == want.stdout
