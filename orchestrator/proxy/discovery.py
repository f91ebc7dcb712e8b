"""Discovery for pods without a DNS server of ours: Kubernetes-style environment variables for the services
that exist when a container starts, and a hosts file (service name -> cluster IP) that every container of a
pod bind-mounts as /etc/hosts and that each pass rewrites in place as services come and go."""

from __future__ import annotations

from collections.abc import Mapping

from orchestrator.inventory.host import Host
from orchestrator.model.objects import Service
from orchestrator.proxy.addresses import ServiceAddress
from orchestrator.proxy.config_values import hosts_word

DEFAULT_HOSTS_FILE = "/var/lib/orc/hosts"
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


def hosts_file(services: Mapping[str, Service], addresses: Mapping[str, ServiceAddress]) -> str:
    """/etc/hosts for pods: localhost, then one line per service with an address, sorted by name. Each
    field is one word of the format (`config_values.hosts_word`): a value that is not raises UnsafeValue."""
    lines = [
        f"{hosts_word(addresses[s.name].cluster_ip)} {hosts_word(s.name)}\n"
        for s in sorted(services.values(), key=lambda s: s.name)
        if s.name in addresses
    ]
    return HOSTS_HEADER + "".join(lines)


def hosts_file_path(host: Host) -> str:
    """Where this host keeps the pods' hosts file: host var `orc_hosts_file`, default /var/lib/orc/hosts."""
    return str(host.vars.get("orc_hosts_file") or DEFAULT_HOSTS_FILE)


def hosts_mount(host: Host) -> list[str]:
    """`docker run` arguments that give a container the hosts file (every container of a pod needs them:
    containers joined with `--network container:` do not share the infra container's mounts)."""
    return ["-v", f"{hosts_file_path(host)}:/etc/hosts:ro"]
