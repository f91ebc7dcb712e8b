"""`orc describe`: kubectl-like multi-section text for one object, from a `ClusterView` (desired manifest,
observed pods from the snapshot, events if any). Secret values are never printed, only where they come from.
Pure: the caller passes the view and the time."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from orchestrator.cli.documents import iso_time
from orchestrator.cli.kinds import Resource, kind_of_key, of_kind, plural_name
from orchestrator.cli.observed import ObservedHost, ObservedPod
from orchestrator.cli.printers import (
    containers_of,
    human_age,
    node_port,
    replica_counts,
    workload_selector,
)
from orchestrator.cli.view import ClusterView, endpoint_addresses, event_time, expired
from orchestrator.errors import NotFoundError


class Text:
    """Lines of `Label:  value`, with the values of one block aligned as kubectl's tabwriter does."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def block(self, pairs: Sequence[tuple[str, Any]], indent: int = 0) -> None:
        width = max((len(k) for k, _ in pairs), default=0) + 3
        for label, value in pairs:
            head = " " * indent + f"{label}:".ljust(width)
            if isinstance(value, list):
                first, *rest = value or ["<none>"]
                self.lines.append((head + str(first)).rstrip())
                self.lines += [" " * len(head) + str(v) for v in rest]
            else:
                self.lines.append((head + ("" if value is None else str(value))).rstrip())

    def line(self, text: str, indent: int = 0) -> None:
        self.lines.append(" " * indent + text)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]], indent: int = 2) -> None:
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
        under = ["-" * len(h) for h in headers]
        for r in [list(headers), under, *rows]:
            self.lines.append(
                " " * indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip()
            )

    def __str__(self) -> str:
        return "\n".join(self.lines) + "\n"


def _map_lines(mapping: Mapping[str, Any] | None) -> list[str]:
    return [f"{k}={v}" for k, v in sorted((mapping or {}).items())] or ["<none>"]


def _meta(manifest: Mapping[str, Any]) -> dict[str, Any]:
    return dict(manifest.get("metadata") or {})


def env_value(env: Mapping[str, Any]) -> str:
    """An env var as describe shows it: its value, or where a secret comes from (never the secret)."""
    ref = (env.get("valueFrom") or {}).get("secretKeyRef")
    if ref:
        return f"<set to the key '{ref.get('key')}' in secret '{ref.get('name')}'>"
    cm_ref = (env.get("valueFrom") or {}).get("configMapKeyRef")
    if cm_ref:
        return f"<set to the key '{cm_ref.get('key')}' of config map '{cm_ref.get('name')}'>"
    field_ref = (env.get("valueFrom") or {}).get("fieldRef")
    if field_ref:
        return f" ({field_ref.get('apiVersion', 'v1')}:{field_ref.get('fieldPath')})"
    return str(env.get("value", ""))


def _quantities(part: Mapping[str, Any] | None) -> list[tuple[str, Any]]:
    return [(k, v) for k, v in sorted((part or {}).items())]


