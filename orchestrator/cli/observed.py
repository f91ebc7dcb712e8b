"""The observed cluster as the reconcile engine last saw it: the snapshot kept in the store under
`keys.SNAPSHOT` ("_meta/snapshot"), and a small typed accessor that the CLI reads and the engine writes.

The stored value is a JSON object:

    {
      "taken_at": 1700000000.0,                 # unix seconds when the observation finished
      "desired_revision": 42,                   # the store revision the pass read desired state at
      "hosts": [
        {"name": "lab1",                        # inventory host name
         "status": "Ready",                     # Ready | NotReady | Unreachable
         "address": "10.99.0.11",
         "bind_address": "10.99.0.11",          # where its pods publish their ports (optional)
         "labels": {"rack": "r1"},
         "capacity": {"cpu": "2", "memory": "4Gi"},
         "reason": ""}                          # why it is not Ready ("" when it is)
      ],
      "pods": [
        {"name": "web-x7k2p", "uid": "3f2a...",
         "host": "lab1",                        # where it runs
         "owner": "rc/web",                     # store key of its controller; null for a bare pod
         "phase": "Running",                    # Running | Pending | Failed | Unknown | Lost
         "ready": true,
         "containers_ready": "2/2",
         "restarts": 0,
         "started_at": 1700000000.0,            # unix seconds; null if not started
         "ip": "172.18.0.5",                    # pod IP; null if none
         "labels": {"app": "web"},
         "ports": {"80/tcp": 32768},            # container port -> published host port
         "spec_hash": "9f3c...",                # the hash of the template it was made from (optional)
         "containers": [                        # app containers, as docker reports them (optional)
           {"name": "web", "id": "3c1f...", "image": "local/busybox:1",
            "state": "running",                 # running | restarting | exited | created | paused | dead
            "exit_code": 0, "started_at": 1700000000.0, "finished_at": null,
            "restarts": 0,                      # docker's restarts plus the loop's liveness restarts
            "health": "healthy",                # healthy | unhealthy | starting | null (no probe)
            "probe": "liveness"}],              # liveness | readiness | startup | null: what the health check is
         "init_containers": [...]}              # init containers in the order they run, as containers (optional)
      ]
    }

Missing optional fields read as their empty defaults and fields not listed here (the engine keeps more, e.g.
`requests`) are ignored; a missing `name` or a field of the wrong type is an error naming it.

    snap = read_snapshot(store)                  # None when no pass has stored one yet
    snap.age(time.time()), snap.pod("web-x7k2p"), snap.pods_of("rc/web"), snap.host("lab1")
    write_snapshot(store, Snapshot(taken_at=..., hosts=(...), pods=(...)), fence=lock.fence)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orchestrator.errors import StoreError
from orchestrator.store import keys

if TYPE_CHECKING:
    from orchestrator.store import Fence, Record, Store

HOST_STATUSES = ("Ready", "NotReady", "Unreachable")
POD_PHASES = ("Running", "Pending", "Failed", "Unknown", "Lost")
ACTIVE_PHASES = ("Running", "Pending", "Unknown")
"""Phases of a pod that still counts toward its controller's current replicas."""


def _field(entry: dict[str, Any], where: str, name: str, types: type | tuple[type, ...], default: Any) -> Any:
    value = entry.get(name, default)
    if value is None:
        return default
    if not isinstance(value, types):
        raise StoreError(
            f"store key {keys.SNAPSHOT!r} is malformed: {where}.{name}: expected {_type_names(types)}, got "
            f"{type(value).__name__} {value!r}; run `orc reconcile` to store a fresh snapshot"
        )
    return value


def _type_names(types: type | tuple[type, ...]) -> str:
    seq = types if isinstance(types, tuple) else (types,)
    return " or ".join(t.__name__ for t in seq)


def _name(entry: Any, where: str) -> str:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
        raise StoreError(
            f"store key {keys.SNAPSHOT!r} is malformed: {where}.name: a non-empty string is required; "
            "run `orc reconcile` to store a fresh snapshot"
        )
    return str(entry["name"])


