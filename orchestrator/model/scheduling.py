"""Where a pod may run: node affinity, pod (anti-)affinity, topology spread constraints and tolerations.

Each part validates itself and offers the matching helpers the scheduler needs (`NodeSelector.matches`,
`PodAffinityTerm.selector`, `Toleration.tolerates`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from orchestrator.labels import Selector, validate_label_key, validate_label_selector
from orchestrator.model.fields import (
    FieldErrors,
    K8sModel,
    OneOf,
    forbidden,
    invalid,
    required,
)
from orchestrator.model.meta import DEFAULT_NAMESPACE, _split

_INT64 = range(-(2**63), 2**63)
# What a missing labelSelector selects in Kubernetes: no pods at all.
NOTHING = Selector.parse("!orc.io/nothing,orc.io/nothing")


def selector_or_nothing(label_selector: dict[str, Any] | None) -> Selector:
    return NOTHING if label_selector is None else Selector.from_label_selector(label_selector)


def _is_int(text: str) -> bool:
    try:
        return int(text) in _INT64 and text.strip() == text
    except ValueError:
        return False


def _key_errors(key: str | None, path: str = "key") -> FieldErrors:
    if not key:
        return [(path, required())]
    return [(path, invalid(key, m)) for m in validate_label_key(key)]


def _weight_errors(weight: int) -> FieldErrors:
    return [] if 1 <= weight <= 100 else [("weight", invalid(weight, "must be in the range 1-100"))]


class NodeSelectorRequirement(K8sModel):
    key: str
    operator: OneOf("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")  # type: ignore[valid-type]
    values: list[str] | None = None

    def check(self) -> FieldErrors:
        errors = _key_errors(self.key)
        op, values = self.operator, self.values or []
        if op in ("In", "NotIn") and not values:
            errors.append(("values", required("must be specified when `operator` is 'In' or 'NotIn'")))
        elif op in ("Exists", "DoesNotExist") and values:
            errors.append(
                ("values", forbidden("may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
            )
        elif op in ("Gt", "Lt"):
            if len(values) != 1:
                errors.append(
                    ("values", required("must be specified single value when `operator` is 'Lt' or 'Gt'"))
                )
            errors += [
                (f"values[{i}]", invalid(v, "must be an integer"))
                for i, v in enumerate(values)
                if not _is_int(v)
            ]
        return errors

    def matches(self, labels: Mapping[str, str]) -> bool:
        has = self.key in labels
        values = self.values or []
        if self.operator == "In":
            return has and labels[self.key] in values
        if self.operator == "NotIn":
            return not has or labels[self.key] not in values
        if self.operator == "Exists":
            return has
        if self.operator == "DoesNotExist":
            return not has
        if not has or not _is_int(labels[self.key]):
            return False
        have, want = int(labels[self.key]), int(values[0])
        return have > want if self.operator == "Gt" else have < want


class NodeSelectorTerm(K8sModel):
    match_expressions: list[NodeSelectorRequirement] | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        """All expressions hold; a term without expressions matches no node (as in Kubernetes)."""
        exprs = self.match_expressions or []
        return bool(exprs) and all(e.matches(labels) for e in exprs)


class NodeSelector(K8sModel):
    node_selector_terms: list[NodeSelectorTerm]

    def check(self) -> FieldErrors:
        if not self.node_selector_terms:
            return [("nodeSelectorTerms", required("must have at least one node selector term"))]
        return []

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Any term holds (terms are ORed)."""
        return any(t.matches(labels) for t in self.node_selector_terms)


class PreferredSchedulingTerm(K8sModel):
    weight: int
    preference: NodeSelectorTerm

    def check(self) -> FieldErrors:
        return _weight_errors(self.weight)


class NodeAffinity(K8sModel):
    required_during_scheduling_ignored_during_execution: NodeSelector | None = None
    preferred_during_scheduling_ignored_during_execution: list[PreferredSchedulingTerm] | None = None


