"""The planner's output: actions as data. `orc plan` prints them, the executor renders them to commands."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrator.model.pod import PodSpec


@dataclass(frozen=True)
class PodRun:
    """A pod to start on a host: everything the container builders need, nothing they must look up."""

    name: str
    uid: str
    owner: str | None  # "rc/web", or None for a bare pod ("pod/NAME" is its own key)
    labels: dict[str, str]
    spec: PodSpec
    spec_hash: str
    requests: dict[str, int] = field(default_factory=dict)  # cpu (millis), memory, ephemeral (bytes), gpus
    gpu_devices: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)  # extra env for every container (service discovery)
    hosts_file: str | None = None  # the host's service hosts file, bind-mounted as /etc/hosts
    secret_env: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)  # container -> var -> Secret


@dataclass(frozen=True)
class CreatePod:
    host: str
    pod: PodRun
    reason: str

    @property
    def verb(self) -> str:
        return "create"

    @property
    def target(self) -> str:
        return f"pod/{self.pod.name}"


@dataclass(frozen=True)
class DeletePod:
    host: str
    name: str
    uid: str
    reason: str
    grace: int | None = None  # seconds its containers get to stop (terminationGracePeriodSeconds; None: 30)

    @property
    def verb(self) -> str:
        return "delete"

    @property
    def target(self) -> str:
        return f"pod/{self.name}"


@dataclass(frozen=True)
class RestartContainer:
    host: str
    pod: str
    container: str  # docker container name
    reason: str
    grace: int | None = None  # the pod's terminationGracePeriodSeconds (None: Kubernetes' default, 30 s)

    @property
    def verb(self) -> str:
        return "restart"

    @property
    def target(self) -> str:
        return f"pod/{self.pod} container {self.container}"


@dataclass(frozen=True)
class RemoveOrphan:
    """A container labelled as ours that belongs to no pod (only with --reap-orphans)."""

    host: str
    container: str
    reason: str = "orphan"

    @property
    def verb(self) -> str:
        return "remove"

    @property
    def target(self) -> str:
        return f"container {self.container}"


Action = CreatePod | DeletePod | RestartContainer | RemoveOrphan


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    pending: dict[str, str] = field(default_factory=dict)  # pod (or "rc/web: 2 pods") -> why it cannot run
    warnings: list[str] = field(default_factory=list)  # orphans seen, hosts lost, ...
    book: dict[str, Any] = field(default_factory=dict)  # bookkeeping to store after acting (see engine)

    @property
    def empty(self) -> bool:
        return not self.actions

    def by_host(self) -> dict[str, list[Action]]:
        out: dict[str, list[Action]] = defaultdict(list)
        for a in self.actions:
            out[a.host].append(a)
        return dict(out)
