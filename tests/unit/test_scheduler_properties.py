"""Property tests over random clusters and batches: nothing over-committed, every hard constraint held
(checked here independently of the scheduler's own filters), each placement feasible at its turn, and the
same input and seed always giving the same placements."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.scheduler import (
    NodeInfo,
    PlacedPod,
    PodAffinityTerm,
    PodRequest,
    PodSelector,
    Resources,
    SchedulerConfig,
    ScheduleResult,
    Taint,
    Toleration,
    TopologySpreadConstraint,
    schedule,
)
from orchestrator.scheduler.framework import Pipeline
from orchestrator.scheduler.state import ClusterState

PORTS = [(80, "TCP"), (80, "UDP"), (443, "TCP")]
APPS = ["web", "db"]


@st.composite
def placed_pods(draw: st.DrawFn, host: str) -> tuple[PlacedPod, ...]:
    n = draw(st.integers(0, 2))
    return tuple(
        PlacedPod(
            f"{host}-old{i}",
            owner=draw(st.sampled_from([None, "rc/web"])),
            labels={"app": draw(st.sampled_from(APPS))},
            requests=Resources(draw(st.integers(0, 1000)), draw(st.integers(0, 1000))),
            host_ports=frozenset(draw(st.sets(st.sampled_from(PORTS), max_size=1))),
        )
        for i in range(n)
    )


@st.composite
def nodes(draw: st.DrawFn) -> list[NodeInfo]:
    out = []
    for i in range(draw(st.integers(1, 7))):
        name = f"h{i}"
        labels = {"rack": f"r{draw(st.integers(0, 2))}"}
        if draw(st.booleans()):
            labels["disk"] = draw(st.sampled_from(["ssd", "hdd"]))
        gpus = draw(st.integers(0, 3))
        out.append(
            NodeInfo(
                name,
                labels,
                allocatable=Resources(
                    draw(st.integers(1000, 4000)),
                    draw(st.integers(1000, 4000)),
                    draw(st.integers(0, 2000)),
                    gpus,
                ),
                gpu_devices=tuple(f"{name}-gpu{g}" for g in range(gpus)),
                taints=(Taint("dedicated", "ml"),) if draw(st.integers(0, 4)) == 0 else (),
                ready=draw(st.integers(0, 6)) > 0,
                cordoned=draw(st.integers(0, 6)) == 0,
                images=frozenset(draw(st.sets(st.sampled_from(["nginx", "redis"]), max_size=1))),
                pods=draw(placed_pods(name)),
            )
        )
    return out


@st.composite
def pods(draw: st.DrawFn) -> list[PodRequest]:
    out = []
    for i in range(draw(st.integers(1, 14))):
        app = draw(st.sampled_from(APPS))
        sel = PodSelector.of(app=app)
        out.append(
            PodRequest(
                f"p{i}",
                owner=draw(st.sampled_from([None, f"rc/{app}"])),
                labels={"app": app},
                requests=Resources(
                    draw(st.integers(0, 1500)),
                    draw(st.integers(0, 1500)),
                    draw(st.integers(0, 800)),
                    draw(st.integers(0, 2)) if draw(st.integers(0, 3)) == 0 else 0,
                ),
                host_ports=frozenset(draw(st.sets(st.sampled_from(PORTS), max_size=2))),
                node_name=f"h{draw(st.integers(0, 7))}" if draw(st.integers(0, 5)) == 0 else None,
                node_selector={"disk": "ssd"} if draw(st.integers(0, 4)) == 0 else {},
                required_anti_affinity=(
                    (PodAffinityTerm(sel, draw(st.sampled_from(["rack", "kubernetes.io/hostname"]))),)
                    if draw(st.integers(0, 3)) == 0
                    else ()
                ),
                topology_spread=(
                    (TopologySpreadConstraint(1, "rack", "DoNotSchedule", sel),)
                    if draw(st.integers(0, 4)) == 0
                    else ()
                ),
                tolerations=(Toleration("dedicated", "Exists"),) if draw(st.booleans()) else (),
                image=draw(st.sampled_from([None, "nginx"])),
            )
        )
    return out


def check_invariants(result: ScheduleResult, cluster: list[NodeInfo]) -> None:
    by_name = {n.name: n for n in cluster}
    placed: dict[str, list[PlacedPod]] = {n.name: list(n.pods) for n in cluster}
    for p in result.placements:
        host = by_name[p.node]
        assert host.ready and not host.cordoned
        assert p.pod.node_name in (None, host.name)
        assert all(host.labels.get(k) == v for k, v in p.pod.node_selector.items())
        assert not host.taints or p.pod.tolerations
        assert len(p.gpu_devices) == p.pod.requests.gpus
        placed[p.node].append(p.pod.placed(p.gpu_devices))
    for name, on_host in placed.items():
        host = by_name[name]
        total = sum((q.requests for q in on_host), Resources())
        start = sum((q.requests for q in host.pods), Resources())
        for used, before, cap in zip(
            total.as_tuple(), start.as_tuple(), host.allocatable.as_tuple(), strict=True
        ):
            assert used <= max(cap, before), f"{name} over-committed"
        devices = [d for q in on_host for d in q.gpu_devices]
        assert len(devices) == len(set(devices)) and set(devices) <= set(host.gpu_devices)
        ports = Counter(port for q in on_host for port in q.host_ports)
        new_ports = Counter(port for q in on_host[len(host.pods) :] for port in q.host_ports)
        assert all(ports[port] == 1 for port in new_ports), f"{name} host port used twice"
    for p in result.placements:
        for term in p.pod.required_anti_affinity:
            domain = by_name[p.node].all_labels()[term.topology_key]
            others = [
                q
                for h, qs in placed.items()
                if by_name[h].all_labels().get(term.topology_key) == domain
                for q in qs
                if q.name != p.pod.name
            ]
            assert not any(term.selector.compile().matches(q.labels) for q in others)


@settings(max_examples=120, deadline=None)
@given(cluster=nodes(), batch=pods(), seed=st.integers(0, 3), binpack=st.booleans())
def test_no_overcommit_and_hard_constraints_hold(
    cluster: list[NodeInfo], batch: list[PodRequest], seed: int, binpack: bool
) -> None:
    config = SchedulerConfig(strategy="binpack" if binpack else "spread")
    result = schedule(batch, cluster, config, seed=seed)
    assert len(result.placements) + len(result.unschedulable) == len(batch)
    check_invariants(result, cluster)


@settings(max_examples=60, deadline=None)
@given(cluster=nodes(), batch=pods(), seed=st.integers(0, 3))
def test_each_placement_passes_every_filter_given_the_state_before_it(
    cluster: list[NodeInfo], batch: list[PodRequest], seed: int
) -> None:
    result = schedule(batch, cluster, seed=seed)
    state = ClusterState(cluster)
    pipeline = Pipeline.build(SchedulerConfig())
    for p in result.placements:
        i = state.index[p.node]
        outcome = pipeline.run_filters(p.pod, state, explain=True)
        assert outcome.feasible[i], f"{p.pod.name} on {p.node}: {outcome.failures.get(i)}"
        # a pod moved by the repair may hold other free devices than the first ones: any free ones will do
        assert set(p.gpu_devices) <= set(state.free_devices[i]) and len(p.gpu_devices) == p.pod.requests.gpus
        state.add(i, p.pod.placed(p.gpu_devices))


@settings(max_examples=40, deadline=None)
@given(cluster=nodes(), batch=pods(), seed=st.integers(0, 100))
def test_same_input_and_seed_give_the_same_placements(
    cluster: list[NodeInfo], batch: list[PodRequest], seed: int
) -> None:
    def run() -> list[tuple[str, str, tuple[str, ...]]]:
        result = schedule(batch, cluster, seed=seed)
        return [(p.pod.name, p.node, p.gpu_devices) for p in result.placements] + [
            (u.pod.name, u.message, ()) for u in result.unschedulable
        ]

    assert run() == run()
