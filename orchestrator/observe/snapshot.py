"""The cluster as observed: every host's facts and the pods rebuilt from docker labels alone
(`docker_labels.py` is the contract).

A pod instance is identified by its uid (label `orc.pod-uid`); its infra container (a solo pod's one
container, `orc.infra=self`: `infra` below is then that container, also among `containers`) lists the app
containers it should have (`orc.containers`), so a pod missing one is seen as Incomplete. Only containers
labelled with this cluster's name (`orc.cluster`) are this cluster's pods and orphans; the others (another
project's, or made before containers carried a cluster) are `foreign`: never counted, adopted, proxied or
removed, but their resources and host ports are taken on their hosts."""

from __future__ import annotations

import functools
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orchestrator import docker_labels as L
from orchestrator.observe.facts import ContainerInfo, HostFacts

_ISO = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$")


@functools.lru_cache(maxsize=16384)  # the same containers' times, parsed again every pass otherwise
def _ts(text: str) -> float | None:
    """Docker's RFC 3339 times (nanoseconds, `Z`) as unix seconds; its zero time as None."""
    m = _ISO.match(text or "")
    if not m or text.startswith("0001-"):
        return None
    tz = m.group(3) if m.group(3) not in (None, "Z") else "+00:00"
    return datetime.fromisoformat(m.group(1) + (m.group(2) or "")[:7] + tz).timestamp()


