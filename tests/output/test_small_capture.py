"""``sdu -r`` of a small capture (sysdig_user/sources.py, small_capture_codes): the compiled line gets the
recipes of the capture's event types only, and prints what it prints with all of them and what the Python
pipeline prints; the types read are the reader's."""
from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from sysdig_user import sources
from sysdig_user.event_table import EXTENSIONS, PPM_EVENT_MAX
from sysdig_user.output import fastline
from sysdig_user.scap import read_capture
from tests.support import line_diff, native_environ, require_built, run_sdu, shared_path

SAMPLES = ("falco_cat_write.scap", "libs_curl_google.scap", "libs_single_ipv6_conn.scap")


def _plain(name: str, tmp_path: Path) -> Path:
    """A shared sample, uncompressed into tmp_path."""
    data = shared_path("samples", name).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    out = tmp_path / name
    out.write_bytes(data)
    return out


def _reader_codes(path: Path) -> set[int]:
    return {raw[20] | raw[21] << 8 for item in read_capture(str(path), extension_types=frozenset(EXTENSIONS))
            if type(item) is tuple for raw in (item[2],)}


@pytest.mark.parametrize("name", SAMPLES)
def test_the_types_read_first_are_the_readers(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _plain(name, tmp_path)
    monkeypatch.setattr(sources, "SMALL_CAPTURE", path.stat().st_size)
    codes = sources.small_capture_codes([str(path)])
    assert codes is not None
    assert {c for c in codes if c < PPM_EVENT_MAX} == {c for c in _reader_codes(path) if c < PPM_EVENT_MAX}
    monkeypatch.setattr(sources, "SMALL_CAPTURE", path.stat().st_size - 1)
    assert sources.small_capture_codes([str(path)]) is None  # (too large)


def test_no_types_for_what_is_not_a_small_plain_file(tmp_path: Path) -> None:
    gz = tmp_path / "c.scap.gz"
    gz.write_bytes(shared_path("samples", SAMPLES[0]).read_bytes()[:1000])
    assert gz.read_bytes()[:2] == b"\x1f\x8b"
    cut = tmp_path / "cut.scap"
    cut.write_bytes(_plain(SAMPLES[0], tmp_path).read_bytes()[:3000])  # a block cut short
    for paths in ([str(gz)], ["/dev/null"], [str(tmp_path / "missing")], [str(tmp_path)], [str(cut)]):
        assert sources.small_capture_codes(paths) is None, paths


@pytest.mark.parametrize("verbose", [False, True], ids=["default", "v"])
def test_lines_equal_those_with_every_recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, verbose: bool) -> None:
    require_built(fastline._fastline, "sysdig_user._fastline")
    extra = ["-v"] if verbose else []
    paths = [str(_plain(name, tmp_path)) for name in SAMPLES]
    for argv in ([paths[0]], [paths[1]], [paths[2]], paths):
        args = [*extra, *(a for p in argv for a in ("-r", p))]
        monkeypatch.setattr(sources, "SMALL_CAPTURE", 0)
        every = run_sdu(*args, environ=native_environ(True))
        monkeypatch.setattr(sources, "SMALL_CAPTURE", 1 << 30)
        some = run_sdu(*args, environ=native_environ(True))
        python = run_sdu(*args, environ=native_environ(False))
        assert every.status == some.status == python.status == 0
        assert line_diff(every.stdout.splitlines(), some.stdout.splitlines()) == "", argv
        assert line_diff(python.stdout.splitlines(), some.stdout.splitlines()) == "", argv


def test_a_type_missing_from_the_codes_read_first_prints_the_same(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that changed between small_capture_codes and the read (the docstring's case): the types
    with no recipe are declined to the Python pipeline, line for line the same."""
    require_built(fastline._fastline, "sysdig_user._fastline")
    for name in SAMPLES:
        path = _plain(name, tmp_path)
        every = run_sdu("-r", str(path), environ=native_environ(True))
        codes = sorted(_reader_codes(path))
        for kept in (frozenset(), frozenset(codes[::2])):
            monkeypatch.setattr(sources, "small_capture_codes", lambda _paths, kept=kept: kept)
            some = run_sdu("-r", str(path), environ=native_environ(True))
            assert some.status == every.status == 0
            assert line_diff(every.stdout.splitlines(), some.stdout.splitlines()) == "", (name, len(kept))
