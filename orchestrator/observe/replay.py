"""A cluster rebuilt from the last stored snapshot instead of the hosts (`orc what-if`): each stored pod
becomes the containers its docker labels would describe (the contract in docker_labels.py), so the very
code a pass runs (ClusterSnapshot.build, the planner, the scheduler) reads it as it reads real hosts."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from orchestrator import docker_labels as L
from orchestrator.inventory.host import Host
from orchestrator.observe.facts import ContainerInfo, Gpu, HostFacts

_RUNNING_SINCE = "2000-01-01T00:00:00Z"


def containers_of(pod: Mapping[str, Any], cluster: str) -> tuple[ContainerInfo, ...]:
    """The infra and app container of one stored pod (`PodView.to_dict` form), labelled as `create_pod`
    labels them, running (and healthy when the pod was ready)."""
    common = {L.MANAGED: "true", L.CLUSTER: cluster, L.POD: str(pod["name"]), L.POD_UID: str(pod["uid"]),
              L.OWNER: str(pod.get("owner") or ""), L.SPEC_HASH: str(pod.get("spec_hash", "")),
              **{L.LABEL_PREFIX + k: str(v) for k, v in (pod.get("labels") or {}).items()}}
    infra = {**common, L.CONTAINER: "", L.INFRA: "true", L.CONTAINERS: "app",
             L.REQUESTS: json.dumps(pod.get("requests") or {}, sort_keys=True),
             L.HOST_PORTS: ",".join(str(p) for p in pod.get("host_ports") or []),
             L.GRACE: "" if pod.get("grace") is None else str(pod["grace"]),
             L.GPUS: ",".join(str(g) for g in pod.get("gpu_devices") or [])}
    ready = bool(pod.get("ready"))
    return (
        ContainerInfo(f"infra-{pod['uid']}", f"orc_{pod['name']}", "infra", "running", 0, _RUNNING_SINCE, "", 0,
                      None, infra, {}, created_at=_RUNNING_SINCE),
        ContainerInfo(f"app-{pod['uid']}", f"orc_{pod['name']}_app", "app", "running", 0, _RUNNING_SINCE, "", 0,
                      None if ready else "starting", {**common, L.CONTAINER: "app"}, {}),
    )


def host_of(stored: Mapping[str, Any], host: Host | None, pods: list[Mapping[str, Any]], cluster: str) -> HostFacts:
    """A stored host entry as the facts a probe would give, with its pods' containers; the inventory's
    current taints (and labels, which win) when the host is still in it."""
    name = str(stored["name"])
    labels = {**(stored.get("labels") or {}), **(host.labels if host else {})}
    ready = stored.get("status") == "Ready"
    return HostFacts(
        name=name, address=str(stored.get("address") or name), reachable=stored.get("status") != "Unreachable",
        reason=stored.get("reason"), error=stored.get("error"), docker_version="stored" if ready else "",
        labels=labels, capacity=dict(stored.get("capacity") or {}), taints=host.taints if host else (),
        gpus=tuple(Gpu(int(g["index"]), str(g["model"]), str(g["uuid"])) for g in stored.get("gpus") or []),
        images=frozenset(stored.get("images") or ()),
        bind_address=str(stored.get("bind_address") or stored.get("address") or ""),
        containers=tuple(c for p in pods for c in containers_of(p, cluster)))


def replay(stored: Mapping[str, Any], hosts: Mapping[str, Host], cluster: str) -> list[HostFacts]:
    """Every host of a stored snapshot (`ClusterSnapshot.to_dict`, with the engine's believed pods)."""
    by_host: dict[str, list[Mapping[str, Any]]] = {}
    for p in stored.get("pods") or []:
        by_host.setdefault(str(p.get("host")), []).append(p)
    return [host_of(h, hosts.get(str(h["name"])), by_host.get(str(h["name"]), []), cluster)
            for h in stored.get("hosts") or []]
