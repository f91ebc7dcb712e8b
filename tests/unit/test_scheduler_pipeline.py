"""The whole pipeline: batch placement, ordering, GPUs, pinning, strategies, messages, config."""

from __future__ import annotations

from collections import Counter

import pytest

from orchestrator.errors import ConfigError
from orchestrator.scheduler import (
    NodeInfo,
    PlacedPod,
    PodAffinityTerm,
    PodRequest,
    PodSelector,
    Resources,
    SchedulerConfig,
    Taint,
    explain,
    schedule,
)

G = 2**30
HOST = Resources(4000, 8 * G, 0, 0)


def hosts(n: int, racks: int = 1, **kw: object) -> list[NodeInfo]:
    kw.setdefault("allocatable", HOST)
    return [NodeInfo(f"h{i}", {"rack": f"r{i % racks}"}, **kw) for i in range(n)]  # type: ignore[arg-type]


def replicas(n: int, owner: str = "web", cpu: int = 500, mem: int = G, **kw: object) -> list[PodRequest]:
    return [
        PodRequest(f"{owner}-{i}", f"rc/{owner}", {"app": owner}, Resources(cpu, mem), **kw) for i in range(n)
    ]  # type: ignore[arg-type]


def racks_of(result, nodes: list[NodeInfo]) -> list[str]:  # type: ignore[no-untyped-def]
    rack = {n.name: n.labels["rack"] for n in nodes}
    return sorted(rack[p.node] for p in result.placements)


def test_three_replicas_land_on_three_racks_even_when_one_rack_is_emptier() -> None:
    nodes = hosts(9, racks=3)
    busy = PlacedPod("load", requests=Resources(2500, 5 * G))
    nodes = [
        n if n.labels["rack"] == "r0" else NodeInfo(n.name, n.labels, allocatable=HOST, pods=(busy,))
        for n in nodes
    ]
    for seed in range(5):
        result = schedule(replicas(3), nodes, seed=seed)
        assert racks_of(result, nodes) == ["r0", "r1", "r2"]


def test_six_replicas_over_three_racks_two_each_on_distinct_hosts() -> None:
    nodes = hosts(6, racks=3)
    result = schedule(replicas(6), nodes)
    assert Counter(racks_of(result, nodes)) == {"r0": 2, "r1": 2, "r2": 2}
    assert len({p.node for p in result.placements}) == 6


def test_gpu_pods_land_only_on_free_gpus_with_distinct_devices() -> None:
    nodes = hosts(4)
    nodes[2] = NodeInfo("h2", {}, allocatable=Resources(4000, 8 * G, 0, 2), gpu_devices=("GPU-x", "GPU-y"))
    nodes[3] = NodeInfo(
        "h3",
        {},
        allocatable=Resources(4000, 8 * G, 0, 1),
        gpu_devices=("GPU-z",),
        pods=(PlacedPod("old", requests=Resources(gpus=1), gpu_devices=("GPU-z",)),),
    )
    pods = [PodRequest(f"train-{i}", "rc/train", {}, Resources(100, G, 0, 1)) for i in range(3)]
    result = schedule(pods, nodes)
    assert sorted((p.node, p.gpu_devices) for p in result.placements) == [
        ("h2", ("GPU-x",)),
        ("h2", ("GPU-y",)),
    ]
    [pending] = result.unschedulable
    assert pending.message == "0/4 hosts are available: 4 insufficient gpu."


def test_pinned_pod_goes_to_its_host_or_stays_pending_with_the_reason() -> None:
    nodes = hosts(3)
    ok = schedule([PodRequest("pin", requests=Resources(100, G), node_name="h1")], nodes)
    assert [(p.pod.name, p.node) for p in ok.placements] == [("pin", "h1")]
    too_big = schedule([PodRequest("pin", requests=Resources(100, 16 * G), node_name="h1")], nodes)
    assert not too_big.placements
    assert (
        too_big.unschedulable[0].message
        == "0/3 hosts are available: 2 pinned to host h1, 1 insufficient memory."
    )


def test_pinned_pods_are_placed_before_others_take_their_room() -> None:
    nodes = hosts(2)
    pods = [
        *replicas(2, "big", cpu=3000),
        PodRequest("a-pinned", requests=Resources(3000, G), node_name="h0"),
    ]
    result = schedule(pods, nodes)
    assert result.node_of("a-pinned") == "h0"
    assert len(result.placements) == 2 and len(result.unschedulable) == 1


def test_largest_first_lets_everything_fit() -> None:
    nodes = hosts(2)
    pods = [PodRequest(f"small-{i}", requests=Resources(1000, G)) for i in range(4)]
    pods.append(PodRequest("whole", requests=Resources(4000, G)))
    result = schedule(pods, nodes)
    assert not result.unschedulable
    assert len({p.node for p in result.placements if p.pod.name.startswith("small")}) == 1