def describe_containers(out: Text, containers: list[dict[str, Any]], indent: int, title: str = "Containers") -> None:
    out.line(f"{title}:", indent)
    for c in containers:
        out.line(f"{c.get('name')}:", indent + 1)
        ports = [
            f"{p.get('containerPort')}/{p.get('protocol', 'TCP')}"
            + (f" ({p['name']})" if p.get("name") else "")
            for p in c.get("ports") or []
        ]
        host_ports = [
            f"{p['hostPort']}/{p.get('protocol', 'TCP')}" for p in c.get("ports") or [] if p.get("hostPort")
        ]
        pairs: list[tuple[str, Any]] = [("Image", c.get("image", "<none>")), ("Port(s)", ports or ["<none>"])]
        if host_ports:
            pairs.append(("Host Port(s)", host_ports))
        if c.get("command"):
            pairs.append(("Command", list(c["command"])))
        if c.get("args"):
            pairs.append(("Args", list(c["args"])))
        out.block(pairs, indent + 2)
        resources = c.get("resources") or {}
        for part, title in (("limits", "Limits"), ("requests", "Requests")):
            if resources.get(part):
                out.line(f"{title}:", indent + 2)
                out.block(_quantities(resources[part]), indent + 4)
        for probe, name in (("livenessProbe", "Liveness"), ("readinessProbe", "Readiness"), ("startupProbe", "Startup")):
            if c.get(probe):
                out.block([(name, probe_text(c[probe]))], indent + 2)
        hook = (c.get("lifecycle") or {}).get("preStop")
        if hook:
            how = (f"exec [{' '.join(hook['exec'].get('command') or [])}]" if hook.get("exec")
                   else f"sleep {hook['sleep'].get('seconds')}s" if hook.get("sleep")
                   else f"http-get :{(hook.get('httpGet') or {}).get('port')}{(hook.get('httpGet') or {}).get('path', '/')}")
            out.block([("PreStop", how)], indent + 2)
        sources = []
        for ef in c.get("envFrom") or []:  # as kubectl: "app  ConfigMap  Optional: false"
            kind, ref = ("ConfigMap", ef["configMapRef"]) if ef.get("configMapRef") else ("Secret", ef.get("secretRef") or {})
            prefix = f" with prefix '{ef['prefix']}'" if ef.get("prefix") else ""
            sources.append(f"{ref.get('name')}  {kind}{prefix}  Optional: {'true' if ref.get('optional') else 'false'}")
        if sources:
            out.block([("Environment Variables from", sources)], indent + 2)
        env = c.get("env") or []
        if env:
            out.line("Environment:", indent + 2)
            out.block([(e.get("name", ""), env_value(e)) for e in env], indent + 4)
        else:
            out.block([("Environment", "<none>")], indent + 2)
        mounts = [
            f"{m.get('mountPath')} from {m.get('name')}" + (" (ro)" if m.get("readOnly") else " (rw)")
            for m in c.get("volumeMounts") or []
        ]
        out.block([("Mounts", mounts or ["<none>"])], indent + 2)


def probe_text(probe: Mapping[str, Any]) -> str:
    if probe.get("httpGet"):
        h = probe["httpGet"]
        how = f"http-get {h.get('scheme', 'http').lower()}://:{h.get('port')}{h.get('path', '/')}"
    elif probe.get("tcpSocket"):
        how = f"tcp-socket :{probe['tcpSocket'].get('port')}"
    else:
        how = "exec [" + " ".join((probe.get("exec") or {}).get("command") or []) + "]"
    return (
        f"{how} delay={probe.get('initialDelaySeconds', 0)}s timeout={probe.get('timeoutSeconds', 1)}s "
        f"period={probe.get('periodSeconds', 10)}s #success={probe.get('successThreshold', 1)} "
        f"#failure={probe.get('failureThreshold', 3)}"
    )


def describe_volumes(out: Text, pod_spec: Mapping[str, Any], indent: int) -> None:
    volumes = pod_spec.get("volumes") or []
    if not volumes:
        out.block([("Volumes", "<none>")], indent)
        return
    out.line("Volumes:", indent)
    for v in volumes:
        if v.get("hostPath"):
            kind = f"HostPath (path {v['hostPath'].get('path')})"
        elif v.get("configMap"):
            kind = f"ConfigMap (a volume populated by a ConfigMap: {v['configMap'].get('name')})"
        elif v.get("secret"):
            kind = f"Secret (a volume populated by a Secret: {v['secret'].get('secretName')})"
        else:
            kind = "EmptyDir (a temporary directory that shares a pod's lifetime)"
        out.block([(v.get("name", ""), kind)], indent + 1)


