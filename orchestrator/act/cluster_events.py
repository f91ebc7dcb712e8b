"""Kubernetes-style events of a pass (`orc get events`, `describe`'s Events, `--events FILE`): every decision
and failure, about the object it concerns: pods scheduled, created, killed, restarted for a failed liveness
probe, unhealthy, backing off; controllers' pods created and deleted (and failed creations); pods that
cannot be scheduled, with why; hosts unreachable and lost; proxies updated; addresses allocated.

    events = pass_events(plan, results, snapshot, grace_period, now)      # pure
    record(store, events, now, fence=...)                                 # one transaction, bounded

In the store, an event lives at `_meta/events/<object>/<reason>.<hash of its message>`; the same event again
(a pending pod, a host still unreachable) updates `count` and `lastTimestamp`, at most once a minute, so a
condition that persists costs one write a minute, not one per pass. Events are kept `KEEP_SECONDS` (an hour,
as Kubernetes keeps them) and at most `KEEP_COUNT`, the oldest dropped first."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator import docker_labels as L
from orchestrator.store import keys

EVENTS = keys.META + "events/"
KEEP_SECONDS = 3600.0
KEEP_COUNT = 1000
REFRESH_SECONDS = 60.0  # a repeated event is written again at most this often


@dataclass(frozen=True)
class ClusterEvent:
    object: str  # "pod/web-x2k4p", "rc/web", "svc/web", "node/lab1", "cluster"
    type: str  # Normal | Warning
    reason: str
    message: str

    @property
    def key(self) -> str:
        digest = hashlib.sha256(self.message.encode()).hexdigest()[:12]
        return f"{EVENTS}{self.object}/{self.reason}.{digest}"

    def to_dict(self) -> dict[str, Any]:
        return {"object": self.object, "type": self.type, "reason": self.reason, "message": self.message}


def _action_events(r: Any, owners: dict[str, str]) -> list[ClusterEvent]:
    from orchestrator.plan.types import (
        ContinuePod,
        CopyImage,
        CreatePod,
        DeletePod,
        RemoveOrphan,
        RestartContainer,
        UpdateProxy,
    )
    from orchestrator.proxy.addresses import StoreOp

    a, ok, error = r.action, r.ok, r.error or ""
    if a is None:
        return [] if ok else [ClusterEvent(f"node/{r.host}", "Warning", "StepFailed", f"{r.step}: {error}")]
    if isinstance(a, CreatePod):
        pod, owner = f"pod/{a.pod.name}", a.pod.owner
        if not ok:
            out = [ClusterEvent(pod, "Warning", "Failed", f"Error: creating it on {a.host}: {error}")]
            if owner:
                out.append(ClusterEvent(owner, "Warning", "FailedCreate",
                                        f"Error creating: pod {a.pod.name} on {a.host}: {error}"))
            return out
        names = ", ".join(c.name for c in a.pod.spec.containers)
        out = [ClusterEvent(pod, "Normal", "Scheduled", f"Successfully assigned default/{a.pod.name} to {a.host}"),
               ClusterEvent(pod, "Normal", "Started", f"Created and started its containers: {names}")]
        if owner:
            out.append(ClusterEvent(owner, "Normal", "SuccessfulCreate", f"Created pod: {a.pod.name} ({a.reason})"))
        return out
    if isinstance(a, DeletePod):
        pod, owner = f"pod/{a.name}", owners.get(a.uid)
        if not ok:
            return [ClusterEvent(pod, "Warning", "FailedKilling", f"Error deleting it on {a.host}: {error}")]
        out = [ClusterEvent(pod, "Normal", "Killing", f"Stopping the pod on {a.host}: {a.reason}")]
        if owner:
            out.append(ClusterEvent(owner, "Normal", "SuccessfulDelete", f"Deleted pod: {a.name} ({a.reason})"))
        return out
    if isinstance(a, RestartContainer):
        pod = f"pod/{a.pod}"
        name = a.container.removeprefix(f"orc_{a.pod}_")
        if not ok:
            return [ClusterEvent(pod, "Warning", "FailedRestart", f"Error restarting container {name}: {error}")]
        probe = "startup" if a.reason.startswith("startup") else "liveness"
        return [ClusterEvent(pod, "Warning", "Unhealthy", f"{probe.capitalize()} probe failed: container {name}"),
                ClusterEvent(pod, "Normal", "Killing", f"Container {name} failed {probe} probe, will be restarted")]
    if isinstance(a, ContinuePod):
        if not ok:
            return [ClusterEvent(f"pod/{a.name}", "Warning", "Failed", f"Error starting it on {a.host}: {error}")]
        return [ClusterEvent(f"pod/{a.name}", "Normal", "Started", a.reason)]
    if isinstance(a, UpdateProxy):
        if not ok:
            return [ClusterEvent(f"node/{a.host}", "Warning", "ProxyUpdateFailed", error)]
        detail = ", ".join(a.changes) if a.changes else a.reason
        return [ClusterEvent(f"node/{a.host}", "Normal", "ProxyUpdated", f"HAProxy updated: {detail}")]
    if isinstance(a, CopyImage):
        if not ok:
            return [ClusterEvent(f"node/{a.host}", "Warning", "FailedImageCopy", f"{a.image} from {a.source}: {error}")]
        return [ClusterEvent(f"node/{a.host}", "Normal", "ImageCopied", f"Copied image {a.image} from {a.source}")]
    if isinstance(a, RemoveOrphan):
        return [ClusterEvent(f"node/{a.host}", "Normal" if ok else "Warning", "OrphanRemoved" if ok else
                             "FailedOrphanRemoval", f"container {a.container}" + ("" if ok else f": {error}"))]
    if isinstance(a, StoreOp):
        service = str(a.value.get("service") or "")
        what = f"svc/{service}" if service else "cluster"
        verb = {"claim": "Allocated", "update": "Reassigned", "release": "Released"}[a.op]
        if not ok:
            return [ClusterEvent(what, "Warning", "FailedAllocation", f"{a.target}: {error}")]
        return [ClusterEvent(what, "Normal", verb, a.target)]
    return []


_SERVICE = re.compile(r'Service "([a-z0-9-]+)"')
_REPLACED = re.compile(r"host (\S+) lost .*: (\d+) pods replaced elsewhere")


def _pending_events(pending: dict[str, str]) -> list[ClusterEvent]:
    out = []
    for target, why in sorted(pending.items()):
        owner, sep, rest = target.partition(": ")
        reason = "BackOff" if "back-off" in why else "FailedScheduling"
        # a controller's pod not made yet has a new name each pass: the event is the controller's, by reason
        out.append(ClusterEvent(owner if sep else target, "Warning", reason,
                                why if not sep or rest.startswith("pod ") else f"{rest}: {why}"))
    return out


def _host_events(snapshot: Any, failures: dict[str, float], grace: float, now: float) -> list[ClusterEvent]:
    out = []
    for name, f in sorted(snapshot.hosts.items()):
        if f.ready:
            continue
        node = f"node/{name}"
        if not f.reachable:
            out.append(ClusterEvent(node, "Warning", "HostUnreachable", f"{f.reason}: {f.error}"))
        else:
            out.append(ClusterEvent(node, "Warning", "DockerNotReady", f"docker: {f.docker_error}"))
        since = failures.get(name)
        if since is not None and now - since >= grace:
            out.append(ClusterEvent(node, "Warning", "HostLost", f"failing for longer than the grace period "
                                    f"({grace:g}s): the pods of its controllers are replaced elsewhere"))
    return out


def _pod_events(snapshot: Any) -> list[ClusterEvent]:
    """Conditions docker reports: a container being restarted by its restart policy, a failing readiness
    probe."""
    out = []
    for p in snapshot.pods:
        for c in p.containers:
            name = c.labels.get(L.CONTAINER, c.name)
            if c.state == "restarting":
                out.append(ClusterEvent(f"pod/{p.name}", "Warning", "BackOff",
                                        f"Back-off restarting failed container {name} (exit code {c.exit_code})"))
            elif c.running and c.health == "unhealthy" and c.labels.get(L.PROBE) == "readiness":
                out.append(ClusterEvent(f"pod/{p.name}", "Warning", "Unhealthy",
                                        f"Readiness probe failed: container {name}"))
    return out


def pass_events(plan: Any, results: Sequence[Any], snapshot: Any, grace: float, now: float) -> list[ClusterEvent]:
    """Every event of one pass (pure), in order, without duplicates."""
    owners = {p.uid: p.owner for p in snapshot.pods if p.owner}
    events: list[ClusterEvent] = []
    for r in results:
        events += _action_events(r, owners)
    events += _pending_events(plan.pending)
    created = {r.action.pod.name for r in results if r.ok and getattr(r.action, "verb", "") == "create"
               and hasattr(r.action, "pod")}
    for m in getattr(plan, "moves", []):  # a rebalance move started (its replacement created), or dropped
        if m.state == "started" and m.replacement in created:
            events.append(ClusterEvent(m.owner, "Normal", "Rebalance", m.line))
        elif m.state.startswith("dropped"):
            events.append(ClusterEvent(m.owner, "Normal", "RebalanceDropped", f"{m.line}: {m.state}"))
    events += _host_events(snapshot, dict(plan.book.get("host_failures") or {}), grace, now)
    events += _pod_events(snapshot)
    for warning in plan.warnings:
        lost = _REPLACED.match(warning)
        if lost:
            events.append(ClusterEvent(f"node/{lost.group(1)}", "Warning", "PodsReplaced",
                                       f"{lost.group(2)} pods of its controllers replaced elsewhere"))
    for message in plan.errors:
        m = _SERVICE.search(message)
        events.append(ClusterEvent(f"svc/{m.group(1)}" if m else "cluster", "Warning", "PassError", message))
    return list(dict.fromkeys(events))


def writes(existing: dict[str, dict[str, Any]], events: Sequence[ClusterEvent], now: float) -> tuple[
        dict[str, dict[str, Any]], list[str]]:
    """(key -> value to put, keys to delete): new events, repeats due a refresh, and the pruning of what is
    older than KEEP_SECONDS or beyond KEEP_COUNT. Pure."""
    puts: dict[str, dict[str, Any]] = {}
    for e in events:
        old = existing.get(e.key)
        if old is None:
            puts[e.key] = {**e.to_dict(), "count": 1, "firstTimestamp": now, "lastTimestamp": now, "time": now,
                           "source": "orc"}
        elif now - float(old.get("lastTimestamp", 0)) >= REFRESH_SECONDS:
            puts[e.key] = {**old, "count": int(old.get("count", 1)) + 1, "lastTimestamp": now, "time": now}
    merged = {**existing, **puts}
    doomed = [k for k, v in merged.items() if now - float(v.get("lastTimestamp", v.get("time", 0))) > KEEP_SECONDS]
    alive = sorted((k for k in merged if k not in doomed), key=lambda k: float(merged[k].get("lastTimestamp", 0)))
    doomed += alive[: max(0, len(alive) - KEEP_COUNT)]
    deletes = [k for k in doomed if k in existing]
    return {k: v for k, v in puts.items() if k not in doomed}, deletes


def record(store: Any, events: Sequence[ClusterEvent], now: float, fence: tuple[str, int] | None = None) -> int:
    """Write the pass's events (one transaction; nothing when nothing is new); how many were written."""
    from orchestrator.store import Delete, Put

    if not events:
        return 0
    existing = {r.key: r.value for r in store.list(EVENTS)}
    puts, deletes = writes(existing, events, now)
    if not puts and not deletes:
        return 0
    store.txn([*(Put(k, v) for k, v in puts.items()), *(Delete(k) for k in deletes)], fence=fence)
    return len(puts)
