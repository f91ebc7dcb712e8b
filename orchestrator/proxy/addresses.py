"""Cluster IPs and node ports: allocated race-free in the store (create-only writes), kept for a service's
life, released when it is deleted.

    _meta/cluster-ip/<ip>     {"service": <name>}
    _meta/node-port/<port>    {"service": <name>, "port": <service port>}

The records themselves say which service owns what, so a service keeps its address across passes and
controllers; `current(store)` reads them without writing."""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from orchestrator.config import ProxySettings
from orchestrator.errors import ConfigError, ConflictError
from orchestrator.model.objects import Service
from orchestrator.store import Record, Store, keys


@dataclass(frozen=True)
class ServiceAddress:
    cluster_ip: str
    node_ports: dict[int, int] = field(default_factory=dict, hash=False)  # service port -> node port


class AllocationError(ConfigError):
    """Some services could not get an address; `.addresses` holds those that did (use them)."""

    def __init__(self, errors: list[str], addresses: dict[str, ServiceAddress]):
        self.errors = errors
        self.addresses = addresses
        super().__init__("\n".join(errors))


def service_network(settings: ProxySettings) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(settings.service_cidr)
    except ValueError as e:
        raise ConfigError(
            f"orc.yaml proxy.service_cidr {settings.service_cidr!r} is invalid: {e}; "
            "use a network such as 10.233.0.0/24"
        ) from e


def node_port_range(settings: ProxySettings) -> range:
    low, sep, high = settings.node_port_range.partition("-")
    if not (sep and low.strip().isdigit() and high.strip().isdigit()) or not (
        1 <= int(low) <= int(high) <= 65535
    ):
        raise ConfigError(
            f"orc.yaml proxy.node_port_range {settings.node_port_range!r} is invalid: "
            "use LOW-HIGH such as 30000-32767"
        )
    return range(int(low), int(high) + 1)


def _hosts(net: ipaddress.IPv4Network) -> Iterator[str]:
    """Candidate cluster IPs: the network's host addresses, its first one kept back (as Kubernetes keeps
    it for the API service)."""
    return (str(ip) for ip in itertools.islice(net.hosts(), 1, None))


def _owned(records: list[Record]) -> dict[str, list[Record]]:
    out: dict[str, list[Record]] = {}
    for r in records:
        out.setdefault(str(r.value.get("service", "")), []).append(r)
    return out


def current(store: Store) -> dict[str, ServiceAddress]:
    """Service name -> its recorded address (read only)."""
    ips = _owned(store.list(keys.CLUSTER_IP))
    ports = _owned(store.list(keys.NODE_PORT))
    out: dict[str, ServiceAddress] = {}
    for name, recs in ips.items():
        ip = recs[0].key[len(keys.CLUSTER_IP) :]
        node_ports = {
            int(r.value.get("port", 0)): int(r.key[len(keys.NODE_PORT) :]) for r in ports.get(name, [])
        }
        out[name] = ServiceAddress(ip, node_ports)
    return out


@dataclass(frozen=True)
class StoreOp:
    """One write an allocation needs, done by the act phase (fenced, compare-and-swap): `claim` creates
    `key` (expect absent), `update` rewrites it at `revision`, `release` deletes it at `revision`."""

    op: str  # claim | update | release
    key: str
    value: dict[str, object] = field(default_factory=dict, hash=False)
    revision: int = 0

    @property
    def verb(self) -> str:
        return {"claim": "allocate", "update": "reassign", "release": "release"}[self.op]

    @property
    def target(self) -> str:
        kind, _, what = self.key[len(keys.META):].partition("/")
        return f"{kind} {what}"

    @property
    def reason(self) -> str:
        svc = self.value.get("service")
        return f'for Service "{svc}"' if svc else "no longer used"


def _pending_record(key: str, value: dict[str, object]) -> Record:
    """A record this plan is about to create (revision 0 until the store gives it one)."""
    return Record(key, dict(value), 0, 0, 0)


