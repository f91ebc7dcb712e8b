"""Where a drain of some hosts stands after a pass, in kubectl's words (`orc drain`). Pure: from the pass's
snapshot, the deletes that succeeded and its plan.

The passes do the moving (planner: a drained host is a leaving host, handed over under the disruption
budgets); this only tells what is left, what went, and why the rest waits."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DrainPod:
    name: str
    host: str
    owner: str | None


@dataclass
class DrainState:
    left: dict[str, list[str]] = field(default_factory=dict)  # host -> its controllers' pods still there
    evicted: list[DrainPod] = field(default_factory=list)  # went this pass
    refused: dict[str, str] = field(default_factory=dict)  # pod -> why its eviction is refused now
    waiting: list[str] = field(default_factory=list)  # handovers waiting for their replacements
    unmanaged: dict[str, list[DrainPod]] = field(default_factory=dict)  # host -> bare or orphan pods
    unseen: frozenset[str] = frozenset()  # drained hosts the pass could not see: not known to be empty

    def done(self, host: str) -> bool:
        return not self.left.get(host) and host not in self.unseen

    @property
    def all_done(self) -> bool:
        return all(self.done(h) for h in self.left)


def unmanaged_pods(pods: Iterable[DrainPod], hosts: Collection[str], workloads: Collection[str]) -> dict[str, list[DrainPod]]:
    """Host -> the pods there no drain moves: bare pods (no controller) and pods of an owner the store does
    not know (orphans). kubectl refuses to drain a node with bare pods unless told to delete them."""
    out: dict[str, list[DrainPod]] = {}
    for p in pods:
        if p.host in hosts and (p.owner is None or p.owner not in workloads):
            out.setdefault(p.host, []).append(p)
    return out


def with_local_storage(pods: Iterable[DrainPod], hosts: Collection[str],
                       workloads: Mapping[str, Any]) -> dict[str, list[DrainPod]]:
    """Host -> its controllers' pods whose template has an emptyDir volume: moving them loses that data, so a
    drain asks for --delete-emptydir-data first, as kubectl does (`workloads`: key -> Workload)."""
    out: dict[str, list[DrainPod]] = {}
    for p in pods:
        w = workloads.get(p.owner) if p.owner is not None else None
        if p.host in hosts and w is not None and any(v.empty_dir is not None for v in w.template.spec.volumes or []):
            out.setdefault(p.host, []).append(p)
    return out


def drain_state(hosts: Collection[str], pods: Iterable[DrainPod], deleted: Collection[str],
                workloads: Collection[str], pending: Mapping[str, str],
                refused: Mapping[str, str], unseen: Collection[str] = ()) -> DrainState:
    """After a pass: `pods` what it saw, `deleted` the names of the pods it deleted, `workloads` the
    controllers' keys, `pending` and `refused` its plan's (Plan.pending, Plan.refused_evictions), `unseen`
    the hosts it could not see (unreachable, or docker not answering: what runs there is not known)."""
    pods = list(pods)
    out = DrainState(left={h: [] for h in hosts}, unseen=frozenset(h for h in hosts if h in unseen))
    for p in pods:
        if p.host not in hosts or p.owner is None or p.owner not in workloads:
            continue
        if p.name in deleted:
            out.evicted.append(p)
        else:
            out.left[p.host].append(p.name)
            if p.name in refused:
                out.refused[p.name] = refused[p.name]
    out.unmanaged = unmanaged_pods(pods, hosts, workloads)
    out.waiting = [f"{target}: {why}" for target, why in sorted(pending.items())
                   if target.endswith(": handover") and not any(n in why for n in out.refused)]
    for h in out.left:
        out.left[h].sort()
    return out


def pods_of(snapshot_pods: Iterable[Any]) -> list[DrainPod]:
    """DrainPods from a snapshot's pods (anything with name, host and owner)."""
    return [DrainPod(p.name, p.host, p.owner) for p in snapshot_pods]
