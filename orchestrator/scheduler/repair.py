"""Repair: after the greedy pass, place pods it left out by moving one or two pods of the same batch.

For a pod left out, the hosts its static filters allow are ranked by how little is missing there (the
free cpu, memory, storage and gpus short of its ask, as shares of the host); on each of the first few, the
pods placed there in this run that may move are taken off, one at a time and then two at a time (those
freeing enough resources, or sharing a host port or an anti-affinity with the pod, smallest first). When
the pod is then feasible there it is placed, and the pods taken off are placed again through the normal
pipeline (every filter, then the best score). The move is kept only when every one of them found a host;
otherwise every step is undone exactly (`ClusterState.remove` and `add`) and the next set is tried.

Never moved: pods running before this run (NodeInfo.pods), pods pinned with node_name, and pods whose labels
match a DoNotSchedule spread constraint of the batch (taking one away could leave a pod placed before over
its maxSkew; every other filter only gets easier when a pod leaves). So each final placement still passes
every filter against the placements before it, in the result's order.

Bounded: `budget` trials in all (a trial: one set of pods taken off one host), at most TRIALS_PER_POD for
one pod, on at most HOSTS_PER_POD hosts; a pod whose spec (all but its name) already failed is skipped
until some move is kept. Pure: the same input and generator give the same moves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from orchestrator.scheduler.framework import Pipeline
from orchestrator.scheduler.state import ClusterState
from orchestrator.scheduler.types import (
    HOSTNAME_LABEL,
    Explanation,
    PlacedPod,
    Placement,
    PodRequest,
    PodSelector,
)

DEFAULT_BUDGET = 256  # trials per schedule() call
TRIALS_PER_POD = 24
HOSTS_PER_POD = 8
SINGLES_PER_HOST = 6
PAIRS_PER_HOST = 8


def _spec_key(pod: PodRequest) -> tuple[object, ...]:
    """Everything that decides where a pod may go, but its name."""
    return (pod.owner, frozenset(pod.labels.items()), pod.requests, pod.host_ports, pod.node_name,
            frozenset(pod.node_selector.items()), pod.required_node_affinity, pod.preferred_node_affinity,
            pod.required_anti_affinity, pod.preferred_anti_affinity, pod.topology_spread, pod.tolerations,
            pod.image)


@dataclass
class Repair:
    """One repair phase over the state the greedy pass left. `where` maps each placed pod's name to its
    placement, in the order of the placements (a moved pod goes to the end); it is updated on each kept
    move, as `explanations` is when given."""

    state: ClusterState
    pipeline: Pipeline
    rng: np.random.Generator
    pods: Mapping[str, PodRequest]  # the batch, by name
    rank: Mapping[str, int]  # each pod's turn in the greedy order (moved pods are placed again in it)
    where: dict[str, Placement]
    budget: int = DEFAULT_BUDGET
    explanations: dict[str, tuple[Explanation, ...]] | None = None
    trials: int = 0
    kept: int = 0  # moves kept
    _hard: tuple[PodSelector, ...] = field(default=(), init=False)
    _movable: dict[frozenset[tuple[str, str]], bool] = field(default_factory=dict, init=False)
    _failed: dict[tuple[object, ...], int] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        hard = {c.selector for p in self.pods.values() for c in p.topology_spread
                if c.when_unsatisfiable == "DoNotSchedule"}
        self._hard = tuple(sorted(hard, key=repr))

    def run(self, left_out: Sequence[PodRequest]) -> list[PodRequest]:
        """Try each pod left out, in order, while the budget lasts; returns those still left out."""
        still: list[PodRequest] = []
        for pod in left_out:
            key = _spec_key(pod)
            if self.trials >= self.budget or self._failed.get(key) == self.kept or not self._place(pod):
                self._failed[key] = self.kept
                still.append(pod)
        return still

    # which pods may move ------------------------------------------------------------------------------

    def movable(self, pod: PodRequest) -> bool:
        if pod.node_name is not None:
            return False
        labels = frozenset(pod.labels.items())
        ok = self._movable.get(labels)
        if ok is None:
            ok = self._movable[labels] = not any(self.state.may_match(s, pod.labels) for s in self._hard)
        return ok

    def _conflicts(self, pod: PodRequest, other: PodRequest) -> bool:
        """Whether `other` on the same host keeps `pod` off it whatever the resources: a host port both use,
        or a required host anti-affinity between them."""
        if pod.host_ports & other.host_ports:
            return True
        return any(t.topology_key == HOSTNAME_LABEL and self.state.may_match(t.selector, b.labels)
                   for a, b in ((pod, other), (other, pod)) for t in a.required_anti_affinity)

    # candidates ---------------------------------------------------------------------------------------

    def _hosts(self, pod: PodRequest) -> list[int]:
        """Hosts its static filters allow where this run placed enough to make room, least missing first."""
        state = self.state
        ask = np.array(pod.requests.as_tuple(), dtype=np.int64)
        ok = self.pipeline.statically_feasible(pod, state)
        short = np.maximum(ask - state.free, 0)
        ok = ok & (short <= state.allocatable - state.free - state.running_used).all(axis=1)
        idx = np.flatnonzero(ok)
        cost = (short[idx] / np.maximum(state.allocatable[idx], 1)).sum(axis=1)
        return [int(i) for i in idx[np.argsort(cost, kind="stable")]]

    def _removals(self, pod: PodRequest, i: int) -> list[tuple[PodRequest, ...]]:
        """Sets of one, then two, pods placed on host i in this run whose leaving might let `pod` in."""
        state = self.state
        here = [self.pods[q.name] for q in state.placed_here(i)]
        movable = [p for p in here if self.movable(p)]
        need = np.array(pod.requests.as_tuple(), dtype=np.int64) - state.free[i]
        scale = np.maximum(state.allocatable[i], 1)
        if not (need > 0).any():  # it fits by resources: only a conflicting pod is worth moving
            movable = [p for p in movable if self._conflicts(pod, p)]

        def size(ps: tuple[PodRequest, ...]) -> tuple[float, tuple[str, ...]]:
            total = sum(np.array(p.requests.as_tuple()) for p in ps)
            return float((total / scale).max()), tuple(p.name for p in ps)

        def frees(ps: tuple[PodRequest, ...]) -> bool:
            return bool((sum(np.array(p.requests.as_tuple()) for p in ps) >= need).all())

        singles: list[tuple[PodRequest, ...]] = sorted(((p,) for p in movable if frees((p,))), key=size)
        pairs: list[tuple[PodRequest, ...]] = sorted((ps for ps in combinations(movable, 2) if frees(ps)),
                                                     key=size)
        return singles[:SINGLES_PER_HOST] + pairs[:PAIRS_PER_HOST]

    # one pod ------------------------------------------------------------------------------------------

    def _place(self, pod: PodRequest) -> bool:
        spent = 0
        for i in self._hosts(pod)[:HOSTS_PER_POD]:
            for removal in self._removals(pod, i):
                if spent >= TRIALS_PER_POD or self.trials >= self.budget:
                    return False
                spent += 1
                self.trials += 1
                if self._try(pod, i, removal):
                    self.kept += 1
                    return True
        return False

    def _try(self, pod: PodRequest, i: int, removal: tuple[PodRequest, ...]) -> bool:
        """Take `removal` off host i, place `pod` there and the removed pods wherever the pipeline puts them;
        keep all of it when every one found a host, else undo it exactly."""
        state, pipeline = self.state, self.pipeline
        taken: list[tuple[PlacedPod, int]] = [state.remove(i, p.name) for p in removal]
        new: list[Placement] = []
        notes: dict[str, tuple[Explanation, ...]] = {}
        score = pipeline.score_on(pod, state, i)
        ok = score is not None
        if score is not None:
            if self.explanations is not None:
                notes[pod.name] = tuple(pipeline.explain(pod, state))
            new.append(Placement(pod, state.nodes[i].name, score, state.place(i, pod)))
            for moved in sorted(removal, key=lambda p: self.rank[p.name]):
                if self.explanations is not None:
                    notes[moved.name] = tuple(pipeline.explain(moved, state))
                best = pipeline.best_host(moved, state, self.rng)
                if best is None:
                    ok = False
                    break
                j, s = best
                new.append(Placement(moved, state.nodes[j].name, s, state.place(j, moved)))
        if not ok:
            for pl in reversed(new):
                state.remove(state.index[pl.node], pl.pod.name)
            for placed, at in reversed(taken):
                state.add(i, placed, at)
            return False
        for p in removal:
            del self.where[p.name]
        for pl in new:
            self.where[pl.pod.name] = pl
        if self.explanations is not None:
            self.explanations.update(notes)
        return True
