"""The planner's output: actions as data. `orc plan` prints them, the executor renders them to commands."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrator.model.pod import PodSpec
    from orchestrator.plan.config_refs import ConfigVolume
    from orchestrator.proxy.addresses import ServiceAddress, StoreOp
    from orchestrator.proxy.endpoints import Endpoint
    from orchestrator.proxy.state import ProxyState


@dataclass(frozen=True)
class PortBinding:
    """Where a container port is published on its host: a port the planner chose from the project's pod
    port range on the host's cluster address (so endpoints are known before the pod exists), or the
    hostPort the manifest asked for (on every address, as Kubernetes binds it)."""

    container_port: int
    protocol: str  # tcp | udp
    host_port: int
    host_ip: str = ""  # "" = every address (an explicit hostPort)

    @property
    def key(self) -> str:
        """As docker reports it: '80/tcp'."""
        return f"{self.container_port}/{self.protocol}"

    def publish(self) -> str:
        """docker run -p's value."""
        where = f"{self.host_ip}:" if self.host_ip else ""
        return f"{where}{self.host_port}:{self.container_port}/{self.protocol}"


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
    ports: tuple[PortBinding, ...] = ()  # every container port's host binding
    env: dict[str, str] = field(default_factory=dict)  # extra env for every container (service discovery)
    hosts_file: str | None = None  # the host's service hosts file, bind-mounted as /etc/hosts
    secret_env: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)  # container -> var -> Secret
    field_env: dict[str, dict[str, str]] = field(default_factory=dict)  # container -> var -> fieldRef value
    env_from: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)  # container -> envFrom vars
    config_volumes: tuple[ConfigVolume, ...] = field(default=(), repr=False)  # configMap / secret volume files
    config_dir: str | None = None  # where those volumes live on the host (one folder per volume)


@dataclass(frozen=True)
class PreStop:
    """A container's lifecycle.preStop hook, as its docker label (docker_labels.PRE_STOP) recorded it:
    a command run in the container, or a pause of `sleep` seconds."""

    container: str  # the docker container's name
    exec: tuple[str, ...] = ()
    sleep: int | None = None


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
    hooks: tuple[PreStop, ...] = ()  # its containers' preStop hooks, run first within the grace
    config_dir: str | None = None  # the folder of its configMap / secret volumes on the host, removed with it

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
    hook: PreStop | None = None  # the container's preStop hook, run first within the grace

    @property
    def verb(self) -> str:
        return "restart"

    @property
    def target(self) -> str:
        return f"pod/{self.pod} container {self.container}"


@dataclass(frozen=True)
class ContinuePod:
    """Go on starting a pod whose init containers run one after the other: start the next one once the one
    before exited 0, and the app containers once all did (commands.pod.continue_pod)."""

    host: str
    name: str
    uid: str
    inits: tuple[str, ...]  # init container names, in order
    apps: tuple[str, ...]
    reason: str

    @property
    def verb(self) -> str:
        return "start"

    @property
    def target(self) -> str:
        return f"pod/{self.name}"


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


@dataclass(frozen=True)
class CopyImage:
    """Copy an image a planned pod needs to its host (`docker save` on `source`, `docker load` here),
    before the host's batch: deploying without a registry."""

    host: str
    image: str
    source: str  # the host that has it
    reason: str = ""

    @property
    def verb(self) -> str:
        return "copy"

    @property
    def target(self) -> str:
        return f"image {self.image}"


@dataclass(frozen=True)
class UpdateHostsFile:
    """Rewrite the host's service hosts file (bind-mounted by its pods as /etc/hosts)."""

    host: str
    path: str
    text: str
    reason: str = "service names changed"

    @property
    def verb(self) -> str:
        return "update"

    @property
    def target(self) -> str:
        return "hosts file"


@dataclass(frozen=True)
class UpdateProxy:
    """Bring the host's HAProxy to `config` (check, atomic rename, reload or start) and its service
    addresses on lo to `addresses`. `state` is what the probe saw (what the steps change)."""

    host: str
    config: str
    addresses: frozenset[str]
    state: ProxyState
    reason: str = "services, endpoints or addresses changed"
    changes: tuple[str, ...] = ()  # what differs from the last pass, for people: "svc/web +web-x2k4p"

    @property
    def verb(self) -> str:
        return "update"

    @property
    def target(self) -> str:
        return "haproxy"


