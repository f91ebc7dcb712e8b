"""`valueFrom.fieldRef` (Kubernetes' Downward API): the pod fields a container's env may name, resolved when
the pod is planned onto a host. `status.podIP` is known only once the pod's network namespace exists, so it
is left to the create step (commands.pod), which reads it from the infra container."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a pass that creates no pod imports no model (pydantic): cron's no-op pass stays light
    from orchestrator.plan.types import PodRun

NAMESPACE = "default"  # model.meta.DEFAULT_NAMESPACE: orc has one

POD_IP = "status.podIP"


def field_env(pod: PodRun, node: str, host_ip: str) -> dict[str, dict[str, str]]:
    """Container -> var -> value of every fieldRef but status.podIP."""
    static = {"metadata.name": pod.name, "metadata.namespace": NAMESPACE, "metadata.uid": pod.uid,
              "spec.nodeName": node, "status.hostIP": host_ip,
              "spec.serviceAccountName": pod.spec.service_account_name or pod.spec.service_account or "default"}
    out: dict[str, dict[str, str]] = {}
    for c in pod.spec.all_containers:
        for e in c.env or []:
            ref = e.value_from.field_ref if e.value_from else None
            if ref is None or ref.field_path == POD_IP:
                continue
            label = ref.label
            value = pod.labels.get(label[1], "") if label else static.get(ref.field_path, "")
            out.setdefault(c.name, {})[e.name] = value
    return out


def pod_ip_vars(container: object) -> list[str]:
    """The env vars of a container that take the pod's IP."""
    env = getattr(container, "env", None) or []
    return [e.name for e in env if e.value_from and e.value_from.field_ref and e.value_from.field_ref.field_path == POD_IP]
