"""The k8s.* and mesos.* (with marathon.*) fields: orchestrator metadata.

sysdig 0.29.3 fills them only from a Kubernetes API server (``-k``) or a Mesos master (``-m``) that it
was told to query while capturing; sdu queries neither, so every field has no value (``<NA>``, and false
in any filter comparison), which is what sysdig itself prints for a capture read without them. The
``*.label`` fields take their key after a dot (``k8s.pod.label.app``): letters, digits and ``/_.-``
(libsinsp sinsp_filter_check_k8s / sinsp_filter_check_mesos::extract_arg).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from sysdig_user.event_table import PF, PT
from sysdig_user.fields.base import ArgSyntax, FieldClass, FieldDef, FieldFlag, plain

if TYPE_CHECKING:
    from sysdig_user.event import Event


def _unknown(evt: Event) -> None:
    """No orchestrator was queried: no value."""
    return


def _text(name: str, description: str) -> FieldDef:
    return FieldDef(name, PT.CHARBUF, PF.NA, description, plain(_unknown))


def _label(name: str, description: str) -> FieldDef:
    return FieldDef(name, PT.CHARBUF, PF.NA, description, plain(_unknown), FieldFlag.REQUIRES_ARGUMENT,
                    ArgSyntax.LABEL)


_LABELS = "comma-separated key/value labels. E.g. 'foo1:bar1,foo2:bar2'."

CLASS = FieldClass("k8s", "Kubernetes related context. Available when configured to fetch k8s meta-data from API "
                   "Server.", (
    _text("k8s.pod.name", "Kubernetes pod name."),
    _text("k8s.pod.id", "Kubernetes pod id."),
    _label("k8s.pod.label", "Kubernetes pod label. E.g. 'k8s.pod.label.foo'."),
    _text("k8s.pod.labels", "Kubernetes pod " + _LABELS),
    _text("k8s.rc.name", "Kubernetes replication controller name."),
    _text("k8s.rc.id", "Kubernetes replication controller id."),
    _label("k8s.rc.label", "Kubernetes replication controller label. E.g. 'k8s.rc.label.foo'."),
    _text("k8s.rc.labels", "Kubernetes replication controller " + _LABELS),
    _text("k8s.svc.name", "Kubernetes service name (can return more than one value, concatenated)."),
    _text("k8s.svc.id", "Kubernetes service id (can return more than one value, concatenated)."),
    _label("k8s.svc.label", "Kubernetes service label. E.g. 'k8s.svc.label.foo' (can return more than one "
                            "value, concatenated)."),
    _text("k8s.svc.labels", "Kubernetes service " + _LABELS),
    _text("k8s.ns.name", "Kubernetes namespace name."),
    _text("k8s.ns.id", "Kubernetes namespace id."),
    _label("k8s.ns.label", "Kubernetes namespace label. E.g. 'k8s.ns.label.foo'."),
    _text("k8s.ns.labels", "Kubernetes namespace " + _LABELS),
    _text("k8s.rs.name", "Kubernetes replica set name."),
    _text("k8s.rs.id", "Kubernetes replica set id."),
    _label("k8s.rs.label", "Kubernetes replica set label. E.g. 'k8s.rs.label.foo'."),
    _text("k8s.rs.labels", "Kubernetes replica set " + _LABELS),
    _text("k8s.deployment.name", "Kubernetes deployment name."),
    _text("k8s.deployment.id", "Kubernetes deployment id."),
    _label("k8s.deployment.label", "Kubernetes deployment label. E.g. 'k8s.rs.label.foo'."),  # sic
    _text("k8s.deployment.labels", "Kubernetes deployment " + _LABELS),
))

MESOS_CLASS = FieldClass("mesos", "Mesos related context.", (
    _text("mesos.task.name", "Mesos task name."),
    _text("mesos.task.id", "Mesos task id."),
    _label("mesos.task.label", "Mesos task label. E.g. 'mesos.task.label.foo'."),
    _text("mesos.task.labels", "Mesos task " + _LABELS),
    _text("mesos.framework.name", "Mesos framework name."),
    _text("mesos.framework.id", "Mesos framework id."),
    _text("marathon.app.name", "Marathon app name."),
    _text("marathon.app.id", "Marathon app id."),
    _label("marathon.app.label", "Marathon app label. E.g. 'marathon.app.label.foo'."),
    _text("marathon.app.labels", "Marathon app " + _LABELS),
    _text("marathon.group.name", "Marathon group name."),
    _text("marathon.group.id", "Marathon group id."),
))
