"""A filtered ``-w`` writes what sysdig 0.29.3's own filtered ``-w`` writes, as sysdig reads them back.

sinsp_evt::get_dump_flags keeps a filtered-out event in the file when it is EC_INTERNAL (procinfo), so
the events of a filtered file are numbered as sysdig numbers them, and a file whose filter matched
nothing still holds events sysdig opens. With ``-d`` the filter is a display filter: every event is
written. With ``-F`` the filtered-out state changes are written hidden.

sysdig 0.29.3 writes, reading a capture whose interface list is the old (v1) block, a v2 interface
list block whose two length words keep the v1 block's length while its entries are v2's, longer
(falco_cat_write: 228 declared, 248 written); reading that file back it says "trace file has corrupted
interface list" and prints nothing. ``_repaired`` corrects those two words (nothing else) so that
sysdig's own file can be compared at all.
"""
from __future__ import annotations

import os
import struct
import subprocess
from pathlib import Path

import pytest

from tests.support import line_diff, require_tool, run_sdu, shared_path

pytestmark = [pytest.mark.oracle, pytest.mark.slow]

SAMPLES = ("falco_cat_write.scap", "libs_curl_google.scap", "libs_single_ipv6_conn.scap")
FILTERS = (
    ["evt.type=open or evt.type=openat"],
    ["fd.type=ipv6 and (proc.name=curl or proc.name=nc)"],
    ["not fd.name contains /usr and evt.dir=<"],
    ["evt.type in (connect,sendto,recvfrom)"],
    ["evt.type=execve or evt.type=clone or evt.type=procexit"],
    ["proc.name=nosuch"],  # matches nothing: the file holds the internal events only
    ["-F", "evt.type=open or evt.type=connect"],
    ["-d", "evt.type=open"],
)
READS = ([], ["-p", "*%evt.num %evt.type %proc.name %thread.tid %fd.name %proc.ppid %user.name %evt.latency"])
_BLOCK_TYPES = frozenset({0x0A0D0D0A, *range(0x200, 0x224)})


def _repaired(data: bytes) -> bytes:
    """``data`` with every block whose length words are wrong given the length it really has: the
    trailing copy of the declared length is searched for before a plausible next block."""
    out = bytearray(data)

    def plausible(off: int) -> bool:
        if off == len(out):
            return True
        if off + 12 > len(out):
            return False
        btype, blen = struct.unpack_from("<II", out, off)
        return btype in _BLOCK_TYPES and 12 <= blen <= len(out) - off

    off = 0
    while off < len(out):
        _btype, blen = struct.unpack_from("<II", out, off)
        if not (plausible(off + blen) and struct.unpack_from("<I", out, off + blen - 4)[0] == blen):
            ends = (end for end in range(off + 8, len(out) - 3, 4)
                    if struct.unpack_from("<I", out, end)[0] == blen and plausible(end + 4))
            end = next(ends, None)
            if end is None:
                break
            blen = end + 4 - off
            struct.pack_into("<I", out, off + 4, blen)
            struct.pack_into("<I", out, end, blen)
        off += blen
    return bytes(out)


def _read(sysdig: str, path: Path, args: list[str]) -> tuple[str, int]:
    res = subprocess.run([sysdig, "-r", str(path), *args], capture_output=True, text=True, check=False,
                         env=dict(os.environ, TZ="UTC"))
    return res.stdout + res.stderr, res.returncode


@pytest.mark.parametrize("args", FILTERS, ids=lambda a: " ".join(a))
@pytest.mark.parametrize("sample", SAMPLES)
def test_filtered_write_reads_like_sysdigs_own(tmp_path: Path, sample: str, args: list[str]) -> None:
    sysdig = require_tool("sysdig")
    source = str(shared_path("samples", sample))
    theirs, ours = tmp_path / "sysdig.scap", tmp_path / "sdu.scap"
    subprocess.run([sysdig, "-r", source, "-w", str(theirs), *args], capture_output=True, check=True)
    theirs.write_bytes(_repaired(theirs.read_bytes()))
    got = run_sdu("-r", source, "-w", str(ours), *args)
    assert (got.stdout, got.stderr, got.status) == ("", "", 0)
    assert ours.read_bytes() == theirs.read_bytes()  # byte for byte, once sysdig's length words are right
    for read in READS:
        want_text, want_status = _read(sysdig, theirs, read)
        got_text, got_status = _read(sysdig, ours, read)
        diff = line_diff(want_text.splitlines(), got_text.splitlines())
        assert not diff, f"sysdig -r FILE {' '.join(read)}:\n{diff}"
        assert (got_text, got_status) == (want_text, want_status)
        assert "Could not initialize reader" not in got_text


def test_repair_changes_nothing_in_a_sound_file() -> None:
    source = shared_path("samples", "libs_single_ipv6_conn.scap").read_bytes()
    if source[:2] == b"\x1f\x8b":
        import gzip

        source = gzip.decompress(source)
    assert _repaired(source) == source
