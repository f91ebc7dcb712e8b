"""PodDisruptionBudgets (policy/v1) as Kubernetes' disruption controller counts them, and the allowance a pass
spends when a drain evicts a pod or a rolling update removes an old one. Pure.

For one budget and the pods its selector picks (those a pass counts):
 - expectedPods: with an integer `minAvailable`, the pods picked; otherwise the `replicas` of the controllers
   that own them (or whose template the selector picks), a bare pod counting one;
 - desiredHealthy: `minAvailable` (a percentage of expectedPods, rounded up), or expectedPods less
   `maxUnavailable` (a percentage rounded up);
 - currentHealthy: the picked pods that are ready;
 - disruptionsAllowed: currentHealthy - desiredHealthy, at least 0.
A ready pod may go only while every budget that picks it allows a disruption, and its going spends one of
each. A pod that is not ready does not count as healthy, so its going takes nothing from a budget: with
`unhealthyPodEvictionPolicy: IfHealthyBudget` (the default) a drain evicts it only while the budget is met
(currentHealthy >= desiredHealthy), with `AlwaysAllow` at any time; a rolling update always may remove it.

orc starts a drained pod's replacement before the pod goes (the handover), so the replacement, once ready,
is a healthy pod the budget counts: a budget that Kubernetes' drain could never pass (`maxUnavailable: 0`)
lets an orc drain go on, one pod per ready replacement; one whose desiredHealthy the healthy pods cannot
exceed holds it."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.labels import Selector
from orchestrator.plan.views import PodView

BUDGET_VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."  # kubectl's words


@dataclass
class Budget:
    name: str
    selector: Selector
    rule: str  # "minAvailable 2", "maxUnavailable 25%"
    expected: int
    desired_healthy: int
    current_healthy: int
    always_allow_unhealthy: bool = False
    pods: list[str] = field(default_factory=list)  # names of the pods it picks

    @property
    def allowed(self) -> int:
        return max(0, self.current_healthy - self.desired_healthy)

    def status(self) -> dict[str, Any]:
        """As Kubernetes' PodDisruptionBudgetStatus."""
        return {"currentHealthy": self.current_healthy, "desiredHealthy": self.desired_healthy,
                "disruptionsAllowed": self.allowed, "expectedPods": self.expected}

    def why(self) -> str:
        return (f"the disruption budget pdb/{self.name} ({self.rule}) allows no disruption now: "
                f"{self.current_healthy} healthy, {self.desired_healthy} needed")


def _scaled(value: int | str, expected: int) -> int:
    if isinstance(value, int):
        return value
    return math.ceil(int(value.rstrip("%")) * expected / 100)  # Kubernetes rounds both up here


def budget_of(pdb: Any, pods: Iterable[PodView], workloads: Mapping[str, Any]) -> Budget:
    """One budget's counts over the pods a pass counts (`pdb`: a model.objects.PodDisruptionBudget)."""
    sel = pdb.selector
    picked = [v for v in pods if sel.matches(v.labels)]
    spec = pdb.spec
    owners = {v.owner for v in picked if v.owner is not None and v.owner in workloads}
    owners |= {k for k, w in workloads.items() if sel.matches(w.template.labels)}
    scale = sum(workloads[k].replicas for k in owners) + sum(1 for v in picked if not v.owner)
    if spec.min_available is not None:
        expected = len(picked) if isinstance(spec.min_available, int) else scale
        desired = _scaled(spec.min_available, expected)
        rule = f"minAvailable {spec.min_available}"
    else:
        expected = scale
        desired = max(0, expected - _scaled(spec.max_unavailable, expected))
        rule = f"maxUnavailable {spec.max_unavailable}"
    healthy = sum(1 for v in picked if v.ready)
    return Budget(pdb.name, sel, rule, expected, desired, healthy,
                  spec.unhealthy_pod_eviction_policy == "AlwaysAllow", sorted(v.name for v in picked))


class Disruptions:
    """The budgets of one pass, spent as the pass decides to remove pods."""

    def __init__(self, budgets: Iterable[Budget]):
        self.budgets = list(budgets)

    @classmethod
    def of(cls, pdbs: Mapping[str, Any], pods: Iterable[PodView], workloads: Mapping[str, Any]) -> Disruptions:
        pods = list(pods)
        return cls(budget_of(p, pods, workloads) for _, p in sorted(pdbs.items()))

    def _picking(self, v: PodView) -> list[Budget]:
        return [b for b in self.budgets if b.selector.matches(v.labels)]

    def evict(self, v: PodView) -> Budget | None:
        """A drain's eviction of `v`: None when allowed (and spent), else the budget that refuses it."""
        for b in self._picking(v):
            if v.ready and b.allowed <= 0:
                return b
            if not v.ready and not b.always_allow_unhealthy and b.current_healthy < b.desired_healthy:
                return b
        self._spend(v)
        return None

    def remove(self, v: PodView) -> Budget | None:
        """A rolling update's removal of an old pod: None when allowed (and spent), else the budget that
        refuses it. A pod that is not ready takes nothing from a budget."""
        if v.ready:
            for b in self._picking(v):
                if b.allowed <= 0:
                    return b
        self._spend(v)
        return None

    def after_surge(self, v: PodView) -> Budget | None:
        """A rebalance move of ready `v`, made surge-first: the budget that would refuse its eviction even once
        its replacement is ready (one more healthy pod), or None. Spends nothing."""
        for b in self._picking(v):
            if b.current_healthy + 1 - b.desired_healthy <= 0:
                return b
        return None

    def _spend(self, v: PodView) -> None:
        if v.ready:
            for b in self._picking(v):
                b.current_healthy -= 1
