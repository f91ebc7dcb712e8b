"""Prometheus metrics of reconcile passes, rendered by prometheus-client: a node_exporter textfile
(`write_to_textfile`, atomic) after each pass and, with --watch, its HTTP exposition on 127.0.0.1.

Gauges describe the last pass (hosts by status and each host's readiness, per controller desired / running /
ready / pending pods, round trips, when it observed the cluster, at full precision). Counters and the pass
duration histogram keep counting across cron runs: they live in the store (`_meta/metrics`), so
`increase(orc_actions_total[1h])` works whether passes come from cron or from one --watch process.

    metrics = Metrics("/var/lib/node_exporter/orc.prom", store, fence)
    metrics.record(result)       # after each pass
    metrics.serve(9101)          # --watch: http://127.0.0.1:9101/metrics
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

METRICS_KEY = "_meta/metrics"
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
SAVE_EVERY = 60.0  # --watch: the counters are written to the store at least this often (and when they move)


class Totals:
    """What keeps counting across runs: actions by (verb, result), passes, the pass duration histogram."""

    def __init__(self, data: dict[str, Any] | None = None):
        data = data or {}
        self.actions: Counter[tuple[str, str]] = Counter(
            {tuple(k.split("/", 1)): int(v) for k, v in (data.get("actions") or {}).items() if "/" in k})  # type: ignore[misc]
        self.passes = int(data.get("passes", 0))
        buckets = list(data.get("buckets") or [])
        self.buckets = [int(b) for b in buckets] if len(buckets) == len(BUCKETS) else [0] * len(BUCKETS)
        self.seconds = float(data.get("seconds", 0.0))

    def to_dict(self) -> dict[str, Any]:
        return {"actions": {f"{v}/{r}": n for (v, r), n in sorted(self.actions.items())}, "passes": self.passes,
                "buckets": self.buckets, "seconds": self.seconds}

    def add(self, result: Any) -> bool:
        """Count one pass; whether any action counter moved."""
        for r in result.results:
            verb = r.action.verb if r.action is not None else "step"
            self.actions[(verb, "ok" if r.ok else "failed")] += 1
        self.passes += 1
        self.seconds += result.duration
        for i, le in enumerate(BUCKETS):
            if result.duration <= le:
                self.buckets[i] += 1
        return bool(result.results)


def families(result: Any, totals: Totals) -> list[Any]:
    """The metric families of one pass (prometheus-client's core types; pure apart from the import)."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

    out: list[Any] = []
    hosts = result.snapshot.hosts
    status = Counter(f.status for f in hosts.values())
    g = GaugeMetricFamily("orc_hosts", "Hosts by status.", labels=["status"])
    for s in ("Ready", "NotReady", "Unreachable"):
        g.add_metric([s], status.get(s, 0))
    out.append(g)
    g = GaugeMetricFamily("orc_host_ready", "1 when the host is reachable and its docker answers, else 0.",
                          labels=["host"])
    for name, f in sorted(hosts.items()):
        g.add_metric([name], 1 if f.ready else 0)
    out.append(g)
    desired = {k: w.replicas for k, w in (result.desired.workloads.items() if result.desired else [])}
    # (a pod still labelled with the key an older orc stored its controller under counts as that controller's)
    owner = result.desired.owner_of if result.desired else (lambda o, _uid: o)
    running = Counter(owner(p.owner, p.uid) for p in result.snapshot.pods if p.owner and p.phase == "Running")
    ready = Counter(owner(p.owner, p.uid) for p in result.snapshot.pods if p.owner and p.ready)
    pending = Counter(t.split(":")[0] for t in result.plan.blocked)  # not a handover or rollout under way
    owners = sorted(set(desired) | set(running))
    for name, help_, values in (("orc_pods_desired", "Replicas asked for, per controller.", desired),
                                ("orc_pods_running", "Pods running, per controller.", running),
                                ("orc_pods_ready", "Pods ready, per controller.", ready)):
        g = GaugeMetricFamily(name, help_, labels=["controller"])
        for o in owners:
            g.add_metric([o], values.get(o, 0))
        out.append(g)
    g = GaugeMetricFamily("orc_pods_pending", "Pods that cannot run (cannot be scheduled, back-off, ...), per "
                          "controller or bare pod.", labels=["controller"])
    for o, n in sorted(pending.items()):
        g.add_metric([o], n)
    out.append(g)
    out.append(GaugeMetricFamily("orc_pending_pods", "Pods that cannot run, in all.", value=len(result.plan.blocked)))
    c = CounterMetricFamily("orc_actions", "Actions taken, by kind and result, across every pass (kept in the "
                            "store).", labels=["action", "result"])
    for (verb, res), n in sorted(totals.actions.items()):
        c.add_metric([verb, res], n)
    out.append(c)
    out.append(CounterMetricFamily("orc_passes", "Reconcile passes, across runs.", value=totals.passes))
    cumulative = [(str(le), n) for le, n in zip(BUCKETS, totals.buckets, strict=True)] + [("+Inf", totals.passes)]
    out.append(HistogramMetricFamily("orc_pass_duration_seconds", "Wall time of a pass, across runs.",
                                     buckets=cumulative, sum_value=totals.seconds))
    out.append(GaugeMetricFamily("orc_last_pass_duration_seconds", "Wall time of the last pass.",
                                 value=result.duration))
    g = GaugeMetricFamily("orc_ssh_round_trips", "SSH exec channels in the last pass, per host.", labels=["host"])
    for h, n in sorted(result.round_trips.items()):
        g.add_metric([h], n)
    out.append(g)
    out.append(GaugeMetricFamily("orc_last_pass_timestamp_seconds", "When the last pass observed the cluster "
                                 "(unix time).", value=result.snapshot.taken_at))
    return out


class _PassCollector:
    def __init__(self) -> None:
        self.families: list[Any] = []

    def collect(self) -> Iterator[Any]:
        yield from self.families

    def describe(self) -> list[Any]:
        return []  # families change with the passes: prometheus-client must not call collect() at register


class Metrics:
    def __init__(self, path: str | None, store: Any = None, fence: Any = None, watch: bool = False):
        from prometheus_client import CollectorRegistry

        self.path = Path(path) if path else None
        self.store = store
        self.fence = fence
        self.watch = watch
        self.registry = CollectorRegistry(auto_describe=False)
        self.collector = _PassCollector()
        self.registry.register(self.collector)  # type: ignore[arg-type]
        record = store.get(METRICS_KEY) if store is not None else None
        self.totals = Totals(record.value if record is not None else None)
        self._saved = time.monotonic()
        self._server: Any = None

    @property
    def text(self) -> str:
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode()

    def record(self, result: Any) -> None:
        moved = self.totals.add(result)
        self.collector.families = families(result, self.totals)
        if self.store is not None and (not self.watch or moved or time.monotonic() - self._saved >= SAVE_EVERY):
            self.save()
        if self.path:
            from prometheus_client import write_to_textfile

            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_to_textfile(str(self.path), self.registry)  # a temporary file renamed into place
            os.chmod(self.path, 0o644)

    def save(self) -> None:
        """The counters into the store (fenced: a controller that lost its lease writes nothing)."""
        fence = self.fence.store_fence if self.fence is not None else None
        self.store.put(METRICS_KEY, self.totals.to_dict(), fence=fence)
        self._saved = time.monotonic()

    def serve(self, port: int) -> None:
        """prometheus-client's HTTP exposition of this registry, on 127.0.0.1:PORT (/metrics)."""
        from prometheus_client import start_http_server

        self._server = start_http_server(port, addr="127.0.0.1", registry=self.registry)

    def close(self) -> None:
        """The counters of the last passes into the store (--watch; best effort: a controller that lost its
        lock may not write), and the HTTP server stopped."""
        import contextlib

        from orchestrator.errors import StoreError

        if self.store is not None and self.watch:
            with contextlib.suppress(StoreError):
                self.save()
        if self._server is not None:
            server, _thread = self._server
            server.shutdown()