class PodAffinityTerm(K8sModel):
    label_selector: dict[str, Any] | None = None
    topology_key: str | None = None
    namespaces: list[str] | None = None

    def check(self) -> FieldErrors:
        errors = [_split(line) for line in validate_label_selector(self.label_selector, "labelSelector")]
        if not self.topology_key:
            errors.append(("topologyKey", required("can not be empty")))
        else:
            errors += _key_errors(self.topology_key, "topologyKey")
        for i, ns in enumerate(self.namespaces or []):
            if ns != DEFAULT_NAMESPACE:
                errors.append((f"namespaces[{i}]", invalid(ns, 'orc has one namespace, "default"')))
        return errors

    @property
    def selector(self) -> Selector:
        """The pods this term is about; a missing labelSelector selects no pods (as in Kubernetes)."""
        return selector_or_nothing(self.label_selector)


class WeightedPodAffinityTerm(K8sModel):
    weight: int
    pod_affinity_term: PodAffinityTerm

    def check(self) -> FieldErrors:
        return _weight_errors(self.weight)


class PodAffinity(K8sModel):
    """Used for both podAffinity and podAntiAffinity (the same shape)."""

    required_during_scheduling_ignored_during_execution: list[PodAffinityTerm] | None = None
    preferred_during_scheduling_ignored_during_execution: list[WeightedPodAffinityTerm] | None = None


class Affinity(K8sModel):
    """podAffinity (attraction) is not scheduled yet: it is rejected by name rather than ignored."""

    node_affinity: NodeAffinity | None = None
    pod_anti_affinity: PodAffinity | None = None


class TopologySpreadConstraint(K8sModel):
    max_skew: int
    topology_key: str
    when_unsatisfiable: OneOf("DoNotSchedule", "ScheduleAnyway")  # type: ignore[valid-type]
    label_selector: dict[str, Any] | None = None
    min_domains: int | None = None

    def check(self) -> FieldErrors:
        errors: FieldErrors = []
        if self.max_skew <= 0:
            errors.append(("maxSkew", invalid(self.max_skew, "must be greater than zero")))
        errors += _key_errors(self.topology_key, "topologyKey")
        errors += [_split(line) for line in validate_label_selector(self.label_selector, "labelSelector")]
        if self.min_domains is not None:
            if self.min_domains <= 0:
                errors.append(("minDomains", invalid(self.min_domains, "must be greater than zero")))
            elif self.when_unsatisfiable != "DoNotSchedule":
                errors.append(
                    (
                        "minDomains",
                        invalid(
                            self.min_domains, "can only use minDomains if whenUnsatisfiable=DoNotSchedule"
                        ),
                    )
                )
        return errors

    @property
    def selector(self) -> Selector:
        return selector_or_nothing(self.label_selector)


class Toleration(K8sModel):
    key: str | None = None
    operator: OneOf("Exists", "Equal") | None = None  # type: ignore[valid-type]
    value: str | None = None
    effect: OneOf("", "NoSchedule", "PreferNoSchedule", "NoExecute") | None = None  # type: ignore[valid-type]
    toleration_seconds: int | None = Field(default=None)

    def check(self) -> FieldErrors:
        errors: FieldErrors = []
        if self.key:
            errors += _key_errors(self.key)
        elif self.operator != "Exists":
            errors.append(
                (
                    "operator",
                    invalid(
                        self.operator or "Equal",
                        'operator must be Exists when `key` is empty, which means "match all values and all keys"',
                    ),
                )
            )
        if self.operator == "Exists" and self.value:
            errors.append(("value", invalid(self.value, "value must be empty when `operator` is 'Exists'")))
        if self.toleration_seconds is not None and self.effect != "NoExecute":
            errors.append(
                (
                    "effect",
                    invalid(self.effect or "", "effect must be 'NoExecute' when `tolerationSeconds` is set"),
                )
            )
        return errors

    def tolerates(self, key: str, value: str, effect: str) -> bool:
        """Whether this toleration lets a pod onto a host with taint `key=value:effect`."""
        if self.effect and self.effect != effect:
            return False
        if self.key and self.key != key:
            return False
        if self.operator == "Exists":
            return True
        return (self.value or "") == value
