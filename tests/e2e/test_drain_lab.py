"""Host maintenance on the real lab, under steady HTTP load through a NodePort service (counted): a cordoned
host gets no pod of a new 3-replica Deployment; once uncordoned, `orc drain` of the host holding 2 of its
pods, with a PodDisruptionBudget `minAvailable: 2`, moves them elsewhere (replacements ready and served
first) with zero failed requests and never fewer than 3 pods ready (sampled); the host shows
SchedulingDisabled; a budget the healthy pods cannot exceed makes the next drain wait, say why and time out
(exit 1) with the pods kept; `orc uncordon` makes the host schedulable again."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import lab_pods
from tests.e2e.helpers import app_containers, orc
from tests.e2e.test_one_pass import answer, apply

pytestmark = pytest.mark.e2e

NODE_PORT = 30197
OWNER = "deploy/drain"
APP = f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: drain}}
spec:
  replicas: 3
  selector: {{matchLabels: {{app: drain}}}}
  template:
    metadata: {{labels: {{app: drain}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: local/busybox:1
        command: [sh, -c, "echo ok > /tmp/index.html && exec httpd -f -p 80 -h /tmp"]
        ports: [{{name: http, containerPort: 80}}]
        # lenient on time (2 cores shared by a loaded machine: a check may take seconds), quick to turn ready
        readinessProbe: {{httpGet: {{path: /, port: http}}, periodSeconds: 1, timeoutSeconds: 5, failureThreshold: 10}}
---
apiVersion: v1
kind: Service
metadata: {{name: drain}}
spec:
  type: NodePort
  selector: {{app: drain}}
  ports: [{{port: 80, targetPort: http, nodePort: {NODE_PORT}}}]
"""


def budget(rule: str) -> str:
    return f"""\
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: drain}}
spec:
  {rule}
  selector: {{matchLabels: {{app: drain}}}}
"""


def node_status(project: Path) -> dict[str, str]:
    cp = orc("get", "nodes", cwd=project)
    assert cp.returncode == 0, cp.stderr
    return {line.split()[0]: line.split()[1] for line in cp.stdout.splitlines()[1:]}


def ready(lab) -> int | None:  # type: ignore[no-untyped-def]
    """Ready app containers of the Deployment on the lab; None when a host's docker did not answer."""
    from orchestrator.lab import daemons

    n = 0
    for h in lab.spec.lab_hosts():
        cp = daemons.docker(h, "ps", "--filter", f"label=orc.owner={OWNER}",
                            "--format", "{{.Status}}", check=False)
        if cp.returncode != 0:
            return None
        n += sum(1 for line in cp.stdout.decode().splitlines() if "(healthy)" in line)
    return n


