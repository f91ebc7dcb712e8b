"""Rollouts: how a Deployment (and, where orc departs from Kubernetes, a ReplicationController) replaces the
pods whose spec differs from its template. Pure: the planner asks, for one controller in one pass, how many
new pods to create and which old ones to delete.

RollingUpdate follows Kubernetes' deployment controller (pkg/controller/deployment/rolling.go):
 - never more than `replicas + maxSurge` pods (ready or not, old or new) at any moment of a pass (new pods
   start in the pass's first phase, old ones leave in its drain phase, so both count together);
 - never fewer than `replicas - maxUnavailable` available pods: an old pod is deleted only while the
   available ones (ready for at least `minReadySeconds`) stay above that; unavailable old pods go first;
 - maxSurge rounds up, maxUnavailable rounds down (percentages of `replicas`); when both come to 0,
   maxUnavailable is 1, as Kubernetes makes it.
Each pass advances as far as readiness allows: new pods that are not yet available hold the rest back.
Recreate deletes every old pod first and creates new ones only once none is left. `paused: true` freezes
the rollout: the controller only keeps its replica count.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.plan.views import PodView

DEFAULT_SURGE = DEFAULT_UNAVAILABLE = "25%"


@dataclass(frozen=True)
class Strategy:
    type: str  # RollingUpdate | Recreate
    max_surge: int
    max_unavailable: int
    min_ready: int = 0
    paused: bool = False


def scaled(value: int | str | None, replicas: int, default: str, round_up: bool) -> int:
    """An IntOrString of a rolling update as a pod count (Kubernetes' GetScaledValueFromIntOrPercent)."""
    value = default if value is None else value
    if isinstance(value, int):
        return value
    frac = int(value.rstrip("%")) * replicas / 100
    return math.ceil(frac) if round_up else math.floor(frac)


def strategy_of(workload: Any) -> Strategy | None:
    """How a controller replaces pods of an older template, or None when it does not (a ReplicaSet: a changed
    template affects new pods only, as in Kubernetes)."""
    kind = type(workload).__name__
    if kind not in ("Deployment", "ReplicationController"):
        return None
    spec, replicas = workload.spec, workload.replicas
    min_ready = spec.min_ready_seconds or 0
    st = getattr(spec, "strategy", None)
    if st is not None and st.type == "Recreate":
        return Strategy("Recreate", 0, 0, min_ready, bool(getattr(spec, "paused", False)))
    ru = st.rolling_update if st is not None else None
    surge = scaled(ru.max_surge if ru else None, replicas, DEFAULT_SURGE, round_up=True)
    unavailable = scaled(ru.max_unavailable if ru else None, replicas, DEFAULT_UNAVAILABLE, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return Strategy("RollingUpdate", surge, unavailable, min_ready, bool(getattr(spec, "paused", False)))


@dataclass
class Step:
    """One pass of a rollout for one controller."""

    create: int = 0  # new pods (of the template) to create
    delete: list[PodView] = field(default_factory=list)  # pods to delete (old ones, or extra new ones)
    waiting: str = ""  # why the rollout does not go further this pass ("" when it is done)


def step(s: Strategy, replicas: int, new: Sequence[PodView], old: Sequence[PodView],
         available: Callable[[PodView], bool],
         victims: Callable[[list[PodView], int], list[PodView]]) -> Step:
    """What a controller with `old` pods (another spec hash) and `new` ones does this pass."""
    out = Step()
    if s.paused:
        return out  # the planner keeps only the replica count (see planner)
    if s.type == "Recreate":
        gone = [v for v in old if v.seen]
        out.delete = list(gone)
        out.waiting = f"Recreate: {len(old)} old pods stop before any new one starts"
        return out
    total = len(new) + len(old)
    out.create = max(0, min(replicas - len(new), replicas + s.max_surge - total))
    if len(new) > replicas:
        out.delete += victims(list(new), len(new) - replicas)
    min_available = replicas - s.max_unavailable
    avail_new = sum(1 for v in new if available(v))
    avail_old = [v for v in old if available(v)]
    # Kubernetes' maxScaledDown: pods that may go at all without going below minAvailable.
    budget = total - min_available - (len(new) - avail_new)
    if budget > 0:
        unhealthy = [v for v in old if not available(v) and v.seen][:budget]
        out.delete += unhealthy
        room = avail_new + len(avail_old) - min_available
        if room > 0:
            out.delete += victims(avail_old, min(room, len(avail_old)))
    left = len(old) - sum(1 for v in out.delete if v in old)
    out.waiting = (f"rolling update: {len(new)}/{replicas} pods updated ({avail_new} available), {left} old "
                   f"pods left; maxSurge {s.max_surge}, maxUnavailable {s.max_unavailable}"
                   + (f", minReadySeconds {s.min_ready}" if s.min_ready else ""))
    return out


DEFAULT_PROGRESS_DEADLINE = 600  # Kubernetes' progressDeadlineSeconds default


def status(workload: Any, s: Strategy, template_hash: str, pods: Sequence[PodView],
           available: Callable[[PodView], bool], previous: dict[str, Any], now: float,
           generation: int) -> dict[str, Any]:
    """A rolling controller's status as Kubernetes reports a Deployment's (replicas, updatedReplicas,
    readyReplicas, availableReplicas, observedGeneration: the store revision the pass planned from; conditions
    Progressing and Available), with `progressAt`: when it last made progress, for progressDeadlineSeconds."""
    replicas = workload.replicas
    updated = sum(1 for v in pods if v.spec_hash == template_hash)
    ready = sum(1 for v in pods if v.ready)
    avail = sum(1 for v in pods if available(v))
    mark = [template_hash, updated, avail]
    progress_at = float(previous.get("progressAt", now)) if previous.get("mark") == mark else now
    deadline = getattr(workload.spec, "progress_deadline_seconds", None) or DEFAULT_PROGRESS_DEADLINE
    complete = updated == replicas == len(pods) and avail == replicas
    if complete:
        progressing = ("True", "NewReplicaSetAvailable", "the rollout is complete")
    elif s.paused:
        progressing = ("Unknown", "DeploymentPaused", "the rollout is paused")
    elif now - progress_at > deadline:
        progressing = ("False", "ProgressDeadlineExceeded",
                       f"no progress for {now - progress_at:.0f}s (progressDeadlineSeconds {deadline})")
    else:
        progressing = ("True", "ReplicaSetUpdated", f"{updated} of {replicas} pods updated, {avail} available")
    ok = avail >= replicas - s.max_unavailable
    return {
        "replicas": len(pods), "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": avail,
        "observedGeneration": generation, "mark": mark, "progressAt": progress_at,
        "conditions": [
            {"type": "Progressing", "status": progressing[0], "reason": progressing[1], "message": progressing[2]},
            {"type": "Available", "status": "True" if ok else "False",
             "reason": "MinimumReplicasAvailable" if ok else "MinimumReplicasUnavailable",
             "message": f"{avail} of {replicas} pods available (minimum {replicas - s.max_unavailable})"},
        ],
    }
