"""Scheduler benchmark: throughput at 100 / 1,000 / 5,000 hosts and placement quality against exact optima.

    .venv/bin/python bench/scheduler.py [--quick] [-n RUNS]

Throughput (several runs: median, min-max, wall and CPU time): the planner's whole placement step, timed
as plan/planner.py runs it: probed hosts (HostFacts) and desired pods (validated PodSpecs) through the
adapters of controllers/placement.py, the scheduler, and its placements back to bindings. The batch is
a realistic mixed batch (web replicas spread over racks and zones, some with required host anti-affinity or
host ports; batch jobs; GPU jobs on tainted GPU hosts; a few pinned pods) placed onto a
cluster already half full. Quality: pods placed vs the exact maximum on small tight instances, and for
binpack the hosts used vs the lower bound ceil(total requests / host capacity) and vs the exact minimum
(both exact answers from scipy.optimize.milp, which only this benchmark needs: pip install scipy).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator.controllers.placement import node_info, placed_pod, pod_request  # noqa: E402
from orchestrator.model.pod import PodSpec  # noqa: E402
from orchestrator.observe.facts import Gpu, HostFacts  # noqa: E402
from orchestrator.scheduler import (  # noqa: E402
    NodeInfo,
    PlacedPod,
    PodAffinityTerm,
    PodRequest,
    PodSelector,
    Resources,
    SchedulerConfig,
    Taint,
    Toleration,
    TopologySpreadConstraint,
    schedule,
)

G = 2**30
GPU_TAINT = Taint("nvidia.com/gpu", "present", "NoSchedule")


def cluster(n: int, rng: random.Random) -> list[NodeInfo]:
    """n hosts in racks of 20, 3 zones; 10% GPU hosts (tainted); each already about half used."""
    out = []
    for i in range(n):
        gpu = i % 10 == 9
        cpu, mem = rng.choice([(16000, 64 * G), (32000, 128 * G), (64000, 256 * G)])
        gpus = rng.choice([4, 8]) if gpu else 0
        used = Resources(int(cpu * rng.uniform(0.3, 0.6)), int(mem * rng.uniform(0.3, 0.6)))
        out.append(
            NodeInfo(
                f"host-{i:05d}",
                {
                    "rack": f"rack-{i // 20}",
                    "topology.kubernetes.io/zone": f"zone-{i % 3}",
                    "gpu": str(gpu).lower(),
                },
                allocatable=Resources(cpu, mem, 200 * G, gpus),
                gpu_devices=tuple(f"GPU-{i}-{g}" for g in range(gpus)),
                taints=(GPU_TAINT,) if gpu else (),
                images=frozenset({"nginx:1.27"}) if i % 4 == 0 else frozenset(),
                pods=(PlacedPod(f"running-{i}", requests=used),),
            )
        )
    return out


def workload(n_hosts: int, n_pods: int, rng: random.Random) -> list[PodRequest]:
    pods: list[PodRequest] = []
    service = 0
    while len(pods) < n_pods:
        kind = rng.random()
        if kind < 0.55:  # a web service: replicas spread over hosts/racks/zones
            service += 1
            app = f"web{service}"
            sel = PodSelector.of(app=app)
            reps = rng.randint(3, 30)
            anti = (PodAffinityTerm(sel),) if service % 4 == 0 else ()
            spread = (TopologySpreadConstraint(1, "topology.kubernetes.io/zone", "ScheduleAnyway", sel),)
            ports = frozenset({(8000 + service % 50, "TCP")}) if service % 7 == 0 else frozenset()
            for r in range(reps):
                pods.append(
                    PodRequest(
                        f"{app}-{r}",
                        f"rc/{app}",
                        {"app": app, "tier": "fe"},
                        Resources(rng.choice([250, 500, 1000]), rng.choice([256, 512, 1024]) * 2**20),
                        host_ports=ports,
                        required_anti_affinity=anti,
                        topology_spread=spread,
                        image="nginx:1.27",
                    )
                )
        elif kind < 0.85:  # batch job
            pods.append(
                PodRequest(
                    f"batch-{len(pods)}",
                    None,
                    {"tier": "batch"},
                    Resources(rng.choice([1000, 2000, 4000]), rng.choice([2, 4, 8]) * G, G),
                )
            )
        elif kind < 0.95:  # GPU training job
            pods.append(
                PodRequest(
                    f"train-{len(pods)}",
                    None,
                    {"tier": "ml"},
                    Resources(4000, 16 * G, 0, rng.choice([1, 1, 2, 4])),
                    node_selector={"gpu": "true"},
                    tolerations=(Toleration("nvidia.com/gpu", "Exists"),),
                )
            )
        else:  # pinned
            pods.append(
                PodRequest(
                    f"pinned-{len(pods)}",
                    None,
                    {"tier": "infra"},
                    Resources(100, 128 * 2**20),
                    node_name=f"host-{rng.randrange(n_hosts):05d}",
                )
            )
    return pods[:n_pods]


def _host_facts(node: NodeInfo) -> HostFacts:
    """The probed host the planner would see for `node` (the planner's input, not the scheduler's)."""
    a = node.allocatable
    return HostFacts(
        name=node.name, address="10.0.0.1", reachable=True, docker_version="27.0", bind_address="10.0.0.1",
        labels=dict(node.labels), images=node.images,
        capacity={"cpu": f"{a.cpu}m", "memory": a.memory, "ephemeral-storage": a.ephemeral,
                  "nvidia.com/gpu": a.gpus},
        gpus=tuple(Gpu(k, "A100", uuid) for k, uuid in enumerate(node.gpu_devices)),
        taints=tuple((t.key, t.value, t.effect) for t in node.taints),
    )


def _pod_spec(pod: PodRequest) -> PodSpec:
    """The desired pod's spec as a manifest gives it (validated, outside the timer: apply did that)."""
    r = pod.requests
    requests = {"cpu": f"{r.cpu}m", "memory": str(r.memory)}
    if r.ephemeral:
        requests["ephemeral-storage"] = str(r.ephemeral)
    if r.gpus:
        requests["nvidia.com/gpu"] = str(r.gpus)
    container = {"name": "app", "image": pod.image or "busybox:1", "resources": {"requests": requests},
                 "ports": [{"containerPort": 8080, "hostPort": port, "protocol": proto}
                           for port, proto in sorted(pod.host_ports)]}
    spec: dict[str, object] = {"containers": [container]}
    if pod.node_name:
        spec["nodeName"] = pod.node_name
    if pod.node_selector:
        spec["nodeSelector"] = dict(pod.node_selector)
    if pod.tolerations:
        spec["tolerations"] = [{"key": t.key, "operator": t.operator, **({"value": t.value} if t.value else {}),
                                **({"effect": t.effect} if t.effect else {})} for t in pod.tolerations]
    if pod.required_anti_affinity:
        spec["affinity"] = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": t.selector.to_dict(), "topologyKey": t.topology_key}
            for t in pod.required_anti_affinity]}}
    if pod.topology_spread:
        spec["topologySpreadConstraints"] = [
            {"maxSkew": c.max_skew, "topologyKey": c.topology_key, "whenUnsatisfiable": c.when_unsatisfiable,
             "labelSelector": c.selector.to_dict()} for c in pod.topology_spread]
    return PodSpec.model_validate(spec)


