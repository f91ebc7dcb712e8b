"""Finding the pods `orc logs` / `orc exec` name, where they run (the last observed snapshot), and their
containers (one batch per host, asking each pod's infra container)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestrator.cli.context import AppContext
from orchestrator.cli.observed import ObservedPod, Snapshot
from orchestrator.cli.pod_docker import containers_query, parse_containers
from orchestrator.cli.pod_target import Target, not_found, pods_of_workload
from orchestrator.errors import NotFoundError, OrcError
from orchestrator.inventory.host import Host
from orchestrator.labels import Selector

if TYPE_CHECKING:
    from orchestrator.transport.ssh import SSHTransport


@dataclass(frozen=True)
class Cluster:
    snapshot: Snapshot | None
    hosts: dict[str, Host]
    objects: dict[str, dict[str, object]]  # store key -> stored value, of the workload asked for

    def hint(self) -> str:
        return "run `orc reconcile` first" if self.snapshot is None else "see `orc get pods`"

    @property
    def pods(self) -> tuple[ObservedPod, ...]:
        return self.snapshot.pods if self.snapshot else ()


def read_cluster(obj: AppContext, workload_key: str | None = None) -> Cluster:
    from orchestrator.cli.observed import read_snapshot
    from orchestrator.cli.services import load_hosts

    objects: dict[str, dict[str, object]] = {}
    with obj.project.open_store() as store:
        snap = read_snapshot(store)
        if workload_key is not None:
            record = store.get(workload_key)
            if record is not None and not record.deleted and isinstance(record.value, dict):
                objects[workload_key] = record.value
    return Cluster(snap, {h.name: h for h in load_hosts(obj)}, objects)


def host_of(cluster: Cluster, pod: ObservedPod) -> Host:
    if pod.host not in cluster.hosts:
        raise NotFoundError(f'pod "{pod.name}" runs on {pod.host}, which is not in the inventory')
    return cluster.hosts[pod.host]


def running_pod(cluster: Cluster, name: str) -> ObservedPod:
    found = cluster.snapshot.pod(name) if cluster.snapshot else None
    if found is None or not found.host:
        raise NotFoundError(f'pod "{name}" is not running on any host as last observed ({cluster.hint()})')
    return found


def workload_pods(cluster: Cluster, target: Target) -> list[ObservedPod]:
    """The pods on a host that a workload's selector picks; NotFound when the workload is not stored."""
    obj = cluster.objects.get(target.key)
    if obj is None:
        raise NotFoundError(not_found(target))
    pods = [p for p in pods_of_workload(cluster.pods, target, obj) if p.host]
    if not pods:
        raise NotFoundError(f"{target.key} has no pod on any host as last observed ({cluster.hint()})")
    return pods


def selected_pods(cluster: Cluster, selector: Selector) -> list[ObservedPod]:
    return sorted((p for p in cluster.pods if p.host and selector.matches(p.labels)), key=lambda p: p.name)


def containers_of(transport: SSHTransport, cluster: Cluster, pods: Sequence[ObservedPod]
                  ) -> dict[str, list[str] | str]:
    """{pod: its app containers in spec order, or why they could not be read}: one batch per host, in
    parallel."""
    from orchestrator.transport.parallel import run_parallel

    by_host: dict[str, list[ObservedPod]] = {}
    for p in pods:
        by_host.setdefault(p.host, []).append(p)
    hosts = [host_of(cluster, by_host[h][0]) for h in by_host]
    results = run_parallel(hosts, lambda h: transport.run_batch(h, [containers_query(p.name, p.uid) for p in by_host[h.name]]))
    out: dict[str, list[str] | str] = {}
    for host_name, result in results.items():
        for p in by_host[host_name]:
            if isinstance(result, Exception):
                out[p.name] = str(result) if isinstance(result, OrcError) else f"{type(result).__name__}: {result}"
                continue
            step = result[f"containers {p.name}"]
            names = parse_containers(step.stdout) if step.ok else []
            if names:
                out[p.name] = names
            else:
                out[p.name] = f'pod "{p.name}" is gone from {host_name} ({step.stderr.strip() or "no container of it"})'
    return out
