"""What `orc get` shows for each resource: one `Item` per object (its table row and its document for
`-o json|yaml`), built from a `ClusterView` at a given time. Pure: no store access, no clock reads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from orchestrator.cli.config_views import config_map_items, secret_items
from orchestrator.cli.documents import (
    allocated_node_port,
    display_status,
    endpoints_document,
    event_document,
    node_document,
    observed_pod_document,
    pdb_document,
    pending_pod_document,
    service_document,
    workload_document,
)
from orchestrator.cli.kinds import Resource, display_name, kind_of_key
from orchestrator.cli.observed import ObservedPod
from orchestrator.cli.view import ClusterView, endpoint_addresses, event_time, expired
from orchestrator.labels import Selector, SelectorError

HEADERS: dict[str, tuple[list[str], list[str]]] = {
    # resource -> (columns after NAME, extra columns of -o wide)
    "pods": (["READY", "STATUS", "RESTARTS", "AGE"], ["IP", "NODE"]),
    "replicationcontrollers": (["DESIRED", "CURRENT", "READY", "AGE"], ["CONTAINERS", "IMAGES", "SELECTOR"]),
    "services": (["TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], ["SELECTOR"]),
    "endpoints": (["ENDPOINTS", "AGE"], []),
    "configmaps": (["DATA", "AGE"], []),
    "secrets": (["TYPE", "DATA", "AGE"], []),
    "poddisruptionbudgets": (["MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"], []),
    "nodes": (["STATUS", "ADDRESS", "PODS", "REASON"], ["CPU", "MEMORY", "LABELS"]),
    "events": (["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"], ["SOURCE", "FIRST SEEN", "COUNT", "NAME"]),
}
NAMELESS = ("events",)  # tables without a NAME column first, as kubectl prints them
for _alias in ("replicasets", "deployments"):
    HEADERS[_alias] = HEADERS["replicationcontrollers"]


@dataclass(frozen=True)
class Item:
    """One row of `orc get`: `cells` follow NAME, `wide` are the extra `-o wide` columns; `doc` is what
    `-o json|yaml` prints (and what a watch compares to decide that the object changed)."""

    kind: str
    name: str
    labels: dict[str, str]
    doc: dict[str, Any]
    cells: list[str]
    wide: list[str]

    @property
    def ref(self) -> str:
        """`replicationcontroller/web`, as `-o name` prints it."""
        return f"{display_name(self.kind)}/{self.name}"


def human_age(seconds: float | None) -> str:
    """kubectl's short durations: 45s, 5m30s, 42m, 3h12m, 30h, 4d5h, 120d, 3y."""
    if seconds is None:
        return "<unknown>"
    s = max(0, int(seconds))
    m, h, d = s // 60, s // 3600, s // 86400
    if s < 120:
        return f"{s}s"
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if h < 3:
        return f"{m}m"
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if d < 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 365 * 2:
        return f"{d}d"
    return f"{d // 365}y"


def _age(view: ClusterView, key: str, now: float) -> str:
    at = view.created.get(key)
    return human_age(None if at is None else now - at)


# -- pods --------------------------------------------------------------------------------------------------


def restarts_cell(pod: ObservedPod, now: float) -> str:
    """RESTARTS as kubectl prints it: the count, and how long ago the last one was when docker says."""
    last = max((c.finished_at for c in pod.containers if c.restarts and c.finished_at), default=None)
    if pod.restarts and last is not None:
        return f"{pod.restarts} ({human_age(now - last)} ago)"
    return str(pod.restarts)


def _orphan(view: ClusterView, pod: ObservedPod) -> bool:
    """Running, but its desired object is gone: the next reconcile removes it."""
    owner = pod.owner or f"pod/{pod.name}"
    return owner not in view.objects


def pod_items(view: ClusterView, now: float) -> list[Item]:
    """Observed pods, and desired bare pods not observed yet (Pending, on no node)."""
    items: list[Item] = []
    observed = {p.name for p in view.snapshot.pods} if view.snapshot else set()
    for pod in view.snapshot.pods if view.snapshot else ():
        doc = observed_pod_document(view, pod)
        status = "Terminating" if _orphan(view, pod) else display_status(doc["status"])
        age = human_age(None if pod.started_at is None else now - pod.started_at)
        items.append(
            Item(
                "Pod",
                pod.name,
                dict(pod.labels),
                doc,
                [pod.containers_ready, status, restarts_cell(pod, now), age],
                [pod.ip or "<none>", pod.host or "<none>"],
            )
        )
    for record in view.of_prefix("pod"):
        name = record.key.partition("/")[2]
        if name in observed:
            continue
        doc = pending_pod_document(view, record.key)
        containers = (record.value.get("spec") or {}).get("containers") or []
        labels = dict((record.value.get("metadata") or {}).get("labels") or {})
        status = "Pending"
        if name in view.config_errors:  # as the kubelet reports it: the containers wait for their config
            status = "CreateContainerConfigError"
            doc["status"]["containerStatuses"] = [
                {"name": c.get("name"), "image": c.get("image"), "ready": False, "restartCount": 0, "started": False,
                 "state": {"waiting": {"reason": status, "message": view.config_errors[name]}}} for c in containers]
        items.append(
            Item(
                "Pod",
                name,
                labels,
                doc,
                [f"0/{len(containers)}", status, "0", _age(view, record.key, now)],
                ["<none>", "<none>"],
            )
        )
    return sorted(items, key=lambda i: i.name)


