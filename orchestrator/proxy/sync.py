"""The services part of a pass: addresses, endpoints, discovery and, per proxy host, the steps that bring
its HAProxy, service addresses and hosts file up to date (none when nothing changed). Computed after the
plan, so pods the plan deletes are already out of the endpoints."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.commands.base import Command
from orchestrator.commands.haproxy import deploy_steps, hosts_file_step
from orchestrator.config import ProxySettings
from orchestrator.errors import ConfigError
from orchestrator.inventory.host import Host
from orchestrator.model.objects import Service
from orchestrator.observe.snapshot import ClusterSnapshot
from orchestrator.proxy.addresses import AllocationError, ServiceAddress, allocate, current
from orchestrator.proxy.discovery import hosts_file, hosts_file_path, service_env
from orchestrator.proxy.endpoints import Endpoint, endpoints
from orchestrator.proxy.hostvars import proxy_hosts
from orchestrator.proxy.render import render
from orchestrator.proxy.state import STEP_NAME, digest, parse_state, probe_step

ENDPOINTS_PREFIX = "_meta/endpoints/"


@dataclass
class ServicePass:
    addresses: dict[str, ServiceAddress] = field(default_factory=dict)
    endpoints: dict[str, list[Endpoint]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    hosts_text: str = ""
    steps: dict[str, list[Command]] = field(default_factory=dict)  # host -> steps for its act batch
    errors: list[tuple[str, str]] = field(default_factory=list)  # (host or service, message)


def probe_steps(host: Host) -> list[Command]:
    """What the observe batch of every host also reads: its proxy state (config and hosts-file hashes,
    HAProxy's pid, our service addresses); on a host without HAProxy only the hosts file matters."""
    return [probe_step(host)]


def prepare(store: Any, services: dict[str, Service], snapshot: ClusterSnapshot, hosts: Sequence[Host],
            settings: ProxySettings, templates_dir: Path | None, leaving: Collection[str] = (),
            dry_run: bool = False, fence: tuple[str, int] | None = None) -> ServicePass:
    out = ServicePass()
    if dry_run:
        out.addresses = {n: a for n, a in current(store).items() if n in services}
    else:
        try:
            out.addresses = allocate(store, services, settings, fence=fence)
        except AllocationError as e:
            out.addresses = dict(e.addresses)
            out.errors += [("services", m) for m in e.errors]
    pods = [p for p in snapshot.pods if p.uid not in leaving]
    out.endpoints = endpoints(services, pods, snapshot.hosts)
    out.env = service_env(services, out.addresses)
    out.hosts_text = hosts_file(services, out.addresses)
    wanted_ips = {a.cluster_ip for a in out.addresses.values()}
    proxies = {h.name for h in proxy_hosts(hosts, settings)}
    for h in hosts:
        facts = snapshot.hosts.get(h.name)
        step = facts.extra.get(STEP_NAME) if facts is not None and facts.reachable else None
        if step is None:
            continue
        state = parse_state(step)
        if h.name not in proxies:  # its pods still resolve service names through the hosts file
            if digest(out.hosts_text) != state.hosts_hash:
                out.steps[h.name] = [hosts_file_step(hosts_file_path(h), out.hosts_text)]
            continue
        try:
            config = render(h, services, out.addresses, out.endpoints, templates_dir)
        except ConfigError as e:
            out.errors.append((h.name, str(e)))
            continue
        out.steps[h.name] = deploy_steps(h, config, state, wanted_ips, out.hosts_text)
    return out


def endpoint_records(sp: ServicePass) -> dict[str, dict[str, Any]]:
    """What `orc get endpoints` reads, per service."""
    return {name: {"endpoints": [{"ip": e.address, "port": e.port, "pod": e.pod, "host": e.host,
                                  "service_port": e.service_port} for e in eps]}
            for name, eps in sp.endpoints.items()}
