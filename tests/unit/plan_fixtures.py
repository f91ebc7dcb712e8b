"""Hand-built clusters for planner tests: hosts as HostFacts, pods as the containers `create_pod` makes (their
labels are read back from the real create script, so fixtures and builder never drift apart), desired state
from Kubernetes manifests, and a small pure simulator that applies a Plan to a fake cluster and carries the
book between passes as the engine does."""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from orchestrator.act.executor import ActionResult
from orchestrator.commands.pod import create_pod
from orchestrator.controllers.book import Book
from orchestrator.controllers.desired import DesiredState
from orchestrator.engine import believed_pods
from orchestrator.model.load import parse_objects
from orchestrator.observe.facts import ContainerInfo, HostFacts
from orchestrator.observe.snapshot import ClusterSnapshot
from orchestrator.plan.planner import PlannerConfig, plan
from orchestrator.plan.ports import assign_ports
from orchestrator.plan.types import Action, CreatePod, DeletePod, Plan, PodRun, RemoveOrphan, RestartContainer

INFRA_IMAGE = "local/busybox:1"
IMAGE = "nginx:1.25"
GRACE = 40.0
T0 = 1_700_000_000.0  # a fixed "now" for single-pass tests


def iso(t: float) -> str:
    """Unix seconds as docker prints them (RFC 3339, nanoseconds, Z)."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


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

# Flags of `docker run` that take a value (every flag the builders use, except -d).
_NO_VALUE = {"-d"}


def _parse_run(line: str) -> tuple[str, str, dict[str, str], list[str]]:
    """(container name, image, labels, -p values) of one `docker run` line of a create script."""
    argv = shlex.split(line.split(" >/dev/null", 1)[0])
    assert argv[:2] == ["docker", "run"], line
    name, image, labels, published = "", "", {}, []
    i = 2
    while i < len(argv):
        a = argv[i]
        if a == "--":  # the end of docker's options: the image follows
            image = argv[i + 1]
            break
        if a in _NO_VALUE or (a.startswith("--") and "=" in a):
            i += 1
            continue
        if a.startswith("-"):
            value = argv[i + 1]
            if a == "--name":
                name = value
            elif a == "--label":
                k, _, v = value.partition("=")
                labels[k] = v
            elif a == "-p":
                published.append(value)
            i += 2
            continue
        image = a
        break
    return name, image, labels, published


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
    """The containers `create_pod(run)` leaves on a host, labelled exactly as its script labels them.
    `state`/`health` apply to the app containers; `missing` names app containers that are gone."""
    script = create_pod(run, INFRA_IMAGE, ("sleep", "2147483647")).render()
    out = []
    next_port = 32768
    for line in script.splitlines():
        if not line.startswith("docker run "):
            continue
        name, image, labels, published = _parse_run(line)
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


def desired(*docs: dict[str, Any]) -> DesiredState:
    return DesiredState.from_objects(parse_objects(list(docs)) if docs else [])


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


# --- a fake cluster and a pure simulator of passes ---


@dataclass
class FakeHost:
    name: str
    up: bool = True
    containers: list[ContainerInfo] = field(default_factory=list)

    def facts(self) -> HostFacts:
        return host(self.name, containers=self.containers) if self.up else unreachable(self.name)


@dataclass
class PassRecord:
    plan: Plan
    snapshot: ClusterSnapshot
    results: list[ActionResult]
    book_before: Book
    written: bool  # the book was written (the controller was not killed mid-pass)
    complete: bool  # every action applied and the book written


@dataclass
class FakeCluster:
    """Hosts that keep their containers while unreachable (as a host whose sshd died or whose network
    failed), a book carried between passes as Engine.run_pass carries it, and a clock."""

    hosts: dict[str, FakeHost]
    book: Book = field(default_factory=Book)
    now: float = T0
    step: float = 10.0  # seconds between passes
    started: int = 0  # counter making start times distinct and increasing
    # Hosts whose containers changed in ways the book cannot know (a container killed, a host wiped, a pass
    # killed after acting there, a failed create's undo): until a pass that writes the book sees the host
    # again, what the book believes about it may be wrong.
    tainted: set[str] = field(default_factory=set)
    collided: set[str] = field(default_factory=set)  # hosts where a create of this pass met a duplicate name

    @classmethod
    def of(cls, *names: str) -> FakeCluster:
        return cls({n: FakeHost(n) for n in names})

    def snapshot(self) -> ClusterSnapshot:
        return ClusterSnapshot.build([self.hosts[n].facts() for n in sorted(self.hosts)], self.now)

    # docker, as the create/delete scripts use it

    def _create(self, a: CreatePod, *, half: bool = False) -> bool:
        h = self.hosts[a.host]
        cs = containers_for(a.pod, started=self.now + self.started * 0.001, infra_only=half)
        self.started += 1
        names = {c.name for c in h.containers}
        if any(c.name in names for c in cs):
            # docker refuses a duplicate name; the script's undo then removes every container of that name
            gone = {c.name for c in cs}
            h.containers = [c for c in h.containers if c.name not in gone]
            self.tainted.add(a.host)
            self.collided.add(a.host)
            return False
        h.containers += cs
        return not half

    def _delete(self, a: DeletePod) -> bool:
        h = self.hosts[a.host]
        h.containers = [c for c in h.containers if c.labels.get("orc.pod-uid") != a.uid]
        return True

    def _restart(self, a: RestartContainer) -> bool:
        h = self.hosts[a.host]
        for i, c in enumerate(h.containers):
            if c.name == a.container:
                h.containers[i] = replace(c, health="healthy", restart_count=c.restart_count + 1)
                return True
        return False

    def apply_action(self, a: Action, *, half: bool = False) -> bool:
        if not self.hosts[a.host].up:
            return False
        if isinstance(a, CreatePod):
            return self._create(a, half=half)
        if isinstance(a, DeletePod):
            return self._delete(a)
        if isinstance(a, RemoveOrphan):
            h = self.hosts[a.host]
            h.containers = [c for c in h.containers if c.name != a.container]
            return True
        return self._restart(a)

    def run_pass(
        self,
        d: DesiredState,
        cfg: PlannerConfig | None = None,
        *,
        seed: int = 0,
        cut: dict[str, int] | None = None,
        half: bool = False,
        fail: frozenset[int] = frozenset(),
    ) -> PassRecord:
        """One pass as the engine runs it. `cut` (host -> n) kills the controller mid-pass: only the first n
        actions of each host run (the n+1-th half-runs a create when `half`), and the book is not written.
        `fail` lists action indexes that fail (reported, the book written as usual)."""
        cfg = cfg or config()
        snap = self.snapshot()
        book_before = Book.from_dict(self.book.to_dict())
        p = plan(d, snap, self.book, snap.taken_at, cfg, seed=seed)
        self.collided = set()
        results: list[ActionResult] = []
        done: dict[str, int] = {}
        for i, a in enumerate(p.actions):
            k = done.get(a.host, 0)
            done[a.host] = k + 1
            if cut is not None and k >= cut.get(a.host, 0):
                if half and k == cut.get(a.host, 0) and isinstance(a, CreatePod):
                    self.apply_action(a, half=True)
                    self.tainted.add(a.host)
                continue
            ok = i not in fail and self.apply_action(a)
            if cut is not None and ok:
                self.tainted.add(a.host)
            results.append(ActionResult(a, a.host, ok, a.verb, "" if ok else "failed"))
        if cut is None:
            self.tainted -= {h for h, f in snap.hosts.items() if f.ready and h not in self.collided}
            pods = believed_pods(snap, self.book, p, results, cfg.grace_period)
            self.book = Book(
                host_failures=p.book["host_failures"],
                evicted=p.book["evicted"],
                bindings=p.book["bindings"],
                assumed=pods,
            )
        self.now += self.step
        return PassRecord(
            p, snap, results, book_before, cut is None, cut is None and all(r.ok for r in results)
        )

    # what a test asserts on

    def pods(self, *, reachable_only: bool = False) -> list[tuple[str, str, str, str | None]]:
        """(host, pod name, uid, owner) of every pod instance with an infra container."""
        out = []
        for h in self.hosts.values():
            if reachable_only and not h.up:
                continue
            for c in h.containers:
                if c.labels.get("orc.infra") == "true":
                    out.append(
                        (h.name, c.labels["orc.pod"], c.labels["orc.pod-uid"], c.labels["orc.owner"] or None)
                    )
        return sorted(out)

    def uids_on(self, host_name: str, *, complete: bool = False) -> set[str]:
        """Pod uids with any container on the host (only complete pods when `complete`)."""
        from orchestrator.observe.snapshot import pods_of

        return {
            p.uid
            for p in pods_of(host(host_name, containers=self.hosts[host_name].containers))
            if p.complete or not complete
        }

    def kill_container(self, host_name: str, pod_name: str) -> bool:
        """`docker rm -f` the first app container of a pod; False when there was none."""
        h = self.hosts[host_name]
        for c in h.containers:
            if c.labels.get("orc.pod") == pod_name and c.labels.get("orc.infra") != "true":
                h.containers.remove(c)
                self.tainted.add(host_name)
                return True
        return False

    def wipe(self, host_name: str) -> None:
        """The host comes back empty (reinstalled, or docker's data lost)."""
        self.hosts[host_name].up = True
        self.hosts[host_name].containers = []
        self.tainted.add(host_name)
