"""Scorers: how good each feasible host is for a pod, 0 (worst) to 100 (best). `score` gets the indexes of
the feasible hosts and returns one score each, or None when the scorer has nothing to say about this pod
(it then adds nothing, for every host alike). `name` is the key of its weight in SchedulerConfig."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from orchestrator.scheduler.state import ClusterState
from orchestrator.scheduler.types import HOSTNAME_LABEL, PodRequest

Scores = np.ndarray | None


def _inverse_share(counts: np.ndarray) -> np.ndarray:
    """100 where the count is smallest-possible (0), 0 where it is the largest among the candidates."""
    top = counts.max() if len(counts) else 0
    return np.full(len(counts), 100.0) if top <= 0 else 100.0 * (top - counts) / top


class SelectorSpreadScorer:
    """Spread replicas of one owner over hosts (a third of the score) and over each topology key present
    (rack, zone: the other two thirds, shared), so that losing a host or a rack keeps the service up."""

    name = "selector_spread"

    def __init__(self, topology_keys: Sequence[str]):
        self.topology_keys = tuple(topology_keys)

    def score(self, pod: PodRequest, state: ClusterState, idx: np.ndarray) -> Scores:
        counts = state.owner_counts.get(pod.owner) if pod.owner else None
        if counts is None:
            return None
        host = _inverse_share(counts[idx].astype(float))
        keys = [k for k in self.topology_keys if state.column(k).anywhere]
        if not keys:
            return host
        total = host.copy()
        for key in keys:
            col = state.column(key)
            domain = _inverse_share(state.domain_counts(key, counts)[idx])
            total += 2.0 / len(keys) * (domain if col.everywhere else np.where(col.present[idx], domain, host))
        return total / 3.0


class LeastAllocatedScorer:
    name = "least_allocated"

    def score(self, pod: PodRequest, state: ClusterState, idx: np.ndarray) -> Scores:
        return state.allocation_scores(pod.requests.cpu, pod.requests.memory).least[idx]


class MostAllocatedScorer:
    name = "most_allocated"

    def score(self, pod: PodRequest, state: ClusterState, idx: np.ndarray) -> Scores:
        return state.allocation_scores(pod.requests.cpu, pod.requests.memory).most[idx]


class BalancedAllocationScorer:
    """Prefer hosts whose cpu and memory shares stay alike, so that neither is stranded."""

    name = "balanced_allocation"

    def score(self, pod: PodRequest, state: ClusterState, idx: np.ndarray) -> Scores:
        return state.allocation_scores(pod.requests.cpu, pod.requests.memory).balanced[idx]


class NodeAffinityScorer:
    """Preferred node affinity: the summed weight of the matching terms, scaled to the best candidate."""

    name = "node_affinity"

    def score(self, pod: PodRequest, state: ClusterState, idx: np.ndarray) -> Scores:
        if not pod.preferred_node_affinity:
            return None
        terms = pod.preferred_node_affinity

        def raw() -> np.ndarray:
            total = np.zeros(state.n)
            for pref in terms:
                total += pref.weight * state.term_mask(pref.term)
            return total

        values = state.cached(("preferred-node-affinity", terms), raw)[idx]
        top = values.max() if len(values) else 0.0
        return np.zeros(len(idx)) if top <= 0 else 100.0 * values / top


class PodAntiAffinityScorer:
    """Preferred anti-affinity: fewer matching pods (by weight) in the host's domain scores higher."""

    name = "pod_anti_affinity"

    def score(self, pod: PodRequest, state: ClusterState, idx: np.ndarray) -> Scores:
        if not pod.preferred_anti_affinity:
            return None
        penalty = np.zeros(len(idx))
        for weighted in pod.preferred_anti_affinity:
            term = weighted.term
            counts = state.domain_counts(term.topology_key, state.selector_counts(term.selector))
            penalty += weighted.weight * counts[idx]
        return _inverse_share(penalty)


class TopologySpreadScorer:
    """ScheduleAnyway spread constraints: fewer matching pods in the host's domain scores higher; hosts
    without the topology label score lowest."""

    name = "topology_spread"

    def score(self, pod: PodRequest, state: ClusterState, idx: np.ndarray) -> Scores:
        soft = [c for c in pod.topology_spread if c.when_unsatisfiable == "ScheduleAnyway"]
        if not soft:
            return None
        penalty = np.zeros(len(idx))
        missing = np.zeros(len(idx), dtype=bool)
        for c in soft:
            counts = state.selector_counts(c.selector)
            penalty += state.domain_counts(c.topology_key, counts)[idx] / max(c.max_skew, 1)
            if c.topology_key != HOSTNAME_LABEL:
                missing |= ~state.column(c.topology_key).present[idx]
        scores = _inverse_share(penalty)
        scores[missing] = 0.0
        return scores


class ImageLocalityScorer:
    name = "image_locality"

    def score(self, pod: PodRequest, state: ClusterState, idx: np.ndarray) -> Scores:
        if not pod.image:
            return None
        image = pod.image
        return state.cached(("image-locality", image), lambda: 100.0 * state.image_mask(image))[idx]


class TaintTolerationScorer:
    """PreferNoSchedule taints: a host with fewer of them that the pod does not tolerate scores higher (as
    Kubernetes' TaintToleration score); None when no candidate has any."""

    name = "taint_toleration"

    def score(self, pod: PodRequest, state: ClusterState, idx: np.ndarray) -> Scores:
        def untolerated(taints: tuple) -> int:  # type: ignore[type-arg]
            return sum(1 for t in taints if t.effect == "PreferNoSchedule"
                       and not any(tol.tolerates(t) for tol in pod.tolerations))

        per_set = state.cached(("prefer-no-schedule", pod.tolerations), lambda: np.array(
            [untolerated(ts) for ts in state.taint_sets], dtype=float))
        if not per_set.any():
            return None
        counts = per_set[state.taint_codes[idx]] if len(per_set) else np.zeros(len(idx))
        if not counts.any():
            return None
        return _inverse_share(counts)
