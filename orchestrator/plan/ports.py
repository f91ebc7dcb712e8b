"""Host ports for pods, chosen by the planner (pure), as node ports are allocated: every container port of a
pod is published on a port of the project's pod port range, on its host's cluster address only (never
0.0.0.0), unless the manifest asks for a hostPort. Known before the pod exists, so the proxies can be
updated in the same round trip that creates it (one pass converges)."""

from __future__ import annotations

from collections.abc import Iterable

from orchestrator.model.pod import PodSpec
from orchestrator.observe.facts import HostFacts
from orchestrator.plan.types import PortBinding

DEFAULT_POD_PORT_RANGE = "20000-29999"


def parse_port_range(text: str, what: str = "orc.yaml pod_port_range") -> range:
    low, sep, high = text.partition("-")
    if not (sep and low.strip().isdigit() and high.strip().isdigit()) or not (1 <= int(low) <= int(high) <= 65535):
        from orchestrator.errors import ConfigError

        raise ConfigError(f"{what} {text!r} is invalid: use LOW-HIGH such as {DEFAULT_POD_PORT_RANGE}")
    return range(int(low), int(high) + 1)


def taken_ports(facts: HostFacts) -> set[int]:
    """Host ports a host's containers publish now (of any cluster: ports are the host's, not ours)."""
    return {p for c in facts.managed_containers for p in c.ports.values()}


def needs_ports(spec: PodSpec) -> bool:
    return any(not p.host_port for c in spec.containers for p in c.ports or [])


def assign_ports(spec: PodSpec, address: str, taken: set[int], pool: Iterable[int]) -> tuple[PortBinding, ...] | None:
    """A binding for every container port: hostPorts as asked, the others on the lowest free ports of
    `pool` on `address`. `taken` is updated with what this pod takes. None when the pool is exhausted."""
    out: list[PortBinding] = []
    free = (p for p in pool if p not in taken)
    for c in spec.containers:
        for p in c.ports or []:
            proto = (p.protocol or "TCP").lower()
            if p.host_port:
                out.append(PortBinding(p.container_port, proto, p.host_port))
                continue
            port = next(free, None)
            if port is None:
                return None
            taken.add(port)
            out.append(PortBinding(p.container_port, proto, port, address))
    return tuple(out)
