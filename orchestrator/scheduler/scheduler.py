"""Batch placement: order the pods, then for each pick the best feasible host and account it before the
next; then, for pods no host could take, a bounded repair that moves pods of the same batch to make room
(scheduler/repair.py). Pure: the same pods, hosts, config and seed always give the same placements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from orchestrator.scheduler.config import SchedulerConfig
from orchestrator.scheduler.framework import Pipeline
from orchestrator.scheduler.repair import DEFAULT_BUDGET, Repair
from orchestrator.scheduler.state import ClusterState
from orchestrator.scheduler.types import (
    Explanation,
    NodeInfo,
    Placement,
    PodRequest,
    ScheduleResult,
    Unschedulable,
)


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


ROUNDS = 4  # greedy passes again with the pods left out first, keeping the one that places the most
ROUND_WORK = 50_000  # ... only while pods x hosts of the batch is at most this (a pass costs about that)


@dataclass
class _Pass:
    order: list[PodRequest]
    where: dict[str, Placement]  # by pod name, in the order placed
    left_out: list[PodRequest]
    reasons: dict[str, Unschedulable]
    explanations: dict[str, tuple[Explanation, ...]]
    state: ClusterState
    rng: np.random.Generator


def _greedy(order: Sequence[PodRequest], state: ClusterState, pipeline: Pipeline, seed: int,
            explain: bool) -> _Pass:
    """Each pod in turn on its best feasible host (ties broken by the seeded generator)."""
    run = _Pass(list(order), {}, [], {}, {}, state, np.random.default_rng(seed))
    for pod in order:
        if explain:
            run.explanations[pod.name] = tuple(pipeline.explain(pod, state))
        best = pipeline.best_host(pod, state, run.rng)
        if best is None:
            outcome = pipeline.run_filters(pod, state)
            run.reasons[pod.name] = Unschedulable(pod, outcome.reasons, state.n)
            run.left_out.append(pod)
            continue
        i, score = best
        run.where[pod.name] = Placement(pod, state.nodes[i].name, score, state.place(i, pod))
    return run


def _first(order: Sequence[PodRequest], names: set[str]) -> list[PodRequest]:
    """`order` with the pods named moved up, in their order, to just after the pinned pods."""
    pinned = [p for p in order if p.node_name is not None]
    up = [p for p in order if p.node_name is None and p.name in names]
    return pinned + up + [p for p in order if p.node_name is None and p.name not in names]


def schedule(
    pods: Sequence[PodRequest],
    nodes: Sequence[NodeInfo],
    config: SchedulerConfig | None = None,
    seed: int = 0,
    explain: bool = False,
    rounds: int = ROUNDS,
    repair_budget: int = DEFAULT_BUDGET,
) -> ScheduleResult:
    """Place `pods` on `nodes` (which already carry their running pods). With `explain`, each pod's
    per-host explanation against the state just before its own placement is kept in the result.

    When the greedy pass leaves pods out that some host's static filters allow, it is run again (up to
    `rounds` times, on batches of at most ROUND_WORK pods x hosts) with the pods left out so far placed
    first, the most recent first, and the pass placing the most pods is kept (the first on a tie). Then
    up to `repair_budget` repair trials try to make room for the pods still left out by moving pods of this
    batch (scheduler/repair.py); a moved pod's placement and score are those where it ends up, and it
    comes after the placements it was moved for. The reasons (and explanations) of pods still left out
    are those of the final state. With nothing left out, the result is the first greedy pass's; with
    `rounds=0, repair_budget=0` it always is."""
    names = [p.name for p in pods]
    if len(set(names)) != len(names):
        dup = sorted({x for x in names if names.count(x) > 1})
        raise ValueError(f"scheduler: pod name(s) {', '.join(dup)} appear more than once in one batch")
    config = config or SchedulerConfig()
    state = ClusterState(nodes)
    pipeline = Pipeline.build(config)
    order = _order(pods, state, pipeline)
    run = best = _greedy(order, state, pipeline, seed, explain)
    first: set[str] = set()
    for _ in range(rounds if len(pods) * state.n <= ROUND_WORK else 0):
        new = {p.name for p in run.left_out if pipeline.statically_feasible(p, run.state).any()} - first
        if not new or not best.left_out:
            break
        first |= new
        run = _greedy(_first(order, first), ClusterState(nodes), pipeline, seed, explain)
        if len(run.where) > len(best.where):
            best = run
    left_out = best.left_out
    if left_out and repair_budget > 0:
        repair = Repair(best.state, pipeline, best.rng, {p.name: p for p in pods},
                        {p.name: k for k, p in enumerate(best.order)}, best.where, repair_budget,
                        best.explanations if explain else None)
        left_out = repair.run(left_out)
        if repair.kept:
            for pod in left_out:
                if explain:
                    best.explanations[pod.name] = tuple(pipeline.explain(pod, best.state))
                best.reasons[pod.name] = Unschedulable(pod, pipeline.run_filters(pod, best.state).reasons,
                                                       best.state.n)
    return ScheduleResult(tuple(best.where.values()), tuple(best.reasons[p.name] for p in left_out),
                          best.explanations)


def explain(
    pod: PodRequest, nodes: Sequence[NodeInfo], config: SchedulerConfig | None = None
) -> list[Explanation]:
    """Why each host would or would not take `pod` now: its rejecting filter and reason, or its scores."""
    return Pipeline.build(config or SchedulerConfig()).explain(pod, ClusterState(nodes))
