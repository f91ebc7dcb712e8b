"""Each filter on its own: which hosts it rejects, and why."""

from __future__ import annotations

import pytest

from orchestrator.scheduler import (
    NodeInfo,
    NodeSelectorRequirement,
    PlacedPod,
    PodAffinityTerm,
    PodRequest,
    PodSelector,
    Resources,
    Taint,
    Toleration,
    TopologySpreadConstraint,
)
from orchestrator.scheduler.filters import (
    HostPortsFilter,
    NodeNameFilter,
    NodeReadyFilter,
    NodeSelectorFilter,
    PodAntiAffinityFilter,
    ResourcesFitFilter,
    TaintTolerationFilter,
    TopologySpreadFilter,
)
from orchestrator.scheduler.state import ClusterState

G = 2**30
BIG = Resources(4000, 8 * G, 10 * G, 0)


def node(name: str, **kw: object) -> NodeInfo:
    kw.setdefault("allocatable", BIG)
    return NodeInfo(name, **kw)  # type: ignore[arg-type]


def rejected(f: object, pod: PodRequest, nodes: list[NodeInfo]) -> dict[str, list[str]]:
    state = ClusterState(nodes)
    out: dict[str, list[str]] = {}
    for reason, mask in f.reject(pod, state):  # type: ignore[attr-defined]
        for i, hit in enumerate(mask):
            if hit:
                out.setdefault(nodes[i].name, []).append(reason)
    return out


web = PodSelector.of(app="web")
Expr = NodeSelectorRequirement

