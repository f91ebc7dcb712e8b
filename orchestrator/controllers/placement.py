"""Adapters between the model / observed hosts and the scheduler's own types.

The scheduler's types are imported by the adapters that build them: a pass that places nothing (a cron
no-op) never creates their classes (tests/unit/test_noop_imports.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.model.helpers import host_ports, pod_requests
from orchestrator.model.pod import PodSpec
from orchestrator.observe.facts import HostFacts
from orchestrator.resources import cpu_millis, parse_quantity, to_bytes

if TYPE_CHECKING:
    from orchestrator.scheduler import types as st


def requests_of(spec: PodSpec) -> dict[str, int]:
    """A pod's requests in the scheduler's integer units (also recorded on its infra container)."""
    r = pod_requests(spec)
    return {"cpu": cpu_millis(r["cpu"]), "memory": to_bytes(r["memory"]),
            "ephemeral": to_bytes(r["ephemeral-storage"]), "gpus": int(r["nvidia.com/gpu"])}


def _resources(d: Mapping[str, int]) -> st.Resources:
    from orchestrator.scheduler import types as st
    return st.Resources(cpu=d.get("cpu", 0), memory=d.get("memory", 0), ephemeral=d.get("ephemeral", 0),
                        gpus=d.get("gpus", 0))


def _selector(raw: dict[str, Any] | None) -> st.PodSelector:
    from orchestrator.scheduler import types as st
    return st.PodSelector.from_dict(raw or {})


def _term(t: Any) -> st.NodeSelectorTerm:
    from orchestrator.scheduler import types as st
    return tuple(st.NodeSelectorRequirement(e.key, e.operator, tuple(e.values or ()))
                 for e in t.match_expressions or [])


def pod_request(name: str, owner: str | None, labels: Mapping[str, str], spec: PodSpec) -> st.PodRequest:
    from orchestrator.scheduler import types as st
    aff = spec.affinity
    node_aff = aff.node_affinity if aff else None
    anti = aff.pod_anti_affinity if aff else None
    required = node_aff.required_during_scheduling_ignored_during_execution if node_aff else None
    return st.PodRequest(
        name=name,
        owner=owner,
        labels=dict(labels),
        requests=_resources(requests_of(spec)),
        host_ports=frozenset(host_ports(spec)),
        node_name=spec.node_name,
        node_selector={k: str(v) for k, v in (spec.node_selector or {}).items()},
        required_node_affinity=tuple(_term(t) for t in required.node_selector_terms) if required else (),
        preferred_node_affinity=tuple(
            st.PreferredSchedulingTerm(p.weight, _term(p.preference))
            for p in (node_aff.preferred_during_scheduling_ignored_during_execution or [] if node_aff else [])),
        required_anti_affinity=tuple(
            st.PodAffinityTerm(_selector(t.label_selector), t.topology_key or st.HOSTNAME_LABEL)
            for t in (anti.required_during_scheduling_ignored_during_execution or [] if anti else [])),
        preferred_anti_affinity=tuple(
            st.WeightedPodAffinityTerm(w.weight, st.PodAffinityTerm(
                _selector(w.pod_affinity_term.label_selector), w.pod_affinity_term.topology_key or st.HOSTNAME_LABEL))
            for w in (anti.preferred_during_scheduling_ignored_during_execution or [] if anti else [])),
        topology_spread=tuple(
            st.TopologySpreadConstraint(c.max_skew, c.topology_key, c.when_unsatisfiable, _selector(c.label_selector))
            for c in spec.topology_spread_constraints or []),
        tolerations=tuple(
            st.Toleration(t.key or "", t.operator or "Equal", t.value or "", t.effect or "")
            for t in spec.tolerations or []),
        image=spec.containers[0].image if spec.containers else None,
    )


def _quantity(v: Any, unit: str) -> int:
    q = parse_quantity(str(v))
    return cpu_millis(q) if unit == "cpu" else int(q) if unit == "count" else to_bytes(q)


def node_info(f: HostFacts, placed: Iterable[st.PlacedPod], *, cordoned: bool = False,
              taints: tuple[st.Taint, ...] | None = None) -> st.NodeInfo:
    """The scheduler's view of a probed host; its taints are the inventory's unless given."""
    from orchestrator.scheduler import types as st
    if taints is None:
        taints = tuple(st.Taint(k, v, e) for k, v, e in f.taints)  # type: ignore[arg-type]
    cap = f.capacity
    capacity = st.Resources(
        cpu=_quantity(cap.get("cpu", f.cpus), "cpu"),
        memory=_quantity(cap.get("memory", f.memory_bytes), "bytes"),
        ephemeral=_quantity(cap.get("ephemeral-storage", f.disk_total_bytes), "bytes"),  # minus pods' requests
        gpus=_quantity(cap.get("nvidia.com/gpu", len(f.gpus)), "count"),
    )
    return st.NodeInfo(
        name=f.name, labels=dict(f.labels), capacity=capacity, allocatable=capacity,
        gpu_devices=tuple(g.uuid for g in f.gpus), taints=taints, ready=f.ready, cordoned=cordoned,
        images=f.images, pods=tuple(placed))


def placed_pod(name: str, owner: str | None, labels: Mapping[str, str], requests: Mapping[str, int],
               ports: Iterable[tuple[int, str]], gpus: tuple[str, ...] = ()) -> st.PlacedPod:
    from orchestrator.scheduler import types as st
    return st.PlacedPod(name=name, owner=owner, labels=dict(labels), requests=_resources(requests),
                        host_ports=frozenset(ports), gpu_devices=gpus)