@dataclass(frozen=True)
class UpdateConfigVolume:
    """Swap the files of a running pod's configMap or secret volume for `volume`'s (a new timestamped folder,
    then `..data` renamed onto it: atomic for the pod; subPath mounts keep the old files, as Kubernetes)."""

    host: str
    pod: str
    uid: str
    directory: str  # the volume's folder on the host
    volume: ConfigVolume = field(repr=False)
    reason: str = "its ConfigMap or Secret changed"

    @property
    def verb(self) -> str:
        return "update"

    @property
    def target(self) -> str:
        return f"pod/{self.pod} volume {self.volume.name}"


Action = (CreatePod | DeletePod | RestartContainer | ContinuePod | RemoveOrphan | CopyImage | UpdateHostsFile
          | UpdateProxy | UpdateConfigVolume)
HostAction = Action

# Phases of a host's work in one pass. Proxies and hosts files change first, with the creates and restarts
# (one round trip); pods that served a service are deleted only in a second round trip, after every
# proxy host stopped sending them new requests (drained).
FIRST, DRAIN = 1, 2


@dataclass
class Plan:
    """Everything one pass does, and nothing it does is outside it: host actions (pods, restarts, image
    copies, proxies, hosts files), the store writes that allocate service addresses, and what cannot be
    done (pending, with why; errors, which make the pass fail)."""

    actions: list[Action] = field(default_factory=list)
    store_ops: list[StoreOp] = field(default_factory=list)  # service address allocations and releases
    pending: dict[str, str] = field(default_factory=dict)  # pod (or "rc/web: 2 pods") -> why it cannot run
    warnings: list[str] = field(default_factory=list)  # hosts lost, ...
    # What the pass leaves alone on purpose (orphans, other clusters' pods), in words stable from pass to
    # pass: `orc reconcile` prints one when it first appears (or changes), `orc plan` every time.
    notices: list[str] = field(default_factory=list)
    # Tombstone ("rc/web") -> the uids of its pods this plan deletes: once all are deleted, it is dropped.
    book_tombstones: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # what the pass cannot do as asked (exit 1)
    book: dict[str, Any] = field(default_factory=dict)  # bookkeeping to store after acting (see engine)
    drain: frozenset[str] = frozenset()  # uids of pods to delete only after the proxies dropped them
    hold_back: frozenset[str] = frozenset()  # uids of new pods not served yet (a handover is under way)
    # Pod name -> why a drain does not evict it this pass (a PodDisruptionBudget allows no disruption now)
    refused_evictions: dict[str, str] = field(default_factory=dict)
    # Rebalance moves of this pass (plan/moves.Move: started, waiting, finishing, refused or dropped)
    moves: list[Any] = field(default_factory=list)
    addresses: dict[str, ServiceAddress] = field(default_factory=dict)
    endpoints: dict[str, list[Endpoint]] = field(default_factory=dict)  # as the proxies will have them

    @property
    def empty(self) -> bool:
        return not self.actions and not self.store_ops

    def in_progress(self, target: str) -> bool:
        """A pending entry that is progress, not a problem: a handover waiting for its replacements, a rollout
        going step by step (one past its progressDeadlineSeconds is stuck: a problem)."""
        owner, _, what = target.rpartition(": ")
        if what in ("handover", "rebalance"):
            return True
        if what == "rollout":
            rollout = (self.book.get("rollouts") or {}).get(owner) or {}
            return not any(c.get("type") == "Progressing" and c.get("status") == "False"
                           for c in rollout.get("conditions") or [])
        return False

    @property
    def blocked(self) -> dict[str, str]:
        """Pending pods that cannot run (cannot be scheduled, wait out a back-off, miss a secret, a stuck
        rollout): what makes a pass exit 5 and `orc_pods_pending` count."""
        return {t: w for t, w in self.pending.items() if not self.in_progress(t)}

    def phase(self, a: Action) -> int:
        return DRAIN if isinstance(a, DeletePod) and a.uid in self.drain else FIRST

    def by_host(self, phase: int | None = None) -> dict[str, list[Action]]:
        """Host -> its actions (of one phase), in the order they run: proxy and hosts file first (a new pod
        bind-mounts the hosts file), then the pods' own."""
        out: dict[str, list[Action]] = defaultdict(list)
        for a in sorted(self.actions, key=_order):
            if not isinstance(a, CopyImage) and (phase is None or self.phase(a) == phase):
                out[a.host].append(a)
        return dict(out)

    @property
    def copies(self) -> list[CopyImage]:
        return [a for a in self.actions if isinstance(a, CopyImage)]


def _order(a: Action) -> int:
    return 0 if isinstance(a, UpdateHostsFile) else 1 if isinstance(a, UpdateProxy) else 2
