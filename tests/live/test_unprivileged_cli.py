"""The sdu command as a non-root user with no capabilities: it traces its own command fully, and
attaching to another user's process fails with one line naming the ptrace rule.

The dev/CI venv's interpreter may live where other users cannot reach it (under /root), so the test
lays out a world-readable copy of sdu and its pure-Python dependencies and runs it with the system
python3 of the same minor version.
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT, system_user

USER = "sdu-unpriv"
PACKAGES = ("sysdig_user", "tracer", "netcap", "lark", "psutil", "ptrace")


def _system_python() -> str:
    for cand in (f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}", "/usr/bin/python3"):
        if os.path.exists(cand):
            out = subprocess.run([cand, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True,
                                 text=True, check=False)
            if out.stdout.strip() == str(tuple(sys.version_info[:2])):
                return cand
    pytest.skip("no system python of this version for the unprivileged user")


@pytest.fixture(scope="module")
def user() -> Iterator[pwd.struct_passwd]:
    with system_user(USER) as found:
        yield found


@pytest.fixture(scope="module")
def tree() -> Iterator[Path]:
    """sdu and its dependencies, readable by everyone."""
    import lark
    import psutil

    base = Path(tempfile.mkdtemp(prefix="sdu-unpriv-"))
    sources = {"sysdig_user": ROOT / "sysdig_user", "tracer": ROOT / "tracer", "netcap": ROOT / "netcap",
               "lark": Path(lark.__file__).parent, "psutil": Path(psutil.__file__).parent}
    try:
        import ptrace
        sources["ptrace"] = Path(ptrace.__file__).parent
    except ImportError:
        pass
    for name, src in sources.items():
        shutil.copytree(src, base / name, ignore=shutil.ignore_patterns("__pycache__"))
    for dirpath, dirnames, filenames in os.walk(base):
        os.chmod(dirpath, 0o755)
        for f in filenames:
            os.chmod(os.path.join(dirpath, f), 0o644)
    base.chmod(0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base)


def _as_user(user: pwd.struct_passwd, tree: Path, argv: list[str]) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tree), "HOME": "/tmp", "TZ": "UTC",
           "PYTHONDONTWRITEBYTECODE": "1", "XDG_CACHE_HOME": str(tree / "no-cache")}
    cmd = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups",
           "--inh-caps=-all", "--bounding-set=-all", _system_python(), "-m", "sysdig_user", *argv]
    return subprocess.run(cmd, cwd="/tmp", env=env, capture_output=True, text=True, timeout=120, check=False)


def test_unprivileged_sdu_traces_its_own_command(user: pwd.struct_passwd, tree: Path) -> None:
    res = _as_user(user, tree, ["-p", "*%proc.name %evt.type %evt.dir %fd.name", "evt.type in (openat, execve, clone, vfork)",
                                "--", "/bin/sh", "-c", "cat /etc/hostname > /dev/null; exit 3"])
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 3, res.stderr  # the command's own status
    lines = res.stdout.splitlines()
    assert any(ln.startswith("cat openat < /etc/hostname") for ln in lines), res.stdout
    assert any(ln.startswith("sh vfork <") for ln in lines), res.stdout  # dash vforks; the child was followed


def test_unprivileged_sdu_cannot_attach_to_root_process(user: pwd.struct_passwd, tree: Path) -> None:
    target = subprocess.Popen(["sleep", "30"])
    try:
        time.sleep(0.1)
        res = _as_user(user, tree, ["--pid", str(target.pid)])
        assert res.returncode != 0
        line = res.stderr.strip()
        assert "\n" not in line and "Traceback" not in line, res.stderr
        assert str(target.pid) in line
        assert "CAP_SYS_PTRACE" in line or "ptrace_scope" in line
        assert target.poll() is None
    finally:
        target.kill()
        target.wait()
