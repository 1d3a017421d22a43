"""Helpers shared by the test suite: where the shared oracles live, and running the CLI in-process."""
from __future__ import annotations

import contextlib
import difflib
import io
import os
import pwd
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def record_python(path: Path, program: str, *args: str, timeout: float = 120) -> Path:
    """`sdu -q -w path -- python -S -c program args...` (UTC, this checkout on the path); skips where
    ptrace is refused (unless SDU_REQUIRE_ORACLES=1). Returns path."""
    cmd = [sys.executable, "-m", "sysdig_user", "-q", "-w", str(path), "--", sys.executable, "-S", "-c", program,
           *args]
    res = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False,
                         env=dict(os.environ, TZ="UTC", PYTHONPATH=str(ROOT)))
    if res.returncode != 0 and b"ptrace" in res.stderr.lower() and not oracles_required():
        pytest.skip(f"ptrace is not usable here: {res.stderr.decode(errors='replace').strip()}")
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    return path


def native_environ(native: bool) -> dict[str, str]:
    """This environment in UTC with the compiled paths on (native) or off (SDU_NO_NATIVE=1)."""
    env = dict(os.environ, TZ="UTC")
    env.pop("SDU_NO_NATIVE", None)
    if not native:
        env["SDU_NO_NATIVE"] = "1"
    return env


def line_diff(want: list[str], got: list[str], context: int = 3, limit: int = 60) -> str:
    """Empty when equal; else the first differences as a short unified diff, so a failing comparison of
    thousands of lines (a live capture read by sysdig and by sdu) shows where they part, not both lists."""
    if want == got:
        return ""
    diff = list(difflib.unified_diff(want, got, "expected", "got", n=context, lineterm=""))
    more = f"\n... {len(diff) - limit} more diff lines" if len(diff) > limit else ""
    return f"{len(want)} expected lines, {len(got)} got:\n" + "\n".join(diff[:limit]) + more


def shared_base() -> Path:
    """The shared reference material: $SDU_SHARED, else ../shared beside the checkout."""
    return Path(os.environ.get("SDU_SHARED", ROOT.parent / "shared"))


def shared_path(*parts: str) -> Path:
    """Path under ../shared (or $SDU_SHARED); skips the test with a reason when it is absent, or fails
    it when SDU_REQUIRE_ORACLES=1 (tests/conftest.py names a missing directory at the top of the run)."""
    path = shared_base().joinpath(*parts)
    if not path.exists():
        if oracles_required():
            pytest.fail(f"shared reference material is required (SDU_REQUIRE_ORACLES=1) but not found at {path}")
        pytest.skip(f"shared reference material not found at {path}")
    return path


def oracles_required() -> bool:
    return os.environ.get("SDU_REQUIRE_ORACLES") == "1"


def needs_marker(marker: str, what: str) -> None:
    """The running test does `what`, which needs its tier `marker`; tests/conftest.py checks it."""


ORACLES = frozenset({"sysdig", "strace", "tshark", "tcpdump"})  # the `oracle` marker's tools


def require_tool(name: str) -> str:
    """Full path of a tool (an oracle, or a helper such as curl); skips without it, or fails when
    SDU_REQUIRE_ORACLES=1."""
    if name in ORACLES:
        needs_marker("oracle", f"uses the oracle {name}")
    found = shutil.which(name)
    if found is None:
        if oracles_required():
            pytest.fail(f"oracle {name!r} is required (SDU_REQUIRE_ORACLES=1) but not installed")
        pytest.skip(f"oracle {name!r} is not installed")
    return found


def require_built(extension: object | None, name: str) -> None:
    """A C extension (``None``: not built) a test needs; skips without it, or fails when
    SDU_REQUIRE_ORACLES=1 (CI installs the compiler and headers, so there it must exist)."""
    if extension is None:
        if oracles_required():
            pytest.fail(f"{name} was not built (a C compiler and Python headers are needed)")
        pytest.skip(f"{name} was not built")


@dataclass
class SduResult:
    stdout: str
    stderr: str
    status: int

    @property
    def output(self) -> str:
        """stdout then stderr, the way the golden files hold what sysdig printed."""
        return self.stdout + self.stderr


def run_sdu(*argv: str, stdin: str = "", environ: dict[str, str] | None = None) -> SduResult:
    """Run the sdu CLI in-process and capture its output and exit status.

    The CLI writes bytes to a binary stdout (utf-8, surrogateescape), so stdout here is a BytesIO
    decoded the same way. ``environ`` replaces the process environment the CLI sees (TZ=UTC).
    """
    from sysdig_user.cli import Environment, main

    out, err = io.BytesIO(), io.StringIO()
    env = Environment(out, err, dict(os.environ) if environ is None else environ)
    with contextlib.redirect_stdout(io.StringIO()) as stray:
        status = main(list(argv), env)
    text = out.getvalue().decode("utf-8", "surrogateescape") + stray.getvalue()
    return SduResult(text, err.getvalue(), int(status))


def status_field(pid: int, key: str) -> str:
    """A field of /proc/PID/status ("TracerPid", "State", ...), "" when absent."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return line.split(":", 1)[1].strip()
    return ""


def wait_for(cond: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``cond`` every 20 ms until it holds or ``timeout`` seconds pass."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


@contextlib.contextmanager
def system_user(name: str) -> Iterator[pwd.struct_passwd]:
    """A throw-away local user for unprivileged tests (root with useradd and setpriv only; skips
    otherwise); removed afterwards if the test created it."""
    if os.geteuid() != 0 or shutil.which("useradd") is None or shutil.which("setpriv") is None:
        pytest.skip("needs root, useradd and setpriv to create and switch to a test user")
    created = False
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
        created = True
    try:
        yield pwd.getpwnam(name)
    finally:
        if created:
            subprocess.run(["userdel", name], check=False)