@dataclass(frozen=True)
class ObservedHost:
    name: str
    status: str = "Unreachable"
    address: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    capacity: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    bind_address: str = ""

    @classmethod
    def from_dict(cls, entry: Any, where: str = "hosts[0]") -> ObservedHost:
        name = _name(entry, where)
        return cls(
            name=name,
            status=_field(entry, where, "status", str, "Unreachable"),
            address=_field(entry, where, "address", str, ""),
            labels=dict(_field(entry, where, "labels", dict, {})),
            capacity={k: str(v) for k, v in _field(entry, where, "capacity", dict, {}).items()},
            reason=_field(entry, where, "reason", str, ""),
            bind_address=_field(entry, where, "bind_address", str, ""),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "address": self.address,
            "bind_address": self.bind_address,
            "labels": dict(self.labels),
            "capacity": dict(self.capacity),
            "reason": self.reason,
        }

    @property
    def cluster_address(self) -> str:
        """Where the host's pods are reached (their ports are published there): hostIP."""
        return self.bind_address or self.address


@dataclass(frozen=True)
class ObservedContainer:
    """One app container of a pod, as docker last reported it."""

    name: str
    id: str = ""
    image: str = ""
    state: str = "created"
    exit_code: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    restarts: int = 0
    health: str | None = None
    probe: str | None = None

    @classmethod
    def from_dict(cls, entry: Any, where: str) -> ObservedContainer:
        name = _name(entry, where)
        started = _field(entry, where, "started_at", (int, float), None)
        finished = _field(entry, where, "finished_at", (int, float), None)
        return cls(
            name=name,
            id=_field(entry, where, "id", str, ""),
            image=_field(entry, where, "image", str, ""),
            state=_field(entry, where, "state", str, "created"),
            exit_code=int(_field(entry, where, "exit_code", int, 0)),
            started_at=None if started is None else float(started),
            finished_at=None if finished is None else float(finished),
            restarts=int(_field(entry, where, "restarts", int, 0)),
            health=_field(entry, where, "health", str, None),
            probe=_field(entry, where, "probe", str, None),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id": self.id,
            "image": self.image,
            "state": self.state,
            "exit_code": self.exit_code,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "restarts": self.restarts,
            "health": self.health,
            "probe": self.probe,
        }

    @property
    def ready(self) -> bool:
        """Running, and its health check (if any) passes: what a service may send traffic to."""
        return self.state == "running" and self.health in (None, "healthy")