def event_age(e: Mapping[str, Any], now: float) -> str:
    """kubectl's Age of an event: `5m`, or `2m (x4 over 10m)` for one seen several times."""
    t = event_time(e)
    age = human_age(None if t is None else now - t)
    count, first = e.get("count"), e.get("firstTimestamp")
    if isinstance(count, int) and count > 1 and isinstance(first, int | float):
        return f"{age} (x{count} over {human_age(now - first)})"
    return age


def describe_events(out: Text, view: ClusterView, key: str, now: float) -> None:
    events = [e for e in view.events_for(key) if not expired(e, now)]
    if not events:
        out.block([("Events", "<none>")])
        return
    out.line("Events:")
    rows = []
    for e in events:
        rows.append(
            [
                str(e.get("type", "Normal")),
                str(e.get("reason", "")),
                event_age(e, now),
                str(e.get("source", e.get("from", "orc"))),
                str(e.get("message", "")),
            ]
        )
    out.table(["Type", "Reason", "Age", "From", "Message"], rows)


def _pod_rows(pods: list[ObservedPod], now: float) -> list[list[str]]:
    return [
        [
            p.name,
            p.host or "<none>",
            p.phase,
            p.containers_ready,
            str(p.restarts),
            human_age(None if p.started_at is None else now - p.started_at),
        ]
        for p in pods
    ]


def describe_pod(view: ClusterView, name: str, now: float) -> str:
    key = f"pod/{name}"
    record = view.objects.get(key)
    observed = view.snapshot.pod(name) if view.snapshot else None
    if record is None and observed is None:
        raise not_found("Pod", name)
    manifest = record.value if record else {}
    owner = view.objects.get(observed.owner) if observed and observed.owner else None
    spec = dict(manifest.get("spec") or {})
    if not spec and owner is not None:
        spec = dict(((owner.value.get("spec") or {}).get("template") or {}).get("spec") or {})
    host: ObservedHost | None = view.snapshot.host(observed.host) if view.snapshot and observed else None
    labels = observed.labels if observed else (_meta(manifest).get("labels") or {})
    out = Text()
    node = "<none>"
    if observed and observed.host:
        node = f"{observed.host}/{host.address}" if host and host.address else observed.host
    pairs: list[tuple[str, Any]] = [("Name", name), ("Namespace", "default"), ("Node", node)]
    if observed and observed.started_at is not None:
        pairs.append(("Start Time", iso_time(observed.started_at)))
    pairs += [("Labels", _map_lines(labels)), ("Annotations", _map_lines(_meta(manifest).get("annotations")))]
    if observed is None:
        status = "Pending (not observed yet: `orc reconcile` places it)"
    elif record is None and owner is None:
        status = f"{observed.phase} (Terminating: its desired object is gone)"
    else:
        status = observed.phase
    pairs += [("Status", status), ("IP", (observed.ip if observed else None) or "<none>")]
    if observed:
        pairs += [
            ("Ready", f"{observed.ready} ({observed.containers_ready} containers)"),
            ("Restarts", str(observed.restarts)),
        ]
    if observed and observed.owner:
        kind = kind_of_key(observed.owner, owner.value if owner else None)
        pairs.append(("Controlled By", f"{kind}/{observed.owner.partition('/')[2]}"))
    if spec.get("nodeSelector"):
        pairs.append(("Node-Selectors", _map_lines(spec["nodeSelector"])))
    out.block(pairs)
    if spec:
        if spec.get("initContainers"):
            describe_containers(out, list(spec["initContainers"]), 0, "Init Containers")
        describe_containers(out, list(spec.get("containers") or []), 0)
        describe_volumes(out, spec, 0)
    describe_events(out, view, key, now)
    return str(out)


