"""Discovery for pods without a DNS server of ours: Kubernetes-style environment variables for the services
that exist when a container starts, and a hosts file (service name -> cluster IP) that every container of a
pod bind-mounts as /etc/hosts and that each pass rewrites in place as services come and go."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from orchestrator.inventory.host import Host
from orchestrator.inventory.state_dir import cluster_dir
from orchestrator.model.objects import Service
from orchestrator.proxy.addresses import ServiceAddress
from orchestrator.proxy.config_values import hosts_word
from orchestrator.proxy.endpoints import Endpoint

HOSTS_HEADER = "127.0.0.1 localhost\n"


def env_name(service: str) -> str:
    """'redis-master' -> 'REDIS_MASTER' (as Kubernetes names service variables)."""
    return service.upper().replace("-", "_")


def service_env(services: Mapping[str, Service], addresses: Mapping[str, ServiceAddress]) -> dict[str, str]:
    """The variables Kubernetes gives a container for each service (those with an address):
    {SVC}_SERVICE_HOST, {SVC}_SERVICE_PORT (the first port), {SVC}_SERVICE_PORT_{PORT_NAME} per named port,
    and the Docker-links style {SVC}_PORT, {SVC}_PORT_{port}_{PROTO}[_PROTO|_PORT|_ADDR]."""
    env: dict[str, str] = {}
    for svc in sorted(services.values(), key=lambda s: s.name):
        addr = addresses.get(svc.name)
        if addr is None or not svc.spec.ports:
            continue
        name, ip = env_name(svc.name), addr.cluster_ip
        first = svc.spec.ports[0]
        env[f"{name}_SERVICE_HOST"] = ip
        env[f"{name}_SERVICE_PORT"] = str(first.port)
        for sp in svc.spec.ports:
            if sp.name:
                env[f"{name}_SERVICE_PORT_{env_name(sp.name)}"] = str(sp.port)
        env[f"{name}_PORT"] = f"{(first.protocol or 'TCP').lower()}://{ip}:{first.port}"
        for sp in svc.spec.ports:
            proto = (sp.protocol or "TCP").lower()
            base = f"{name}_PORT_{sp.port}_{proto.upper()}"
            env[base] = f"{proto}://{ip}:{sp.port}"
            env[f"{base}_PROTO"] = proto
            env[f"{base}_PORT"] = str(sp.port)
            env[f"{base}_ADDR"] = ip
    return env


def hosts_file(services: Mapping[str, Service], addresses: Mapping[str, ServiceAddress],
               endpoints: Mapping[str, Sequence[Endpoint]] | None = None) -> str:
    """/etc/hosts for pods: localhost, then one line per service with an address, sorted by name; a headless
    service (`clusterIP: None`) has one line per address of its ready endpoints (the cluster addresses of the
    hosts its ready pods run on, where their ports are published), so its name resolves to all of them.
    Each field is one word of the format (`config_values.hosts_word`): a value that is not raises
    UnsafeValue."""
    lines = []
    for s in sorted(services.values(), key=lambda s: s.name):
        if s.headless:
            seen = dict.fromkeys(e.address for e in (endpoints or {}).get(s.name, ()))
            lines += [f"{hosts_word(a)} {hosts_word(s.name)}\n" for a in seen]
        elif s.name in addresses:
            lines.append(f"{hosts_word(addresses[s.name].cluster_ip)} {hosts_word(s.name)}\n")
    return HOSTS_HEADER + "".join(lines)


def hosts_file_path(host: Host, cluster: str) -> str:
    """Where this host keeps the cluster's pods' hosts file: host var `orc_hosts_file` as given, by default
    `<orc_state_dir>/<cluster>/hosts` (/var/lib/orc/<cluster>/hosts): one per cluster, so two clusters on one
    host never rewrite each other's."""
    return str(host.vars.get("orc_hosts_file") or f"{cluster_dir(host, cluster)}/hosts")
