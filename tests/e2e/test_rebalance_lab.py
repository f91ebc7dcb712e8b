"""Rebalance on the real lab, under steady HTTP load through a NodePort service (counted): a 3-replica
Deployment spread 1-1-1 loses a host (power cut); its pod is replaced on the others (2-1); the host returns
empty (its containers gone, as a reinstalled host). With `rebalance: {enabled: true, max_moves_per_pass: 1,
windows: [<now>]}` in orc.yaml, `orc plan` shows the move and why, and reconcile passes move one pod back,
replacement first (one move, never fewer than 3 pods ready, sampled), until the spread is 1-1-1 again, with
zero failed requests. (The move limit across several moves is proven by tests/unit/test_rebalance.py.)"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from orchestrator.lab import cluster, daemons
from tests.e2e.conftest import lab_pods
from tests.e2e.helpers import orc
from tests.e2e.test_drain_lab import wait_for
from tests.e2e.test_one_pass import answer, apply

pytestmark = pytest.mark.e2e

NODE_PORT = 30199
OWNER = "deploy/rebal"
APP = f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: rebal}}
spec:
  replicas: 3
  selector: {{matchLabels: {{app: rebal}}}}
  template:
    metadata: {{labels: {{app: rebal}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: local/busybox:1
        command: [sh, -c, "echo ok > /tmp/index.html && exec httpd -f -p 80 -h /tmp"]
        ports: [{{name: http, containerPort: 80}}]
        readinessProbe: {{httpGet: {{path: /, port: http}}, periodSeconds: 1, timeoutSeconds: 5, failureThreshold: 10}}
---
apiVersion: v1
kind: Service
metadata: {{name: rebal}}
spec:
  type: NodePort
  selector: {{app: rebal}}
  ports: [{{port: 80, targetPort: http, nodePort: {NODE_PORT}}}]
"""


def ready(lab) -> int | None:  # type: ignore[no-untyped-def]
    """Ready app containers of the Deployment on the hosts that answer; None when none answered."""
    n, answered = 0, False
    for h in lab.spec.lab_hosts():
        cp = daemons.docker(h, "ps", "--filter", f"label=orc.owner={OWNER}", "--format", "{{.Status}}", check=False)
        if cp.returncode == 0:
            answered = True
            n += sum(1 for line in cp.stdout.decode().splitlines() if "(healthy)" in line)
    return n if answered else None


def spread(lab) -> list[int]:  # type: ignore[no-untyped-def]
    return sorted((len(v) for v in lab_pods(lab, OWNER).values()), reverse=True)


def window_now() -> str:
    """A window of the controller's local time holding now (it may cross midnight: the format allows it)."""
    now = datetime.now()
    return f"{(now - timedelta(minutes=30)):%H:%M}-{(now + timedelta(minutes=60)):%H:%M}"


def test_a_host_that_returns_empty_gets_a_pod_back_by_one_surge_first_move_with_no_failed_request(lab, project: Path) -> None:
    with (project / "orc.yaml").open("a") as f:
        f.write(f"rebalance:\n  enabled: true\n  max_moves_per_pass: 1\n  windows: ['{window_now()}']\n")
    apply(project, APP)
    cp = orc("reconcile", "--wait", "60", cwd=project, timeout=90)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert spread(lab) == [1, 1, 1]
    gone = lab.host(3)
    stays = [h for h in lab.spec.lab_hosts() if h.name != gone.name]

    # a power cut: after the grace period (4 s) its pod is replaced on one of the others
    cluster.stop_host(lab.spec, gone)
    deadline = time.monotonic() + 30
    while True:
        cp = orc("reconcile", cwd=project)
        assert cp.returncode in (0, 4), cp.stdout + cp.stderr
        if "created pod/" in cp.stdout:
            break
        assert time.monotonic() < deadline, "the lost host's pod was not replaced"
        time.sleep(0.5)
    wait_for("3 ready pods on the hosts left", lambda: ready(lab) == 3)
    orc("reconcile", cwd=project)  # the replacement joins every proxy
    assert sorted(len(lab_pods(lab, OWNER)[h.name]) for h in stays) == [1, 2]
    crowded = next(h.name for h in stays if len(lab_pods(lab, OWNER)[h.name]) == 2)

    stop = threading.Event()
    counts = {"ok": 0, "failed": 0}
    low = {"ready": 3}

    def load(k: int) -> None:
        i = k
        while not stop.wait(0.01):
            counts["ok" if answer(stays[i % len(stays)].address, NODE_PORT) else "failed"] += 1
            i += 1

    def sample() -> None:
        while not stop.wait(0.5):
            n = ready(lab)
            if n is not None and n < low["ready"]:
                low["ready"] = n

    workers = [threading.Thread(target=load, args=(k,)) for k in range(2)] + [threading.Thread(target=sample)]
    for w in workers:
        w.start()
    try:
        # the host returns empty (reinstalled): sshd and dockerd up, none of its containers left
        cluster.start_host(lab.spec, gone)
        ids = daemons.docker(gone, "ps", "-aq", "--filter", "label=orc.managed=true", check=False).stdout.split()
        if ids:
            daemons.docker(gone, "rm", "-f", *[i.decode() for i in ids])
        assert lab_pods(lab, OWNER)[gone.name] == []

        cp = orc("plan", cwd=project)
        assert cp.returncode == 0, cp.stdout + cp.stderr
        assert f"from {crowded} to {gone.name}: spread ({crowded} has 2 of 3, {gone.name} none)" in cp.stdout, cp.stdout
        assert f"rebalance: {OWNER}: move pod rebal-" in cp.stdout, cp.stdout

        # passes until converged (one process, a pass a second): the replacement first, on the empty host; the
        # crowded host's pod deleted once it is ready (after the proxies dropped it); nothing else
        cp = orc("reconcile", "--wait", "40", cwd=project, timeout=80)
        assert cp.returncode == 0, cp.stdout + cp.stderr
        made = [line for line in cp.stdout.splitlines() if ": created pod/" in line]
        deleted = [line for line in cp.stdout.splitlines() if ": deleted pod/" in line]
        assert len(made) == 1 and made[0].startswith(f"{gone.name}: created pod/rebal-"), cp.stdout
        assert "move pod rebal-" in made[0] and f"from {crowded} to {gone.name}" in made[0], cp.stdout
        assert len(deleted) == 1 and deleted[0].startswith(f"{crowded}: deleted pod/rebal-"), cp.stdout
        assert "(its replacement rebal-" in deleted[0] and "is ready there)" in deleted[0], cp.stdout
        assert spread(lab) == [1, 1, 1], lab_pods(lab, OWNER)
        cp = orc("reconcile", cwd=project)
        assert cp.returncode == 0 and cp.stdout == "", cp.stdout + cp.stderr  # settled: no further move
        time.sleep(1)  # a last second of load on the settled spread
    finally:
        stop.set()
        for w in workers:
            w.join()
    assert counts["failed"] == 0 and counts["ok"] > 100, counts
    assert low["ready"] >= 3, low