@dataclass(frozen=True)
class ObservedPod:
    name: str
    uid: str
    host: str
    owner: str | None
    spec_hash: str
    labels: dict[str, str]
    infra: ContainerInfo | None
    containers: tuple[ContainerInfo, ...]  # app containers
    expected: tuple[str, ...]  # app container names the pod should have
    inits: tuple[ContainerInfo, ...] = ()  # init containers, in the order they run
    init_expected: tuple[str, ...] = ()  # init container names the pod should have, in order

    @property
    def complete(self) -> bool:
        have = {c.labels.get(L.CONTAINER) for c in (*self.containers, *self.inits)}
        return self.infra is not None and all(n in have for n in (*self.expected, *self.init_expected))

    @property
    def initialized(self) -> bool:
        """Every init container ran to completion (exit 0); true for a pod without any."""
        return all(c.state == "exited" and c.exit_code == 0 for c in self.inits)

    @property
    def init_next(self) -> str | None:
        """What a pass can start now: the next init container (its predecessors exited 0), "" for the app
        containers (every init container did, and an app container was never started), or None: nothing
        (an init container runs, failed, or is being restarted by docker; or the pod is started)."""
        if not self.init_expected or not self.complete:
            return None
        for c in self.inits:
            if c.state == "exited" and c.exit_code == 0:
                continue
            return c.labels.get(L.CONTAINER, c.name) if c.state == "created" else None
        return "" if any(c.state == "created" for c in self.containers) else None

    @property
    def phase(self) -> str:
        if not self.complete:
            return "Incomplete"
        if self.sandbox_changed:
            return "SandboxChanged"
        assert self.infra is not None
        if not self.initialized:  # a failed init container docker does not retry (restartPolicy Never) fails it
            return "Failed" if any(c.state in ("exited", "dead") and c.exit_code != 0 for c in self.inits) \
                else "Pending"
        every = (self.infra, *(c for c in self.containers if c is not self.infra))
        if all(c.running for c in every):
            return "Running"
        if any(c.state in ("exited", "dead") and c.exit_code != 0 for c in every):
            return "Failed"
        if all(c.state == "exited" and c.exit_code == 0 for c in self.containers):
            return "Succeeded"
        return "Pending"

    @property
    def sandbox_changed(self) -> bool:
        """The infra container restarted after an app container started: docker gave it a new network
        namespace and the app containers are left in the old one, with nothing but `lo`. The pod must be
        made again (Kubernetes recreates a pod's containers when its sandbox changes)."""
        infra_start = _ts(self.infra.started_at) if self.infra else None
        if infra_start is None:
            return False
        return any(c.running and (t := _ts(c.started_at)) is not None and t < infra_start for c in self.containers)

    @property
    def ready(self) -> bool:
        return self.phase == "Running" and all(c.health in (None, "healthy") for c in self.containers)

    @property
    def ready_at(self) -> float | None:
        """Since when a ready pod without a readiness check is ready: its last container start (docker calls
        such a container ready once it runs). None when a health check decides (docker keeps no time of the
        change: the planner then counts from the first pass that saw it ready)."""
        if not self.ready or any(c.health is not None for c in self.containers) or self.infra is None:
            return None
        times = [_ts(c.started_at) for c in (self.infra, *self.containers)]
        return max(t for t in times if t is not None) if all(t is not None for t in times) else None

    @property
    def unhealthy(self) -> tuple[ContainerInfo, ...]:
        """Running containers whose liveness check fails: the loop restarts them."""
        return tuple(c for c in self.containers if c.running and c.health == "unhealthy"
                     and (c.labels.get(L.PROBE) == "liveness" or self.startup_failed(c)))

    @staticmethod
    def startup_failed(c: ContainerInfo) -> bool:
        """Its startupProbe did not succeed within failureThreshold x periodSeconds (commands.pod._health)."""
        return c.labels.get(L.STARTUP) == "true" and c.health == "unhealthy" and L.STARTUP_FAILED in c.health_output

    @property
    def restarts(self) -> int:
        """Of its app and init containers, as kubectl's RESTARTS counts them."""
        return sum(c.restart_count for c in (*self.containers, *self.inits))

    @property
    def ports(self) -> dict[str, int]:
        return dict(self.infra.ports) if self.infra else {}

    @property
    def started_at(self) -> float | None:
        """When the pod was made (its infra container's creation; a restart by docker, e.g. after dockerd
        restarted, does not make a pod younger), for AGE and for choosing the newest to delete."""
        if self.infra is None:
            return None
        return _ts(self.infra.created_at) or _ts(self.infra.started_at)

    @property
    def requests(self) -> dict[str, int]:
        """What the pod asked for when placed (label `orc.requests` on the infra container), so placement
        accounting needs no desired state."""
        try:
            return {k: int(v) for k, v in json.loads(self.infra.labels.get(L.REQUESTS, "{}")).items()} \
                if self.infra else {}
        except (ValueError, AttributeError):
            return {}

    @property
    def grace(self) -> int | None:
        text = self.infra.labels.get(L.GRACE, "") if self.infra else ""
        return int(text) if text.isdigit() else None

    @property
    def gpu_devices(self) -> tuple[str, ...]:
        """The GPU device ids the pod was given when placed (label `orc.gpus`), so they are never given twice."""
        text = self.infra.labels.get(L.GPUS, "") if self.infra else ""
        return tuple(x for x in text.split(",") if x)

    @property
    def host_ports(self) -> list[tuple[int, str]]:
        text = self.infra.labels.get(L.HOST_PORTS, "") if self.infra else ""
        out = []
        for item in filter(None, text.split(",")):
            port, _, proto = item.partition("/")
            if port.isdigit():
                out.append((int(port), proto or "TCP"))
        return out

    def to_dict(self) -> dict[str, Any]:
        ready = sum(1 for c in self.containers if c.running and c.health in (None, "healthy"))
        return {"name": self.name, "uid": self.uid, "host": self.host, "owner": self.owner,
                "phase": self.phase, "ready": self.ready, "containers_ready": f"{ready}/{len(self.expected)}",
                "restarts": self.restarts, "started_at": self.started_at, "ip": (self.infra.ip or None) if self.infra else None,
                "labels": dict(self.labels), "ports": self.ports, "spec_hash": self.spec_hash,
                "requests": self.requests, "grace": self.grace, "gpu_devices": list(self.gpu_devices),
                "host_ports": [f"{p}/{proto}" for p, proto in self.host_ports],
                "containers": [container_status(c) for c in self.containers],
                **({"init_containers": [container_status(c) for c in self.inits]} if self.init_expected else {})}


def container_status(c: ContainerInfo) -> dict[str, Any]:
    """One app container as `orc get pod -o json` shows it (see cli/observed.py): docker's state, exit code,
    times (unix seconds), restart count and health, and whether a liveness or readiness probe drives it."""
    return {"name": c.labels.get(L.CONTAINER, c.name), "id": c.id, "image": c.image, "state": c.state,
            "exit_code": c.exit_code, "started_at": _ts(c.started_at), "finished_at": _ts(c.finished_at),
            "restarts": c.restart_count, "health": c.health, "probe": c.labels.get(L.PROBE)}


