"""The k8s, mesos, span and evtin fields against sysdig 0.29.3, event by event, on every shared sample:
sysdig has no value for them without an API server or tracers, and neither has sdu.

(A sysdig run of their own: added to tests/fields/test_oracle.py's long format they shift the
uninitialised memory sysdig prints for fd.cport on a few events of libs_single_ipv6_conn.)
"""
from __future__ import annotations

import os
import subprocess

import pytest

from tests.support import require_tool, run_sdu, shared_path

pytestmark = pytest.mark.oracle

SAMPLES = ("libs_curl_google.scap", "falco_cat_write.scap", "libs_single_ipv6_conn.scap")
FIELDS = (
    "k8s.pod.name", "k8s.pod.id", "k8s.pod.label.app", "k8s.pod.labels", "k8s.rc.name", "k8s.rc.id",
    "k8s.rc.label.x", "k8s.rc.labels", "k8s.svc.name", "k8s.svc.id", "k8s.svc.label.a/b-c", "k8s.svc.labels",
    "k8s.ns.name", "k8s.ns.id", "k8s.ns.label.x", "k8s.ns.labels", "k8s.rs.name", "k8s.rs.id",
    "k8s.rs.label.x", "k8s.rs.labels", "k8s.deployment.name", "k8s.deployment.id", "k8s.deployment.label.x",
    "k8s.deployment.labels", "mesos.task.name", "mesos.task.id", "mesos.task.label.x", "mesos.task.labels",
    "mesos.framework.name", "mesos.framework.id", "marathon.app.name", "marathon.app.id",
    "marathon.app.label.x", "marathon.app.labels", "marathon.group.name", "marathon.group.id",
    "span.id", "span.time", "span.ntags", "span.nargs", "span.tags", "span.tag[0]", "span.tag[-1]",
    "span.args", "span.arg[1]", "span.enterargs", "span.enterarg[0]", "span.duration",
    "span.duration.human", "span.duration.quantized", "span.duration.fortag[1]", "span.count",
    "span.count.fortag[1]", "span.childcount.fortag[1]", "span.idtag[0]", "span.rawtime",
    "span.rawparenttime", "evtin.span.id", "evtin.span.ntags", "evtin.span.nargs", "evtin.span.tags",
    "evtin.span.tag[0]", "evtin.span.args", "evtin.span.arg.fd", "evtin.span.p.id", "evtin.span.p.tag[1]",
    "evtin.span.p.arg[0]", "evtin.span.s.nargs", "evtin.span.s.arg.name", "evtin.span.m.tags",
    "evtin.span.m.arg[-1]",
)


@pytest.mark.parametrize("sample", SAMPLES)
def test_orchestrator_and_tracer_fields_match_sysdig(sample: str) -> None:
    sysdig = require_tool("sysdig")
    path = str(shared_path("samples", sample))
    fmt = "*%evt.num" + "".join(" %" + f for f in FIELDS)
    env = dict(os.environ, TZ="UTC")
    want = subprocess.run([sysdig, "-r", path, "-p", fmt], capture_output=True, text=True, env=env, check=True)
    got = run_sdu("-r", path, "-p", fmt, environ=env)
    assert got.stdout == want.stdout
    assert want.stdout.count("\n") > 20 and "<NA> <NA>" in want.stdout