# -- workloads ---------------------------------------------------------------------------------------------


def workload_selector(manifest: dict[str, Any]) -> str:
    """The selector as text: an RC's map (or its template labels), a ReplicaSet's LabelSelector."""
    spec = manifest.get("spec") or {}
    if manifest.get("kind", "ReplicationController") == "ReplicationController":
        labels = spec.get("selector") or (spec.get("template") or {}).get("metadata", {}).get("labels") or {}
        return str(Selector.from_dict(labels))
    try:
        return str(Selector.from_label_selector(spec.get("selector")))
    except SelectorError:
        return "<invalid>"


def containers_of(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    spec = manifest.get("spec") or {}
    template = spec.get("template")
    pod_spec = (template or {}).get("spec") if template is not None else spec
    return list((pod_spec or {}).get("containers") or [])


def replica_counts(view: ClusterView, key: str) -> tuple[int, int]:
    """(current, ready) pods of the controller `key`, as observed."""
    pods = view.snapshot.pods_of(key) if view.snapshot else []
    active = [p for p in pods if p.active]
    return len(active), sum(1 for p in active if p.ready)


def workload_items(view: ClusterView, now: float, prefix: str = "rc") -> list[Item]:
    """The workloads of one kind: its store prefix ("rc", "rs", "deploy")."""
    items: list[Item] = []
    for record in view.of_prefix(prefix):
        name = record.key.partition("/")[2]
        value = record.value
        desired = (value.get("spec") or {}).get("replicas")
        desired = 1 if desired is None else desired
        current, ready = replica_counts(view, record.key)
        doc = workload_document(view, record.key)
        containers = containers_of(value)
        items.append(
            Item(
                kind_of_key(record.key, value),
                name,
                dict((value.get("metadata") or {}).get("labels") or {}),
                doc,
                [str(desired), str(current), str(ready), _age(view, record.key, now)],
                [
                    ",".join(c.get("name", "") for c in containers),
                    ",".join(c.get("image", "") for c in containers),
                    workload_selector(value) or "<none>",
                ],
            )
        )
    return items


# -- services and endpoints --------------------------------------------------------------------------------


def cluster_ip(view: ClusterView, name: str, manifest: dict[str, Any]) -> str:
    return (manifest.get("spec") or {}).get("clusterIP") or view.cluster_ips.get(name) or "<pending>"


node_port = allocated_node_port
NODE_PORT_TYPES = ("NodePort", "LoadBalancer")  # a LoadBalancer service is served as NodePort


def port_list(view: ClusterView, name: str, manifest: dict[str, Any]) -> str:
    spec = manifest.get("spec") or {}
    ports = spec.get("ports") or []
    out = []
    for p in ports:
        proto = p.get("protocol", "TCP")
        np = node_port(view, name, p, len(ports)) if spec.get("type") in NODE_PORT_TYPES else None
        out.append(f"{p.get('port')}:{np}/{proto}" if np else f"{p.get('port')}/{proto}")
    return ",".join(out) or "<none>"


def service_items(view: ClusterView, now: float) -> list[Item]:
    items: list[Item] = []
    for record in view.of_prefix("svc"):
        name = record.key.partition("/")[2]
        value = record.value
        spec = value.get("spec") or {}
        selector = str(Selector.from_dict(spec.get("selector") or {})) or "<none>"
        items.append(
            Item(
                "Service",
                name,
                dict((value.get("metadata") or {}).get("labels") or {}),
                service_document(view, record.key),
                [
                    spec.get("type") or "ClusterIP",
                    cluster_ip(view, name, value),
                    "<pending>" if spec.get("type") == "LoadBalancer" else "<none>",  # no load balancer here
                    port_list(view, name, value),
                    _age(view, record.key, now),
                ],
                [selector],
            )
        )
    return items


def shorten(addresses: list[str], limit: int = 3) -> str:
    if not addresses:
        return "<none>"
    more = len(addresses) - limit
    return ",".join(addresses[:limit]) + (f" + {more} more..." if more > 0 else "")


def endpoint_items(view: ClusterView, now: float) -> list[Item]:
    items: list[Item] = []
    for name, record in sorted(view.endpoints.items()):
        svc = view.objects.get(f"svc/{name}")
        labels = dict((svc.value.get("metadata") or {}).get("labels") or {}) if svc else {}
        items.append(
            Item(
                "Endpoints",
                name,
                labels,
                endpoints_document(view, name),
                [shorten(endpoint_addresses(record.value)), _age(view, f"svc/{name}", now)],
                [],
            )
        )
    return items


# -- disruption budgets ------------------------------------------------------------------------------------


def pdb_items(view: ClusterView, now: float) -> list[Item]:
    """`orc get pdb`, as kubectl: MIN AVAILABLE, MAX UNAVAILABLE (N/A when unset), ALLOWED DISRUPTIONS (as the
    last pass counted them)."""
    items: list[Item] = []
    for record in view.of_prefix("pdb"):
        name = record.key.partition("/")[2]
        spec = record.value.get("spec") or {}
        doc = pdb_document(view, record.key)
        items.append(Item("PodDisruptionBudget", name, dict((record.value.get("metadata") or {}).get("labels") or {}),
                          doc, [str(spec.get("minAvailable", "N/A")), str(spec.get("maxUnavailable", "N/A")),
                                str(doc["status"]["disruptionsAllowed"]), _age(view, record.key, now)], []))
    return items


# -- nodes -------------------------------------------------------------------------------------------------


def node_items(view: ClusterView, now: float) -> list[Item]:
    snap = view.snapshot
    items: list[Item] = []
    for host in snap.hosts if snap else ():
        labels = ",".join(f"{k}={v}" for k, v in sorted(host.labels.items())) or "<none>"
        items.append(
            Item(
                "Node",
                host.name,
                dict(host.labels),
                node_document(host, view.unschedulable(host.name)),
                [
                    host.status + (",SchedulingDisabled" if view.unschedulable(host.name) else ""),
                    host.address or "<none>",
                    str(len(snap.pods_on(host.name)) if snap else 0),
                    host.reason or "<none>",
                ],
                [host.capacity.get("cpu", "<unknown>"), host.capacity.get("memory", "<unknown>"), labels],
            )
        )
    return sorted(items, key=lambda i: i.name)


# -- events ------------------------------------------------------------------------------------------------


def event_items(view: ClusterView, now: float) -> list[Item]:
    """The events of the last hour, oldest first (`orc get events`)."""
    items = []
    for e in view.events:
        if expired(e, now):
            continue
        obj = str(e.get("object") or e.get("involvedObject") or "cluster")
        record = view.objects.get(obj)
        kind = kind_of_key(obj, record.value if record else None) if "/" in obj else "Cluster"
        ref = f"{display_name(kind)}/{obj.partition('/')[2]}" if "/" in obj else obj
        last = event_time(e) or 0.0
        raw_first = e.get("firstTimestamp")
        first = float(raw_first) if isinstance(raw_first, int | float) else last
        name = f"{obj.partition('/')[2] or obj}.{str(e['_key']).rsplit('.', 1)[-1]}"
        doc = event_document(e, name, kind, obj.partition("/")[2] or obj, first, last)
        items.append(Item("Event", name, {}, doc,
                          [human_age(now - last), str(e.get("type", "Normal")), str(e.get("reason", "")), ref,
                           str(e.get("message", ""))],
                          [str(e.get("source", "orc")), human_age(now - first), str(e.get("count", 1)), name]))
    return sorted(items, key=lambda i: (i.doc["lastTimestamp"], i.name))


BUILDERS: dict[str, Callable[[ClusterView, float], list[Item]]] = {
    "pods": pod_items,
    "replicationcontrollers": workload_items,
    "replicasets": partial(workload_items, prefix="rs"),
    "deployments": partial(workload_items, prefix="deploy"),
    "services": service_items,
    "endpoints": endpoint_items,
    "poddisruptionbudgets": pdb_items,
    "configmaps": config_map_items,
    "secrets": secret_items,
    "nodes": node_items,
    "events": event_items,
}


def items_for(resource: Resource, view: ClusterView, now: float) -> list[Item]:
    return BUILDERS[resource.plural](view, now)


def headers_for(resource: Resource, wide: bool) -> list[str]:
    cols, extra = HEADERS[resource.plural]
    return [*([] if resource.plural in NAMELESS else ["NAME"]), *cols, *(extra if wide else [])]


def row(item: Item, wide: bool, qualified: bool) -> list[str]:
    name = [] if item.kind == "Event" else [item.ref if qualified else item.name]
    return [*name, *item.cells, *(item.wide if wide else [])]


def needs_qualified_names(resource: Resource, items: list[Item], several: bool) -> bool:
    """kubectl prints `kind/name` when a table mixes kinds: several resources asked for (or an item of
    another kind than the one named, which each kind having its own store prefix does not happen)."""
    return several or any(i.kind != resource.kind for i in items)
