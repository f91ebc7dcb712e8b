"""Filters: which hosts can take a pod at all. Each works on all hosts at once and returns, per reason,
the hosts it rejects for that reason. A `static` filter depends only on the pod's spec and the hosts'
fixed facts, so its answer is cached per distinct spec for the whole run."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from orchestrator.scheduler.types import RESOURCE_NAMES, PodRequest
from tests.unit.scheduler_reference.state import ClusterState

Rejections = list[tuple[str, np.ndarray]]  # (reason, bool mask of the hosts rejected for it)


class NodeReadyFilter:
    name = "NodeReady"
    static: ClassVar[bool] = True

    def reject(self, pod: PodRequest, state: ClusterState) -> Rejections:
        return [("host not ready", ~state.ready), ("host cordoned", state.ready & state.cordoned)]


class NodeNameFilter:
    name = "NodeName"
    static: ClassVar[bool] = True

    def reject(self, pod: PodRequest, state: ClusterState) -> Rejections:
        if pod.node_name is None:
            return []
        mask = np.ones(state.n, dtype=bool)
        i = state.index.get(pod.node_name)
        if i is not None:
            mask[i] = False
        return [(f"pinned to host {pod.node_name}", mask)]


class TaintTolerationFilter:
    """NoSchedule and NoExecute taints must be tolerated; PreferNoSchedule only lowers nothing here."""

    name = "TaintToleration"
    static: ClassVar[bool] = True

    def reject(self, pod: PodRequest, state: ClusterState) -> Rejections:
        out: Rejections = []
        for code, taints in enumerate(state.taint_sets):
            for taint in taints:
                if taint.effect == "PreferNoSchedule":
                    continue
                if not any(t.tolerates(taint) for t in pod.tolerations):
                    label = f"{taint.key}={taint.value}" if taint.value else taint.key
                    out.append((f"untolerated taint {label}", state.taint_codes == code))
                    break
        return out


class NodeSelectorFilter:
    """nodeSelector (every label equal) and required node affinity (ORed terms of ANDed expressions)."""

    name = "NodeSelector"
    static: ClassVar[bool] = True

    def reject(self, pod: PodRequest, state: ClusterState) -> Rejections:
        out: Rejections = []
        if pod.node_selector:
            ok = np.ones(state.n, dtype=bool)
            for key, value in pod.node_selector.items():
                ok &= state.column(key).equals(value)
            out.append(("node selector mismatch", ~ok))
        if pod.required_node_affinity:
            ok = np.zeros(state.n, dtype=bool)
            for term in pod.required_node_affinity:
                ok |= state.term_mask(term)
            out.append(("node affinity mismatch", ~ok))
        return out


class ResourcesFitFilter:
    name = "ResourcesFit"
    static: ClassVar[bool] = False

    def reject(self, pod: PodRequest, state: ClusterState) -> Rejections:
        return [
            (f"insufficient {RESOURCE_NAMES[r]}", state.free[:, r] < amount)
            for r, amount in enumerate(pod.requests.as_tuple())
            if amount > 0
        ]


class HostPortsFilter:
    name = "HostPorts"
    static: ClassVar[bool] = False

    def reject(self, pod: PodRequest, state: ClusterState) -> Rejections:
        out: Rejections = []
        for port, protocol in sorted(pod.host_ports):
            used = state.ports.get((port, protocol))
            if used is not None:
                out.append((f"host port {port}/{protocol} in use", used))
        return out


class PodAntiAffinityFilter:
    """Required anti-affinity: the pod's own terms, and the terms of pods already placed (symmetric)."""

    name = "PodAntiAffinity"
    static: ClassVar[bool] = False

    def reject(self, pod: PodRequest, state: ClusterState) -> Rejections:
        out: Rejections = []
        own = np.zeros(state.n, dtype=bool)
        for term in pod.required_anti_affinity:
            counts = state.domain_counts(term.topology_key, state.selector_counts(term.selector))
            out.append((f"pod anti-affinity ({term.topology_key})", counts > 0))
            own |= counts > 0
        for term, placed in state.anti_affinity_counts.items():
            if state.compiled(term.selector).matches(pod.labels):
                counts = state.domain_counts(term.topology_key, placed)
                out.append((f"existing pods' anti-affinity ({term.topology_key})", (counts > 0) & ~own))
        return out


class TopologySpreadFilter:
    """DoNotSchedule constraints: placing here must keep (domain count - the smallest domain count) within
    maxSkew, domains being those of the hosts the pod's node selector and affinity allow."""

    name = "TopologySpread"
    static: ClassVar[bool] = False

    def reject(self, pod: PodRequest, state: ClusterState) -> Rejections:
        out: Rejections = []
        hard = [c for c in pod.topology_spread if c.when_unsatisfiable == "DoNotSchedule"]
        if not hard:
            return out
        eligible = allowed_by_node_selector(pod, state)
        for c in hard:
            col = state.column(c.topology_key)
            out.append((f"missing topology label {c.topology_key}", ~col.present))
            domains = eligible & col.present
            if not domains.any():
                continue
            counts = state.domain_counts(c.topology_key, state.selector_counts(c.selector), domains)
            smallest = counts[domains].min()
            self_match = 1 if state.compiled(c.selector).matches(pod.labels) else 0
            out.append(
                (
                    f"topology spread ({c.topology_key})",
                    col.present & (counts + self_match - smallest > c.max_skew),
                )
            )
        return out


def allowed_by_node_selector(pod: PodRequest, state: ClusterState) -> np.ndarray:
    """Hosts the pod's nodeSelector and required node affinity allow (cached per distinct spec)."""
    key = ("node-selector", tuple(sorted(pod.node_selector.items())), pod.required_node_affinity)
    return state.cached(key, lambda: ~_union(NodeSelectorFilter().reject(pod, state), state.n))


def _union(rejections: Rejections, n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for _, rejected in rejections:
        mask |= rejected
    return mask