def plan_inputs(n_hosts: int, n_pods: int) -> tuple[list[HostFacts], dict[str, list[PlacedPod]],
                                                    list[tuple[PodRequest, PodSpec]]]:
    rng = random.Random(n_hosts)
    nodes = cluster(n_hosts, rng)
    pods = workload(n_hosts, n_pods, rng)
    return ([_host_facts(n) for n in nodes], {n.name: list(n.pods) for n in nodes},
            [(p, _pod_spec(p)) for p in pods])


def place_as_the_planner_does(facts: list[HostFacts], running: dict[str, list[PlacedPod]],
                              desired: list[tuple[PodRequest, PodSpec]], seed: int) -> dict[str, str]:
    """What plan/planner.py's _place does around the scheduler: its running pods as the adapters' PlacedPods,
    every host through node_info, every desired pod through pod_request, then schedule, then each placement
    back to a (pod -> host) binding."""
    nodes = [node_info(f, [placed_pod(q.name, q.owner, q.labels, {"cpu": q.requests.cpu,
                                                                  "memory": q.requests.memory},
                                      q.host_ports, q.gpu_devices) for q in running[f.name]])
             for f in facts]
    requests = [pod_request(p.name, p.owner, p.labels, spec) for p, spec in desired]
    result = schedule(requests, nodes, SchedulerConfig(), seed=seed)
    return {pl.pod.name: pl.node for pl in result.placements}


def throughput(n_hosts: int, n_pods: int, runs: int) -> tuple[int, list[tuple[float, float]]]:
    """Placed pods, and (wall seconds, CPU seconds) of each run of the whole placement with its adapters."""
    facts, running, desired = plan_inputs(n_hosts, n_pods)
    times, placed = [], set()
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        bindings = place_as_the_planner_does(facts, running, desired, seed=1)
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
        placed.add(len(bindings))
    assert len(placed) == 1, f"runs placed different numbers of pods: {placed}"
    return placed.pop(), times


