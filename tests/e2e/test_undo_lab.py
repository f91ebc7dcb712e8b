"""Rollout commands on the real lab, under steady HTTP load through a NodePort service (counted): `orc set
image` rolls a 3-replica Deployment to a new image with zero failed requests; an image whose container exits
at once stops at progressDeadlineSeconds while the old pods keep serving and `orc rollout status` exits 1;
autoRollback (the object's orc.io/auto-rollback annotation) then restores the previous template; `orc rollout
undo --to-revision 1` restores the first one. Cron-style `orc reconcile` passes run throughout; never fewer
than 3 pods ready (maxUnavailable 0), sampled."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from orchestrator.lab import daemons
from tests.e2e.helpers import app_containers, make_tagged_images, orc
from tests.e2e.test_one_pass import answer, apply

pytestmark = pytest.mark.e2e

NODE_PORT = 30196
IMAGE = "local/e2e-undo:{}"
BAD = "local/busybox:1"  # no /tag in it: the container's `cat /tag && ...` exits at once
OWNER = "deploy/undo"


def manifests(image: str, auto_rollback: bool = False) -> str:
    annotations = ', annotations: {orc.io/auto-rollback: "true"}' if auto_rollback else ""
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: undo{annotations}}}
spec:
  replicas: 3
  progressDeadlineSeconds: 15
  # every new pod at once (none of the old ones goes before they are ready): one step per rollout keeps
  # the file short; the rolling steps themselves are test_rollout_lab's
  strategy: {{type: RollingUpdate, rollingUpdate: {{maxSurge: 3, maxUnavailable: 0}}}}
  selector: {{matchLabels: {{app: undo}}}}
  template:
    metadata: {{labels: {{app: undo}}}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: httpd
        image: {image}
        command: [sh, -c, "cat /tag > /tmp/index.html && httpd -f -p 80 -h /tmp & trap 'exit 0' TERM; wait $!"]
        ports: [{{name: http, containerPort: 80}}]
        readinessProbe: {{httpGet: {{path: /, port: http}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Service
metadata: {{name: undo}}
spec:
  type: NodePort
  selector: {{app: undo}}
  ports: [{{port: 80, targetPort: http, nodePort: {NODE_PORT}}}]
"""


def stored_image(project: Path) -> str:
    import json

    cp = orc("get", "deploy", "undo", "-o", "json", cwd=project)
    assert cp.returncode == 0, cp.stderr
    return str(json.loads(cp.stdout)["spec"]["template"]["spec"]["containers"][0]["image"])


