"""Scheduler settings: the `scheduler:` mapping of orc.yaml.

scheduler:
  strategy: spread            # spread (least allocated) | binpack (most allocated)
  spread_topology_keys: [topology.kubernetes.io/zone, rack]
  weights: {selector_spread: 3, least_allocated: 1, ...}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from orchestrator.errors import ConfigError
from orchestrator.scheduler.well_known import RACK_LABEL, ZONE_LABEL

DEFAULT_WEIGHTS: Mapping[str, int] = MappingProxyType(
    {
        "selector_spread": 3,
        "least_allocated": 1,
        "most_allocated": 1,
        "balanced_allocation": 1,
        "node_affinity": 2,
        "pod_anti_affinity": 2,
        "topology_spread": 2,
        "image_locality": 1,
        "taint_toleration": 3,
    }
)
STRATEGIES = ("spread", "binpack")
KNOWN_KEYS = ("strategy", "spread_topology_keys", "weights")


@dataclass(frozen=True)
class SchedulerConfig:
    strategy: Literal["spread", "binpack"] = "spread"
    spread_topology_keys: tuple[str, ...] = (ZONE_LABEL, RACK_LABEL)
    weights: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))

    def weight(self, scorer: str) -> int:
        return self.weights.get(scorer, 0)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> SchedulerConfig:
        """From orc.yaml's `scheduler:` mapping; missing keys take defaults, unknown ones are an error."""
        raw = raw or {}
        if not isinstance(raw, Mapping):
            raise ConfigError(
                "orc.yaml: scheduler: must be a mapping (strategy, spread_topology_keys, weights)"
            )
        unknown = sorted(set(raw) - set(KNOWN_KEYS))
        if unknown:
            raise ConfigError(
                f"orc.yaml: scheduler: unknown key(s) {', '.join(unknown)}; known keys: {', '.join(KNOWN_KEYS)}"
            )
        strategy = raw.get("strategy", "spread")
        if strategy not in STRATEGIES:
            raise ConfigError(
                f"orc.yaml: scheduler.strategy: {strategy!r} is not one of {', '.join(STRATEGIES)}"
            )
        keys = raw.get("spread_topology_keys", (ZONE_LABEL, RACK_LABEL))
        if isinstance(keys, str) or not all(isinstance(k, str) and k for k in keys):
            raise ConfigError("orc.yaml: scheduler.spread_topology_keys: must be a list of label keys")
        given = raw.get("weights") or {}
        if not isinstance(given, Mapping):
            raise ConfigError("orc.yaml: scheduler.weights: must be a mapping of scorer name to weight")
        bad = sorted(set(given) - set(DEFAULT_WEIGHTS))
        if bad:
            raise ConfigError(
                f"orc.yaml: scheduler.weights: unknown scorer(s) {', '.join(bad)}; "
                f"known: {', '.join(DEFAULT_WEIGHTS)}"
            )
        for name, w in given.items():
            if isinstance(w, bool) or not isinstance(w, int) or w < 0:
                raise ConfigError(f"orc.yaml: scheduler.weights.{name}: must be an integer >= 0, got {w!r}")
        return cls(strategy, tuple(keys), {**DEFAULT_WEIGHTS, **given})