@dataclass(frozen=True)
class ObservedPod:
    name: str
    uid: str = ""
    host: str = ""
    owner: str | None = None
    phase: str = "Unknown"
    ready: bool = False
    containers_ready: str = "0/0"
    restarts: int = 0
    started_at: float | None = None
    ip: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    containers: tuple[ObservedContainer, ...] = ()
    spec_hash: str = ""  # the hash of the template it was made from (updatedReplicas)
    init_containers: tuple[ObservedContainer, ...] = ()  # in the order they run (a pod with none: empty)

    @classmethod
    def from_dict(cls, entry: Any, where: str = "pods[0]") -> ObservedPod:
        name = _name(entry, where)
        started = _field(entry, where, "started_at", (int, float), None)
        return cls(
            name=name,
            uid=_field(entry, where, "uid", str, ""),
            host=_field(entry, where, "host", str, ""),
            owner=_field(entry, where, "owner", str, None),
            phase=_field(entry, where, "phase", str, "Unknown"),
            ready=bool(_field(entry, where, "ready", bool, False)),
            containers_ready=_field(entry, where, "containers_ready", str, "0/0"),
            restarts=int(_field(entry, where, "restarts", int, 0)),
            started_at=None if started is None else float(started),
            ip=_field(entry, where, "ip", str, None),
            labels=dict(_field(entry, where, "labels", dict, {})),
            ports={
                str(k): v for k, v in _field(entry, where, "ports", dict, {}).items() if isinstance(v, int)
            },
            containers=tuple(
                ObservedContainer.from_dict(c, f"{where}.containers[{i}]")
                for i, c in enumerate(_field(entry, where, "containers", list, []))
            ),
            spec_hash=_field(entry, where, "spec_hash", str, ""),
            init_containers=tuple(
                ObservedContainer.from_dict(c, f"{where}.init_containers[{i}]")
                for i, c in enumerate(_field(entry, where, "init_containers", list, []))
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "uid": self.uid,
            "host": self.host,
            "owner": self.owner,
            "phase": self.phase,
            "ready": self.ready,
            "containers_ready": self.containers_ready,
            "restarts": self.restarts,
            "started_at": self.started_at,
            "ip": self.ip,
            "labels": dict(self.labels),
            "ports": dict(self.ports),
            "containers": [c.to_dict() for c in self.containers],
            "spec_hash": self.spec_hash,
            **({"init_containers": [c.to_dict() for c in self.init_containers]} if self.init_containers else {}),
        }

    @property
    def active(self) -> bool:
        """Counts toward its controller's current replicas (not Failed, not Lost with its host)."""
        return self.phase in ACTIVE_PHASES


@dataclass(frozen=True)
class Snapshot:
    taken_at: float
    hosts: tuple[ObservedHost, ...] = ()
    pods: tuple[ObservedPod, ...] = ()
    desired_revision: int = 0
    inventory_cordoned: tuple[str, ...] = ()  # hosts the inventory cordons (orc_cordoned: true)
    budgets: dict[str, dict[str, Any]] = field(default_factory=dict)  # PodDisruptionBudget -> its status

    @classmethod
    def from_dict(cls, data: Any) -> Snapshot:
        if not isinstance(data, dict):
            raise StoreError(f"store key {keys.SNAPSHOT!r} is malformed: expected an object")
        taken = _field(data, "snapshot", "taken_at", (int, float), 0.0)
        hosts = _field(data, "snapshot", "hosts", list, [])
        pods = _field(data, "snapshot", "pods", list, [])
        return cls(
            taken_at=float(taken),
            hosts=tuple(ObservedHost.from_dict(h, f"hosts[{i}]") for i, h in enumerate(hosts)),
            pods=tuple(ObservedPod.from_dict(p, f"pods[{i}]") for i, p in enumerate(pods)),
            desired_revision=int(_field(data, "snapshot", "desired_revision", int, 0)),
            inventory_cordoned=tuple(str(h) for h in _field(data, "snapshot", "inventory_cordoned", list, [])),
            budgets={str(k): v for k, v in _field(data, "snapshot", "budgets", dict, {}).items()
                     if isinstance(v, dict)},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "taken_at": self.taken_at,
            "hosts": [h.to_dict() for h in self.hosts],
            "pods": [p.to_dict() for p in self.pods],
            "desired_revision": self.desired_revision,
            "inventory_cordoned": list(self.inventory_cordoned),
            "budgets": dict(self.budgets),
        }

    def age(self, now: float) -> float:
        """Seconds since the snapshot was taken."""
        return max(0.0, now - self.taken_at)

    def pod(self, name: str) -> ObservedPod | None:
        return next((p for p in self.pods if p.name == name), None)

    def pods_of(self, owner: str) -> list[ObservedPod]:
        """Pods whose controller is the store key `owner` ("rc/web")."""
        return [p for p in self.pods if p.owner == owner]

    def pods_on(self, host: str) -> list[ObservedPod]:
        return [p for p in self.pods if p.host == host]

    def host(self, name: str) -> ObservedHost | None:
        return next((h for h in self.hosts if h.name == name), None)


def snapshot_from_record(record: Record | None) -> Snapshot | None:
    return None if record is None or record.deleted else Snapshot.from_dict(record.value)


def read_snapshot(store: Store) -> Snapshot | None:
    """The last stored snapshot, or None when no reconcile pass has stored one."""
    return snapshot_from_record(store.get(keys.SNAPSHOT))


def write_snapshot(store: Store, snapshot: Snapshot, *, fence: Fence | None = None) -> Record:
    """Store `snapshot` (unconditionally: the newest observation wins); pass the reconcile lock's fence."""
    return store.put(keys.SNAPSHOT, snapshot.to_dict(), fence=fence)
