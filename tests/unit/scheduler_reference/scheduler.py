"""Batch placement: order the pods, then for each pick the best feasible host and account it before the
next. Pure: the same pods, hosts, config and seed always give the same placements."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from orchestrator.scheduler.config import SchedulerConfig
from orchestrator.scheduler.types import (
    Explanation,
    NodeInfo,
    Placement,
    PodRequest,
    ScheduleResult,
    Unschedulable,
)
from tests.unit.scheduler_reference.framework import Pipeline
from tests.unit.scheduler_reference.state import ClusterState

TIE = 1e-9  # scores closer than this are a tie, broken by the seeded generator


def _order(pods: Sequence[PodRequest], state: ClusterState, pipeline: Pipeline) -> list[PodRequest]:
    """Pinned pods first, then the most constrained (fewest statically feasible hosts; then those with
    required anti-affinity, host ports or hard spread constraints, which need distinct hosts), then the
    largest (dominant share of the cluster's cpu, memory, ephemeral storage and gpus), then by name."""
    totals = np.maximum(state.allocatable.sum(axis=0), 1).astype(float)

    def key(pod: PodRequest) -> tuple[int, int, int, float, str]:
        feasible = int(pipeline.statically_feasible(pod, state).sum())
        hard = (
            pod.required_anti_affinity
            or pod.host_ports
            or any(c.when_unsatisfiable == "DoNotSchedule" for c in pod.topology_spread)
        )
        share = max(a / t for a, t in zip(pod.requests.as_tuple(), totals, strict=True))
        return (0 if pod.node_name else 1, feasible, 0 if hard else 1, -share, pod.name)

    return sorted(pods, key=key)


def schedule(
    pods: Sequence[PodRequest],
    nodes: Sequence[NodeInfo],
    config: SchedulerConfig | None = None,
    seed: int = 0,
    explain: bool = False,
) -> ScheduleResult:
    """Place `pods` on `nodes` (which already carry their running pods). With `explain`, each pod's
    per-host explanation against the state just before its own placement is kept in the result."""
    names = [p.name for p in pods]
    if len(set(names)) != len(names):
        dup = sorted({x for x in names if names.count(x) > 1})
        raise ValueError(f"scheduler: pod name(s) {', '.join(dup)} appear more than once in one batch")
    config = config or SchedulerConfig()
    state = ClusterState(nodes)
    pipeline = Pipeline.build(config)
    rng = np.random.default_rng(seed)
    placements: list[Placement] = []
    unschedulable: list[Unschedulable] = []
    explanations: dict[str, tuple[Explanation, ...]] = {}
    for pod in _order(pods, state, pipeline):
        if explain:
            explanations[pod.name] = tuple(pipeline.explain(pod, state))
        idx = np.flatnonzero(pipeline.feasible(pod, state))
        if len(idx) == 0:
            outcome = pipeline.run_filters(pod, state)
            unschedulable.append(Unschedulable(pod, outcome.reasons, state.n))
            continue
        total, _ = pipeline.score(pod, state, idx)
        best = np.flatnonzero(total >= total.max() - TIE)
        k = int(best[rng.integers(len(best))]) if len(best) > 1 else int(best[0])
        i = int(idx[k])
        devices = state.place(i, pod)
        placements.append(Placement(pod, state.nodes[i].name, round(float(total[k]), 4), devices))
    return ScheduleResult(tuple(placements), tuple(unschedulable), explanations)


def explain(
    pod: PodRequest, nodes: Sequence[NodeInfo], config: SchedulerConfig | None = None
) -> list[Explanation]:
    """Why each host would or would not take `pod` now: its rejecting filter and reason, or its scores."""
    return Pipeline.build(config or SchedulerConfig()).explain(pod, ClusterState(nodes))
