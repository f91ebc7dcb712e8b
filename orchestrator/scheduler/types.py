"""The scheduler's own input and output types: plain frozen values, independent of the manifest model.

The reconciler adapts its pods and probed hosts to these. Quantities are integers in base units:
cpu in millicores, memory and ephemeral storage in bytes, gpus as a count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from orchestrator.scheduler.well_known import HOSTNAME_LABEL as HOSTNAME_LABEL
from orchestrator.scheduler.well_known import RACK_LABEL as RACK_LABEL
from orchestrator.scheduler.well_known import ZONE_LABEL as ZONE_LABEL

if TYPE_CHECKING:
    from orchestrator.labels import Selector

TaintEffect = Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]
NodeOperator = Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]
NODE_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
RESOURCE_NAMES = ("cpu", "memory", "ephemeral-storage", "gpu")  # column order of the scheduler's arrays


@dataclass(frozen=True)
class Resources:
    """An amount of each schedulable resource: cpu millicores, memory bytes, ephemeral bytes, gpu count."""

    cpu: int = 0
    memory: int = 0
    ephemeral: int = 0
    gpus: int = 0

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.cpu, self.memory, self.ephemeral, self.gpus)

    def __add__(self, other: Resources) -> Resources:
        return Resources(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)))

    @classmethod
    def from_quantities(cls, quantities: Mapping[str, str | int | float]) -> Resources:
        """From Kubernetes-style quantities: {"cpu": "500m", "memory": "1Gi", "nvidia.com/gpu": 1}."""
        from orchestrator.resources import cpu_millis, parse_quantity, to_bytes

        known = {"cpu", "memory", "ephemeral-storage", "nvidia.com/gpu", "gpu", "gpus"}
        unknown = sorted(set(quantities) - known)
        if unknown:
            raise ValueError(f"resources: unknown resource(s) {', '.join(unknown)}; known: {sorted(known)}")
        gpus = next((quantities[k] for k in ("nvidia.com/gpu", "gpu", "gpus") if k in quantities), 0)
        return cls(
            cpu=cpu_millis(parse_quantity(str(quantities["cpu"]))) if "cpu" in quantities else 0,
            memory=to_bytes(parse_quantity(str(quantities["memory"]))) if "memory" in quantities else 0,
            ephemeral=(
                to_bytes(parse_quantity(str(quantities["ephemeral-storage"])))
                if "ephemeral-storage" in quantities
                else 0
            ),
            gpus=int(parse_quantity(str(gpus))),
        )


@dataclass(frozen=True)
class Taint:
    key: str
    value: str = ""
    effect: TaintEffect = "NoSchedule"


@dataclass(frozen=True)
class Toleration:
    """Kubernetes semantics: an empty key with Exists tolerates everything; an empty effect matches all."""

    key: str = ""
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str = ""
    effect: TaintEffect | Literal[""] = ""

    def tolerates(self, taint: Taint) -> bool:
        if self.effect and self.effect != taint.effect:
            return False
        if not self.key:
            return self.operator == "Exists"
        if self.key != taint.key:
            return False
        return self.operator == "Exists" or self.value == taint.value


@dataclass(frozen=True)
class LabelRequirement:
    """One expression of a pod label selector (In, NotIn, Exists, DoesNotExist)."""

    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class PodSelector:
    """A Kubernetes label selector over pods, kept as hashable data; `compile()` gives a labels.Selector."""

    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[LabelRequirement, ...] = ()

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> PodSelector:
        """From {"matchLabels": {...}, "matchExpressions": [{"key", "operator", "values"}]}."""
        exprs = tuple(
            LabelRequirement(e["key"], e["operator"], tuple(sorted(e.get("values") or ())))
            for e in spec.get("matchExpressions") or ()
        )
        return cls(tuple(sorted((spec.get("matchLabels") or {}).items())), exprs)

    @classmethod
    def of(cls, **labels: str) -> PodSelector:
        return cls(tuple(sorted(labels.items())))

    def to_dict(self) -> dict[str, Any]:
        return {
            "matchLabels": dict(self.match_labels),
            "matchExpressions": [
                {"key": e.key, "operator": e.operator, "values": list(e.values)}
                for e in self.match_expressions
            ],
        }

    def compile(self) -> Selector:
        from orchestrator.labels import Selector

        return Selector.from_label_selector(self.to_dict())


@dataclass(frozen=True)
class NodeSelectorRequirement:
    """One node affinity expression; Gt and Lt compare the label's integer value with values[0]."""

    key: str
    operator: NodeOperator
    values: tuple[str, ...] = ()


NodeSelectorTerm = tuple[NodeSelectorRequirement, ...]  # ANDed expressions; terms of a list are ORed


