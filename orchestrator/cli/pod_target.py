"""Which pods and containers `orc logs` and `orc exec` work on, from kubectl's argument forms: `NAME`,
`pod/NAME`, or a workload (`deploy/NAME`, `rc/NAME`, `rs/NAME`: its selector's pods, as kubectl picks them),
or `-l SELECTOR`. Pure: the snapshot and stored objects come in, pods and messages come out.

    parse_target("deploy/web")            -> Target("deploy", "web")
    parse_duration("1h30m")               -> 5400.0  (Go's time.ParseDuration, as kubectl's --since)
    pick_for_logs(pods)                   -> the pod kubectl would show first (running, ready, restarted most)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import click

from orchestrator.cli.observed import ObservedPod
from orchestrator.labels import Selector

POD_KINDS = {"pod": "pod", "pods": "pod", "po": "pod"}
WORKLOAD_KINDS = {
    "deploy": "deploy", "deployment": "deploy", "deployments": "deploy", "deployment.apps": "deploy",
    "rc": "rc", "replicationcontroller": "rc", "replicationcontrollers": "rc",
    "rs": "rs", "replicaset": "rs", "replicasets": "rs", "replicaset.apps": "rs",
}
PLURAL = {"pod": "pods", "deploy": "deployments.apps", "rc": "replicationcontrollers", "rs": "replicasets.apps"}


@dataclass(frozen=True)
class Target:
    kind: str  # pod | deploy | rc | rs (the store prefix)
    name: str

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def is_pod(self) -> bool:
        return self.kind == "pod"


def parse_target(text: str, *, workloads: bool = True, command: str = "logs") -> Target:
    """`NAME` and `pod/NAME` name a pod; with `workloads`, `deploy/NAME`, `rc/NAME`, `rs/NAME` a controller."""
    kind, sep, name = text.partition("/")
    if not sep:
        return Target("pod", text)
    allowed = {**POD_KINDS, **(WORKLOAD_KINDS if workloads else {})}
    if kind.lower() not in allowed or not name or "/" in name:
        forms = "POD, pod/NAME, deploy/NAME, rc/NAME or rs/NAME" if workloads else "POD or pod/NAME"
        raise click.UsageError(f"{text}: {command} takes {forms}")
    return Target(allowed[kind.lower()], name)


_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Seconds in a Go duration ("5s", "2m", "3h", "1h30m", "1.5h", "500ms"), as kubectl's --since reads it.
    Raises ValueError with the reason."""
    rest, total = text.strip(), 0.0
    if not rest:
        raise ValueError("empty duration")
    while rest:
        m = _DURATION_PART.match(rest)
        if m is None:
            raise ValueError(f"time: invalid duration {text!r} (use a number and a unit: 5s, 2m, 3h, 1h30m)")
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        rest = rest[m.end():]
    return total


def selector_of(obj: Mapping[str, Any]) -> Selector:
    """The pod selector of a stored workload: an RC's map, a ReplicaSet's or Deployment's LabelSelector;
    the template's labels when an RC has none (as Kubernetes defaults it)."""
    spec = obj.get("spec") or {}
    sel = spec.get("selector")
    if obj.get("kind") == "ReplicationController" or (isinstance(sel, dict) and sel and
                                                      not {"matchLabels", "matchExpressions"} & set(sel)):
        labels = sel or ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        return Selector.from_dict({str(k): str(v) for k, v in labels.items()})
    return Selector.from_label_selector(sel if isinstance(sel, dict) else None)


def pods_of_workload(pods: Iterable[ObservedPod], target: Target, obj: Mapping[str, Any] | None) -> list[ObservedPod]:
    """The pods a workload's selector picks (kubectl's rule), also those that carry it as their owner."""
    sel = selector_of(obj) if obj is not None else None
    return [p for p in pods if p.owner == target.key or (sel is not None and not sel.empty and sel.matches(p.labels))]


def _logging_rank(pod: ObservedPod) -> tuple[int, int, int, int, float]:
    """kubectl's podutils.ByLogging, best first: on a host, running, ready, most restarts, oldest."""
    return (0 if pod.host else 1, 0 if pod.phase == "Running" else 1, 0 if pod.ready else 1, -pod.restarts,
            pod.started_at if pod.started_at is not None else float("inf"))


def by_logging(pods: Iterable[ObservedPod]) -> list[ObservedPod]:
    return sorted(pods, key=lambda p: (_logging_rank(p), p.name))


def not_found(target: Target) -> str:
    return f'Error from server (NotFound): {PLURAL[target.kind]} "{target.name}" not found'


@dataclass(frozen=True)
class Source:
    """One container's log stream: where it runs and how lines are prefixed."""

    pod: str
    container: str
    host: str

    @property
    def prefix(self) -> str:
        return f"[pod/{self.pod}/{self.container}]"


def choose_containers(pod: str, available: Sequence[str], container: str | None, all_containers: bool
                      ) -> tuple[list[str], str | None]:
    """(the containers to read, a note for stderr): the named one, every one, or the first (kubectl's
    `Defaulted container "a" out of: a, b` when there are several). A missing name raises UsageError-free
    LookupError with kubectl's message."""
    if container is not None:
        if available and container not in available:
            raise LookupError(f'container {container} is not valid for pod {pod} (containers: {", ".join(available)})')
        return [container], None
    if not available:
        raise LookupError(f"pod {pod} has no containers (is it still being created?)")
    if all_containers:
        return list(available), None
    note = f'Defaulted container "{available[0]}" out of: {", ".join(available)}' if len(available) > 1 else None
    return [available[0]], note
