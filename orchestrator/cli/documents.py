"""Objects as Kubernetes' API returns them, for `orc get -o json|yaml|jsonpath|custom-columns`: the stored
manifest with the metadata Kubernetes adds (namespace, uid, resourceVersion, generation,
creationTimestamp), what the cluster allocated (a Service's clusterIP and nodePorts) and a `status` built
from the last observed snapshot (a Pod's phase, conditions and containerStatuses; a controller's replica
counts; Endpoints as `subsets`). Pure: the caller passes the view.

Where orc differs from Kubernetes, the document says what is true here:
- `metadata.generation` is the store revision of the object's last change (as its resourceVersion), and a
  controller's `status.observedGeneration` the store revision the last pass planned from, so
  `observedGeneration >= generation` says, as in Kubernetes, that a pass has seen the object as it is;
- a Pod's `status.hostIP` is the host's cluster address (where its ports are published) and `podIP` its
  network namespace's address on the host's docker network (reached from that host);
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from orchestrator.cli.kinds import kind_of_key
from orchestrator.cli.observed import ObservedContainer, ObservedHost, ObservedPod
from orchestrator.cli.view import ClusterView

NAMESPACE = "default"
K8S_PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
"""Pod phases Kubernetes has; orc's own (Lost, Incomplete, SandboxChanged) become `status.reason`."""