def wait_for(what: str, check, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def hosts_that_take_a_new_pod(project: Path) -> str:
    cp = orc("explain", OWNER, cwd=project)
    assert cp.returncode == 0, cp.stderr
    return cp.stdout.splitlines()[0].split(": ")[1]


def test_drain_moves_pods_under_load_honours_budgets_and_uncordon_restores(lab, project: Path) -> None:
    names = [h.name for h in lab.spec.lab_hosts()]
    spare = names[2]
    stop = threading.Event()
    workers: list[threading.Thread] = []
    try:
        # a cordoned host gets none of the new pods: the other two hold them (2 + 1)
        cp = orc("cordon", spare, cwd=project)
        assert (cp.returncode, cp.stdout) == (0, f"node/{spare} cordoned\n"), cp.stderr
        apply(project, APP + "---\n" + budget("minAvailable: 5"))
        cp = orc("reconcile", "--wait", "60", cwd=project, timeout=90)
        assert cp.returncode == 0, cp.stdout + cp.stderr
        wait_for("3 ready pods", lambda: ready(lab) == 3)
        orc("reconcile", cwd=project)  # the last pod joins every proxy
        where = lab_pods(lab, OWNER)
        assert where[spare] == [] and sorted(len(v) for v in where.values()) == [0, 1, 2], where
        busy = next(h for h, pods in where.items() if len(pods) == 2)
        cp = orc("uncordon", spare, cwd=project)
        assert (cp.returncode, cp.stdout) == (0, f"node/{spare} uncordoned\n"), cp.stderr

        addresses = [h.address for h in lab.spec.lab_hosts()]
        counts = {"ok": 0, "failed": 0}
        low = {"ready": 3}
        low_when = [""]
        phase = ["load"]

        def load(k: int) -> None:
            i = k
            while not stop.wait(0.01):  # about 100 requests/s in all: steady, without starving the lab of CPU
                counts["ok" if answer(addresses[i % len(addresses)], NODE_PORT) else "failed"] += 1
                i += 1

        def sample() -> None:
            while not stop.wait(0.5):
                n = ready(lab)
                if n is not None and n < low["ready"]:
                    low["ready"], low_when[0] = n, phase[0]

        workers = [threading.Thread(target=load, args=(k,)) for k in range(3)] + [threading.Thread(target=sample)]
        for w in workers:
            w.start()
        started = time.monotonic()

        # a budget the healthy pods cannot exceed (the ready replacements count as healthy: 3 + 2 < 5): the
        # drain replaces the pods, then waits, says why, and times out with them kept
        phase[0] = "refused drain"
        cp = orc("drain", busy, "--timeout", "15s", cwd=project, timeout=60)
        refused = time.monotonic() - started
        assert cp.returncode == 1, cp.stdout + cp.stderr
        assert cp.stdout == f"node/{busy} cordoned\n", cp.stdout
        assert "Cannot evict pod as it would violate the pod's disruption budget." in cp.stderr, cp.stderr
        assert "pdb/drain (minAvailable 5)" in cp.stderr and "global timeout reached: 15s" in cp.stderr, cp.stderr
        assert f"`orc uncordon {busy}` ends the drain" in cp.stderr, cp.stderr
        assert lab_pods(lab, OWNER)[busy] == where[busy]
        assert node_status(project)[busy] == "Ready,SchedulingDisabled"

        # a budget of 2: the drain (still recorded) goes on; both pods evicted, the host empty
        apply(project, budget("minAvailable: 2"))
        moved = time.monotonic()
        phase[0] = "drain"
        cp = orc("drain", busy, "--timeout", "90s", cwd=project, timeout=120)
        moved = time.monotonic() - moved
        assert cp.returncode == 0, cp.stdout + cp.stderr
        lines = cp.stdout.splitlines()
        assert lines[0] == f"node/{busy} already cordoned" and lines[-1] == f"node/{busy} drained", cp.stdout
        evicted = sorted(line.split("/")[-1] for line in lines if line.startswith("evicting pod default/"))
        assert evicted == where[busy], cp.stdout
        assert lab_pods(lab, OWNER)[busy] == []
        assert counts["failed"] == 0, counts

        # uncordon: schedulable again
        phase[0] = "uncordon"
        cp = orc("uncordon", busy, cwd=project)
        assert (cp.returncode, cp.stdout) == (0, f"node/{busy} uncordoned\n"), cp.stderr
        assert node_status(project)[busy] == "Ready"
        assert hosts_that_take_a_new_pod(project) == "3/3 hosts can take it"
        cp = orc("reconcile", cwd=project)
        assert cp.returncode == 0 and len(app_containers(lab, OWNER)) == 3, cp.stdout + cp.stderr
        elapsed = time.monotonic() - started
        stop.set()
        for w in workers:
            w.join()
        print(f"figures: refused drain {refused:.1f}s, drain of 2 pods {moved:.1f}s, {counts} in {elapsed:.0f}s "
              f"({counts['ok'] / elapsed:.0f}/s), fewest ready {low['ready']} ({low_when[0] or 'throughout'})")
        assert counts["failed"] == 0, counts
        assert low["ready"] >= 3, (low, low_when)
        assert counts["ok"] / elapsed >= 50, (counts, elapsed)
    finally:
        stop.set()
        for w in workers:
            w.join()
