"""What the scheduler and controllers ask of a pod spec: summed requests, host ports, a template hash."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from orchestrator.model.pod import RESOURCE_NAMES, Container, PodSpec, PodTemplateSpec
from orchestrator.resources import format_quantity, parse_quantity


def pod_requests(pod_spec: PodSpec) -> dict[str, Decimal]:
    """The pod's requests summed over its containers, as Kubernetes counts them: a resource with a limit
    but no request requests its limit; an init container's request counts when it is more than the sum. Every known resource is present (0 when unset): "cpu" in cores,
    "memory" and "ephemeral-storage" in bytes, "nvidia.com/gpu" in devices."""
    total = {name: Decimal(0) for name in RESOURCE_NAMES}
    for c in pod_spec.containers:
        for name, q in _asks(c).items():
            total[name] += parse_quantity(q)
    # init containers run one at a time, before the app containers: the pod needs the most any one asks for
    for c in pod_spec.init_containers or []:
        for name, q in _asks(c).items():
            total[name] = max(total[name], parse_quantity(q))
    return total


def _asks(c: Container) -> dict[str, Any]:
    requests = dict((c.resources.limits or {}) if c.resources else {})
    requests.update((c.resources.requests or {}) if c.resources else {})
    return requests


def host_ports(pod_spec: PodSpec) -> list[tuple[int, str]]:
    """The (hostPort, protocol) pairs the pod needs on its host, sorted; two pods using one cannot share a
    host."""
    ports = {
        (p.host_port, p.protocol or "TCP") for c in pod_spec.containers for p in c.ports or [] if p.host_port
    }
    return sorted(ports)


def canonical(model: PodTemplateSpec | PodSpec | dict[str, Any]) -> dict[str, Any]:
    """The dict that is hashed: Kubernetes field names, no unset fields, quantities in one spelling
    ("0.5" and "500m" are the same request)."""
    if isinstance(model, dict):
        return model
    data = model.model_dump(by_alias=True, exclude_none=True, mode="json")
    spec = data.get("spec", data)
    for container in [*spec.get("containers", []), *spec.get("initContainers", [])]:
        for part in ("requests", "limits"):
            amounts = container.get("resources", {}).get(part)
            if amounts:
                container["resources"][part] = {
                    k: format_quantity(parse_quantity(v)) for k, v in amounts.items()
                }
    return data


def spec_hash(template: PodTemplateSpec | PodSpec | dict[str, Any]) -> str:
    """A stable 16-hex-digit hash of a pod template (labels, annotations and spec) or a pod spec: equal for
    equal specifications however they were written, different when anything that matters changes."""
    if isinstance(template, dict):
        return _hash(template)
    return template.memo("spec_hash", lambda: _hash(canonical(template)))


def _hash(data: dict[str, Any]) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