def wait_for(what: str, check, timeout: float = 180) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_set_image_undo_and_auto_rollback_under_load_with_zero_failed_requests(lab, project: Path) -> None:
    make_tagged_images(lab, IMAGE, "e2e-undo-build")
    stop = threading.Event()
    workers: list[threading.Thread] = []
    try:
        apply(project, manifests(IMAGE.format(1)))
        first = orc("reconcile", "--wait", "60", cwd=project, timeout=90)
        assert first.returncode == 0, first.stdout + first.stderr
        everything = {1: [(IMAGE.format(1), True)] * 3, 2: [(IMAGE.format(2), True)] * 3}
        wait_for("3 ready pods", lambda: (orc("reconcile", cwd=project), sorted(app_containers(lab, OWNER)))[1]
                 == everything[1], 60)
        orc("reconcile", cwd=project)  # the last pod joins every proxy

        hosts = [h.address for h in lab.spec.lab_hosts()]
        counts = {"ok": 0, "failed": 0, "v1": 0, "v2": 0}
        low = {"ready": 3}
        passes: list[int] = []

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

        def reconcile() -> None:  # cron-style passes, one after the other
            while not stop.is_set():
                cp = orc("reconcile", cwd=project, timeout=90)
                passes.append(cp.returncode)
                stop.wait(0.5)

        workers = [threading.Thread(target=load, args=(k,)) for k in range(3)]
        workers += [threading.Thread(target=sample), threading.Thread(target=reconcile)]
        for w in workers:
            w.start()
        started = time.monotonic()
        time.sleep(1)

        # 1. set image: rolled out, every pod on the new image
        cp = orc("set", "image", "deploy/undo", f"httpd={IMAGE.format(2)}", cwd=project)
        assert (cp.returncode, cp.stdout) == (0, "deployment.apps/undo image updated\n"), cp.stderr
        status = orc("rollout", "status", "deploy/undo", "--timeout", "180", cwd=project, timeout=200)
        assert status.returncode == 0, status.stdout + status.stderr
        assert status.stdout.splitlines()[-1] == 'deployment "undo" successfully rolled out'
        wait_for("every pod on image 2", lambda: sorted(app_containers(lab, OWNER)) == everything[2])
        assert counts["failed"] == 0, counts

        # 2. an image whose container exits at once: stops at the deadline, the old pods keep serving
        cp = orc("set", "image", "deploy/undo", f"httpd={BAD}", cwd=project)
        assert cp.returncode == 0, cp.stderr
        status = orc("rollout", "status", "deploy/undo", "--timeout", "180", cwd=project, timeout=200)
        assert status.returncode == 1, status.stdout + status.stderr
        assert "exceeded its progress deadline" in status.stderr, status.stderr
        assert [i for i, ready in app_containers(lab, OWNER) if ready] == [IMAGE.format(2)] * 3
        assert counts["failed"] == 0, counts
        served = {answer(h, NODE_PORT) for h in hosts for _ in range(3)}
        assert served == {"v2"}, served

        # 3. autoRollback on (the object's annotation; the template as it is): the pass restores revision 2
        apply(project, manifests(BAD, auto_rollback=True))
        wait_for("the rollback", lambda: stored_image(project) == IMAGE.format(2), 60)
        events = orc("get", "events", cwd=project)
        assert "DeploymentRollback" in events.stdout, events.stdout
        wait_for("every pod on image 2 again", lambda: sorted(app_containers(lab, OWNER)) == everything[2])
        history = orc("rollout", "history", "deploy/undo", cwd=project)
        assert history.returncode == 0, history.stderr
        assert [line.split()[0] for line in history.stdout.splitlines()[2:]] == ["1", "3", "4"], history.stdout

        # 4. undo to revision 1
        cp = orc("rollout", "undo", "deploy/undo", "--to-revision", "1", cwd=project)
        assert (cp.returncode, cp.stdout) == (0, "deployment.apps/undo rolled back\n"), cp.stderr
        assert stored_image(project) == IMAGE.format(1)
        status = orc("rollout", "status", "deploy/undo", "--timeout", "180", cwd=project, timeout=200)
        assert status.returncode == 0, status.stdout + status.stderr
        wait_for("every pod on image 1", lambda: sorted(app_containers(lab, OWNER)) == everything[1])
        time.sleep(1)
        stop.set()
        for w in workers:
            w.join()
        elapsed = time.monotonic() - started
        print(f"figures: {counts} in {elapsed:.0f}s ({counts['ok'] / elapsed:.0f}/s), {len(passes)} passes, "
              f"fewest ready {low['ready']}")
        assert counts["failed"] == 0, counts
        assert counts["ok"] / elapsed >= 50, (counts, elapsed)
        assert counts["v1"] and counts["v2"], counts
        assert low["ready"] >= 3, low
        assert passes and set(passes) <= {0, 5}, passes  # 5: pods pending (the rollout past its deadline)
        assert {answer(h, NODE_PORT) for h in hosts for _ in range(6)} == {"v1"}
    finally:
        stop.set()
        for w in workers:
            w.join()
        for h in lab.spec.lab_hosts():
            daemons.docker(h, "rm", "-f", *[c.decode() for c in daemons.docker(
                h, "ps", "-aq", "--filter", f"label=orc.owner={OWNER}", check=False).stdout.split()], check=False)
            daemons.docker(h, "rmi", IMAGE.format(1), IMAGE.format(2), check=False)