class _Allocator:
    """Pure: works on the records read before planning and lists the writes (`ops`) that make it so."""

    def __init__(self, records: Iterable[Record], settings: ProxySettings):
        self.net = service_network(settings)
        self.ports = node_port_range(settings)
        recs = list(records)
        self.ip_records = {r.key: r for r in recs if r.key.startswith(keys.CLUSTER_IP)}
        self.port_records = {r.key: r for r in recs if r.key.startswith(keys.NODE_PORT)}
        self.ops: list[StoreOp] = []

    def claim(self, records: dict[str, Record], key: str, value: dict[str, object]) -> bool:
        if key in records:
            return False
        records[key] = _pending_record(key, value)
        self.ops.append(StoreOp("claim", key, dict(value)))
        return True

    def cluster_ip(self, svc: Service) -> str:
        mine = sorted(k for k, r in self.ip_records.items() if r.value.get("service") == svc.name)
        wanted = svc.spec.cluster_ip
        if wanted:
            if ipaddress.IPv4Address(wanted) not in self.net:
                raise ConfigError(
                    f'Service "{svc.name}": spec.clusterIP {wanted} is not in the service range '
                    f"{self.net} (orc.yaml proxy.service_cidr): pick an address in it or omit it"
                )
            key = keys.cluster_ip_key(wanted)
            if key not in mine and not self.claim(self.ip_records, key, {"service": svc.name}):
                raise ConfigError(
                    f'Service "{svc.name}": spec.clusterIP {wanted} is already allocated to '
                    f'Service "{self.holder(self.ip_records, key)}": pick another address or omit it'
                )
            self.release(self.ip_records, [k for k in mine if k != key])
            return wanted
        if mine:
            self.release(self.ip_records, mine[1:])
            return mine[0][len(keys.CLUSTER_IP) :]
        for ip in _hosts(self.net):
            if self.claim(self.ip_records, keys.cluster_ip_key(ip), {"service": svc.name}):
                return ip
        raise ConfigError(
            f'Service "{svc.name}": no free cluster IP left in {self.net} (orc.yaml '
            "proxy.service_cidr): delete unused services or widen the range"
        )

    def _mine(self, svc: Service) -> dict[str, Record]:
        return {k: r for k, r in self.port_records.items() if r.value.get("service") == svc.name}

    def fixed_node_ports(self, svc: Service) -> dict[int, int]:
        """Claim the node ports the service names (first, for every service, so no automatic pick takes
        them); release those a NodePort service no longer has, or every one of a service that is not one."""
        mine = self._mine(svc)
        if svc.type != "NodePort":
            self.release(self.port_records, list(mine))
            return {}
        out: dict[int, int] = {}
        for i, sp in enumerate(svc.spec.ports):
            if sp.node_port is None:
                continue
            where = f'Service "{svc.name}": spec.ports[{i}].nodePort {sp.node_port}'
            if sp.node_port not in self.ports:
                raise ConfigError(
                    f"{where} is outside the node port range {self.ports.start}-"
                    f"{self.ports.stop - 1} (orc.yaml proxy.node_port_range): pick one in it"
                )
            key = keys.node_port_key(sp.node_port)
            value = {"service": svc.name, "port": sp.port}
            record = mine.get(key)
            if record is not None and record.value != value:  # the same node port moved to another port
                self.ops.append(StoreOp("update", key, dict(value), record.revision))
                self.port_records[key] = _pending_record(key, value)
            elif record is None and not self.claim(self.port_records, key, value):
                raise ConfigError(
                    f"{where} is already allocated to Service "
                    f'"{self.holder(self.port_records, key)}": pick another or omit it'
                )
            out[sp.port] = sp.node_port
        return out

    def auto_node_ports(self, svc: Service, fixed: dict[int, int]) -> dict[int, int]:
        if svc.type != "NodePort":
            return {}
        mine = self._mine(svc)
        out = dict(fixed)
        kept = {keys.node_port_key(n) for n in fixed.values()}
        recorded = {int(r.value.get("port", 0)): k for k, r in mine.items() if k not in kept}
        for sp in svc.spec.ports:
            if sp.port in out:
                continue
            if sp.port in recorded:
                key = recorded[sp.port]
                out[sp.port] = int(key[len(keys.NODE_PORT) :])
                kept.add(key)
                continue
            for n in self.ports:
                key = keys.node_port_key(n)
                if self.claim(self.port_records, key, {"service": svc.name, "port": sp.port}):
                    out[sp.port] = n
                    kept.add(key)
                    break
            else:
                raise ConfigError(
                    f'Service "{svc.name}": no free node port left in {self.ports.start}-'
                    f"{self.ports.stop - 1} (orc.yaml proxy.node_port_range): widen it"
                )
        self.release(self.port_records, [k for k in mine if k not in kept])
        return {sp.port: out[sp.port] for sp in svc.spec.ports}

    def release_deleted(self, names: set[str]) -> None:
        for records in (self.ip_records, self.port_records):
            self.release(records, [k for k, r in records.items() if r.value.get("service") not in names])

    def holder(self, records: dict[str, Record], key: str) -> str:
        r = records.get(key)
        return "?" if r is None else str(r.value.get("service", "?"))

    def release(self, records: dict[str, Record], doomed: list[str]) -> None:
        for k in doomed:
            r = records.pop(k)
            if r.revision:  # a record of this plan's own is simply not made
                self.ops.append(StoreOp("release", k, {}, r.revision))
            else:
                self.ops = [o for o in self.ops if o.key != k]