# exact optima (bench only) -------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_stdout():  # type: ignore[no-untyped-def]
    """HiGHS prints some solver notes straight to file descriptor 1."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


def _milp_max_placed(pods: list[PodRequest], nodes: list[NodeInfo]) -> int:
    """The most pods that can be placed at once: capacity (cpu, memory, gpus), pinning, one replica per host
    for owners with required host anti-affinity."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import lil_matrix

    P, H = len(pods), len(nodes)
    var = lambda p, h: p * H + h  # noqa: E731
    rows: list[tuple[dict[int, float], float]] = []
    for p in range(P):
        rows.append(({var(p, h): 1.0 for h in range(H)}, 1.0))
    for h, node in enumerate(nodes):
        for r in range(3):  # gpus too: a gpu pod fits no host without free gpus
            cap = (node.allocatable.cpu, node.allocatable.memory, node.allocatable.gpus)[r]
            req = [
                (pods[p].requests.cpu, pods[p].requests.memory, pods[p].requests.gpus)[r] for p in range(P)
            ]
            rows.append(({var(p, h): float(req[p]) for p in range(P) if req[p]}, float(cap)))
    owners: dict[str, list[int]] = {}
    for p, pod in enumerate(pods):
        if pod.owner and pod.required_anti_affinity:
            owners.setdefault(pod.owner, []).append(p)
    for members in owners.values():
        for h in range(H):
            rows.append(({var(p, h): 1.0 for p in members}, 1.0))
    upper = np.ones(P * H)
    for p, pod in enumerate(pods):
        for h, node in enumerate(nodes):
            if pod.node_name and pod.node_name != node.name:
                upper[var(p, h)] = 0
    A = lil_matrix((len(rows), P * H))
    for k, (coeffs, _) in enumerate(rows):
        for j, c in coeffs.items():
            A[k, j] = c
    with _quiet_stdout():
        res = milp(
            c=-np.ones(P * H),
            constraints=LinearConstraint(A.tocsr(), -np.inf, np.array([b for _, b in rows])),
            integrality=np.ones(P * H),
            bounds=Bounds(np.zeros(P * H), upper),
            options={"time_limit": 20},
        )
    return round(-res.fun)


def _milp_min_hosts(pods: list[PodRequest], cap: Resources, hosts: int) -> int:
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import lil_matrix

    P, H = len(pods), hosts
    nx = P * H
    A = lil_matrix((P + 2 * H + H - 1, nx + H))
    lo, hi = [], []
    for p in range(P):
        for h in range(H):
            A[p, p * H + h] = 1
        lo.append(1)
        hi.append(1)
    k = P
    for h in range(H):
        for r, c in ((0, cap.cpu), (1, cap.memory)):
            for p in range(P):
                A[k, p * H + h] = (pods[p].requests.cpu, pods[p].requests.memory)[r]
            A[k, nx + h] = -c
            lo.append(-np.inf)
            hi.append(0)
            k += 1
    for h in range(H - 1):  # symmetry breaking: use hosts in order
        A[k, nx + h] = -1
        A[k, nx + h + 1] = 1
        lo.append(-np.inf)
        hi.append(0)
        k += 1
    with _quiet_stdout():
        res = milp(
            c=np.r_[np.zeros(nx), np.ones(H)],
            constraints=LinearConstraint(A.tocsr(), lo, hi),
            integrality=np.ones(nx + H),
            bounds=Bounds(0, 1),
            options={"time_limit": 20},
        )
    return round(res.fun)


def quality_max_placed(instances: int, load: float) -> tuple[int, int, int]:
    """Tight small instances (demand above capacity): pods placed by the scheduler vs the exact maximum."""
    placed = optimum = exact = 0
    for k in range(instances):
        rng = random.Random(1000 + k)
        nodes = [
            NodeInfo(
                f"h{i}",
                {"rack": f"r{i % 2}"},
                allocatable=Resources(rng.choice([4000, 8000]), 16 * G, 0, rng.choice([0, 0, 2])),
            )
            for i in range(5)
        ]
        pods: list[PodRequest] = []
        capacity = sum(n.allocatable.cpu for n in nodes)
        j = 0
        while sum(p.requests.cpu for p in pods) < load * capacity:
            j += 1
            kind = rng.random()
            if kind < 0.5:
                owner = f"rc/s{j % 3}"
                anti = (PodAffinityTerm(PodSelector.of(app=owner[3:])),) if j % 3 == 0 else ()
                pods.append(
                    PodRequest(
                        f"w{j}",
                        owner,
                        {"app": owner[3:]},
                        Resources(rng.choice([500, 1000, 1500]), rng.choice([1, 2, 4]) * G),
                        required_anti_affinity=anti,
                    )
                )
            elif kind < 0.8:
                pods.append(
                    PodRequest(
                        f"b{j}",
                        None,
                        {},
                        Resources(rng.choice([1000, 2000, 3000]), rng.choice([2, 4, 6]) * G),
                    )
                )
            elif kind < 0.92:
                pods.append(PodRequest(f"g{j}", None, {}, Resources(1000, 4 * G, 0, rng.choice([1, 2]))))
            else:
                pods.append(
                    PodRequest(f"p{j}", None, {}, Resources(500, G), node_name=f"h{rng.randrange(5)}")
                )
        got = len(schedule(pods, nodes, SchedulerConfig(strategy="binpack")).placements)
        best = _milp_max_placed(pods, nodes)
        placed, optimum, exact = placed + got, optimum + best, exact + (got == best)
    return placed, optimum, exact


