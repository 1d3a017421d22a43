"""Helpers shared by the test suite: where the shared oracles live, and running the CLI in-process."""
from __future__ import annotations

import contextlib
import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def shared_path(*parts: str) -> Path:
    """Path under ../shared (or $SDU_SHARED); skips the test with a reason when it is absent."""
    base = Path(os.environ.get("SDU_SHARED", ROOT.parent / "shared"))
    path = base.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared reference material not found at {path}")
    return path


def oracles_required() -> bool:
    return os.environ.get("SDU_REQUIRE_ORACLES") == "1"


def require_tool(name: str) -> str:
    """Full path of an oracle tool; skips without it, or fails when SDU_REQUIRE_ORACLES=1."""
    found = shutil.which(name)
    if found is None:
        if oracles_required():
            pytest.fail(f"oracle {name!r} is required (SDU_REQUIRE_ORACLES=1) but not installed")
        pytest.skip(f"oracle {name!r} is not installed")
    return found


@dataclass
class SduResult:
    stdout: str
    stderr: str
    status: int


def run_sdu(*argv: str, stdin: str = "") -> SduResult:
    """Run the sdu CLI in-process and capture its output and exit status."""
    from sysdig_user.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return SduResult(out.getvalue(), err.getvalue(), int(status))