@dataclass(frozen=True)
class PreferredSchedulingTerm:
    weight: int
    term: NodeSelectorTerm


@dataclass(frozen=True)
class PodAffinityTerm:
    """Pods matching `selector` in the same `topology_key` domain (a host, a rack, a zone)."""

    selector: PodSelector
    topology_key: str = HOSTNAME_LABEL


@dataclass(frozen=True)
class WeightedPodAffinityTerm:
    weight: int
    term: PodAffinityTerm


@dataclass(frozen=True)
class TopologySpreadConstraint:
    max_skew: int
    topology_key: str
    when_unsatisfiable: Literal["DoNotSchedule", "ScheduleAnyway"]
    selector: PodSelector


@dataclass(frozen=True)
class PlacedPod:
    """A pod already running (or already placed) on a host."""

    name: str
    owner: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    requests: Resources = Resources()
    host_ports: frozenset[tuple[int, str]] = frozenset()
    gpu_devices: tuple[str, ...] = ()
    anti_affinity: tuple[PodAffinityTerm, ...] = ()  # its required anti-affinity, honoured symmetrically


@dataclass(frozen=True)
class NodeInfo:
    """A host as the scheduler sees it. `allocatable` is what pods may use (capacity minus reserved).

    `gpu_devices` names each GPU (UUIDs or indexes); when empty, `allocatable.gpus` devices are named
    "0", "1", ... . The automatic label kubernetes.io/hostname=<name> is added when absent.
    """

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    capacity: Resources = Resources()
    allocatable: Resources = Resources()
    gpu_devices: tuple[str, ...] = ()
    taints: tuple[Taint, ...] = ()
    ready: bool = True
    cordoned: bool = False
    images: frozenset[str] = frozenset()
    pods: tuple[PlacedPod, ...] = ()

    def all_labels(self) -> dict[str, str]:
        return {HOSTNAME_LABEL: self.name, **self.labels}

    def device_ids(self) -> tuple[str, ...]:
        return self.gpu_devices or tuple(str(i) for i in range(self.allocatable.gpus))


@dataclass(frozen=True)
class PodRequest:
    """A pod to place. `owner` ("rc/web") groups replicas so that they are spread over hosts and racks."""

    name: str
    owner: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    requests: Resources = Resources()
    host_ports: frozenset[tuple[int, str]] = frozenset()
    node_name: str | None = None
    node_selector: Mapping[str, str] = field(default_factory=dict)
    required_node_affinity: tuple[NodeSelectorTerm, ...] = ()
    preferred_node_affinity: tuple[PreferredSchedulingTerm, ...] = ()
    required_anti_affinity: tuple[PodAffinityTerm, ...] = ()
    preferred_anti_affinity: tuple[WeightedPodAffinityTerm, ...] = ()
    topology_spread: tuple[TopologySpreadConstraint, ...] = ()
    tolerations: tuple[Toleration, ...] = ()
    image: str | None = None

    def placed(self, gpu_devices: tuple[str, ...] = ()) -> PlacedPod:
        return PlacedPod(
            self.name,
            self.owner,
            self.labels,
            self.requests,
            self.host_ports,
            gpu_devices,
            self.required_anti_affinity,
        )


@dataclass(frozen=True)
class Placement:
    pod: PodRequest
    node: str
    score: float
    gpu_devices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Unschedulable:
    """A pod no host can take; `reasons` counts hosts per rejection reason."""

    pod: PodRequest
    reasons: Mapping[str, int]
    total_hosts: int

    @property
    def message(self) -> str:
        """Kubernetes' format: "0/5 hosts are available: 3 insufficient memory, 2 node selector mismatch."."""
        parts = [
            f"{n} {reason}" for reason, n in sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        if not parts:
            return f"0/{self.total_hosts} hosts are available: no hosts in the cluster."
        return f"0/{self.total_hosts} hosts are available: {', '.join(parts)}."


@dataclass(frozen=True)
class Explanation:
    """Why one host was (not) chosen for one pod: the filter that rejected it, or its score per scorer."""

    host: str
    passed: bool
    failed_filter: str | None = None
    reason: str | None = None
    scores: Mapping[str, float] = field(default_factory=dict)  # raw 0-100 score per scorer
    total: float = 0.0  # weighted sum


@dataclass(frozen=True)
class ScheduleResult:
    placements: tuple[Placement, ...]
    unschedulable: tuple[Unschedulable, ...]
    explanations: Mapping[str, tuple[Explanation, ...]] = field(default_factory=dict)  # pod name -> per host

    def node_of(self, pod_name: str) -> str | None:
        return next((p.node for p in self.placements if p.pod.name == pod_name), None)
