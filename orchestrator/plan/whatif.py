"""What if a host failed, a host were drained, a controller scaled, a host added? (pure; `orc what-if`)

The cluster is the last stored snapshot replayed as hosts (observe/replay.py); the scenario changes it the
way the event would (lost hosts stop answering and have been failing for longer than the grace period,
drained hosts are cordoned and handed over, scaled controllers want other replicas, added hosts join
empty); then the planner of a real pass (plan/planner.py, with its scheduler) plans one pass. What each
controller would run and what would stay pending, with the scheduler's reasons, is the answer."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.controllers.book import Book
from orchestrator.controllers.desired import DesiredState
from orchestrator.observe.facts import HostFacts
from orchestrator.observe.snapshot import ClusterSnapshot, pods_of
from orchestrator.plan.planner import PlannerConfig, plan
from orchestrator.plan.types import CreatePod, DeletePod
from orchestrator.plan.views import PodView


@dataclass(frozen=True)
class Scenario:
    lose: tuple[str, ...] = ()  # host names, or KEY=VALUE label selectors ("rack=r1")
    drain: tuple[str, ...] = ()
    scale: tuple[tuple[str, int], ...] = ()  # ("deploy/web", 12)
    add: tuple[HostFacts, ...] = ()

    def describe(self) -> str:
        parts = [*(f"lose {x}" for x in self.lose), *(f"drain {x}" for x in self.drain),
                 *(f"scale {k}={n}" for k, n in self.scale), *(f"add {f.name}" for f in self.add)]
        return ", ".join(parts) or "nothing changes"


@dataclass
class Outcome:
    """One controller (or bare pod, "pod/NAME") after the scenario's pass."""

    key: str
    want: int
    running: int
    where: dict[str, int] = field(default_factory=dict)  # host -> its pods there
    pending: list[str] = field(default_factory=list)  # why the missing ones cannot run

    @property
    def ok(self) -> bool:
        return self.running >= self.want

    def to_dict(self) -> dict[str, Any]:
        return {"object": self.key, "want": self.want, "running": self.running, "where": self.where,
                "pending": self.pending, "ok": self.ok}


@dataclass
class WhatIf:
    scenario: Scenario
    lost: list[str] = field(default_factory=list)
    drained: list[str] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # the scenario itself is wrong (an unknown host, ...)

    @property
    def ok(self) -> bool:
        return not self.errors and all(o.ok for o in self.outcomes)

    @property
    def short(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario.describe(), "lost": self.lost, "drained": self.drained,
                "ok": self.ok, "errors": self.errors, "objects": [o.to_dict() for o in self.outcomes]}


def select_hosts(facts: Iterable[HostFacts], selectors: Sequence[str]) -> tuple[list[str], list[str]]:
    """Host names matched by names or KEY=VALUE label selectors, and an error for each that matches none."""
    facts = list(facts)
    chosen: set[str] = set()
    errors = []
    for sel in selectors:
        key, eq, value = sel.partition("=")
        hit = ({f.name for f in facts if f.labels.get(key) == value} if eq
               else {f.name for f in facts if f.name == sel})
        if not hit:
            what = f"no host has the label {sel}" if eq else f"no host is named {sel!r}"
            errors.append(f"{what} (hosts: {', '.join(sorted(f.name for f in facts))})")
        chosen |= hit
    return sorted(chosen), errors


def domains(facts: Iterable[HostFacts], label: str) -> list[str]:
    """`--each LABEL`: one selector per value the label has among the hosts (the failure domains)."""
    return [f"{label}={v}" for v in sorted({f.labels[label] for f in facts if label in f.labels})]


def what_if(desired: DesiredState, facts: Sequence[HostFacts], scenario: Scenario, config: PlannerConfig,
            cluster: str, now: float) -> WhatIf:
    everything = [*facts, *scenario.add]
    out = WhatIf(scenario)
    out.lost, errors = select_hosts(everything, scenario.lose)
    out.drained, more = select_hosts(everything, scenario.drain)
    out.errors += errors + more
    desired = _scaled(desired, scenario.scale, out.errors)
    if out.errors:
        return out

    # Hosts not ready in the snapshot stay as they were: within the grace period, their pods count.
    book = Book()
    hosts: list[HostFacts] = []
    for f in everything:
        if f.name in out.lost or not f.ready:
            book.assumed[f.name] = [PodView.of(p).to_dict() for p in pods_of(f)]
            book.host_failures[f.name] = now - config.grace_period - 1 if f.name in out.lost else now
            f = dataclasses.replace(f, reachable=False, docker_version="", containers=(), reason="timeout",
                                    error="what-if: lost" if f.name in out.lost else f.error)
        hosts.append(f)
    snapshot = ClusterSnapshot.build(hosts, now, cluster=cluster)
    config = dataclasses.replace(config, leaving=frozenset(out.drained) | config.leaving)
    p = plan(desired, snapshot, book, now, config, seed=0)

    deleted = {a.uid for a in p.actions if isinstance(a, DeletePod)}
    creates = [a for a in p.actions if isinstance(a, CreatePod)]
    stays = [v for v in snapshot.pods if v.uid not in deleted and v.host not in out.drained]
    for key, w in sorted(desired.workloads.items()):
        where = Counter(v.host for v in stays if v.owner == key)
        where.update(a.host for a in creates if a.pod.owner == key)
        out.outcomes.append(Outcome(key, w.replicas, sum(where.values()), dict(sorted(where.items())),
                                    _pending(p.pending, key)))
    for name in sorted(desired.pods):
        key = f"pod/{name}"
        where = Counter(v.host for v in stays if v.owner is None and v.name == name)
        where.update(a.host for a in creates if a.pod.owner is None and a.pod.name == name)
        why = _pending(p.pending, key)
        on_drained = [v.host for v in snapshot.pods if v.owner is None and v.name == name and v.host in out.drained]
        if on_drained and not where:
            why.append(f"{key}: on the drained host {on_drained[0]}; a bare pod is not moved (no controller)")
        out.outcomes.append(Outcome(key, 1, min(1, sum(where.values())), dict(where), why))
    return out


def _pending(pending: Mapping[str, str], key: str) -> list[str]:
    return [f"{k}: {why}" for k, why in sorted(pending.items())
            if (k == key or k.startswith(key + ":")) and not k.endswith(": handover")]


def _scaled(desired: DesiredState, scale: Sequence[tuple[str, int]], errors: list[str]) -> DesiredState:
    if not scale:
        return desired
    workloads = dict(desired.workloads)
    for key, n in scale:
        w = workloads.get(key)
        if w is None:
            errors.append(f"--scale {key}: no such controller (have: {', '.join(sorted(workloads)) or 'none'})")
        elif n < 0:
            errors.append(f"--scale {key}={n}: replicas must be 0 or more")
        else:
            workloads[key] = w.model_copy(update={"spec": w.spec.model_copy(update={"replicas": n})})
    return dataclasses.replace(desired, workloads=workloads)