def describe_workload(view: ClusterView, name: str, now: float, kind: str = "ReplicationController") -> str:
    """A ReplicationController, ReplicaSet or Deployment (`kind`): each under its own store key."""
    key = of_kind(kind).key(name)
    record = view.objects.get(key)
    if record is None:
        raise not_found(kind, name)
    manifest = record.value
    spec = manifest.get("spec") or {}
    template = spec.get("template") or {}
    desired = 1 if spec.get("replicas") is None else spec["replicas"]
    current, _ready = replica_counts(view, key)
    pods = view.snapshot.pods_of(key) if view.snapshot else []
    phases = [p.phase for p in pods]
    out = Text()
    out.block(
        [
            ("Name", name),
            ("Namespace", "default"),
            ("Kind", kind_of_key(key, manifest)),
            ("Selector", workload_selector(manifest) or "<none>"),
            ("Labels", _map_lines(_meta(manifest).get("labels"))),
            ("Annotations", _map_lines(_meta(manifest).get("annotations"))),
            ("Replicas", f"{current} current / {desired} desired"),
            (
                "Pods Status",
                f"{phases.count('Running')} Running / {phases.count('Pending')} Waiting / "
                f"{phases.count('Succeeded')} Succeeded / {phases.count('Failed')} Failed",
            ),
        ]
    )
    out.line("Pod Template:")
    out.block([("Labels", _map_lines((template.get("metadata") or {}).get("labels")))], 2)
    describe_containers(out, containers_of(manifest), 2)
    describe_volumes(out, template.get("spec") or {}, 2)
    if view.snapshot is None:
        out.block([("Pods", "<unknown: no snapshot yet; run `orc reconcile`>")])
    elif pods:
        out.line("Pods:")
        out.table(["Name", "Host", "Status", "Ready", "Restarts", "Age"], _pod_rows(pods, now))
    else:
        out.block([("Pods", "<none>")])
    describe_events(out, view, key, now)
    return str(out)


def describe_service(view: ClusterView, name: str, now: float) -> str:
    key = f"svc/{name}"
    record = view.objects.get(key)
    if record is None:
        raise not_found("Service", name)
    manifest = record.value
    spec = manifest.get("spec") or {}
    ports = spec.get("ports") or []
    out = Text()
    pairs: list[tuple[str, Any]] = [
        ("Name", name),
        ("Namespace", "default"),
        ("Labels", _map_lines(_meta(manifest).get("labels"))),
        ("Annotations", _map_lines(_meta(manifest).get("annotations"))),
        ("Selector", _map_lines(spec.get("selector"))),
        ("Type", spec.get("type") or "ClusterIP"),
        ("IP", spec.get("clusterIP") or view.cluster_ips.get(name) or "<pending>"),
    ]
    for p in ports:
        label = p.get("name") or "<unset>"
        proto = p.get("protocol", "TCP")
        pairs += [
            ("Port", f"{label}  {p.get('port')}/{proto}"),
            ("TargetPort", f"{p.get('targetPort', p.get('port'))}/{proto}"),
        ]
        if spec.get("type") in ("NodePort", "LoadBalancer"):
            np = node_port(view, name, p, len(ports))
            pairs.append(("NodePort", f"{label}  {np}/{proto}" if np else f"{label}  <pending>"))
    endpoints = view.endpoints.get(name)
    pairs.append(
        ("Endpoints", ",".join(endpoint_addresses(endpoints.value)) or "<none>" if endpoints else "<none>")
    )
    out.block(pairs)
    describe_events(out, view, key, now)
    return str(out)


def describe_node(view: ClusterView, name: str, now: float) -> str:
    host = view.snapshot.host(name) if view.snapshot else None
    if host is None:
        raise not_found("Node", name)
    assert view.snapshot is not None
    out = Text()
    out.block(
        [
            ("Name", name),
            ("Labels", _map_lines(host.labels)),
            ("Unschedulable", f"true (cordoned by {view.cordon_source(name)})" if view.unschedulable(name)
             else "false"),
            ("Status", host.status),
            ("Reason", host.reason or "<none>"),
            ("Address", host.address or "<none>"),
            ("Observed", f"{human_age(view.snapshot.age(now))} ago"),
        ]
    )
    if host.capacity:
        out.line("Capacity:")
        out.block(_quantities(host.capacity), 2)
    pods = view.snapshot.pods_on(name)
    if pods:
        out.line(f"Pods: ({len(pods)} in total)")
        out.table(["Name", "Host", "Status", "Ready", "Restarts", "Age"], _pod_rows(pods, now))
    else:
        out.block([("Pods", "<none>")])
    describe_events(out, view, f"node/{name}", now)
    return str(out)


