"""A rolling update on the real lab: the image of a 3-replica Deployment behind a NodePort service changes
under steady HTTP load (counted); cron-style `orc reconcile` passes replace the pods one safe step at a time
(old pods leave every proxy before they stop): zero failed requests, never fewer ready pods than
`replicas - maxUnavailable`, and every pod ends on the new image. The two images differ (a file naming the
tag): `docker import` of one tar under two names would give one image id (LAB.md)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from orchestrator.lab import daemons
from tests.e2e.helpers import app_containers, make_tagged_images, orc
from tests.e2e.test_one_pass import answer, apply

pytestmark = pytest.mark.e2e

NODE_PORT = 30190
IMAGE = "local/e2e-roll:{}"
OWNER = "deploy/roll"


def manifests(tag: str) -> str:
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: roll}}
spec:
  replicas: 3
  selector: {{matchLabels: {{app: roll}}}}
  template:
    metadata: {{labels: {{app: roll}}}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: httpd
        image: {IMAGE.format(tag)}
        command: [sh, -c, "cat /tag > /tmp/index.html && httpd -f -p 80 -h /tmp & trap 'exit 0' TERM; wait $!"]
        ports: [{{name: http, containerPort: 80}}]
        readinessProbe: {{httpGet: {{path: /, port: http}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Service
metadata: {{name: roll}}
spec:
  type: NodePort
  selector: {{app: roll}}
  ports: [{{port: 80, targetPort: http, nodePort: {NODE_PORT}}}]
"""


def test_a_deployment_rolls_to_a_new_image_under_load_with_zero_failed_requests(lab, project: Path) -> None:
    make_tagged_images(lab, IMAGE, "e2e-roll-build")
    try:
        apply(project, manifests("1"))
        first = orc("reconcile", "--wait", "60", cwd=project, timeout=90)
        assert first.returncode == 0, first.stdout + first.stderr
        deadline = time.monotonic() + 60
        while sorted(app_containers(lab, OWNER)) != [(IMAGE.format(1), True)] * 3:  # ready, and behind the proxies
            assert time.monotonic() < deadline, app_containers(lab, OWNER)
            orc("reconcile", cwd=project)
            time.sleep(0.5)
        orc("reconcile", cwd=project)

        hosts = [h.address for h in lab.spec.lab_hosts()]
        stop = threading.Event()
        counts = {"ok": 0, "failed": 0, "v1": 0, "v2": 0}
        low = {"ready": 3}

        def load(k: int) -> None:
            i = k
            while not stop.is_set():
                body = answer(hosts[i % len(hosts)], NODE_PORT)
                counts["ok" if body else "failed"] += 1
                if body in ("v1", "v2"):
                    counts[body] += 1
                i += 1

        def sample() -> None:
            while not stop.wait(0.3):
                low["ready"] = min(low["ready"], sum(1 for _, ready in app_containers(lab, OWNER) if ready))

        workers = [threading.Thread(target=load, args=(k,)) for k in range(3)] + [threading.Thread(target=sample)]
        for w in workers:
            w.start()
        started = time.monotonic()
        try:
            time.sleep(1)
            apply(project, manifests("2"))
            passes = 0
            deadline = time.monotonic() + 180
            while sorted(app_containers(lab, OWNER)) != [(IMAGE.format(2), True)] * 3:  # cron-style passes only
                assert time.monotonic() < deadline, app_containers(lab, OWNER)
                cp = orc("reconcile", cwd=project, timeout=90)
                assert cp.returncode == 0, cp.stdout + cp.stderr
                passes += 1
                time.sleep(0.5)
            orc("reconcile", cwd=project, timeout=90)  # the last pod joins every proxy
            time.sleep(1)
        finally:
            stop.set()
            for w in workers:
                w.join()
        elapsed = time.monotonic() - started
        assert counts["failed"] == 0, counts
        assert counts["ok"] / elapsed >= 50, (counts, elapsed)
        assert counts["v1"] and counts["v2"], counts  # both served during the rollout
        # 25% of 3: maxUnavailable rounds down to 0, so all 3 stay ready throughout (sampled)
        assert low["ready"] >= 3, low
        assert passes >= 3, passes  # one pod at a time (maxSurge 1)
        bodies = {answer(h, NODE_PORT) for h in hosts for _ in range(6)}
        assert bodies == {"v2"}, bodies
    finally:
        for h in lab.spec.lab_hosts():
            daemons.docker(h, "rm", "-f", *[c.decode() for c in daemons.docker(
                h, "ps", "-aq", "--filter", f"label=orc.owner={OWNER}", check=False).stdout.split()], check=False)
            daemons.docker(h, "rmi", IMAGE.format(1), IMAGE.format(2), check=False)
