"""What a probe learns about a host: values, rebuilt from the host itself on every pass."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestrator.docker_labels import LABEL_PREFIX, MANAGED, POD

# Docker labels of ours share one prefix (docker_labels.py); a pod's own labels live under LABEL_PREFIX so a
# user's image labels never collide with ours.
__all__ = ["LABEL_PREFIX", "MANAGED", "ContainerInfo", "Gpu", "HostFacts"]


@dataclass(frozen=True)
class Gpu:
    index: int
    model: str
    uuid: str


@dataclass(frozen=True)
class ContainerInfo:
    id: str
    name: str
    image: str
    state: str  # running, exited, created, restarting, paused, dead
    exit_code: int
    started_at: str
    finished_at: str
    restart_count: int
    health: str | None  # healthy, unhealthy, starting, or None without a health check
    labels: dict[str, str]
    ports: dict[str, int]  # "80/tcp" -> published host port
    ip: str = ""  # its address on the host's docker network (the pod IP, for an infra container)
    created_at: str = ""  # when it was created (a restart by docker keeps it; StartedAt moves)
    health_output: str = ""  # the output of its last health check (its end)

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def pod_labels(self) -> dict[str, str]:
        return {k[len(LABEL_PREFIX):]: v for k, v in self.labels.items() if k.startswith(LABEL_PREFIX)}


@dataclass(frozen=True)
class HostFacts:
    """One host as probed. `reachable` False carries `reason` (refused, timeout, dns, network, auth,
    hostkey, error) and `error`; everything else is then empty."""

    name: str
    address: str
    reachable: bool
    reason: str | None = None
    error: str | None = None
    hostname: str = ""
    arch: str = ""
    kernel: str = ""
    os: str = ""
    cpus: int = 0
    memory_bytes: int = 0
    memory_available_bytes: int = 0
    disk_total_bytes: int = 0
    disk_free_bytes: int = 0
    disk_kind: str = ""  # ssd, hdd or "" when unknown
    gpus: tuple[Gpu, ...] = ()
    docker_version: str = ""
    docker_error: str | None = None
    docker_root: str = ""
    images: frozenset[str] = frozenset()
    ssh_server_address: str = ""  # the address the SSH session reached (its SSH_CONNECTION), when known
    # Where its pods publish their ports: orc_bind_address, else ansible_host when it is an IP, else the
    # address its SSH session reached; "" when none is known (its pods with ports then wait).
    bind_address: str = ""
    containers: tuple[ContainerInfo, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)  # inventory labels + automatic ones
    capacity: dict[str, Any] = field(default_factory=dict)  # cpu, memory, ephemeral-storage, nvidia.com/gpu
    taints: tuple[tuple[str, str, str], ...] = ()  # the inventory's (key, value, effect)
    probe_seconds: float = 0.0
    # For an unreachable host, what its peers said (observe/vantage.py): "down", "partition" (a peer reaches
    # it: only the controller's path fails), "unchecked"; "" when nobody was asked.
    verdict: str = ""
    peers: dict[str, str] = field(default_factory=dict)  # peer -> ok | fail | unknown
    extra: dict[str, Any] = field(default_factory=dict)  # results of steps other layers added to the probe
    # The probe's new cache of inspected containers (observe/container_cache.py); None: none kept this pass.
    container_cache: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def ready(self) -> bool:
        return self.reachable and bool(self.docker_version)

    @property
    def status(self) -> str:
        if not self.reachable:
            return "Unreachable"
        return "Ready" if self.ready else "NotReady"

    @property
    def managed_containers(self) -> tuple[ContainerInfo, ...]:
        return tuple(c for c in self.containers if c.labels.get(MANAGED) == "true")

    @property
    def pod_names(self) -> list[str]:
        return sorted({c.labels[POD] for c in self.managed_containers if POD in c.labels})
