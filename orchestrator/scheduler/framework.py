"""The scheduling pipeline: filters (cheap and static first), then weighted scorers.

`Pipeline.build(config)` is the one place where the chain is assembled. Static filters (host state and
the pod's own spec only) are evaluated once per distinct pod spec and cached for the run; the others are
evaluated against the current state, which `ClusterState.place` updates after each placement.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np

from orchestrator.scheduler.config import SchedulerConfig
from orchestrator.scheduler.filters import (
    HostPortsFilter,
    NodeNameFilter,
    NodeReadyFilter,
    NodeSelectorFilter,
    PodAntiAffinityFilter,
    Rejections,
    ResourcesFitFilter,
    TaintTolerationFilter,
    TopologySpreadFilter,
)
from orchestrator.scheduler.scorers import (
    BalancedAllocationScorer,
    ImageLocalityScorer,
    LeastAllocatedScorer,
    MostAllocatedScorer,
    NodeAffinityScorer,
    PodAntiAffinityScorer,
    SelectorSpreadScorer,
    TaintTolerationScorer,
    TopologySpreadScorer,
)
from orchestrator.scheduler.state import ClusterState
from orchestrator.scheduler.types import Explanation, PodRequest

TIE = 1e-9  # scores closer than this are a tie, broken by the seeded generator


class Filter(Protocol):
    name: str
    static: ClassVar[bool]

    def reject(self, pod: PodRequest, state: ClusterState) -> Rejections: ...


class Scorer(Protocol):
    name: str

    def score(self, pod: PodRequest, state: ClusterState, idx: np.ndarray) -> np.ndarray | None: ...


@dataclass(frozen=True)
class FilterOutcome:
    feasible: np.ndarray  # bool per host
    reasons: dict[
        str, int
    ]  # hosts rejected per reason (a host can count under several reasons of one filter)
    failures: dict[int, tuple[str, str]]  # host index -> (filter, reasons joined); only when explaining


def _static_key(pod: PodRequest) -> tuple[object, ...]:
    return (
        pod.node_name,
        tuple(sorted(pod.node_selector.items())),
        pod.required_node_affinity,
        pod.tolerations,
    )


class Pipeline:
    def __init__(self, filters: list[Filter], scorers: list[tuple[Scorer, int]]):
        self.filters = filters
        self.static_filters = [f for f in filters if f.static]
        self.dynamic_filters = [f for f in filters if not f.static]
        self.scorers = scorers

    @classmethod
    def build(cls, config: SchedulerConfig) -> Pipeline:
        """The chain, cheapest and static filters first."""
        filters: list[Filter] = [
            NodeReadyFilter(),
            NodeNameFilter(),
            TaintTolerationFilter(),
            NodeSelectorFilter(),
            ResourcesFitFilter(),
            HostPortsFilter(),
            PodAntiAffinityFilter(),
            TopologySpreadFilter(),
        ]
        allocation: Scorer = LeastAllocatedScorer() if config.strategy == "spread" else MostAllocatedScorer()
        scorers: list[Scorer] = [
            SelectorSpreadScorer(config.spread_topology_keys),
            allocation,
            BalancedAllocationScorer(),
            NodeAffinityScorer(),
            PodAntiAffinityScorer(),
            TopologySpreadScorer(),
            ImageLocalityScorer(),
            TaintTolerationScorer(),
        ]
        return cls(filters, [(s, config.weight(s.name)) for s in scorers if config.weight(s.name) > 0])

    # filtering -------------------------------------------------------------------------------------

    def statically_feasible(self, pod: PodRequest, state: ClusterState) -> np.ndarray:
        """Hosts that pass every static filter (cached per distinct pod spec)."""

        def compute() -> np.ndarray:
            ok = np.ones(state.n, dtype=bool)
            for f in self.static_filters:
                for _, rejected in f.reject(pod, state):
                    ok &= ~rejected
            return ok

        return state.cached(("static", _static_key(pod)), compute)

    def feasible(self, pod: PodRequest, state: ClusterState) -> np.ndarray:
        """The fast path: hosts that pass every filter, with no reasons kept."""
        ok = self.statically_feasible(pod, state).copy()
        for f in self.dynamic_filters:
            if not ok.any():
                break
            for _, rejected in f.reject(pod, state):
                ok &= ~rejected
        return ok

    def run_filters(self, pod: PodRequest, state: ClusterState, explain: bool = False) -> FilterOutcome:
        """Every filter in order; a host is charged to the first filter that rejects it, with all of that
        filter's reasons."""
        alive = np.ones(state.n, dtype=bool)
        reasons: Counter[str] = Counter()
        failures: dict[int, tuple[str, str]] = {}
        for f in self.filters:
            rejected_here = np.zeros(state.n, dtype=bool)
            per_host: dict[int, list[str]] = {}
            for reason, rejected in f.reject(pod, state):
                hit = alive & rejected
                count = int(hit.sum())
                if count:
                    reasons[reason] += count
                    rejected_here |= hit
                    if explain:
                        for host in np.flatnonzero(hit).tolist():
                            per_host.setdefault(host, []).append(reason)
            for host, rs in per_host.items():
                failures[host] = (f.name, "; ".join(rs))
            alive &= ~rejected_here
        return FilterOutcome(alive, dict(reasons), failures)

    # scoring ---------------------------------------------------------------------------------------

    def score(
        self, pod: PodRequest, state: ClusterState, idx: np.ndarray
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Weighted total per candidate, and each scorer's raw 0-100 scores."""
        total = np.zeros(len(idx))
        parts: dict[str, np.ndarray] = {}
        for scorer, weight in self.scorers:
            s = scorer.score(pod, state, idx)
            if s is not None:
                parts[scorer.name] = s
                total += weight * s
        return total, parts

    def best_host(
        self, pod: PodRequest, state: ClusterState, rng: np.random.Generator
    ) -> tuple[int, float] | None:
        """The best-scoring feasible host for `pod` now and its score (ties broken by `rng`), or None."""
        idx = np.flatnonzero(self.feasible(pod, state))
        if len(idx) == 0:
            return None
        total, _ = self.score(pod, state, idx)
        best = np.flatnonzero(total >= total.max() - TIE)
        k = int(best[rng.integers(len(best))]) if len(best) > 1 else int(best[0])
        return int(idx[k]), round(float(total[k]), 4)

    def score_on(self, pod: PodRequest, state: ClusterState, i: int) -> float | None:
        """The score `pod` gets on host i now (scaled among every feasible host, as `best_host` scores), or
        None when host i cannot take it."""
        ok = self.feasible(pod, state)
        if not ok[i]:
            return None
        idx = np.flatnonzero(ok)
        total, _ = self.score(pod, state, idx)
        return round(float(total[int(np.searchsorted(idx, i))]), 4)

    def explain(self, pod: PodRequest, state: ClusterState) -> list[Explanation]:
        outcome = self.run_filters(pod, state, explain=True)
        idx = np.flatnonzero(outcome.feasible)
        total, parts = self.score(pod, state, idx)
        position = {int(i): k for k, i in enumerate(idx)}
        out: list[Explanation] = []
        for i, node in enumerate(state.nodes):
            if i in position:
                k = position[i]
                scores = {name: round(float(s[k]), 2) for name, s in parts.items()}
                out.append(Explanation(node.name, True, scores=scores, total=round(float(total[k]), 2)))
            else:
                name, reason = outcome.failures[i]
                out.append(Explanation(node.name, False, failed_filter=name, reason=reason))
        return out
