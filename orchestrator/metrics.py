"""Prometheus metrics of each reconcile pass: a node_exporter textfile (written atomically) and, with
--watch, an HTTP endpoint on 127.0.0.1 for a Prometheus server to scrape."""

from __future__ import annotations

import os
import tempfile
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(result: Any, totals: Counter[tuple[str, str]]) -> str:
    """The exposition text for one pass. `totals` accumulates actions by (verb, result) across passes."""
    lines: list[str] = []

    def metric(name: str, kind: str, help_: str, samples: list[tuple[dict[str, str], float]]) -> None:
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            lab = ",".join(f'{k}="{_esc(v)}"' for k, v in labels.items())
            lines.append(f"{name}{{{lab}}} {value:g}" if lab else f"{name} {value:g}")

    hosts = result.snapshot.hosts.values()
    status = Counter(f.status for f in hosts)
    metric("orc_hosts", "gauge", "Hosts by status.",
           [({"status": s}, float(status.get(s, 0))) for s in ("Ready", "NotReady", "Unreachable")])
    desired: dict[str, int] = {k: w.replicas for k, w in (result.desired.workloads.items() if result.desired else [])}
    # (a pod still labelled with the key an older orc stored its controller under counts as that controller's)
    owner = result.desired.owner_of if result.desired else (lambda o, _uid: o)
    running = Counter(owner(p.owner, p.uid) for p in result.snapshot.pods if p.owner and p.phase == "Running")
    ready = Counter(owner(p.owner, p.uid) for p in result.snapshot.pods if p.owner and p.ready)
    pending = Counter(t.split(":")[0] for t in result.plan.pending)
    owners = sorted(set(desired) | set(running))
    metric("orc_pods_desired", "gauge", "Replicas asked for, per controller.",
           [({"controller": o}, float(desired.get(o, 0))) for o in owners])
    metric("orc_pods_running", "gauge", "Pods running, per controller.",
           [({"controller": o}, float(running.get(o, 0))) for o in owners])
    metric("orc_pods_ready", "gauge", "Pods ready, per controller.",
           [({"controller": o}, float(ready.get(o, 0))) for o in owners])
    metric("orc_pods_pending", "gauge", "Pods that could not be placed, per controller.",
           [({"controller": o}, float(n)) for o, n in sorted(pending.items())])
    for r in result.results:
        verb = r.action.verb if r.action is not None else "step"
        totals[(verb, "ok" if r.ok else "failed")] += 1
    metric("orc_actions_total", "counter", "Actions taken, by kind and result.",
           [({"action": v, "result": res}, float(n)) for (v, res), n in sorted(totals.items())])
    metric("orc_pass_duration_seconds", "gauge", "Wall time of the last pass.", [({}, result.duration)])
    metric("orc_ssh_round_trips", "gauge", "SSH exec channels in the last pass, per host.",
           [({"host": h}, float(n)) for h, n in sorted(result.round_trips.items())])
    metric("orc_last_pass_timestamp_seconds", "gauge", "When the last pass observed the cluster.",
           [({}, result.snapshot.taken_at)])
    return "\n".join(lines) + "\n"


class Metrics:
    def __init__(self, path: str | None):
        self.path = Path(path) if path else None
        self.text = ""
        self.totals: Counter[tuple[str, str]] = Counter()
        self._server: ThreadingHTTPServer | None = None

    def record(self, result: Any) -> None:
        self.text = render(result, self.totals)
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".orc-metrics-")
            with os.fdopen(fd, "w") as f:
                f.write(self.text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.path)

    def serve(self, port: int) -> None:
        metrics = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path.rstrip("/") != "/metrics":
                    self.send_error(404)
                    return
                body = metrics.text.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True, name="metrics").start()
