"""Everything `get` and `describe` show, read from the store at one revision: desired objects, the observed
snapshot, and the bookkeeping other parts keep under `_meta/`.

Bookkeeping keys read here (each optional; absent means "not known yet"):

    _meta/created/<kind>/<name>   {"at": <unix seconds>, "uid": <uuid>}: when `orc apply` created the object
                                  (AGE, creationTimestamp) and its metadata.uid; written and removed by
                                  apply/delete in the same transaction as the object
    _meta/cluster-ip/<ip>         {"service": <name>}: the service's allocated cluster IP
    _meta/node-port/<port>        {"service": <name>, "port": <service port>?}: an allocated node port
    _meta/endpoints/<service>     {"subsets": [{"addresses": [{"ip"}], "ports": [{"port"}]}]} as Kubernetes,
                                  or {"endpoints": ["10.0.0.5:80", {"ip": ..., "port": ...}, ...]}
    _meta/events/...              {"object": "rc/web", "type", "reason", "message", "time"/"timestamp",
                                  "source"?}: events shown by describe
    _meta/cordon/<host>           {"at", "drain", "grace"?}: the host is cordoned (drained) by orc cordon/drain
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from orchestrator.cli.observed import Snapshot, snapshot_from_record
from orchestrator.store import keys

if TYPE_CHECKING:
    from orchestrator.store import Record, Store

CREATED = keys.CREATED
ENDPOINTS = keys.META + "endpoints/"
EVENTS = keys.META + "events/"
BOOK = keys.META + "reconcile"  # controllers.book.BOOK_KEY (not imported: `orc get` stays light)


def created_key(object_key: str) -> str:
    """Where apply records when it created `object_key`: "_meta/created/rc/web"."""
    return CREATED + object_key


@dataclass
class ClusterView:
    objects: dict[str, Record] = field(default_factory=dict)  # "pod/x", "rc/x", "rs/x", "deploy/x", "svc/x"
    snapshot: Snapshot | None = None
    created: dict[str, float] = field(default_factory=dict)  # object key -> unix seconds
    uids: dict[str, str] = field(default_factory=dict)  # object key -> metadata.uid given at creation
    snapshot_revision: int = 0  # the store revision the snapshot was written at
    rollouts: dict[str, dict[str, Any]] = field(default_factory=dict)  # controller -> the last pass's status
    cluster_ips: dict[str, str] = field(default_factory=dict)  # service name -> ip
    node_ports: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # service -> allocations
    endpoints: dict[str, Record] = field(default_factory=dict)  # service name -> record
    events: list[dict[str, Any]] = field(default_factory=list)
    revision: int = 0
    cordons: dict[str, dict[str, Any]] = field(default_factory=dict)  # host -> `orc cordon`/`drain` record
    config_errors: dict[str, str] = field(default_factory=dict)  # pod -> why it cannot start (the last pass)
    secret_values: Any = None  # the applied Secrets' values (secret_store.SecretValues), when a command shows them

    def unschedulable(self, host: str) -> bool:
        """Cordoned: by `orc cordon` / `orc drain` (the store) or by the inventory (as of the last pass)."""
        return host in self.cordons or bool(self.snapshot and host in self.snapshot.inventory_cordoned)

    def cordon_source(self, host: str) -> str:
        """Who cordoned the host, for describe: "orc drain", "orc cordon", "inventory (orc_cordoned)"."""
        said = []
        if host in self.cordons:
            said.append("orc drain" if self.cordons[host].get("drain") else "orc cordon")
        if self.snapshot and host in self.snapshot.inventory_cordoned:
            said.append("inventory (orc_cordoned)")
        return ", ".join(said)

    @classmethod
    def from_records(cls, records: Iterable[Record], revision: int) -> ClusterView:
        """The view of `records`; a workload an older orc stored under rc/ shows under its own kind's key,
        and its pods that still carry the old owner label as its own (controllers/moved_keys.py)."""
        from orchestrator.controllers.moved_keys import current_objects, moves_of, owner_of

        records = list(records)
        view = cls(revision=revision, objects=current_objects(records))
        moved = moves_of(records)
        for r in records:
            if r.deleted or not r.key.startswith(keys.META):
                continue
            key = r.key
            if key == BOOK:
                rollouts = r.value.get("rollouts")
                if isinstance(rollouts, dict):
                    view.rollouts = {k: v for k, v in rollouts.items() if isinstance(v, dict)}
                config_errors = r.value.get("config_errors")
                if isinstance(config_errors, dict):
                    view.config_errors = {str(k): str(v) for k, v in config_errors.items()}
            elif key == keys.SNAPSHOT:
                view.snapshot = snapshot_from_record(r)
                view.snapshot_revision = r.revision
            elif key.startswith(CREATED):
                at = r.value.get("at")
                if isinstance(at, int | float):
                    view.created[key[len(CREATED) :]] = float(at)
                if isinstance(r.value.get("uid"), str):
                    view.uids[key[len(CREATED) :]] = r.value["uid"]
            elif key.startswith(keys.CLUSTER_IP):
                svc = r.value.get("service")
                if isinstance(svc, str):
                    view.cluster_ips[svc] = key[len(keys.CLUSTER_IP) :]
            elif key.startswith(keys.NODE_PORT):
                svc = r.value.get("service")
                port = key[len(keys.NODE_PORT) :]
                if isinstance(svc, str) and port.isdigit():
                    view.node_ports.setdefault(svc, []).append({**r.value, "nodePort": int(port)})
            elif key.startswith(ENDPOINTS):
                view.endpoints[key[len(ENDPOINTS) :]] = r
            elif key.startswith(EVENTS):
                view.events.append({"_key": key, **r.value})
            elif key.startswith(keys.CORDON) and isinstance(r.value, dict):
                view.cordons[key[len(keys.CORDON):]] = r.value
        for old, m in moved.items():  # the creation time of a legacy record not moved yet goes with it
            if m.at is None and old in view.created and old not in view.objects:
                view.created[m.new] = view.created.pop(old)
        if view.snapshot is not None and moved:
            pods = tuple(replace(p, owner=owner_of(p.owner, p.uid, moved)) for p in view.snapshot.pods)
            view.snapshot = replace(view.snapshot, pods=pods)
        return view

    def uid(self, key: str) -> str:
        """The object's metadata.uid: the one apply gave it, else (an object stored before uids were) one
        derived from its key and creation, stable for its life."""
        if key in self.uids:
            return self.uids[key]
        import uuid

        record = self.objects.get(key)
        born = record.create_revision if record is not None else 0
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"orc:{key}:{born}:{self.created.get(key, 0.0)}"))

    def of_prefix(self, prefix: str) -> list[Record]:
        """Stored objects of one store kind ("rc", "rs", "deploy", ...), sorted by name."""
        return [r for k, r in sorted(self.objects.items()) if k.startswith(prefix + "/")]

    def events_for(self, object_key: str) -> list[dict[str, Any]]:
        """Events about `object_key`, oldest first: those naming it in `object` (or `involvedObject`), or
        stored under `_meta/events/<object_key>/`."""
        found = [
            e
            for e in self.events
            if e.get("object") == object_key
            or e.get("involvedObject") == object_key
            or str(e["_key"]).startswith(EVENTS + object_key + "/")
        ]
        return sorted(found, key=lambda e: float(_event_time(e) or 0.0))


def _event_time(event: Mapping[str, Any]) -> float | None:
    for name in ("lastTimestamp", "time", "timestamp", "at"):
        value = event.get(name)
        if isinstance(value, int | float):
            return float(value)
    return None


EVENTS_KEPT = 3600.0  # seconds: older events are not shown (the next pass with events prunes them)


def expired(event: Mapping[str, Any], now: float) -> bool:
    t = _event_time(event)
    return t is not None and now - t > EVENTS_KEPT


def event_time(event: Mapping[str, Any]) -> float | None:
    """An event's unix time, from whichever of time/timestamp/lastTimestamp/at it carries."""
    return _event_time(event)


def endpoint_addresses(value: Mapping[str, Any]) -> list[str]:
    """ "ip:port" strings of an endpoints record in either accepted form (see the module docstring)."""
    out: list[str] = []
    for subset in value.get("subsets") or []:
        ports = [p.get("port") for p in subset.get("ports") or [] if isinstance(p, dict)] or [None]
        for a in subset.get("addresses") or []:
            ip = a.get("ip") if isinstance(a, dict) else a
            out += [f"{ip}:{p}" if p is not None else str(ip) for p in ports]
    for e in value.get("endpoints") or []:
        if isinstance(e, dict):
            ip = e.get("ip") or e.get("host") or e.get("address")
            out.append(f"{ip}:{e['port']}" if e.get("port") is not None else str(ip))
        else:
            out.append(str(e))
    return out


def read_view(store: Store) -> ClusterView:
    """The whole store at one revision (desired state and bookkeeping are small)."""
    records = store.list("")
    return ClusterView.from_records(records, records.revision)
