"""The scheduler's fast paths (allocation scores kept per ask and updated only on the hosts placed on,
placed pods' anti-affinity terms matched once per label set, domain sums without masks where every host
has the label, whole-array scoring) make exactly the placements of the straightforward reference, the
scheduler as it was before them (tests/unit/scheduler_reference, verbatim but for import paths): the same
host, score, GPU devices and order for every pod, and the same reasons for every pod left unplaced.
The reference has no second pass (reordered rounds, repair): it is compared with the greedy pass alone
(rounds=0, repair_budget=0), and with the whole scheduler wherever the greedy pass leaves nothing out,
where the whole scheduler must be the greedy pass exactly."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.scheduler import (
    NodeInfo,
    PlacedPod,
    PodAffinityTerm,
    PodRequest,
    PodSelector,
    PreferredSchedulingTerm,
    Resources,
    SchedulerConfig,
    ScheduleResult,
    Taint,
    Toleration,
    TopologySpreadConstraint,
    WeightedPodAffinityTerm,
    schedule,
)
from orchestrator.scheduler.types import NodeSelectorRequirement
from tests.unit.scheduler_reference.scheduler import schedule as reference_schedule

APPS = ["web", "db", "cache"]
KEYS = ["rack", "topology.kubernetes.io/zone", "kubernetes.io/hostname", "disk"]
CPU = [0, 250, 500, 1000]  # few distinct asks, as in a real batch: the per-ask caches are reused
MEM = [0, 256, 512, 1024]


@st.composite
def cluster(draw: st.DrawFn) -> list[NodeInfo]:
    zones = draw(st.booleans())  # every host has a zone (the unmasked domain sums), or only some
    out = []
    for i in range(draw(st.integers(1, 12))):
        name = f"h{i}"
        labels = {"rack": f"r{i % draw(st.integers(1, 4))}"}
        if zones or draw(st.booleans()):
            labels["topology.kubernetes.io/zone"] = f"z{draw(st.integers(0, 2))}"
        if draw(st.booleans()):
            labels["disk"] = draw(st.sampled_from(["ssd", "hdd"]))
        gpus = draw(st.integers(0, 2))
        running = tuple(
            PlacedPod(
                f"{name}-old{k}",
                owner=draw(st.sampled_from([None, "rc/web", "rc/db"])),
                labels={"app": draw(st.sampled_from(APPS))},
                requests=Resources(draw(st.sampled_from(CPU)), draw(st.sampled_from(MEM))),
                anti_affinity=(PodAffinityTerm(PodSelector.of(app="db")),) if draw(st.integers(0, 3)) == 0 else (),
            )
            for k in range(draw(st.integers(0, 2)))
        )
        out.append(
            NodeInfo(
                name,
                labels,
                allocatable=Resources(
                    draw(st.sampled_from([0, 1000, 2000, 4000])),  # 0: a host with none of a resource
                    draw(st.sampled_from([0, 2000, 4000])),
                    0,
                    gpus,
                ),
                gpu_devices=tuple(f"{name}-gpu{g}" for g in range(gpus)),
                taints=draw(st.sampled_from([(), (), (Taint("dedicated", "ml"),),
                                             (Taint("soft", "x", "PreferNoSchedule"),)])),
                ready=draw(st.integers(0, 8)) > 0,
                cordoned=draw(st.integers(0, 8)) == 0,
                images=frozenset(draw(st.sets(st.sampled_from(["nginx", "redis"]), max_size=1))),
                pods=running,
            )
        )
    return out


@st.composite
def batch(draw: st.DrawFn) -> list[PodRequest]:
    out = []
    for i in range(draw(st.integers(1, 40))):
        app = draw(st.sampled_from(APPS))
        sel = PodSelector.of(app=app)
        key = draw(st.sampled_from(KEYS))
        out.append(
            PodRequest(
                f"p{i}",
                owner=draw(st.sampled_from([None, f"rc/{app}"])),
                labels={"app": app, "tier": draw(st.sampled_from(["fe", "be"]))},
                requests=Resources(
                    draw(st.sampled_from(CPU)),
                    draw(st.sampled_from(MEM)),
                    0,
                    1 if draw(st.integers(0, 5)) == 0 else 0,
                ),
                host_ports=frozenset({(80, "TCP")}) if draw(st.integers(0, 5)) == 0 else frozenset(),
                node_name=f"h{draw(st.integers(0, 12))}" if draw(st.integers(0, 8)) == 0 else None,
                node_selector={"disk": "ssd"} if draw(st.integers(0, 6)) == 0 else {},
                preferred_node_affinity=(
                    (PreferredSchedulingTerm(5, (NodeSelectorRequirement("disk", "In", ("ssd",)),)),)
                    if draw(st.integers(0, 4)) == 0 else ()
                ),
                required_anti_affinity=(PodAffinityTerm(sel, key),) if draw(st.integers(0, 3)) == 0 else (),
                preferred_anti_affinity=(
                    (WeightedPodAffinityTerm(10, PodAffinityTerm(sel, key)),) if draw(st.integers(0, 3)) == 0 else ()
                ),
                topology_spread=tuple(
                    TopologySpreadConstraint(draw(st.integers(1, 2)), draw(st.sampled_from(KEYS[:3])),
                                             draw(st.sampled_from(["DoNotSchedule", "ScheduleAnyway"])), sel)
                    for _ in range(draw(st.integers(0, 2)))
                ),
                tolerations=(Toleration("dedicated", "Exists"),) if draw(st.booleans()) else (),
                image=draw(st.sampled_from([None, "nginx", "redis"])),
            )
        )
    return out


def outcome(result: ScheduleResult) -> tuple[object, object]:
    return (
        [(p.pod.name, p.node, p.score, p.gpu_devices) for p in result.placements],
        [(u.pod.name, u.message) for u in result.unschedulable],
    )


@settings(max_examples=300, deadline=None)
@given(nodes=cluster(), pods=batch(), seed=st.integers(0, 5), binpack=st.booleans())
def test_the_fast_path_places_every_pod_where_the_reference_does(
    nodes: list[NodeInfo], pods: list[PodRequest], seed: int, binpack: bool
) -> None:
    config = SchedulerConfig(strategy="binpack" if binpack else "spread")
    reference = reference_schedule(pods, nodes, config, seed=seed)
    greedy = schedule(pods, nodes, config, seed=seed, rounds=0, repair_budget=0)
    assert outcome(greedy) == outcome(reference)
    whole = schedule(pods, nodes, config, seed=seed)
    if not reference.unschedulable:
        assert outcome(whole) == outcome(reference)
    else:
        assert len(whole.placements) >= len(reference.placements)


def test_the_reference_is_not_the_code_under_test() -> None:
    """Else the property above would compare the scheduler with itself."""
    import orchestrator.scheduler.state as fast_state
    import tests.unit.scheduler_reference.state as reference_state

    assert fast_state.ClusterState is not reference_state.ClusterState
    assert not hasattr(reference_state.ClusterState, "allocation_scores")