def pods_of(facts: HostFacts, containers: tuple[ContainerInfo, ...] | None = None) -> list[ObservedPod]:
    """The pods `containers` (default: every managed container of the host) make up, by pod uid."""
    groups: dict[str, list[ContainerInfo]] = defaultdict(list)
    for c in facts.managed_containers if containers is None else containers:
        uid = c.labels.get(L.POD_UID)
        if uid:
            groups[uid].append(c)
    pods = []
    for uid, cs in groups.items():
        # the sandbox: an infra container, or a solo pod's one container (orc.infra=self), an app container too
        infra = next((c for c in cs if c.labels.get(L.INFRA) in ("true", L.INFRA_SELF)), None)
        apps = tuple(sorted((c for c in cs if c.labels.get(L.INFRA) != "true" and L.INIT not in c.labels),
                            key=lambda c: c.name))
        inits = tuple(sorted((c for c in cs if L.INIT in c.labels),
                             key=lambda c: (int(c.labels[L.INIT]) if c.labels[L.INIT].isdigit() else 0, c.name)))
        first = infra or cs[0]
        expected = tuple(x for x in (infra.labels.get(L.CONTAINERS, "") if infra else "").split(",") if x)
        init_expected = tuple(x for x in (infra.labels.get(L.INIT_CONTAINERS, "") if infra else "").split(",") if x)
        pods.append(ObservedPod(
            name=first.labels.get(L.POD, ""), uid=uid, host=facts.name,
            owner=first.labels.get(L.OWNER) or None, spec_hash=first.labels.get(L.SPEC_HASH, ""),
            labels=first.pod_labels, infra=infra, containers=apps, expected=expected, inits=inits,
            init_expected=init_expected))
    return sorted(pods, key=lambda p: (p.name, p.uid))


def cluster_of(c: ContainerInfo) -> str:
    """The cluster a managed container belongs to ("" when it carries none)."""
    return c.labels.get(L.CLUSTER, "")


@dataclass
class ClusterSnapshot:
    taken_at: float
    hosts: dict[str, HostFacts]
    pods: list[ObservedPod] = field(default_factory=list)  # this cluster's
    orphans: list[tuple[str, ContainerInfo]] = field(default_factory=list)  # ours, but no pod labels
    # Pods of other clusters (`cluster` is theirs, "" for none), per host: left alone, reported.
    foreign: list[tuple[str, ObservedPod]] = field(default_factory=list)
    cluster: str = ""

    @classmethod
    def build(cls, facts: list[HostFacts], taken_at: float, *, cluster: str) -> ClusterSnapshot:
        if not cluster:
            raise ValueError("a snapshot is of one cluster: give its name")
        pods: list[ObservedPod] = []
        orphans: list[tuple[str, ContainerInfo]] = []
        foreign: list[tuple[str, ObservedPod]] = []
        for f in facts:
            mine = tuple(c for c in f.managed_containers if cluster_of(c) == cluster)
            theirs = tuple(c for c in f.managed_containers if cluster_of(c) != cluster)
            pods += pods_of(f, mine)
            orphans += [(f.name, c) for c in mine if not c.labels.get(L.POD_UID)]
            by_uid = {c.labels.get(L.POD_UID): cluster_of(c) for c in theirs}
            foreign += [(by_uid.get(p.uid, ""), p) for p in pods_of(f, theirs)]
        return cls(taken_at, {f.name: f for f in facts}, pods, orphans, foreign, cluster)

    def foreign_summary(self) -> dict[str, dict[str, int]]:
        """Other clusters' pods: cluster ("" for none) -> host -> how many."""
        out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for cluster, p in self.foreign:
            out[cluster][p.host] += 1
        return {c: dict(hosts) for c, hosts in out.items()}

    def to_dict(self) -> dict[str, Any]:
        """The stored form `orc get` reads (see orchestrator/cli/observed.py)."""
        return {
            "taken_at": self.taken_at,
            "hosts": [{"name": f.name, "status": f.status, "address": f.address, "labels": dict(f.labels),
                       "capacity": dict(f.capacity), "reason": f.reason, "error": f.error,
                       "bind_address": f.bind_address, "verdict": f.verdict, "peers": dict(f.peers), "images": sorted(f.images),
                       "gpus": [{"index": g.index, "model": g.model, "uuid": g.uuid} for g in f.gpus]}
                      for f in self.hosts.values()],
            "pods": [p.to_dict() for p in self.pods],
        }