CASES = [
    pytest.param(
        NodeReadyFilter(),
        PodRequest("p"),
        [node("a"), node("b", ready=False), node("c", cordoned=True)],
        {"b": ["host not ready"], "c": ["host cordoned"]},
        id="ready-and-cordoned",
    ),
    pytest.param(
        NodeNameFilter(),
        PodRequest("p", node_name="b"),
        [node("a"), node("b")],
        {"a": ["pinned to host b"]},
        id="pinned",
    ),
    pytest.param(
        NodeNameFilter(),
        PodRequest("p", node_name="zz"),
        [node("a")],
        {"a": ["pinned to host zz"]},
        id="pinned-unknown-host",
    ),
    pytest.param(NodeNameFilter(), PodRequest("p"), [node("a")], {}, id="not-pinned"),
    pytest.param(
        TaintTolerationFilter(),
        PodRequest("p"),
        [
            node("a", taints=(Taint("gpu", "yes", "NoSchedule"),)),
            node("b", taints=(Taint("soft", "", "PreferNoSchedule"),)),
            node("c", taints=(Taint("evict", "", "NoExecute"),)),
            node("d"),
        ],
        {"a": ["untolerated taint gpu=yes"], "c": ["untolerated taint evict"]},
        id="taints-untolerated",
    ),
    pytest.param(
        TaintTolerationFilter(),
        PodRequest("p", tolerations=(Toleration("gpu", "Equal", "yes", "NoSchedule"),)),
        [node("a", taints=(Taint("gpu", "yes", "NoSchedule"),)), node("b", taints=(Taint("gpu", "no"),))],
        {"b": ["untolerated taint gpu=no"]},
        id="toleration-equal-value",
    ),
    pytest.param(
        TaintTolerationFilter(),
        PodRequest("p", tolerations=(Toleration("", "Exists"),)),
        [node("a", taints=(Taint("x", "1"), Taint("y", "", "NoExecute")))],
        {},
        id="toleration-exists-everything",
    ),
    pytest.param(
        NodeSelectorFilter(),
        PodRequest("p", node_selector={"disk": "ssd", "rack": "r1"}),
        [
            node("a", labels={"disk": "ssd", "rack": "r1"}),
            node("b", labels={"disk": "ssd", "rack": "r2"}),
            node("c"),
        ],
        {"b": ["node selector mismatch"], "c": ["node selector mismatch"]},
        id="node-selector",
    ),
    pytest.param(
        NodeSelectorFilter(),
        PodRequest("p", node_selector={"kubernetes.io/hostname": "b"}),
        [node("a"), node("b")],
        {"a": ["node selector mismatch"]},
        id="automatic-hostname-label",
    ),
    pytest.param(
        NodeSelectorFilter(),
        PodRequest(
            "p",
            required_node_affinity=(
                (Expr("zone", "In", ("z1", "z2")), Expr("cores", "Gt", ("8",))),
                (Expr("gpu", "Exists"),),
            ),
        ),
        [
            node("a", labels={"zone": "z1", "cores": "16"}),
            node("b", labels={"zone": "z1", "cores": "4"}),
            node("c", labels={"zone": "z3", "cores": "32"}),
            node("d", labels={"gpu": "a100"}),
            node("e", labels={"zone": "z2", "cores": "many"}),
        ],
        {"b": ["node affinity mismatch"], "c": ["node affinity mismatch"], "e": ["node affinity mismatch"]},
        id="affinity-ored-terms-anded-expressions",
    ),
    pytest.param(
        NodeSelectorFilter(),
        PodRequest(
            "p",
            required_node_affinity=(
                (Expr("zone", "NotIn", ("z1",)), Expr("old", "DoesNotExist"), Expr("mem", "Lt", ("64",))),
            ),
        ),
        [
            node("a", labels={"mem": "32"}),
            node("b", labels={"zone": "z1", "mem": "32"}),
            node("c", labels={"old": "", "mem": "32"}),
            node("d", labels={"mem": "128"}),
        ],
        {"b": ["node affinity mismatch"], "c": ["node affinity mismatch"], "d": ["node affinity mismatch"]},
        id="affinity-notin-doesnotexist-lt",
    ),
    pytest.param(
        ResourcesFitFilter(),
        PodRequest("p", requests=Resources(1000, 2 * G, 0, 1)),
        [
            node("a", allocatable=Resources(4000, 8 * G, 0, 1)),
            node("b", allocatable=Resources(500, G, 0, 1)),
            node("c", allocatable=Resources(4000, 8 * G)),
            node(
                "d",
                allocatable=Resources(4000, 8 * G, 0, 2),
                pods=(PlacedPod("x", requests=Resources(3500, G, 0, 1), gpu_devices=("0",)),),
            ),
        ],
        {
            "b": ["insufficient cpu", "insufficient memory"],
            "c": ["insufficient gpu"],
            "d": ["insufficient cpu"],
        },
        id="resources-counting-running-pods",
    ),
    pytest.param(
        ResourcesFitFilter(),
        PodRequest("p", requests=Resources(0, 0, 5 * G, 0)),
        [node("a", allocatable=Resources(1, 1, 4 * G)), node("b", allocatable=Resources(1, 1, 5 * G))],
        {"a": ["insufficient ephemeral-storage"]},
        id="resources-ephemeral-exact-fit",
    ),
    pytest.param(
        HostPortsFilter(),
        PodRequest("p", host_ports=frozenset({(80, "TCP"), (53, "UDP")})),
        [
            node("a", pods=(PlacedPod("x", host_ports=frozenset({(80, "TCP")})),)),
            node("b", pods=(PlacedPod("x", host_ports=frozenset({(80, "UDP"), (53, "TCP")})),)),
            node("c", pods=(PlacedPod("x", host_ports=frozenset({(53, "UDP")})),)),
        ],
        {"a": ["host port 80/TCP in use"], "c": ["host port 53/UDP in use"]},
        id="host-ports-by-protocol",
    ),
    pytest.param(
        PodAntiAffinityFilter(),
        PodRequest("p", labels={"app": "web"}, required_anti_affinity=(PodAffinityTerm(web, "rack"),)),
        [
            node("a", labels={"rack": "r1"}, pods=(PlacedPod("w", labels={"app": "web"}),)),
            node("b", labels={"rack": "r1"}),
            node("c", labels={"rack": "r2"}, pods=(PlacedPod("d", labels={"app": "db"}),)),
            node("d"),
        ],
        {"a": ["pod anti-affinity (rack)"], "b": ["pod anti-affinity (rack)"]},
        id="anti-affinity-rack-domain",
    ),
    pytest.param(
        PodAntiAffinityFilter(),
        PodRequest("p", labels={"app": "web"}),
        [
            node("a", pods=(PlacedPod("db", labels={"app": "db"}, anti_affinity=(PodAffinityTerm(web),)),)),
            node("b"),
        ],
        {"a": ["existing pods' anti-affinity (kubernetes.io/hostname)"]},
        id="anti-affinity-symmetric",
    ),
    pytest.param(
        TopologySpreadFilter(),
        PodRequest(
            "p",
            labels={"app": "web"},
            topology_spread=(TopologySpreadConstraint(1, "zone", "DoNotSchedule", web),),
        ),
        [
            node("a", labels={"zone": "z1"}, pods=(PlacedPod("w1", labels={"app": "web"}),)),
            node("b", labels={"zone": "z1"}),
            node("c", labels={"zone": "z2"}),
            node("d"),
        ],
        {
            "a": ["topology spread (zone)"],
            "b": ["topology spread (zone)"],
            "d": ["missing topology label zone"],
        },
        id="spread-do-not-schedule",
    ),
    pytest.param(
        TopologySpreadFilter(),
        PodRequest(
            "p",
            labels={"app": "web"},
            node_selector={"zone": "z1"},
            topology_spread=(TopologySpreadConstraint(1, "zone", "DoNotSchedule", web),),
        ),
        [
            node("a", labels={"zone": "z1"}, pods=(PlacedPod("w1", labels={"app": "web"}),)),
            node("c", labels={"zone": "z2"}),
        ],
        {},
        id="spread-domains-limited-to-node-selector",
    ),
    pytest.param(
        TopologySpreadFilter(),
        PodRequest(
            "p",
            labels={"app": "web"},
            topology_spread=(TopologySpreadConstraint(1, "zone", "ScheduleAnyway", web),),
        ),
        [node("a", labels={"zone": "z1"}, pods=(PlacedPod("w1", labels={"app": "web"}),)), node("b")],
        {},
        id="spread-schedule-anyway-is-not-a-filter",
    ),
]


@pytest.mark.parametrize(("flt", "pod", "nodes", "expected"), CASES)
def test_filter(flt: object, pod: PodRequest, nodes: list[NodeInfo], expected: dict[str, list[str]]) -> None:
    assert rejected(flt, pod, nodes) == expected


def test_gpu_devices_follow_running_pods() -> None:
    state = ClusterState(
        [
            node(
                "a",
                allocatable=Resources(4000, 8 * G, 0, 3),
                gpu_devices=("GPU-a", "GPU-b", "GPU-c"),
                pods=(PlacedPod("x", requests=Resources(gpus=1), gpu_devices=("GPU-b",)),),
            )
        ]
    )
    assert state.free_devices[0] == ["GPU-a", "GPU-c"]
    assert state.place(0, PodRequest("p", requests=Resources(gpus=2))) == ("GPU-a", "GPU-c")
    assert state.free_devices[0] == []
    assert ResourcesFitFilter().reject(PodRequest("q", requests=Resources(gpus=1)), state)[0][1][0]