def quality_binpack(n_hosts: int, rng: random.Random, exact: bool) -> tuple[int, int, int, int | None]:
    cap = Resources(16000, 64 * G)
    nodes = [NodeInfo(f"h{i}", {"rack": f"r{i // 10}"}, allocatable=cap) for i in range(n_hosts)]
    pods, cpu, mem = [], 0, 0
    while cpu < 0.5 * n_hosts * cap.cpu:
        req = Resources(rng.choice([500, 1000, 2000, 4000]), rng.choice([1, 2, 4, 8]) * G)
        pods.append(PodRequest(f"job-{len(pods)}", None, {}, req))
        cpu, mem = cpu + req.cpu, mem + req.memory
    result = schedule(pods, nodes, SchedulerConfig(strategy="binpack"))
    used = len({p.node for p in result.placements})
    bound = max(math.ceil(cpu / cap.cpu), math.ceil(mem / cap.memory))
    best = _milp_min_hosts(pods, cap, bound + 2) if exact else None
    return len(pods), used, bound, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller batches (a smoke run)")
    parser.add_argument("-n", "--runs", type=int, default=5, help="runs per size (default 5)")
    args = parser.parse_args()
    scale = 0.2 if args.quick else 1.0

    runs = args.runs
    print(f"throughput (spread strategy, mixed web/batch/gpu/pinned pods, cluster half full; the planner's "
          f"adapters inside the timer; {runs} runs: median (min-max))")
    print(f"{'hosts':>6} {'pods':>6} {'placed':>7} {'wall s':>20} {'pods/s (wall)':>22} {'CPU s':>18} "
          f"{'pods/s (CPU)':>20}")
    for hosts, pods in ((100, 1000), (1000, 4000), (5000, 8000)):
        n = int(pods * scale)
        placed, times = throughput(hosts, n, runs)
        wall, cpu = [t[0] for t in times], [t[1] for t in times]

        def show(xs: list[float], rate: bool, n: int = n) -> str:
            m, lo, hi = statistics.median(xs), min(xs), max(xs)
            if rate:
                return f"{n / m:,.0f} ({n / hi:,.0f}-{n / lo:,.0f})"
            return f"{m:.2f} ({lo:.2f}-{hi:.2f})"

        print(f"{hosts:>6} {n:>6} {placed:>7} {show(wall, False):>20} {show(wall, True):>22} "
              f"{show(cpu, False):>18} {show(cpu, True):>20}", flush=True)

    try:
        import scipy  # noqa: F401
    except ImportError:
        print("\nquality: skipped (pip install scipy for the exact optima)")
        return
    print("\nquality: pods placed vs exact maximum (5 hosts, binpack, random mixed pods)")
    print(f"{'cpu asked':>10} {'instances':>10} {'placed':>7} {'optimum':>8} {'ratio':>6} {'optimal in':>11}")
    instances = 10 if args.quick else 25
    for load in (0.7, 0.85, 0.95):
        placed, optimum, exact = quality_max_placed(instances, load)
        print(f"{load:>10.0%} {instances:>10} {placed:>7} {optimum:>8} {placed / optimum:>6.1%} {exact:>11}")

    print("\nquality: binpack hosts used vs lower bound ceil(total requests / host capacity)")
    print(f"{'hosts':>6} {'pods':>6} {'used':>6} {'bound':>6} {'exact min':>10}")
    rng = random.Random(7)
    for hosts, exact_too in ((12, True), (100, False), (1000, False)):
        n, used, bound, best = quality_binpack(hosts, rng, exact_too)
        print(f"{hosts:>6} {n:>6} {used:>6} {bound:>6} {best if best is not None else '-':>10}")


if __name__ == "__main__":
    main()
