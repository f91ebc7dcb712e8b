"""The second pass: reordered greedy rounds and the repair that moves pods of the batch to make room
(scheduler/repair.py), and ClusterState.remove / add, which undo a placement exactly."""

from __future__ import annotations

import numpy as np
import pytest
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
from orchestrator.scheduler.repair import TRIALS_PER_POD, Repair
from orchestrator.scheduler.state import ClusterState
from tests.unit.test_scheduler_properties import check_invariants, nodes, pods

G = 2**30
TAINT = Taint("dedicated", "x")


def fragmented() -> tuple[list[NodeInfo], list[PodRequest]]:
    """Two 4-core hosts and a tainted tiny one. a and b (2 cores each, two hosts they may use) are placed
    before c (3 cores, three hosts: it tolerates the taint); spread puts a and b on different hosts, which
    leaves no host with 3 cores free. Moving one of them next to the other makes room for c."""
    hosts = [NodeInfo("h0", allocatable=Resources(4000, 4 * G)), NodeInfo("h1", allocatable=Resources(4000, 4 * G)),
             NodeInfo("h2", allocatable=Resources(100, 4 * G), taints=(TAINT,))]
    batch = [PodRequest("a", "rc/ab", {"app": "ab"}, Resources(2000, G // 2)),
             PodRequest("b", "rc/ab", {"app": "ab"}, Resources(2000, G // 2)),
             PodRequest("c", None, {"app": "c"}, Resources(3000, G // 2), tolerations=(Toleration("dedicated", "Exists"),))]
    return hosts, batch


def replay(result: ScheduleResult, hosts: list[NodeInfo], config: SchedulerConfig | None = None) -> None:
    """Every placement, in the result's order, passes every filter against the placements before it in a
    fresh state, holds free GPU devices, and (where it was not placed before a pod later moved) has the
    score it reports."""
    state = ClusterState(hosts)
    pipeline = Pipeline.build(config or SchedulerConfig())
    for p in result.placements:
        i = state.index[p.node]
        outcome = pipeline.run_filters(p.pod, state, explain=True)
        assert outcome.feasible[i], f"{p.pod.name} on {p.node}: {outcome.failures.get(i)}"
        assert set(p.gpu_devices) <= set(state.free_devices[i]) and len(p.gpu_devices) == p.pod.requests.gpus
        state.add(i, p.pod.placed(p.gpu_devices))


def test_repair_places_a_pod_the_greedy_pass_leaves_out_by_moving_one() -> None:
    hosts, batch = fragmented()
    for seed in range(4):
        greedy = schedule(batch, hosts, seed=seed, rounds=0, repair_budget=0)
        assert [u.pod.name for u in greedy.unschedulable] == ["c"]
        repaired = schedule(batch, hosts, seed=seed, rounds=0)
        assert not repaired.unschedulable
        where = {p.pod.name: p.node for p in repaired.placements}
        assert where["a"] == where["b"] != where["c"]
        moved = [p.pod.name for p in repaired.placements][-1]  # the moved pod comes after c
        assert [p.pod.name for p in repaired.placements][-2:] == ["c", moved]
        replay(repaired, hosts)


def test_a_moved_pod_reports_its_score_where_it_ends_up() -> None:
    hosts, batch = fragmented()
    result = schedule(batch, hosts, rounds=0)
    state = ClusterState(hosts)
    pipeline = Pipeline.build(SchedulerConfig())
    for p in result.placements:  # here no placement precedes a pod moved later: replay is the real history
        i = state.index[p.node]
        assert pipeline.score_on(p.pod, state, i) == p.score
        state.add(i, p.pod.placed(p.gpu_devices))


def test_explanations_of_repaired_pods_are_those_of_the_state_they_were_placed_in() -> None:
    hosts, batch = fragmented()
    result = schedule(batch, hosts, rounds=0, explain=True)
    node_of_c = result.node_of("c")
    [row] = [e for e in result.explanations["c"] if e.host == node_of_c]
    assert row.passed  # greedy's own explanation for c had every host failing


def test_the_reordered_rounds_place_a_pod_left_out_when_it_goes_first() -> None:
    hosts, batch = fragmented()
    result = schedule(batch, hosts, repair_budget=0)  # rounds alone: c first, then a and b together
    assert not result.unschedulable
    assert [p.pod.name for p in result.placements][0] == "c"
    replay(result, hosts)


def test_rounds_are_skipped_on_large_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    import orchestrator.scheduler.scheduler as scheduler

    monkeypatch.setattr(scheduler, "ROUND_WORK", 5)  # 3 pods x 3 hosts is more
    hosts, batch = fragmented()
    result = schedule(batch, hosts, repair_budget=0)
    assert [u.pod.name for u in result.unschedulable] == ["c"]


def state_of(state: ClusterState) -> dict[str, object]:
    """Everything placements change, as plain values (the per-label-set host lists, whose order means
    nothing, as sorted lists; anti-affinity terms with no pod left as absent, as every filter reads them)."""
    return {
        "free": state.free.tolist(),
        "devices": [list(d) for d in state.free_devices],
        "ports": {k: v.tolist() for k, v in state.ports.items()},
        "owners": {k: v.tolist() for k, v in state.owner_counts.items()},
        "anti": {repr(k): v.tolist() for k, v in state.anti_affinity_counts.items() if v.any()},
        "selectors": {repr(k): v.tolist() for k, v in state._selector_counts.items()},
        "by_labels": {k: sorted(v) for k, v in state._hosts_by_labels.items()},
        "pods_on": [list(p) for p in state.pods_on],
        "shares": state._used_share.tolist(),
        "least": state.allocation_scores(500, G).least.tolist(),
    }


def gpu_cluster() -> list[NodeInfo]:
    return [NodeInfo(f"h{i}", {"rack": f"r{i % 2}"}, allocatable=Resources(2000, 4 * G, 0, 2),
                     gpu_devices=(f"g{i}a", f"g{i}b"),
                     pods=(PlacedPod(f"old{i}", "rc/web", {"app": "web"}, Resources(500, G),
                                     frozenset({(80, "TCP")})),)) for i in range(2)]


def busy_pod(name: str, **kw: object) -> PodRequest:
    return PodRequest(name, "rc/db", {"app": "db"}, Resources(1500, G, 0, 1), frozenset({(5432, "TCP")}),
                      required_anti_affinity=(PodAffinityTerm(PodSelector.of(app="db")),), **kw)  # type: ignore[arg-type]


def test_remove_then_add_restores_the_state_exactly() -> None:
    state = ClusterState(gpu_cluster())
    state.selector_counts(PodSelector.of(app="db"))  # a selector known before the placements...
    state.place(0, busy_pod("db-0"))
    state.place(1, busy_pod("db-1"))
    state.selector_counts(PodSelector.of(app="web"))  # ...and one after
    before = state_of(state)
    placed, at = state.remove(0, "db-0")
    assert placed.gpu_devices == ("g0a",) and state.free_devices[0] == ["g0a", "g0b"]
    assert (5432, "TCP") in state.ports and not state.ports[(5432, "TCP")][0]
    state.add(0, placed, at)
    assert state_of(state) == before


def test_remove_leaves_the_state_a_fresh_one_would_have_without_the_pod() -> None:
    with_pod = ClusterState(gpu_cluster())
    with_pod.place(0, busy_pod("db-0"))
    with_pod.place(1, busy_pod("db-1"))
    with_pod.remove(0, "db-0")
    without = ClusterState(gpu_cluster())
    without.place(1, busy_pod("db-1"))
    assert state_of(with_pod) == state_of(without)
    pipeline = Pipeline.build(SchedulerConfig())
    probe = busy_pod("db-2")
    assert pipeline.feasible(probe, with_pod).tolist() == pipeline.feasible(probe, without).tolist() == [True, False]
    assert pipeline.score_on(probe, with_pod, 0) == pipeline.score_on(probe, without, 0)


def test_a_failed_move_is_rolled_back_exactly() -> None:
    """u fits on h0 once db-0 leaves, but db-0 (anti-affinity with db-1, and no room) fits nowhere else."""
    hosts = gpu_cluster()
    state = ClusterState(hosts)
    pipeline = Pipeline.build(SchedulerConfig())
    batch = [busy_pod("db-0"), busy_pod("db-1"), PodRequest("u", None, {"app": "u"}, Resources(1500, G, 0, 2))]
    where = {}
    for pod, i in zip(batch[:2], (0, 1), strict=True):
        from orchestrator.scheduler.types import Placement

        where[pod.name] = Placement(pod, hosts[i].name, 0.0, state.place(i, pod))
    state.selector_counts(PodSelector.of(app="u"))
    before = state_of(state)
    repair = Repair(state, pipeline, np.random.default_rng(0), {p.name: p for p in batch},
                    {p.name: k for k, p in enumerate(batch)}, dict(where))
    assert repair.run([batch[2]]) == [batch[2]]
    assert repair.trials >= 1 and repair.kept == 0
    assert state_of(state) == before
    assert repair.where == where


def test_running_pods_cannot_be_removed() -> None:
    state = ClusterState(gpu_cluster())
    with pytest.raises(ValueError, match="was not placed on host h0 in this run"):
        state.remove(0, "old0")


def test_running_and_pinned_pods_are_never_moved() -> None:
    """Only moving the running pod or the pinned one would make room for u: it stays left out."""
    hosts = [NodeInfo("h0", allocatable=Resources(2000, 4 * G)),
             NodeInfo("h1", allocatable=Resources(2000, 4 * G), pods=(PlacedPod("old", requests=Resources(1000, G)),))]
    batch = [PodRequest("pin", None, {}, Resources(1000, G), node_name="h0"),
             PodRequest("u", None, {}, Resources(2000, G))]
    result = schedule(batch, hosts)
    assert [(p.pod.name, p.node) for p in result.placements] == [("pin", "h0")]
    assert [u.pod.name for u in result.unschedulable] == ["u"]
    repair = Repair(ClusterState(hosts), Pipeline.build(SchedulerConfig()), np.random.default_rng(0),
                    {p.name: p for p in batch}, {p.name: k for k, p in enumerate(batch)}, {})
    assert not repair.movable(batch[0])  # not even tried (putting it back would need its own host)


def test_pods_matching_a_hard_spread_constraint_are_never_moved() -> None:
    """Moving s-1 would make room for u, but could leave s-0 over its maxSkew: it is not moved."""
    spread = (TopologySpreadConstraint(1, "rack", "DoNotSchedule", PodSelector.of(app="s")),)
    hosts = [NodeInfo(f"h{i}", {"rack": f"r{i}"}, allocatable=Resources(2000, 4 * G)) for i in range(2)]
    batch = [PodRequest(f"s-{k}", "rc/s", {"app": "s"}, Resources(1000, G), topology_spread=spread) for k in range(2)]
    batch.append(PodRequest("u", None, {}, Resources(2000, G)))
    state = ClusterState(hosts)
    repair = Repair(state, Pipeline.build(SchedulerConfig()), np.random.default_rng(0), {p.name: p for p in batch},
                    {p.name: k for k, p in enumerate(batch)}, {})
    assert not repair.movable(batch[0]) and repair.movable(batch[2])


def test_the_budget_bounds_the_trials() -> None:
    """Many hosts and many pods that no move can place: the trials stop at the budget, and at
    TRIALS_PER_POD for one pod."""
    hosts = [NodeInfo(f"h{i}", allocatable=Resources(2000, 4 * G)) for i in range(40)]
    fill = [PodRequest(f"f{i}-{k}", None, {}, Resources(500, G)) for i in range(40) for k in range(4)]
    big = [PodRequest(f"big-{k}", None, {"k": str(k)}, Resources(1000, G)) for k in range(30)]
    state = ClusterState(hosts)
    pipeline = Pipeline.build(SchedulerConfig())
    where = {}
    from orchestrator.scheduler.types import Placement

    for k, pod in enumerate(fill):
        where[pod.name] = Placement(pod, hosts[k // 4].name, 0.0, state.place(k // 4, pod))
    batch = {p.name: p for p in fill + big}
    rank = {name: k for k, name in enumerate(batch)}
    one = Repair(state, pipeline, np.random.default_rng(0), batch, rank, dict(where), budget=1000)
    assert one.run(big[:1]) == big[:1] and one.trials == TRIALS_PER_POD  # 6 pairs on each of 8 hosts
    capped = Repair(state, pipeline, np.random.default_rng(0), batch, rank, dict(where), budget=50)
    assert capped.run(big) == big and capped.trials == 50
    assert schedule(fill + big, hosts, rounds=0, repair_budget=0).unschedulable == \
        schedule(fill + big, hosts, rounds=0, repair_budget=7).unschedulable


def test_repair_is_deterministic() -> None:
    hosts, batch = fragmented()
    runs = {tuple((p.pod.name, p.node, p.score) for p in schedule(batch, hosts, seed=s, rounds=0).placements)
            for s in (3, 3, 3)}
    assert len(runs) == 1


@settings(max_examples=120, deadline=None)
@given(cluster=nodes(), batch=pods(), seed=st.integers(0, 3), binpack=st.booleans())
def test_the_second_pass_keeps_every_filter_and_places_at_least_as_many(
    cluster: list[NodeInfo], batch: list[PodRequest], seed: int, binpack: bool
) -> None:
    config = SchedulerConfig(strategy="binpack" if binpack else "spread")
    greedy = schedule(batch, cluster, config, seed=seed, rounds=0, repair_budget=0)
    for kw in ({"rounds": 0}, {}):  # the repair alone, then rounds and repair
        result = schedule(batch, cluster, config, seed=seed, **kw)  # type: ignore[arg-type]
        assert len(result.placements) >= len(greedy.placements)
        assert len(result.placements) + len(result.unschedulable) == len(batch)
        assert {p.pod.name for p in result.placements}.isdisjoint(u.pod.name for u in result.unschedulable)
        pinned = [p for p in result.placements if p.pod.node_name]
        assert all(p.node == p.pod.node_name for p in pinned)
        replay(result, cluster, config)
        check_invariants(result, cluster)
        assert schedule(batch, cluster, config, seed=seed, **kw) == result  # type: ignore[arg-type]
