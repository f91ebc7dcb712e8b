"""Hand-built snapshots for pure planner tests: hosts as HostFacts, pods as the containers `create_pod` makes
(their labels are read back from the real create script with the harness's `docker run` parser, so fixtures,
harness and builder never drift apart), and desired state from Kubernetes manifests. Tests of passes run the
real engine on simulated hosts instead: tests/harness."""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Iterable, Sequence
from typing import Any

from orchestrator.commands.pod import create_pod
from orchestrator.controllers.desired import DesiredState
from orchestrator.model.load import parse_objects
from orchestrator.observe.facts import ContainerInfo, HostFacts
from orchestrator.plan.planner import PlannerConfig
from orchestrator.plan.ports import assign_ports
from orchestrator.plan.types import PodRun
from tests.harness.docker import iso
from tests.harness.steps import parse_run

INFRA_IMAGE = "local/busybox:1"
IMAGE = "nginx:1.25"
GRACE = 40.0
T0 = 1_700_000_000.0  # a fixed "now" for single-pass tests


# --- hosts ---


def host(
    name: str,
    *,
    cpus: int = 4,
    memory: int = 8 << 30,
    containers: Iterable[ContainerInfo] = (),
    labels: dict[str, str] | None = None,
    images: Iterable[str] = (),
) -> HostFacts:
    """A ready host (reachable, docker answering) with the given containers."""
    return HostFacts(
        name=name,
        address=f"127.0.0.{1 + sum(map(ord, name)) % 250}",
        bind_address=f"127.0.0.{1 + sum(map(ord, name)) % 250}",
        reachable=True,
        hostname=name,
        cpus=cpus,
        memory_bytes=memory,
        memory_available_bytes=memory,
        disk_total_bytes=100 << 30,
        disk_free_bytes=50 << 30,
        docker_version="27.0.3",
        images=frozenset(images),
        containers=tuple(containers),
        labels={"kubernetes.io/hostname": name, **(labels or {})},
    )


def unreachable(name: str) -> HostFacts:
    return HostFacts(
        name=name, address="127.0.0.99", reachable=False, reason="timeout", error=f"{name}: connect timed out"
    )


# --- pods as create_pod makes them ---

def containers_for(
    run: PodRun,
    *,
    started: float = T0,
    state: str = "running",
    exit_code: int = 0,
    health: str | None = None,
    missing: Sequence[str] = (),
    infra_only: bool = False,
    restart_count: int = 0,
) -> list[ContainerInfo]:
    """The containers `create_pod(run, cluster="c1")` leaves on a host, labelled exactly as its script labels them.
    `state`/`health` apply to the app containers; `missing` names app containers that are gone."""
    script = create_pod(run, INFRA_IMAGE, ("sleep", "2147483647"), cluster="c1").render()
    out = []
    next_port = 32768
    for line in script.splitlines():
        if not line.startswith("docker run "):
            continue
        spec = parse_run(shlex.split(line.split(" >/dev/null", 1)[0]))
        name, image, published = spec.get("--name") or "", spec.image, spec.all("-p")
        labels = dict(x.partition("=")[::2] for x in spec.all("--label"))
        infra = labels.get("orc.infra") == "true"
        if not infra and (infra_only or labels.get("orc.container") in missing):
            continue
        ports = {}
        for p in published:  # [ip:]hostport:containerport/proto, or containerport/proto (a random port)
            parts = p.split(":")
            cp, hp = parts[-1], (parts[-2] if len(parts) > 1 else "")
            ports[cp] = int(hp) if hp else next_port
            next_port += 0 if hp else 1
        probe = labels.get("orc.probe")
        out.append(
            ContainerInfo(
                id=hashlib.sha256(f"{run.uid}/{name}".encode()).hexdigest()[:12],
                name=name,
                image=image,
                state="running" if infra else state,
                exit_code=0 if infra else exit_code,
                started_at=iso(started),
                finished_at="0001-01-01T00:00:00Z",
                restart_count=0 if infra else restart_count,
                health=None if infra or not probe else (health or "healthy"),
                labels=labels,
                ports=ports,
            )
        )
    return out


# --- desired state from manifests ---


def _container(
    image: str, cpu: str | None, memory: str | None, host_port: int | None, liveness: bool, name: str = "app"
) -> dict[str, Any]:
    c: dict[str, Any] = {"name": name, "image": image}
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    if requests:
        c["resources"] = {"requests": requests}
    if host_port:
        c["ports"] = [{"containerPort": 80, "hostPort": host_port}]
    if liveness:
        c["livenessProbe"] = {"exec": {"command": ["true"]}, "periodSeconds": 5}
    return c


def rc_doc(
    name: str,
    replicas: int,
    *,
    image: str = IMAGE,
    cpu: str | None = "100m",
    memory: str | None = None,
    host_port: int | None = None,
    liveness: bool = False,
    sidecar: bool = False,
) -> dict[str, Any]:
    containers = [_container(image, cpu, memory, host_port, liveness)]
    if sidecar:
        containers.append(_container("busybox:1", None, None, None, False, name="side"))
    return {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"app": name},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": containers}},
        },
    }


def pod_doc(
    name: str,
    *,
    image: str = IMAGE,
    cpu: str | None = "100m",
    memory: str | None = None,
    node_name: str | None = None,
    host_port: int | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [_container(image, cpu, memory, host_port, False)]}
    if node_name:
        spec["nodeName"] = node_name
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": spec,
    }


def desired(*docs: dict[str, Any], tombstones: tuple[str, ...] = ()) -> DesiredState:
    d = DesiredState.from_objects(parse_objects(list(docs)) if docs else [])
    d.tombstones = frozenset(tombstones)
    return d


def config(**kw: Any) -> PlannerConfig:
    return PlannerConfig(grace_period=GRACE, **kw)


def running_pod(
    d: DesiredState,
    key: str,
    host_name: str,
    *,
    name: str | None = None,
    uid: str | None = None,
    started: float = T0,
    **kw: Any,
) -> tuple[PodRun, list[ContainerInfo]]:
    """A pod of desired object `key` ("rc/web" or "pod/db") as the planner would have created it, and its
    containers on `host_name`."""
    from orchestrator.controllers.placement import requests_of
    from orchestrator.model.helpers import spec_hash

    if key.startswith("rc/"):
        w = d.workloads[key]
        spec, labels, owner, h = w.template.spec, dict(w.template.labels), key, spec_hash(w.template)
        name = name or f"{w.name}-{hashlib.sha256(f'{uid}{started}'.encode()).hexdigest()[:5]}"
    else:
        p = d.pods[key.removeprefix("pod/")]
        spec, labels, owner, h = p.spec, dict(p.labels), None, spec_hash(p.spec)
        name = name or p.name
    uid = uid or hashlib.sha256(f"{name}/{host_name}/{started}".encode()).hexdigest()[:32]
    run = PodRun(
        name=name, uid=uid, owner=owner, labels=labels, spec=spec, spec_hash=h, requests=requests_of(spec),
        ports=assign_ports(spec, "10.0.0.1", set(), range(20000, 30000)) or (),
    )
    return run, containers_for(run, started=started, **kw)
