"""Each scorer on its own: the 0-100 score it gives every candidate host."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator.scheduler import (
    NodeInfo,
    NodeSelectorRequirement,
    PlacedPod,
    PodAffinityTerm,
    PodRequest,
    PodSelector,
    PreferredSchedulingTerm,
    Resources,
    TopologySpreadConstraint,
    WeightedPodAffinityTerm,
)
from orchestrator.scheduler.scorers import (
    BalancedAllocationScorer,
    ImageLocalityScorer,
    LeastAllocatedScorer,
    MostAllocatedScorer,
    NodeAffinityScorer,
    PodAntiAffinityScorer,
    SelectorSpreadScorer,
    TopologySpreadScorer,
)
from orchestrator.scheduler.state import ClusterState

G = 2**30
HOST = Resources(4000, 4 * G)
web = PodSelector.of(app="web")


def node(name: str, **kw: object) -> NodeInfo:
    kw.setdefault("allocatable", HOST)
    return NodeInfo(name, **kw)  # type: ignore[arg-type]


def running(cpu: int, mem: int, owner: str | None = None, **labels: str) -> PlacedPod:
    return PlacedPod(f"x{cpu}-{mem}-{owner}", owner, labels, Resources(cpu, mem))


def scores(scorer: object, pod: PodRequest, nodes: list[NodeInfo]) -> list[float] | None:
    state = ClusterState(nodes)
    out = scorer.score(pod, state, np.arange(len(nodes)))  # type: ignore[attr-defined]
    return None if out is None else [round(float(x), 1) for x in out]


REPLICA = PodRequest("w", "rc/web", {"app": "web"}, Resources(1000, G))

CASES = [
    pytest.param(
        LeastAllocatedScorer(),
        PodRequest("p", requests=Resources(1000, G)),
        [node("a"), node("b", pods=(running(2000, 2 * G),))],
        [75.0, 25.0],
        id="least-allocated-prefers-empty",
    ),
    pytest.param(
        MostAllocatedScorer(),
        PodRequest("p", requests=Resources(1000, G)),
        [node("a"), node("b", pods=(running(2000, 2 * G),))],
        [25.0, 75.0],
        id="most-allocated-prefers-full",
    ),
    pytest.param(
        BalancedAllocationScorer(),
        PodRequest("p", requests=Resources(1000, G)),
        [node("a"), node("b", pods=(running(2000, 0),))],
        [100.0, 75.0],
        id="balanced-allocation",
    ),
    pytest.param(
        SelectorSpreadScorer(["rack"]),
        REPLICA,
        [
            node("a", labels={"rack": "r1"}, pods=(running(1, 1, "rc/web"),)),
            node("b", labels={"rack": "r1"}),
            node("c", labels={"rack": "r2"}),
        ],
        [0.0, 33.3, 100.0],
        id="selector-spread-host-and-rack",
    ),
    pytest.param(
        SelectorSpreadScorer(["rack"]),
        REPLICA,
        [node("a", pods=(running(1, 1, "rc/web"),)), node("b"), node("c", pods=(running(1, 1, "rc/db"),))],
        [0.0, 100.0, 100.0],
        id="selector-spread-hosts-only-without-rack-labels",
    ),
    pytest.param(
        SelectorSpreadScorer(["rack"]), REPLICA, [node("a")], None, id="selector-spread-first-replica"
    ),
    pytest.param(
        NodeAffinityScorer(),
        PodRequest(
            "p",
            preferred_node_affinity=(
                PreferredSchedulingTerm(10, (NodeSelectorRequirement("disk", "In", ("ssd",)),)),
                PreferredSchedulingTerm(30, (NodeSelectorRequirement("zone", "In", ("z1",)),)),
            ),
        ),
        [node("a", labels={"disk": "ssd", "zone": "z1"}), node("b", labels={"zone": "z1"}), node("c")],
        [100.0, 75.0, 0.0],
        id="node-affinity-weights",
    ),
    pytest.param(
        PodAntiAffinityScorer(),
        PodRequest("p", preferred_anti_affinity=(WeightedPodAffinityTerm(50, PodAffinityTerm(web)),)),
        [
            node("a", pods=(running(1, 1, app="web"), running(2, 2, app="web"))),
            node("b", pods=(running(1, 1, app="web"),)),
            node("c"),
        ],
        [0.0, 50.0, 100.0],
        id="preferred-anti-affinity",
    ),
    pytest.param(
        TopologySpreadScorer(),
        PodRequest("p", topology_spread=(TopologySpreadConstraint(1, "zone", "ScheduleAnyway", web),)),
        [
            node("a", labels={"zone": "z1"}, pods=(running(1, 1, app="web"),)),
            node("b", labels={"zone": "z1"}),
            node("c", labels={"zone": "z2"}),
            node("d"),
        ],
        [0.0, 0.0, 100.0, 0.0],
        id="topology-spread-soft",
    ),
    pytest.param(
        ImageLocalityScorer(),
        PodRequest("p", image="nginx:1.27"),
        [node("a", images=frozenset({"nginx:1.27"})), node("b", images=frozenset({"nginx:1.25"}))],
        [100.0, 0.0],
        id="image-locality",
    ),
    pytest.param(ImageLocalityScorer(), PodRequest("p"), [node("a")], None, id="image-locality-no-image"),
]


@pytest.mark.parametrize(("scorer", "pod", "nodes", "expected"), CASES)
def test_scorer(scorer: object, pod: PodRequest, nodes: list[NodeInfo], expected: list[float] | None) -> None:
    assert scores(scorer, pod, nodes) == expected