def describe_pdb(view: ClusterView, name: str, now: float) -> str:
    """kubectl's describe of a PodDisruptionBudget: its rule, selector and the counts of the last pass."""
    from orchestrator.cli.documents import pdb_document
    from orchestrator.labels import Selector

    key = f"pdb/{name}"
    if key not in view.objects:
        raise not_found("PodDisruptionBudget", name)
    doc = pdb_document(view, key)
    spec, st = doc.get("spec") or {}, doc["status"]
    rule = (("Min available", spec["minAvailable"]) if "minAvailable" in spec
            else ("Max unavailable", spec.get("maxUnavailable")))
    out = Text()
    out.block([("Name", name), ("Namespace", "default"), rule,
               ("Selector", str(Selector.from_label_selector(spec.get("selector") or {})) or "<none>")])
    if spec.get("unhealthyPodEvictionPolicy"):
        out.block([("Unhealthy pod eviction policy", spec["unhealthyPodEvictionPolicy"])])
    out.line("Status:")
    out.block([("Allowed disruptions", st["disruptionsAllowed"]), ("Current", st["currentHealthy"]),
               ("Desired", st["desiredHealthy"]), ("Total", st["expectedPods"])], 4)
    describe_events(out, view, key, now)
    return str(out)


def describe_endpoints(view: ClusterView, name: str, now: float) -> str:
    record = view.endpoints.get(name)
    if record is None:
        raise not_found("Endpoints", name)
    out = Text()
    out.block(
        [
            ("Name", name),
            ("Namespace", "default"),
            ("Addresses", endpoint_addresses(record.value) or ["<none>"]),
        ]
    )
    return str(out)


def not_found(kind: str, name: str) -> NotFoundError:
    return NotFoundError(f'Error from server (NotFound): {plural_name(kind)} "{name}" not found')


def describe_event(view: ClusterView, name: str, now: float) -> str:
    from orchestrator.cli.printers import event_items

    item = next((i for i in event_items(view, now) if i.name == name), None)
    if item is None:
        raise not_found("Event", name)
    d = item.doc
    out = Text()
    out.block([("Name", name), ("Namespace", "default"),
               ("Involved Object", f"{d['involvedObject']['kind']}/{d['involvedObject']['name']}"),
               ("Type", d["type"]), ("Reason", d["reason"]), ("Message", d["message"]), ("Count", d["count"]),
               ("First Timestamp", d["firstTimestamp"]), ("Last Timestamp", d["lastTimestamp"]),
               ("Source", d["source"]["component"])])
    return str(out)


from orchestrator.cli.config_views import describe_config_map, describe_secret  # noqa: E402 - they use Text

DESCRIBERS: dict[str, Callable[[ClusterView, str, float], str]] = {
    "pods": describe_pod,
    "replicationcontrollers": describe_workload,
    "replicasets": partial(describe_workload, kind="ReplicaSet"),
    "deployments": partial(describe_workload, kind="Deployment"),
    "services": describe_service,
    "endpoints": describe_endpoints,
    "poddisruptionbudgets": describe_pdb,
    "configmaps": describe_config_map,
    "secrets": describe_secret,
    "nodes": describe_node,
    "events": describe_event,
}




def describe(resource: Resource, name: str, view: ClusterView, now: float) -> str:
    """The text `orc describe RESOURCE NAME` prints; NotFoundError if there is no such object."""
    return DESCRIBERS[resource.plural](view, name, now)
