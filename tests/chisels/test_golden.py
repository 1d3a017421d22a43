"""Every ``-c`` case of the golden CASES.tsv, through sdu's Python chisels and through sysdig's own
Lua chisels run by the Lua bridge, compared per the case's mode (exact, column1, nolast)."""
from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from tests.support import oracles_required, run_sdu, shared_base, shared_path

LUA_DIR = Path("/usr/share/sysdig/chisels")


def _cases() -> list[tuple[str, str, list[str], str]]:
    tsv = shared_base() / "samples" / "golden" / "CASES.tsv"
    if not tsv.exists():
        return []
    out = []
    for line in tsv.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        cid, sample, args, *rest = line.split("\t")
        argv = shlex.split(args)
        if "-c" in argv:
            out.append((cid, sample, argv, rest[0] if rest and rest[0] else "exact"))
    return out


CASES = _cases()


def _require_cli() -> None:
    try:
        import sysdig_user.cli  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"the CLI is not importable yet: {exc}")


def _compare(mode: str, got: str, want: str) -> None:
    if mode == "column1":
        def first(text: str) -> list[str]:
            return [ln.split()[0] if ln.split() else "" for ln in text.splitlines()]
        assert first(got) == first(want)
    elif mode == "nolast":
        assert got.splitlines()[:-1] == want.splitlines()[:-1]
    else:
        assert got == want


def _run(cid: str, sample: str, argv: list[str], mode: str) -> None:
    _require_cli()
    golden = shared_path("samples", "golden")
    capture = shared_path("samples", sample)
    want = (golden / f"{cid}.out").read_bytes().decode("utf-8", "surrogateescape")
    rc_file = golden / f"{cid}.rc"
    want_rc = int(rc_file.read_text().strip()) if rc_file.exists() else 0
    import os
    res = run_sdu("-r", str(capture), *argv, environ={**os.environ, "TZ": "UTC"})
    assert res.status == want_rc, res.stderr
    _compare(mode, res.output if mode != "exact" or want_rc else res.stdout, want)


@pytest.mark.parametrize(("cid", "sample", "argv", "mode"), CASES, ids=[c[0] for c in CASES])
def test_python_chisel(cid: str, sample: str, argv: list[str], mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SDU_CHISEL_ENGINE", raising=False)
    _run(cid, sample, argv, mode)


@pytest.mark.parametrize(("cid", "sample", "argv", "mode"), CASES, ids=[c[0] for c in CASES])
def test_lua_chisel(cid: str, sample: str, argv: list[str], mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from sysdig_user.chisels import lua_bridge

    if not lua_bridge.available() or not LUA_DIR.is_dir():
        if oracles_required():
            pytest.fail("lupa and /usr/share/sysdig/chisels are required (SDU_REQUIRE_ORACLES=1)")
        pytest.skip("lupa or sysdig's Lua chisels are not installed")
    monkeypatch.setenv("SDU_CHISEL_ENGINE", "lua")
    _run(cid, sample, argv, mode)
