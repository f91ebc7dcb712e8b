"""The services part of the plan (pure): addresses to allocate, the endpoints every proxy will have after
this pass — pods that stay, plus the pods this pass creates on the host ports it chose for them — and per
host the HAProxy config, service addresses and hosts file that go with them (actions only where something
differs from what the host has).

A service whose own template fails keeps its last good section (or is left out) and is an error of the
pass; every other service on the host is still updated. A host whose main template fails gets nothing new
and is an error too."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.config import ProxySettings
from orchestrator.inventory.host import Host
from orchestrator.model.objects import Service
from orchestrator.observe.snapshot import ClusterSnapshot
from orchestrator.plan.types import CreatePod, UpdateHostsFile, UpdateProxy
from orchestrator.proxy.addresses import ServiceAddress, StoreOp, plan_allocation
from orchestrator.proxy.discovery import hosts_file, hosts_file_path, service_env
from orchestrator.proxy.endpoints import Endpoint, StoredPod, endpoints
from orchestrator.proxy.hostvars import HAProxyHost, proxy_hosts
from orchestrator.proxy.pod_labels import HTTP_CHECK_LABEL, PORT_NAMES_LABEL
from orchestrator.proxy.render_inputs import host_digest, service_digest, templates_digest
from orchestrator.proxy.state import STEP_NAME, ProxyState, digest, mark_line, parse_state
from orchestrator.store.base import Record


@dataclass
class ServicePlan:
    addresses: dict[str, ServiceAddress] = field(default_factory=dict)
    ops: list[StoreOp] = field(default_factory=list)
    endpoints: dict[str, list[Endpoint]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # discovery env for pods created now
    hosts_text: str = ""
    actions: list[UpdateProxy | UpdateHostsFile] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    served: dict[str, frozenset[str]] = field(default_factory=dict)  # proxy host -> services its live config has
    sections: dict[str, dict[str, str]] = field(default_factory=dict)  # host -> service -> last good section
    # host -> {"inputs": render_inputs digest, "config": digest of the config they rendered to}, for hosts
    # whose last render had no error: the next pass renders them again only when either differs.
    renders: dict[str, dict[str, str]] = field(default_factory=dict)


def created_view(a: CreatePod) -> StoredPod:
    """A pod this pass creates, as the endpoints see it: ready at once unless a container has a readiness or
    startup probe, or the pod has init containers (then it joins when docker reports it healthy or started, in a
    later pass)."""
    from orchestrator.proxy.pod_labels import infra_labels

    infra = dict(item.partition("=")[::2] for item in infra_labels(a.pod.spec)[1::2])
    probed = bool(a.pod.spec.init_containers) or any(
        c.readiness_probe is not None or c.startup_probe is not None for c in a.pod.spec.containers)
    return StoredPod(name=a.pod.name, uid=a.pod.uid, host=a.host, ready=not probed, labels=dict(a.pod.labels),
                     ports={b.key: b.host_port for b in a.pod.ports},
                     port_names=infra.get(PORT_NAMES_LABEL, ""), http_check=infra.get(HTTP_CHECK_LABEL, ""))


def plan_services(services: Mapping[str, Service], snapshot: ClusterSnapshot, hosts: Sequence[Host],
                  settings: ProxySettings, templates_dir: Path | None, records: Iterable[Record],
                  creates: Sequence[CreatePod], leaving: Collection[str],
                  last_sections: Mapping[str, Mapping[str, str]] | None = None,
                  last_endpoints: Mapping[str, Sequence[str]] | None = None,
                  tombstones: Collection[str] = (), reap_orphans: bool = False,
                  last_renders: Mapping[str, Mapping[str, str]] | None = None) -> ServicePlan:
    """`records`: the allocation records read before planning; `leaving`: uids of pods this plan deletes;
    `last_endpoints`: service -> the servers ("pod@host:port") it had after the last pass, for the plan's
    own account of what changes; `tombstones`: deleted objects ("svc/web"), the only services a live config
    of ours may lose (an unknown one is an orphan: that host's config is kept, unless `reap_orphans`);
    `last_renders`: the book's render digests (ServicePlan.renders of the last pass): a host whose inputs
    and live config are those of its last render is not rendered again."""
    out = ServicePlan()
    alloc = plan_allocation(records, services, settings)
    out.addresses, out.ops, out.errors = alloc.addresses, alloc.ops, list(alloc.errors)
    staying = [p for p in snapshot.pods if p.uid not in leaving]
    out.endpoints = endpoints(services, [*staying, *(created_view(a) for a in creates)], snapshot.hosts)
    out.env = service_env(services, out.addresses)
    cluster = snapshot.cluster
    out.hosts_text = mark_line(cluster) + hosts_file(services, out.addresses, out.endpoints)
    proxies = {h.name for h in proxy_hosts(hosts, settings)}
    changes = _changes(out.endpoints, last_endpoints or {})
    last_sections = last_sections or {}
    states = {}
    for h in hosts:
        facts = snapshot.hosts.get(h.name)
        step = facts.extra.get(STEP_NAME) if facts is not None and facts.reachable else None
        if step is not None:
            states[h.name] = parse_state(step, cluster)
    out.served = {n: st.served if st.config_owner == cluster else frozenset()
                  for n, st in states.items() if n in proxies}
    # Services a live config of ours serves that the store does not know (and no tombstone says were
    # deleted): a lost or another store. Nothing of theirs is dropped: configs and hosts files stay.
    orphans = sorted({s for served in out.served.values() for s in served}
                     - set(services) - {t[4:] for t in tombstones if t.startswith("svc/")})
    if orphans and not reap_orphans:
        out.notices.append(f"HAProxy on {', '.join(sorted(n for n, sv in out.served.items() if sv & set(orphans)))} "
                           f"serves {', '.join(f'svc/{s}' for s in orphans)}, unknown to the store (a lost or "
                           "another store?): proxies and hosts files are left as they are; apply the services "
                           "again, or `orc reconcile --reap-orphans` drops them")
        out.sections = {h: dict(v) for h, v in last_sections.items()}
        return out
    cache = _RenderCache(services, out, templates_dir, last_renders or {})
    hosts_hash = digest(out.hosts_text)
    for h in hosts:
        state = states.get(h.name)
        if state is None:
            continue
        _hosts_file(out, h, cluster, state, hosts_hash)
        # Other hosts' pods still resolve service names through the hosts file; a cluster with no service
        # starts no HAProxy (it empties one of its own).
        if h.name in proxies and (services or state.config_owner == cluster):
            _proxy(out, h, cluster, state, services, templates_dir, last_sections, changes, cache)
    return out


class _RenderCache:
    """Digests shared by every host of one pass: each service's (manifest, address, endpoints) and the
    templates', computed once, on the first host that needs them."""

    def __init__(self, services: Mapping[str, Service], out: ServicePlan, templates_dir: Path | None,
                 last: Mapping[str, Mapping[str, str]]):
        self.services, self.out, self.templates_dir, self.last = services, out, templates_dir, last
        self._services: dict[str, str] = {}
        self._templates: str | None = None

    def host(self, h: Host, cluster: str, here: Mapping[str, Service]) -> str:
        if self._templates is None:
            self._templates = templates_digest(self.templates_dir)
        for name in here:
            if name not in self._services:
                self._services[name] = service_digest(self.services[name], self.out.addresses.get(name),
                                                      self.out.endpoints.get(name, []))
        return host_digest(h, cluster, ((n, self._services[n]) for n in here), self._templates)


def _hosts_file(out: ServicePlan, h: Host, cluster: str, state: ProxyState, hosts_hash: str) -> None:
    path = hosts_file_path(h, cluster)
    if state.hosts_owner not in (None, "", cluster):
        out.errors.append(f"{h.name}: the hosts file {path} is cluster {state.hosts_owner}'s; this cluster's "
                          "pods there do not get its service names: give each cluster its own (remove "
                          "orc_hosts_file: the default is per cluster, under orc_state_dir)")
    elif hosts_hash != state.hosts_hash:
        out.actions.append(UpdateHostsFile(h.name, path, out.hosts_text))


def _proxy(out: ServicePlan, h: Host, cluster: str, state: ProxyState, services: Mapping[str, Service],
           templates_dir: Path | None, last_sections: Mapping[str, Mapping[str, str]],
           changes: tuple[str, ...], cache: _RenderCache) -> None:
    """The host's HAProxy update, when its config, addresses or process differ from what is wanted. Not
    rendered when its inputs are those of its last render and the host still has that config."""
    if state.config_owner not in (None, "", cluster):
        out.errors.append(f"{h.name}: the HAProxy config {HAProxyHost.of(h).config} is cluster "
                          f"{state.config_owner}'s; this cluster's services are not served there: give each "
                          "cluster its own HAProxy (host vars haproxy_config, haproxy_pidfile, haproxy_socket) "
                          "or its own proxy hosts (orc.yaml proxy.group); if that cluster is gone, stop its HAProxy "
                          "and remove the file")
        return
    here, clashes = _servable(services, out.addresses, state)
    out.errors += [f"{h.name}: {c}" for c in clashes]
    wanted_ips = frozenset(out.addresses[n].cluster_ip for n in here if n in out.addresses)
    inputs = cache.host(h, cluster, here)
    last = cache.last.get(h.name) or {}
    if (last.get("inputs") == inputs and last.get("config") == state.config_hash and wanted_ips == state.addresses
            and state.running):
        out.sections[h.name] = dict(last_sections.get(h.name, {}))
        out.renders[h.name] = {"inputs": inputs, "config": last["config"]}
        return
    from orchestrator.proxy.render import render_isolated  # jinja2: only when something is rendered

    r = render_isolated(h, here, out.addresses, out.endpoints, templates_dir, last_sections.get(h.name))
    if r.config is None:
        out.errors.append(f"{h.name}: {r.main_error}; its HAProxy config was left as it is")
        out.sections[h.name] = dict(last_sections.get(h.name, {}))
        return
    for name, message in sorted(r.errors.items()):
        fate = ("its last good section was kept" if name in r.kept
                else "it is left out of the config until its template renders")
        out.errors.append(f"{h.name}: {message}; {fate}, the other services were updated")
    out.sections[h.name] = {**r.fragments, **{n: last_sections[h.name][n] for n in r.kept}}
    served = {n for n in here if n in out.addresses} - (set(r.errors) - r.kept)
    config = mark_line(cluster, (p for n in served for p in out.addresses[n].node_ports.values()), served) + r.config
    config_hash = digest(config)
    if not r.errors:
        out.renders[h.name] = {"inputs": inputs, "config": config_hash}
    if config_hash != state.config_hash or wanted_ips != state.addresses or not state.running:
        out.actions.append(UpdateProxy(h.name, config, wanted_ips, state, changes=changes))


def _servable(services: Mapping[str, Service], addresses: Mapping[str, ServiceAddress],
              state: ProxyState) -> tuple[dict[str, Service], list[str]]:
    """The services this host's proxy can serve, and why the others cannot: a service address another
    label holds on lo (another cluster's, or the host's own), or a node port something else listens on."""
    here: dict[str, Service] = {}
    clashes: list[str] = []
    for name, svc in services.items():
        if svc.headless:  # no address, nothing to proxy
            continue
        addr = addresses.get(name)
        if addr is not None and addr.cluster_ip in state.others:
            clashes.append(f"svc/{name}: its address {addr.cluster_ip} is already on lo with the label "
                           f"{state.others[addr.cluster_ip]} (another cluster's?): it is not served on this host; "
                           "give each cluster its own proxy.service_cidr in orc.yaml")
            continue
        taken = sorted(p for p in (addr.node_ports.values() if addr else ())
                       if p in state.listening and p not in state.owned_ports)
        if taken:
            clashes.append(f"svc/{name}: node port {', '.join(map(str, taken))} is in use on this host by another "
                           "program (another cluster's HAProxy?): it is not served on this host; choose another "
                           "nodePort, or give each cluster its own proxy.node_port_range in orc.yaml")
            continue
        here[name] = svc
    return here, clashes


def endpoint_servers(eps: Mapping[str, Sequence[Endpoint]]) -> dict[str, list[str]]:
    """Service -> its servers as "pod@address:port", the form the book keeps."""
    return {name: sorted(f"{e.pod}@{e.target}" for e in es) for name, es in eps.items()}


def _changes(now: Mapping[str, Sequence[Endpoint]], before: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    out = []
    current = endpoint_servers(now)
    for name in sorted(set(current) | set(before)):
        was, will = set(before.get(name, [])), set(current.get(name, []))
        if name not in before:
            out.append(f"svc/{name} new")
        elif name not in current:
            out.append(f"svc/{name} removed")
        added = sorted(s.split("@")[0] for s in will - was)
        gone = sorted(s.split("@")[0] for s in was - will)
        if added or gone:
            out.append(f"svc/{name} " + " ".join([*(f"+{a}" for a in added), *(f"-{g}" for g in gone)]))
    return tuple(out)
