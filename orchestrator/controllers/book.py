"""Bookkeeping the planner keeps between passes (in the store, key `_meta/reconcile`): small facts that
the hosts cannot tell us, never the truth about what runs (that is rebuilt from the hosts each pass)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestrator.inventory.host import Host

BOOK_KEY = "_meta/reconcile"


@dataclass
class Book:
    host_failures: dict[str, float] = field(default_factory=dict)  # host -> time of its first failed probe
    evicted: dict[str, str] = field(default_factory=dict)  # pod uid -> host it was lost with (and replaced)
    bindings: dict[str, str] = field(default_factory=dict)  # bare pod name -> the host it was scheduled to
    # Pods believed to run on each host as of the last pass, including those created by it: what counts
    # for a host we cannot see now (within the grace period), so a lagging view never creates twice.
    assumed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Controller -> how many pods it may create next pass, after creations failed (absent: no limit).
    slow_start: dict[str, int] = field(default_factory=dict)
    # Service -> its servers ("pod@address:port") as the proxies had them after the last pass: the pods a
    # delete must drain first, and what `orc plan` says changes.
    endpoints: dict[str, list[str]] = field(default_factory=dict)
    # Host -> service -> the last section its own template rendered (kept while that template fails).
    proxy_sections: dict[str, dict[str, str]] = field(default_factory=dict)
    # Host -> how to reach it, for every host of the last pass: a host that leaves the inventory while pods
    # of ours run there is still reached, to drain it (see PlannerConfig.leaving), until none are left.
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Controller (or "pod/NAME") -> {"delay": s, "until": t}: after failed creations it waits `delay`
    # seconds before it tries again, doubling from 10 s to 5 min (Kubernetes' crash-loop back-off).
    backoff: dict[str, dict[str, float]] = field(default_factory=dict)
    # The notices (Plan.notices) of the last pass: a pass prints only those that are new.
    notices: list[str] = field(default_factory=list)
    # Pod uid -> since when it is ready, as first seen (for minReadySeconds of pods with a readiness check).
    ready_since: dict[str, float] = field(default_factory=dict)
    # Rolling controller ("deploy/web", "rc/web") -> its status as the last pass saw it (plan/rollout.status):
    # what `orc rollout status` reads, and when it last made progress (progressDeadlineSeconds).
    rollouts: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Docker container name -> how often the loop restarted it for a failed liveness probe (docker's own
    # RestartCount does not count a `docker restart`): added to its restartCount, as Kubernetes counts it.
    restarts: dict[str, int] = field(default_factory=dict)
    # Host -> {"inputs": digest of what its HAProxy config renders from, "config": digest of that config}
    # (plan/services.py): a host whose inputs and live config are unchanged is not rendered again.
    proxy_renders: dict[str, dict[str, str]] = field(default_factory=dict)
    # Pod uid -> its configMap/secret volumes as given to it (plan/config_plan.py): what a pass compares.
    config_volumes: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Pod name -> why it could not start (CreateContainerConfigError: `configmap "x" not found`).
    config_errors: dict[str, str] = field(default_factory=dict)
    # Old pod uid -> its rebalance move under way (plan/moves.Move.to_dict): owner, pod, source, target, ...
    rebalance: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"host_failures": self.host_failures, "evicted": self.evicted, "bindings": self.bindings,
                "assumed": self.assumed, "slow_start": self.slow_start, "endpoints": self.endpoints,
                "proxy_sections": self.proxy_sections, "hosts": self.hosts, "backoff": self.backoff,
                "notices": self.notices, "ready_since": self.ready_since,
                "rollouts": self.rollouts, "restarts": self.restarts, "proxy_renders": self.proxy_renders,
                "config_volumes": self.config_volumes, "config_errors": self.config_errors,
                "rebalance": self.rebalance}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Book:
        d = d or {}
        return cls(dict(d.get("host_failures", {})), dict(d.get("evicted", {})), dict(d.get("bindings", {})),
                   {h: list(v) for h, v in d.get("assumed", {}).items()}, dict(d.get("slow_start", {})),
                   {s: list(v) for s, v in d.get("endpoints", {}).items()},
                   {h: dict(v) for h, v in d.get("proxy_sections", {}).items()},
                   {h: dict(v) for h, v in d.get("hosts", {}).items()},
                   {k: dict(v) for k, v in d.get("backoff", {}).items()}, list(d.get("notices", [])),
                   {k: float(v) for k, v in d.get("ready_since", {}).items()},
                   {k: dict(v) for k, v in d.get("rollouts", {}).items()},
                   {k: int(v) for k, v in d.get("restarts", {}).items()},
                   {h: dict(v) for h, v in d.get("proxy_renders", {}).items()},
                   {k: dict(v) for k, v in d.get("config_volumes", {}).items()},
                   {k: str(v) for k, v in d.get("config_errors", {}).items()},
                   {u: dict(v) for u, v in d.get("rebalance", {}).items()})


def config_volumes_after(before: dict[str, dict[str, Any]], planned: dict[str, dict[str, Any]],
                         results: list[Any]) -> dict[str, dict[str, Any]]:
    """The plan's config-volume bookkeeping, less what failed: a pod whose create failed is dropped, a volume
    whose update failed keeps its old version (so the next pass tries again)."""
    from orchestrator.plan.types import CreatePod, UpdateConfigVolume

    out = {k: dict(v) for k, v in planned.items()}
    for r in results:
        if r.ok:
            continue
        if isinstance(r.action, CreatePod):
            out.pop(r.action.pod.uid, None)
        elif isinstance(r.action, UpdateConfigVolume) and r.action.uid in out:
            old = ((before.get(r.action.uid) or {}).get("volumes") or {}).get(r.action.volume.name)
            vols = dict(out[r.action.uid].get("volumes") or {})
            if old is not None:
                vols[r.action.volume.name] = old
            out[r.action.uid] = {**out[r.action.uid], "volumes": vols}
    return out


_HOST_FIELDS = ("address", "port", "user", "key_file", "become", "known_hosts_file")


def host_record(host: Host) -> dict[str, Any]:
    """How to reach a host again without the inventory (JSON-safe; its vars that are plain values)."""
    import json

    out: dict[str, Any] = {k: getattr(host, k) for k in _HOST_FIELDS}
    out["vars"] = {}
    for k, v in host.vars.items():
        try:
            json.dumps(v)
        except (TypeError, ValueError):
            continue
        out["vars"][k] = v
    return out


def host_from_record(name: str, d: dict[str, Any]) -> Host:
    return Host(name=name, **{k: d.get(k) for k in _HOST_FIELDS if k != "address"},  # type: ignore[arg-type]
                address=str(d.get("address") or name), vars=dict(d.get("vars") or {}))


BACKOFF_FIRST, BACKOFF_MAX = 10.0, 300.0


def next_backoff(previous: dict[str, dict[str, float]], attempts: dict[str, tuple[int, int]],
                 now: float) -> dict[str, dict[str, float]]:
    """Back-off after failed creations: a failure waits 10 s, then 20, 40, ... up to 5 min; a pass in
    which every creation of a controller succeeded clears it; one that tried nothing keeps it."""
    out = {k: v for k, v in previous.items() if k not in attempts}
    for owner, (tried, failed) in attempts.items():
        if tried and failed:
            delay = min(BACKOFF_MAX, previous[owner]["delay"] * 2) if owner in previous else BACKOFF_FIRST
            out[owner] = {"delay": delay, "until": now + delay}
    return out


def next_slow_start(previous: dict[str, int], attempts: dict[str, tuple[int, int]]) -> dict[str, int]:
    """Kubernetes' slow start across passes. `attempts`: controller -> (creations tried, failed) this pass.
    A failure drops the next batch to 1; success doubles it; a controller that tried nothing is free again."""
    out = {}
    for owner, (tried, failed) in attempts.items():
        if tried and failed:
            out[owner] = 1
        elif tried and owner in previous:
            out[owner] = previous[owner] * 2
    return out


def next_restarts(previous: dict[str, int], restarted: list[str], pods: list[dict[str, Any]]) -> dict[str, int]:
    """The loop's liveness restarts per docker container after a pass: those of the pass (`restarted`, docker
    container names) added, those of containers no longer believed to exist dropped."""
    alive = {f"orc_{p.get('name')}_{c.get('name')}" for p in pods for c in p.get("containers") or []}
    out = {k: n for k, n in previous.items() if k in alive}
    for name in restarted:
        out[name] = out.get(name, 0) + 1
    return out


def with_restarts(pods: list[dict[str, Any]], restarts: dict[str, int]) -> list[dict[str, Any]]:
    """Stored pods whose containers' restart counts include the loop's liveness restarts."""
    if not restarts:
        return pods
    out = []
    for p in pods:
        containers = [{**c, "restarts": int(c.get("restarts") or 0) + restarts.get(f"orc_{p.get('name')}_{c.get('name')}", 0)}
                      for c in p.get("containers") or []]
        inits = sum(int(c.get("restarts") or 0) for c in p.get("init_containers") or [])  # kubectl counts them too
        total = sum(c["restarts"] for c in containers) + inits if containers else p.get("restarts", 0)
        out.append({**p, "containers": containers, "restarts": total})
    return out
