"""Field names with arguments, filter-only fields and number literals, read by sdu's filters and ``-p``
formats exactly as sysdig 0.29.3 reads them: the same events, or the same message and exit status.

Each case runs ``sysdig -r SAMPLE ARGS`` and ``sdu -r SAMPLE ARGS`` (in process) and compares stdout,
stderr and the exit status, so the expected text is always sysdig's own.
"""
from __future__ import annotations

import os
import subprocess

import pytest

from tests.support import line_diff, require_tool, run_sdu, shared_path

pytestmark = pytest.mark.oracle

SAMPLE = "falco_cat_write.scap"
ONE = "evt.num=131"  # one event, so a format's text is compared without the whole capture

FILTERS = [
    # k8s / mesos / marathon / span / evtin: accepted, never true (no value), true under `not`
    "k8s.pod.name=foo", "k8s.pod.name!=foo", "not k8s.pod.name=foo", "k8s.pod.name exists",
    "not k8s.ns.name exists", "k8s.pod.label.app=web", "k8s.svc.label.a/b_c-d.e=1", "k8s.pod.labels contains x",
    "mesos.task.label.x=y", "marathon.app.label.x=y", "marathon.group.id in (a, b)", "span.id=3",
    "span.id!=3", "span.duration>0", "span.tag[-1]=x", "span.arg.x=y", "span.arg[2]=y", "span.enterarg[0]=1",
    "span.count.fortag.x=1", "evtin.span.id=1", "evtin.span.id!=1", "evtin.span.tag[0]=x",
    "evtin.span.p.arg.fd=3", "evtin.span.m.args=x", "not evtin.span.s.tags=x",
    # refused names and arguments (the message names what sysdig's field parser stopped at)
    "k8s.pod.label=bar", "k8s.pod.label[foo]=bar", "k8s.pod.labelx=1", "k8s.pod=1", "span.tag[abc]=x",
    "span.tag.x=y", "span.arg[abc]=x", "span.tag[]=x", "span.tag[ 1]=3", "span.tag[1x]=3",
    "span.duration.fortag=1", "span.idtag.x=1", "evtin.span.tag=x", "evtin.span.p.arg.foo=1",
    "evt.arg[abc]=3", "evt.arg[1x]=3", "evt.arg[]=3", "evt.arg.nosuch=1", "evt.arg.fdx=1",
    "evt.rawarg[1]=1", "evt.rawarg.nosuch=1", "evt.type.is.nosuch=1", "evt.arg[1]=3 and fd.num>=1.5",
    "evt.type.is.open=1", "evt.around=1", "evt.around.x=1", "evt.around[1=1", "evt.around[1]x=1",
    "evt.around[x]=1", "evt.around[1470327477881785348]=1",
    "fd.num=1.5 or evt.arg[x]=1",
    # number and boolean literals: sscanf reads the whole text or the literal is refused
    "fd.num>=1.5", "fd.num>=1x", "fd.num>=0x10", "fd.num>='1 '", "fd.num>='+1'", "fd.num>=' 1'",
    "fd.num in (1,1.5)", "proc.pid=1.0", "evt.rawarg.res>=1.5", "evt.latency>1.5", "evt.count=1.5",
    "evt.cpu=1.5", "proc.vmsize>1.5", "evt.rawres>=1.5", "evt.failed=true", "evt.failed=1",
    "evt.failed=1.5", "evt.failed=yes", "evt.is_io=tru",
]

FORMATS = [
    # filter-only fields: refused, naming the rest of the format
    ["-p", "%fd.ip"], ["-p", "%fd.port"], ["-p", "%fd.proto"], ["-p", "%fd.net"], ["-p", "%fd.cnet"],
    ["-p", "%fd.snet"], ["-p", "%fd.lnet"], ["-p", "%fd.rnet"], ["-p", "x%fd.ipx"], ["-p", "*%fd.ip"],
    ["-p", "%fd.ip foo %evt.num"], ["-p", "%5fd.port foo"], ["-p", "%fd.net", "-j"], ["-p", "%fd.ip", "-q"],
    ["-p", "*%evt.num %evt.around[1470327477881730713]"],  # filter only too, but printed (<NA>)
    ["-p", "%evt.around"], ["-p", "%evt.around.x"], ["-p", "*%evt.around[1]x"], ["-p", "%evt.around[x]"],
    # evt.type.is in a format: no value, and its own text follows as literal text
    ["-p", "*%evt.type.is.open|%evt.num"], ["-p", "*%evt.type.is.xyz|%evt.num"], ["-p", "*%evt.type.is|%evt.num"],
    ["-j", "-p", "*%evt.type.is.open|%evt.num"], ["-p", "%evt.type.is.open|%evt.num"],
    # field arguments
    ["-p", "%evt.arg.nosuch"], ["-p", "%evt.arg.nosuch foo"], ["-p", "%evt.arg[abc] x"],
    ["-p", "%evt.rawarg.nosuch"], ["-p", "%evt.arg"], ["-p", "%evt.arg["], ["-p", "%evt.arg foo"],
    ["-p", "%evt.rawarg[1] x"], ["-p", "%evt.type.is foo"], ["-p", "*%evt.arg.fdx|"], ["-p", "*%evt.arg[-1]|"],
    ["-p", "%span.tag"], ["-p", "%span.tag foo"], ["-p", "%span.tag.x foo"], ["-p", "%span.tag[1|%evt.num"],
    ["-p", "*%span.tag[1]x|"], ["-p", "*%span.arg.x|%evt.num"], ["-p", "*%span.count.fortag.x|"],
    ["-p", "*%span.idtag.x"], ["-p", "%k8s.pod.label foo"], ["-p", "*%k8s.pod.label.a-b/c.d|%evt.num"],
    ["-p", "*%evtin.span.arg.fdx|%evt.num"], ["-p", "%k8s.pod.name|%evt.num"],
    ["-p", ("*%evt.num %k8s.pod.name %k8s.ns.label.x %mesos.task.label.y %span.tag[-1] %evtin.span.m.arg[2] "
            "%span.duration.human %marathon.app.labels")],
    # kept in -j, with sysdig's keys and nulls
    ["-j", "-p", "*%evt.num %k8s.pod.name %k8s.pod.label.app %span.id %span.tag[0] %evtin.span.arg.fd"],
    ["-j", "-p", "%evt.num %k8s.pod.name"],
]


def _compare(args: list[str]) -> None:
    sysdig = require_tool("sysdig")
    sample = str(shared_path("samples", SAMPLE))
    env = dict(os.environ, TZ="UTC")
    want = subprocess.run([sysdig, "-r", sample, *args], capture_output=True, env=env, check=False)
    got = run_sdu("-r", sample, *args, environ=env)
    out = want.stdout.decode("utf-8", "surrogateescape")
    assert got.stderr == want.stderr.decode("utf-8", "surrogateescape")
    assert got.status == want.returncode
    diff = line_diff(out.splitlines(), got.stdout.splitlines())
    assert not diff, diff
    assert got.stdout == out


@pytest.mark.parametrize("flt", FILTERS)
def test_filter_reads_fields_like_sysdig(flt: str) -> None:
    _compare(["-p", "%evt.num %evt.type", flt])


@pytest.mark.parametrize("args", FORMATS, ids=lambda a: " ".join(a))
def test_format_reads_fields_like_sysdig(args: list[str]) -> None:
    _compare([*args, ONE])