def test_binpack_packs_and_spread_spreads() -> None:
    nodes = hosts(8)
    pods = [PodRequest(f"job-{i}", requests=Resources(1000, 2 * G)) for i in range(8)]
    packed = schedule(pods, nodes, SchedulerConfig.from_dict({"strategy": "binpack"}))
    spread = schedule(pods, nodes, SchedulerConfig.from_dict({"strategy": "spread"}))
    assert len({p.node for p in packed.placements}) == 2
    assert len({p.node for p in spread.placements}) == 8


def test_required_anti_affinity_within_the_batch() -> None:
    term = PodAffinityTerm(PodSelector.of(app="db"), "rack")
    pods = replicas(3, "db", required_anti_affinity=(term,))
    result = schedule(pods, hosts(4, racks=2))
    assert len(result.placements) == 2
    assert result.unschedulable[0].message == "0/4 hosts are available: 4 pod anti-affinity (rack)."


def test_unschedulable_message_counts_each_reason() -> None:
    nodes = [
        *hosts(3, allocatable=Resources(4000, G)),
        NodeInfo("ssd-small", {"disk": "ssd"}, allocatable=Resources(4000, G)),
        NodeInfo("tainted", {"disk": "ssd"}, allocatable=HOST, taints=(Taint("dedicated", "ml"),)),
    ]
    pod = PodRequest("p", requests=Resources(100, 2 * G), node_selector={"disk": "ssd"})
    [pending] = schedule([pod], nodes).unschedulable
    assert pending.reasons == {
        "node selector mismatch": 3,
        "insufficient memory": 1,
        "untolerated taint dedicated=ml": 1,
    }
    assert pending.message == (
        "0/5 hosts are available: 3 node selector mismatch, 1 insufficient memory, 1 untolerated taint dedicated=ml."
    )
    assert schedule([pod], []).unschedulable[0].message == "0/0 hosts are available: no hosts in the cluster."


def test_explain_gives_each_host_its_filter_or_its_scores() -> None:
    nodes = [*hosts(2), NodeInfo("down", ready=False, allocatable=HOST)]
    by_host = {e.host: e for e in explain(replicas(1)[0], nodes)}
    assert by_host["down"].passed is False
    assert (by_host["down"].failed_filter, by_host["down"].reason) == ("NodeReady", "host not ready")
    assert by_host["h0"].passed and set(by_host["h0"].scores) == {"least_allocated", "balanced_allocation"}
    assert by_host["h0"].total == pytest.approx(1 * by_host["h0"].scores["least_allocated"] + 100.0)


def test_schedule_keeps_explanations_as_of_each_pods_turn() -> None:
    result = schedule(replicas(2), hosts(2), explain=True)
    first, second = (result.explanations[p.pod.name] for p in result.placements)
    assert "selector_spread" not in first[0].scores
    taken = result.placements[0].node
    assert {e.host: e.scores["selector_spread"] for e in second}[taken] == 0.0


def test_seed_breaks_ties_reproducibly() -> None:
    pods = [PodRequest(f"p{i}", requests=Resources(10, 1)) for i in range(5)]
    nodes = hosts(50)
    runs = {seed: [p.node for p in schedule(pods, nodes, seed=seed).placements] for seed in range(4)}
    assert runs[1] == [p.node for p in schedule(pods, nodes, seed=1).placements]
    assert len({tuple(v) for v in runs.values()}) > 1


def test_duplicate_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="pod name.*p.*more than once"):
        schedule([PodRequest("p"), PodRequest("p")], hosts(1))
    with pytest.raises(ValueError, match="host name.*h0.*more than once"):
        schedule([PodRequest("p")], [*hosts(1), *hosts(1)])


def test_config_defaults_and_overrides() -> None:
    cfg = SchedulerConfig.from_dict({"strategy": "binpack", "weights": {"image_locality": 5}})
    assert (
        cfg.strategy == "binpack" and cfg.weight("image_locality") == 5 and cfg.weight("selector_spread") == 3
    )
    assert SchedulerConfig.from_dict(None) == SchedulerConfig()
    assert SchedulerConfig().spread_topology_keys == ("topology.kubernetes.io/zone", "rack")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"stratgy": "binpack"}, "unknown key.*stratgy"),
        ({"strategy": "pack"}, "scheduler.strategy.*'pack'"),
        ({"weights": {"spread": 1}}, "unknown scorer.*spread"),
        ({"weights": {"image_locality": -1}}, "weights.image_locality.*>= 0"),
        ({"spread_topology_keys": "rack"}, "spread_topology_keys.*list"),
    ],
)
def test_config_errors_name_the_field(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SchedulerConfig.from_dict(raw)