def iso_time(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def metadata(view: ClusterView, key: str, stored: dict[str, Any] | None) -> dict[str, Any]:
    """ObjectMeta in Kubernetes' field order, for a stored object (`stored`: its manifest's metadata)."""
    record = view.objects[key]
    meta = dict(stored or {})
    out: dict[str, Any] = {"name": meta.pop("name", key.partition("/")[2]), "namespace": NAMESPACE,
                           "uid": view.uid(key), "resourceVersion": str(record.revision),
                           "generation": record.revision}
    meta.pop("namespace", None)
    if key in view.created:
        out["creationTimestamp"] = iso_time(view.created[key])
    out.update(meta)
    return out


def stored_document(view: ClusterView, key: str) -> dict[str, Any]:
    """The stored manifest with Kubernetes' metadata (`orc get -o yaml` of it applies back unchanged)."""
    doc = copy.deepcopy(view.objects[key].value)
    doc["metadata"] = metadata(view, key, doc.get("metadata"))
    return doc


# -- pods --------------------------------------------------------------------------------------------------


def _state(c: ObservedContainer | None, pod: str, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(state, lastState) of one container, from docker's state."""
    if c is None or c.state == "created":
        return {"waiting": {"reason": "ContainerCreating"}}, {}
    cid = f"docker://{c.id}" if c.id else None
    last_run: dict[str, Any] = {"exitCode": c.exit_code, "reason": "Completed" if c.exit_code == 0 else "Error"}
    if c.started_at is not None:
        last_run["startedAt"] = iso_time(c.started_at)
    if c.finished_at is not None:
        last_run["finishedAt"] = iso_time(c.finished_at)
    if cid:
        last_run["containerID"] = cid
    if c.state == "restarting":  # docker waits out its restart back-off
        message = f"back-off restarting failed container {name} in pod {pod}"
        return {"waiting": {"reason": "CrashLoopBackOff", "message": message}}, {"terminated": last_run}
    if c.state in ("exited", "dead"):
        return {"terminated": last_run}, {}
    started = {"startedAt": iso_time(c.started_at)} if c.started_at is not None else {}
    last: dict[str, Any] = {}
    if c.restarts and c.finished_at is not None:
        last = {"terminated": {k: v for k, v in last_run.items() if k not in ("startedAt", "exitCode", "reason")}}
    return {"running": started}, last


def _from_phase(pod: ObservedPod, names: list[str]) -> tuple[ObservedContainer, ...]:
    """Containers as the pod's phase tells, when the snapshot holds none (a pod created by the last pass,
    or a snapshot an older orc wrote): running when it runs, being created otherwise."""
    state = "running" if pod.phase in ("Running", "Lost", "Unknown") else "created"
    health = None if pod.ready or state != "running" else "unhealthy"
    return tuple(ObservedContainer(n, state=state, health=health, restarts=pod.restarts if i == 0 else 0)
                 for i, n in enumerate(names))


def container_statuses(pod: ObservedPod, spec_containers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Kubernetes' containerStatuses, in the spec's order (the observed order when the spec is unknown)."""
    names = [str(c.get("name")) for c in spec_containers]
    if pod.containers:  # the pod's own containers (a template changed since keeps them), in the spec's order
        have = [c.name for c in pod.containers]
        names = [n for n in names if n in have] + [n for n in have if n not in names]
    by_name = {c.name: c for c in pod.containers or _from_phase(pod, names)}
    images = {str(c.get("name")): c.get("image") for c in spec_containers}
    out = []
    for name in names:
        c = by_name.get(name)
        state, last = _state(c, pod.name, name)
        status: dict[str, Any] = {"name": name, "image": (c.image if c and c.image else images.get(name, ""))}
        if c is not None and c.id:
            status["containerID"] = f"docker://{c.id}"
        status.update({"ready": bool(c and c.ready), "started": bool(c and c.state == "running"),
                       "restartCount": c.restarts if c else 0, "state": state})
        if last:
            status["lastState"] = last
        out.append(status)
    return out


def pod_phase(pod: ObservedPod) -> tuple[str, str | None]:
    """(Kubernetes phase, reason): orc's own phases become the reason; a pod whose containers exist and one
    of them runs or is being restarted is Running, as Kubernetes has it."""
    if pod.phase == "Lost":
        return "Unknown", "Lost"
    if pod.phase not in K8S_PHASES:
        return "Pending", pod.phase
    if pod.phase == "Pending" and any(c.state in ("running", "restarting") for c in pod.containers):
        return "Running", None
    return pod.phase, None


def _condition(kind: str, ok: bool | None, reason: str | None = None, message: str | None = None,
               since: float | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind, "status": "Unknown" if ok is None else str(ok), "lastProbeTime": None}
    if since is not None:
        out["lastTransitionTime"] = iso_time(since)
    if reason:
        out["reason"] = reason
    if message:
        out["message"] = message
    return out


def pod_conditions(pod: ObservedPod, statuses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    unready = [s["name"] for s in statuses if not s["ready"]]
    known = pod.phase not in ("Lost", "Unknown")
    ready: bool | None = not unready if known else None
    reason = None if ready else ("NodeLost" if not known else "ContainersNotReady")
    message = f"containers with unready status: [{' '.join(unready)}]" if unready and known else None
    return [
        _condition("Initialized", True, since=pod.started_at),
        _condition("Ready", ready, reason, message),
        _condition("ContainersReady", ready, reason, message),
        _condition("PodScheduled", True, since=pod.started_at),
    ]


def qos_class(spec_containers: list[dict[str, Any]]) -> str:
    """Guaranteed (every container limits cpu and memory, requests equal), BestEffort (none asks for
    anything), else Burstable, as Kubernetes classes a pod."""
    parts = [c.get("resources") or {} for c in spec_containers]
    if not any(p.get("requests") or p.get("limits") for p in parts):
        return "BestEffort"
    for p in parts:
        limits, requests = p.get("limits") or {}, p.get("requests") or {}
        if not all(r in limits for r in ("cpu", "memory")):
            return "Burstable"
        if any(str(requests.get(r, limits[r])) != str(limits[r]) for r in ("cpu", "memory")):
            return "Burstable"
    return "Guaranteed"


def init_container_statuses(pod: ObservedPod, spec_inits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Kubernetes' initContainerStatuses, in the order they run: one not started yet is waiting
    (PodInitializing), one that succeeded is terminated (Completed)."""
    by_name = {c.name: c for c in pod.init_containers}
    names = [str(c.get("name")) for c in spec_inits] or list(by_name)
    images = {str(c.get("name")): c.get("image") for c in spec_inits}
    out = []
    for name in names:
        c = by_name.get(name)
        state, last = _state(c, pod.name, name)
        if c is None or c.state == "created":
            state = {"waiting": {"reason": "PodInitializing"}}
        status: dict[str, Any] = {"name": name, "image": (c.image if c and c.image else images.get(name, ""))}
        if c is not None and c.id:
            status["containerID"] = f"docker://{c.id}"
        status.update({"ready": bool(c and c.state == "exited" and c.exit_code == 0),
                       "started": bool(c and c.state == "running"), "restartCount": c.restarts if c else 0,
                       "state": state})
        if last:
            status["lastState"] = last
        out.append(status)
    return out


def observed_pod_status(pod: ObservedPod, host: ObservedHost | None, spec: dict[str, Any]) -> dict[str, Any]:
    containers = list(spec.get("containers") or [])
    statuses = container_statuses(pod, containers)
    inits = init_container_statuses(pod, list(spec.get("initContainers") or [])) \
        if spec.get("initContainers") or pod.init_containers else []
    waiting = [s["name"] for s in inits if not s["ready"]]
    if waiting:  # the app containers wait for the init containers
        for st in statuses:
            if "waiting" in st["state"]:
                st["state"] = {"waiting": {"reason": "PodInitializing"}}
    phase, reason = pod_phase(pod)
    status: dict[str, Any] = {"phase": phase}
    if reason:
        status["reason"] = reason
    status["conditions"] = pod_conditions(pod, statuses)
    if waiting:
        status["conditions"][0] = _condition("Initialized", False, "ContainersNotInitialized",
                                             f"containers with incomplete status: [{' '.join(waiting)}]")
    address = host.cluster_address if host else ""
    if address:
        status["hostIP"] = address
        status["hostIPs"] = [{"ip": address}]
    if pod.ip:
        status["podIP"] = pod.ip
        status["podIPs"] = [{"ip": pod.ip}]
    if pod.started_at is not None:
        status["startTime"] = iso_time(pod.started_at)
    if inits:
        status["initContainerStatuses"] = inits
    status["containerStatuses"] = statuses
    status["qosClass"] = qos_class(containers)
    return status


def pending_pod_status(spec: dict[str, Any], why: str | None) -> dict[str, Any]:
    """A desired bare pod no pass has placed yet."""
    condition = _condition("PodScheduled", False, "Unschedulable", why) if why else \
        _condition("PodScheduled", False)
    return {"phase": "Pending", "conditions": [condition], "qosClass": qos_class(list(spec.get("containers") or []))}


def owner_reference(view: ClusterView, owner_key: str) -> dict[str, Any] | None:
    owner = view.objects.get(owner_key)
    if owner is None:
        return None
    return {"apiVersion": owner.value.get("apiVersion", "v1"), "kind": kind_of_key(owner.key, owner.value),
            "name": owner.key.partition("/")[2], "uid": view.uid(owner_key), "controller": True,
            "blockOwnerDeletion": True}


def observed_pod_document(view: ClusterView, pod: ObservedPod) -> dict[str, Any]:
    key = f"pod/{pod.name}"
    host = view.snapshot.host(pod.host) if view.snapshot else None
    if key in view.objects and not pod.owner:
        doc = stored_document(view, key)
        if pod.uid:
            doc["metadata"]["uid"] = pod.uid  # this instance's (a bare pod made again gets a new one)
        spec = doc.setdefault("spec", {})
    else:
        meta: dict[str, Any] = {"name": pod.name, "namespace": NAMESPACE}
        if pod.uid:
            meta["uid"] = pod.uid
        if pod.started_at is not None:
            meta["creationTimestamp"] = iso_time(pod.started_at)
        if pod.labels:
            meta["labels"] = dict(pod.labels)
        ref = owner_reference(view, pod.owner or "")
        if ref is not None:
            meta["ownerReferences"] = [ref]
        doc = {"apiVersion": "v1", "kind": "Pod", "metadata": meta}
        owner = view.objects.get(pod.owner or "")
        template_spec = ((owner.value.get("spec") or {}).get("template") or {}).get("spec") if owner else None
        spec = copy.deepcopy(template_spec) if isinstance(template_spec, dict) else {}
        doc["spec"] = spec
    if pod.host:
        spec["nodeName"] = pod.host
    doc["status"] = observed_pod_status(pod, host, spec)
    return doc


def pending_pod_document(view: ClusterView, key: str, why: str | None = None) -> dict[str, Any]:
    doc = stored_document(view, key)
    doc["status"] = pending_pod_status(doc.get("spec") or {}, why)
    return doc


def display_status(status: dict[str, Any]) -> str:
    """The STATUS column, as kubectl derives it from a pod's status: the reason of a waiting or terminated
    container (CrashLoopBackOff, ContainerCreating, Error, Completed) over the phase."""
    reason = status.get("reason") or status.get("phase") or "Unknown"
    inits = status.get("initContainerStatuses") or []
    for i, cs in enumerate(inits):  # as kubectl: the first init container that has not succeeded
        state = cs.get("state") or {}
        t = state.get("terminated")
        if t is not None and t.get("exitCode") == 0:
            continue
        waiting = (state.get("waiting") or {}).get("reason")
        if t is not None:
            return "Init:" + (t.get("reason") or f"ExitCode:{t.get('exitCode', 0)}")
        if waiting and waiting != "PodInitializing":
            return f"Init:{waiting}"
        return f"Init:{i}/{len(inits)}"
    has_running = False
    for cs in reversed(status.get("containerStatuses") or []):
        state = cs.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state:
            t = state["terminated"]
            reason = t.get("reason") or f"ExitCode:{t.get('exitCode', 0)}"
        elif cs.get("ready") and "running" in state:
            has_running = True
    if reason == "Completed" and has_running:
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        reason = "Running" if ready else "NotReady"
    return str(reason)


# -- workloads ---------------------------------------------------------------------------------------------


def _max_unavailable(manifest: dict[str, Any], desired: int) -> int:
    rolling = ((manifest.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    value = rolling.get("maxUnavailable", "25%")
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        return desired * int(value[:-1]) // 100
    return int(value) if isinstance(value, int) else 0


def workload_status(view: ClusterView, key: str) -> dict[str, Any]:
    """A controller's status as Kubernetes words it (zero counts left out, as its API omits them)."""
    record = view.objects[key]
    manifest = record.value
    kind = kind_of_key(key, manifest)
    desired = (manifest.get("spec") or {}).get("replicas")
    desired = 1 if desired is None else int(desired)
    pods = [p for p in (view.snapshot.pods_of(key) if view.snapshot else []) if p.active]
    current, ready = len(pods), sum(1 for p in pods if p.ready)
    rollout = view.rollouts.get(key)
    if rollout is not None:  # what the last pass recorded of a rolling controller (plan/rollout.status)
        return _rollout_status(rollout, pods, current, ready)
    status: dict[str, Any] = {}
    if view.snapshot is not None and view.snapshot.desired_revision >= record.revision:
        status["observedGeneration"] = view.snapshot.desired_revision
    status["replicas"] = current
    if kind != "Deployment" and current:
        status["fullyLabeledReplicas"] = current
    if ready:
        status["readyReplicas"] = ready
        status["availableReplicas"] = ready
    if kind == "Deployment":
        if current - ready > 0 or desired - ready > 0:
            status["unavailableReplicas"] = max(current, desired) - ready
        ok = ready >= desired - _max_unavailable(manifest, desired)
        status["conditions"] = [{
            "type": "Available", "status": str(ok),
            "reason": "MinimumReplicasAvailable" if ok else "MinimumReplicasUnavailable",
            "message": "Deployment has minimum availability." if ok else
            "Deployment does not have minimum availability.",
        }]
    return status


def _rollout_status(rollout: dict[str, Any], pods: list[ObservedPod], current: int, ready: int) -> dict[str, Any]:
    """The rollout status the last pass planned from (observedGeneration, conditions, availability over
    minReadySeconds), with the counts of the pods it left: the snapshot holds the pods that pass created and
    lacks those it deleted, the rollout status was computed before it acted."""
    status = {k: copy.deepcopy(v) for k, v in rollout.items() if k not in ("mark", "progressAt")}
    mark = rollout.get("mark")
    template = mark[0] if isinstance(mark, list) and mark and isinstance(mark[0], str) else None
    status["replicas"] = current
    if template is not None and all(p.spec_hash for p in pods):
        status["updatedReplicas"] = sum(1 for p in pods if p.spec_hash == template)
    status["readyReplicas"] = ready
    status["availableReplicas"] = min(int(status.get("availableReplicas") or 0), ready)
    return status


def workload_document(view: ClusterView, key: str) -> dict[str, Any]:
    doc = stored_document(view, key)
    doc["status"] = workload_status(view, key)
    return doc


# -- disruption budgets ------------------------------------------------------------------------------------


def pdb_document(view: ClusterView, key: str) -> dict[str, Any]:
    """A stored PodDisruptionBudget with the status the last pass counted (zeros before one has)."""
    doc = stored_document(view, key)
    counted = (view.snapshot.budgets if view.snapshot else {}).get(key.partition("/")[2]) or {}
    doc["status"] = {k: int(counted.get(k, 0)) for k in
                     ("currentHealthy", "desiredHealthy", "disruptionsAllowed", "expectedPods")}
    if view.snapshot is not None:
        doc["status"]["observedGeneration"] = view.snapshot.desired_revision
    return doc


# -- services and endpoints --------------------------------------------------------------------------------


def allocated_node_port(view: ClusterView, name: str, port: dict[str, Any], n_ports: int) -> int | None:
    """The port's nodePort: from the manifest, else the allocation naming this port (or the only one)."""
    if port.get("nodePort"):
        return int(port["nodePort"])
    allocations = view.node_ports.get(name, [])
    for a in allocations:
        if a.get("port") == port.get("port") or (port.get("name") and a.get("name") == port.get("name")):
            return int(a["nodePort"])
    if n_ports == 1 and len(allocations) == 1 and "port" not in allocations[0]:
        return int(allocations[0]["nodePort"])
    return None


def service_document(view: ClusterView, key: str) -> dict[str, Any]:
    doc = stored_document(view, key)
    name = key.partition("/")[2]
    spec = doc.setdefault("spec", {})
    kind = spec.get("type") or "ClusterIP"
    ip = spec.get("clusterIP") or view.cluster_ips.get(name)
    ports = []
    for p in spec.get("ports") or []:
        port = {**p, "protocol": p.get("protocol", "TCP"), "targetPort": p.get("targetPort", p.get("port"))}
        if kind in ("NodePort", "LoadBalancer"):
            np = allocated_node_port(view, name, p, len(spec.get("ports") or []))
            if np is not None:
                port["nodePort"] = np
        ports.append(port)
    out: dict[str, Any] = {}
    if ip:
        out.update({"clusterIP": ip, "clusterIPs": [ip]})
    if kind in ("NodePort", "LoadBalancer"):
        out["externalTrafficPolicy"] = spec.get("externalTrafficPolicy", "Cluster")
    out.update({"internalTrafficPolicy": spec.get("internalTrafficPolicy", "Cluster"),
                "ipFamilies": spec.get("ipFamilies", ["IPv4"]),
                "ipFamilyPolicy": spec.get("ipFamilyPolicy", "SingleStack"), "ports": ports})
    if spec.get("selector") is not None:
        out["selector"] = spec["selector"]
    out["sessionAffinity"] = spec.get("sessionAffinity", "None")
    out["type"] = kind
    out.update({k: v for k, v in spec.items() if k not in out})
    doc["spec"] = out
    doc["status"] = {"loadBalancer": {}}
    return doc


def _parse_endpoint(text: str) -> dict[str, Any]:
    ip, _, port = text.rpartition(":")
    return {"ip": ip, "port": int(port) if port.isdigit() else port}


def endpoint_subsets(view: ClusterView, name: str, value: dict[str, Any]) -> list[dict[str, Any]]:
    """Kubernetes' `subsets`: the addresses that share the same ports, each with its node and pod. Records
    of the `subsets` form are returned as they are."""
    if value.get("subsets") is not None:
        return copy.deepcopy(list(value["subsets"]))
    svc = view.objects.get(f"svc/{name}")
    named = {p.get("port"): (p.get("name"), p.get("protocol", "TCP"))
             for p in ((svc.value.get("spec") or {}).get("ports") or [] if svc else [])}
    by_address: dict[tuple[str, str, str], dict[tuple[Any, ...], None]] = {}
    for raw in value.get("endpoints") or []:
        e = raw if isinstance(raw, dict) else _parse_endpoint(str(raw))
        port_name, proto = named.get(e.get("service_port"), (None, "TCP"))
        who = (str(e.get("ip") or e.get("host") or ""), str(e.get("host") or ""), str(e.get("pod") or ""))
        by_address.setdefault(who, {})[(port_name, e.get("port"), proto)] = None
    groups: dict[tuple[Any, ...], list[tuple[str, str, str]]] = {}
    for who, ports in by_address.items():
        groups.setdefault(tuple(sorted(ports, key=str)), []).append(who)
    subsets = []
    for port_set, members in groups.items():
        addresses = []
        for ip, node, pod in sorted(members):
            address: dict[str, Any] = {"ip": ip}
            if node:
                address["nodeName"] = node
            if pod:
                address["targetRef"] = {"kind": "Pod", "name": pod, "namespace": NAMESPACE}
                observed = view.snapshot.pod(pod) if view.snapshot else None
                if observed is not None and observed.uid:
                    address["targetRef"]["uid"] = observed.uid
            addresses.append(address)
        subset_ports = [{**({"name": n} if n else {}), "port": p, "protocol": proto} for n, p, proto in port_set]
        subsets.append({"addresses": addresses, "ports": subset_ports})
    return subsets


def endpoints_document(view: ClusterView, name: str) -> dict[str, Any]:
    record = view.endpoints[name]
    meta: dict[str, Any] = {"name": name, "namespace": NAMESPACE, "resourceVersion": str(record.revision)}
    svc_key = f"svc/{name}"
    if svc_key in view.objects:
        svc_meta = view.objects[svc_key].value.get("metadata") or {}
        if key_created := view.created.get(svc_key):
            meta["creationTimestamp"] = iso_time(key_created)
        if svc_meta.get("labels"):
            meta["labels"] = dict(svc_meta["labels"])
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta}
    subsets = endpoint_subsets(view, name, record.value)
    if subsets:
        doc["subsets"] = subsets
    return doc


# -- nodes -------------------------------------------------------------------------------------------------


def node_document(host: ObservedHost, unschedulable: bool = False) -> dict[str, Any]:
    ready = {"Ready": "True", "NotReady": "False"}.get(host.status, "Unknown")
    condition = {"type": "Ready", "status": ready, "reason": host.reason or host.status}
    addresses = [{"type": "InternalIP", "address": host.cluster_address}] if host.cluster_address else []
    addresses.append({"type": "Hostname", "address": host.name})
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": host.name, "labels": dict(host.labels)},
        **({"spec": {"unschedulable": True, "taints": [{"key": "node.kubernetes.io/unschedulable",
                                                        "effect": "NoSchedule"}]}} if unschedulable else {}),
        "status": {"addresses": addresses, "capacity": dict(host.capacity),
                   "allocatable": dict(host.capacity), "conditions": [condition]},
    }


# -- events ------------------------------------------------------------------------------------------------


def event_document(event: dict[str, Any], name: str, kind: str, object_name: str, first: float,
                   last: float) -> dict[str, Any]:
    """A stored event as Kubernetes' core/v1 Event."""
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": NAMESPACE, "creationTimestamp": iso_time(first)},
        "involvedObject": {"kind": kind, "name": object_name, "namespace": NAMESPACE},
        "reason": event.get("reason", ""),
        "message": event.get("message", ""),
        "type": event.get("type", "Normal"),
        "count": int(event.get("count", 1)),
        "firstTimestamp": iso_time(first),
        "lastTimestamp": iso_time(last),
        "source": {"component": str(event.get("source", "orc"))},
        "reportingComponent": "orc",
    }