@dataclass
class AllocationPlan:
    addresses: dict[str, ServiceAddress] = field(default_factory=dict)  # what every served service has
    ops: list[StoreOp] = field(default_factory=list)  # the store writes that make it so
    errors: list[str] = field(default_factory=list)  # services that cannot be served, and why


def plan_allocation(
    records: Iterable[Record], services: Mapping[str, Service], settings: ProxySettings
) -> AllocationPlan:
    """Pure: service name -> its address, from the allocation records read before planning (`records`:
    every `_meta/cluster-ip/` and `_meta/node-port/` record), with the writes that allocate what is
    missing and release what deleted services held. Errors name each service that could not be served;
    the others are served."""
    by_name = {s.name: s for s in services.values() if not s.headless}  # a headless one has no address
    alloc = _Allocator(records, settings)
    alloc.release_deleted(set(by_name))
    errors: list[str] = []
    fixed: dict[str, dict[int, int]] = {}
    ips: dict[str, str] = {}
    # Addresses a service names go first, so an automatic pick never takes one from it.
    for svc in sorted(by_name.values(), key=lambda s: (not s.spec.cluster_ip, s.name)):
        try:
            ips[svc.name] = alloc.cluster_ip(svc)
        except ConfigError as e:
            errors.append(str(e))
    for name in sorted(ips):
        try:
            fixed[name] = alloc.fixed_node_ports(by_name[name])
        except ConfigError as e:
            errors.append(str(e))
    out: dict[str, ServiceAddress] = {}
    for name in sorted(fixed):
        try:
            out[name] = ServiceAddress(ips[name], alloc.auto_node_ports(by_name[name], fixed[name]))
        except ConfigError as e:
            errors.append(str(e))
    return AllocationPlan(out, alloc.ops, errors)


def allocation_records(store: Store) -> list[Record]:
    """What `plan_allocation` reads."""
    return [*store.list(keys.CLUSTER_IP), *store.list(keys.NODE_PORT)]


def apply_ops(store: Store, ops: Iterable[StoreOp], fence: tuple[str, int] | None = None) -> list[tuple[StoreOp, str]]:
    """Do the writes; (op, error) for each that failed: another controller got there first (a conflict:
    the next pass plans again from what it did), or the fence was refused."""
    from orchestrator.errors import StoreError

    failed = []
    for op in ops:
        try:
            if op.op == "claim":
                store.put(op.key, dict(op.value), expect_revision=0, fence=fence)
            elif op.op == "update":
                store.put(op.key, dict(op.value), expect_revision=op.revision, fence=fence)
            else:
                store.delete(op.key, expect_revision=op.revision, fence=fence)
        except ConflictError:
            if op.op != "release":  # a release that lost the race: no longer ours to release
                failed.append((op, f"{op.target} was taken by another controller meanwhile; retried next pass"))
        except StoreError as e:
            failed.append((op, str(e)))
    return failed


def allocate(
    store: Store, services: Mapping[str, Service], settings: ProxySettings
) -> dict[str, ServiceAddress]:
    """Plan and write at once (for callers outside a reconcile pass). Raises AllocationError (a
    ConfigError naming each service) when some could not be served; its `.addresses` has the others."""
    planned = plan_allocation(allocation_records(store), services, settings)
    failed = apply_ops(store, planned.ops)
    errors = planned.errors + [e for _, e in failed]
    if errors:
        raise AllocationError(errors, planned.addresses)
    return planned.addresses
