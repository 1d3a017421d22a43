"""Filters on multi-valued fields (fd.ip, fd.port, fd.proto, fd.net, proc.apid / proc.aname without an
index) against sysdig 0.29.3: the same events must match, and the same error must stop the run.

sysdig's rules, found by running it on the samples: on a socket fd these fields hold both ends; `!=`
holds when it holds for every end and every other operator when it holds for one end; an operator
they do not support is an error raised by the first IP-socket event (so a capture without sockets
runs clean). proc.apid / proc.aname hold when the check holds for one ancestor, `!=` included.
"""
from __future__ import annotations

import subprocess

import pytest

from tests.support import require_tool, run_sdu, shared_path

pytestmark = pytest.mark.oracle  # every test here compares with sysdig

SAMPLES = ("libs_curl_google", "libs_single_ipv6_conn", "falco_cat_write")

FILTERS = (
    # fd.port / fd.proto: =, != (all ends), in, ordering (any end), unsupported operators
    "fd.port=53", "fd.port!=53", "fd.port=1234", "fd.port!=1234", "fd.port=0", "fd.port!=0",
    "fd.port in (53,80)", "fd.port in (1234)", "fd.port<100", "fd.port<=53", "fd.port>100",
    "fd.port>=54405", "fd.port=http", "fd.port=65589", "fd.proto=53", "fd.proto=domain",
    "fd.proto!=53", "fd.port contains 5", "fd.port startswith 5", "fd.port exists",
    "not fd.port exists", "evt.num<1000 or fd.port exists", "fd.port glob 1*", "fd.port=-1",
    "fd.port pmatch (1234)", "fd.proto=tcp", "not fd.port=53",
    # fd.ip
    "fd.ip=2001:4860:4860::8888", "fd.ip!=2001:4860:4860::8888", "fd.ip=2001:db8::3",
    "fd.ip!=2001:db8::3", "fd.ip=::", "fd.ip!=::", "fd.ip=8.8.8.8", "fd.ip!=8.8.8.8",
    "fd.ip in (2001:4860:4860::8888,2001:db8::3)", "fd.ip in (1.2.3.4,2001:db8::4)",
    "fd.ip<2001:db8::3", "fd.ip>::", "fd.ip exists", "fd.ip contains 2001", "fd.ip=1.2.3",
    "fd.ip=2001:db8::3 and fd.port=1234", "fd.ip=2001:db8::3 or fd.port=53",
    # fd.net (an IPv6 "network" is the literal's /64)
    "fd.net=2001:db8::", "fd.net!=2001:db8::", "fd.net=2001:4860:4860:0:1::", "fd.net=::",
    "fd.net!=::", "fd.net in (1.2.3.0/24,2001:db8::)", "fd.net=1.2.3.0/24", "fd.net!=1.2.3.0/24",
    "fd.net<2001:db8::", "fd.net exists", "fd.net=1.2.3.4",
    # proc.apid / proc.aname without index: any ancestor
    "proc.apid=1", "proc.apid!=1", "proc.apid=3200", "proc.apid!=3200", "proc.apid<100",
    "proc.apid>3199", "proc.apid in (3199,1)", "proc.apid exists", "not proc.apid exists",
    "proc.apid contains 1", "proc.aname=bash", "proc.aname!=bash", "proc.aname=systemd",
    "proc.aname=curl", "proc.aname in (sshd,x)", "proc.aname contains ss", "proc.aname startswith ss",
    "proc.aname endswith sh", "proc.aname glob s*", "proc.aname icontains SS", "proc.aname<c",
    "proc.aname>r", "proc.aname exists", "not proc.aname exists", "proc.aname pmatch (/x)",
)

FORMAT = "*%evt.num"


def _matches(stdout: str) -> set[int]:
    return {int(line) for line in stdout.split() if line.isdigit()}


@pytest.mark.parametrize("sample", SAMPLES)
@pytest.mark.parametrize("flt", FILTERS)
def test_same_events_as_sysdig(flt: str, sample: str) -> None:
    sysdig = require_tool("sysdig")
    scap = shared_path("samples", f"{sample}.scap")
    want = subprocess.run([sysdig, "-r", str(scap), "-p", FORMAT, flt], capture_output=True, text=True,
                          env={"TZ": "UTC", "PATH": "/usr/bin:/bin"}, timeout=120, check=False)
    got = run_sdu("-r", str(scap), "-p", FORMAT, flt, environ={"TZ": "UTC"})
    assert _matches(got.stdout) == _matches(want.stdout)
    assert got.stderr.strip() == want.stderr.strip()
    assert (got.status != 0) == (want.returncode != 0)


CHISELS = (
    ("libs_curl_google", "spy_ip", "2001:4860:4860::8888"),
    ("libs_curl_google", "spy_port", "53"),
    ("libs_curl_google", "spy_port", "80"),
    ("libs_single_ipv6_conn", "spy_ip", "2001:db8::3"),
    ("libs_single_ipv6_conn", "spy_port", "1234"),
)


@pytest.mark.parametrize(("sample", "chisel", "arg"), CHISELS)
def test_spy_chisels_as_sysdig(sample: str, chisel: str, arg: str) -> None:
    """spy_ip / spy_port filter on fd.ip / fd.port: they printed nothing before multi-value support."""
    sysdig = require_tool("sysdig")
    scap = shared_path("samples", f"{sample}.scap")
    want = subprocess.run([sysdig, "-r", str(scap), "-c", chisel, arg], capture_output=True, text=True,
                          env={"TZ": "UTC", "PATH": "/usr/bin:/bin"}, timeout=120, check=False)
    got = run_sdu("-r", str(scap), "-c", chisel, arg, environ={"TZ": "UTC"})
    assert want.stdout.strip()
    assert got.stdout == want.stdout
