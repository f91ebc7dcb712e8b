"""The scheduler: pure placement of pods on hosts (no SSH, no clock, seeded randomness only).

result = schedule(pods, nodes, SchedulerConfig.from_dict(settings.scheduler), seed=0)
result.placements      # Placement(pod, node, score, gpu_devices)
result.unschedulable   # Unschedulable(pod, reasons).message == "0/5 hosts are available: ..."
explain(pod, nodes)    # one Explanation per host

`schedule`, `explain` and `Pipeline` (numpy), and the types of scheduler.types, are imported on first use:
a pass that places nothing, and a command that only reads SchedulerConfig, never loads numpy or creates
the types' classes.
"""

from typing import TYPE_CHECKING, Any

from orchestrator.scheduler.config import DEFAULT_WEIGHTS, SchedulerConfig
from orchestrator.scheduler.well_known import HOSTNAME_LABEL, RACK_LABEL, ZONE_LABEL

__all__ = [
    "DEFAULT_WEIGHTS",
    "HOSTNAME_LABEL",
    "RACK_LABEL",
    "ZONE_LABEL",
    "Explanation",
    "LabelRequirement",
    "NodeInfo",
    "NodeSelectorRequirement",
    "NodeSelectorTerm",
    "Pipeline",
    "PlacedPod",
    "Placement",
    "PodAffinityTerm",
    "PodRequest",
    "PodSelector",
    "PreferredSchedulingTerm",
    "Resources",
    "ScheduleResult",
    "SchedulerConfig",
    "Taint",
    "Toleration",
    "TopologySpreadConstraint",
    "Unschedulable",
    "WeightedPodAffinityTerm",
    "explain",
    "schedule",
]


if TYPE_CHECKING:
    from orchestrator.scheduler.framework import Pipeline
    from orchestrator.scheduler.scheduler import explain, schedule
    from orchestrator.scheduler.types import (
        Explanation,
        LabelRequirement,
        NodeInfo,
        NodeSelectorRequirement,
        NodeSelectorTerm,
        PlacedPod,
        Placement,
        PodAffinityTerm,
        PodRequest,
        PodSelector,
        PreferredSchedulingTerm,
        Resources,
        ScheduleResult,
        Taint,
        Toleration,
        TopologySpreadConstraint,
        Unschedulable,
        WeightedPodAffinityTerm,
    )

_LAZY = {"schedule": "orchestrator.scheduler.scheduler", "explain": "orchestrator.scheduler.scheduler",
         "Pipeline": "orchestrator.scheduler.framework"}
# every other name of __all__ not defined above is one of scheduler.types' (listed for mypy just above)
_LAZY.update(dict.fromkeys((n for n in __all__ if n not in _LAZY and n not in globals()),
                           "orchestrator.scheduler.types"))


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
