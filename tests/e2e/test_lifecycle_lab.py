"""Pod lifecycle on the real lab, in one apply: init containers run in order before the app (each leaves
a line in an emptyDir the app shares, and the app adds its own after them), a preStop hook runs before the
container gets SIGTERM (both write to a hostPath file the test reads), a startupProbe keeps a container
unready (though its readiness probe passes at once) until the startup probe succeeds, a startupProbe that
never succeeds gets its container restarted, and a headless service's name resolves inside a pod to the
hosts of its ready pods. A failing init container is retried and keeps its pod's app from starting."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import pytest

from orchestrator.commands.pod import STARTED_MARK
from orchestrator.lab import daemons
from tests.e2e.helpers import orc, orc_json

pytestmark = pytest.mark.e2e

MANIFESTS = """\
apiVersion: v1
kind: Pod
metadata: {name: boot, labels: {app: boot}}
spec:
  terminationGracePeriodSeconds: 10
  initContainers:
  - name: first
    image: local/busybox:1
    command: [sh, -c, 'echo first | tee /work/order; cat /sys/class/net/eth0/address > /work/mac']
    volumeMounts: [{name: work, mountPath: /work}]
  - name: second
    image: local/busybox:1
    command: [sh, -c, 'grep -q first /work/order && echo second >> /work/order']
    volumeMounts: [{name: work, mountPath: /work}]
  containers:
  - name: app
    image: local/busybox:1
    command: [sh, -c, 'echo app >> /work/order; trap "echo term >> /hooks/log; exit 0" TERM; while :; do sleep 0.2; done']
    volumeMounts: [{name: work, mountPath: /work}, {name: hooks, mountPath: /hooks}]
    lifecycle:
      preStop:
        exec: {command: [sh, -c, 'echo prestop >> /hooks/log; sleep 1']}
  volumes:
  - {name: work, emptyDir: {}}
  - {name: hooks, hostPath: {path: HOOKS_DIR, type: DirectoryOrCreate}}
---
apiVersion: v1
kind: Pod
metadata: {name: slow}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: local/busybox:1
    command: [sh, -c, 'rm -f /tmp/started; sleep 6; touch /tmp/started; exec sleep 100000']
    startupProbe: {exec: {command: [test, -e, /tmp/started]}, periodSeconds: 1, failureThreshold: 30}
    readinessProbe: {exec: {command: ['true']}, periodSeconds: 1}
---
apiVersion: v1
kind: Pod
metadata: {name: never}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: local/busybox:1
    command: [sleep, '100000']
    startupProbe: {exec: {command: ['false']}, periodSeconds: 1, failureThreshold: 2}
---
apiVersion: v1
kind: Pod
metadata: {name: stuck}
spec:
  terminationGracePeriodSeconds: 0
  initContainers:
  - {name: fails, image: local/busybox:1, command: ['false']}
  containers:
  - {name: app, image: local/busybox:1, command: [sleep, '100000']}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: peer}
spec:
  replicas: 2
  selector: {matchLabels: {app: peer}}
  template:
    metadata: {labels: {app: peer}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: web
        image: local/busybox:1
        command: [sh, -c, 'hostname > /tmp/index.html; exec httpd -f -p 8081 -h /tmp']
        ports: [{containerPort: 8081, hostPort: 8081}]
---
apiVersion: v1
kind: Service
metadata: {name: peers}
spec:
  clusterIP: None
  selector: {app: peer}
  ports: [{port: 8081}]
"""


def pod_doc(project: Path, name: str) -> dict:
    return orc_json("get", "pod", name, cwd=project)  # type: ignore[no-any-return]


def health(lab, host: str, container: str) -> str:  # type: ignore[no-untyped-def]
    h = next(h for h in lab.spec.lab_hosts() if h.name == host)
    cp = daemons.docker(h, "inspect", "-f", "{{.State.Health.Status}} {{.RestartCount}}", container, check=False)
    return cp.stdout.decode().strip() if cp.returncode == 0 else ""


def until(what: str, check, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        time.sleep(0.3)


def test_init_prestop_startup_and_headless(lab, project: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hooks = tmp_path / "hooks"
    (project / "all.yaml").write_text(MANIFESTS.replace("HOOKS_DIR", str(hooks)))
    cp = orc("apply", "-f", "all.yaml", cwd=project)
    assert cp.returncode == 0, cp.stderr
    cp = orc("reconcile", cwd=project)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    # startupProbe: its readiness probe passes at once, yet the container is not ready before /tmp/started
    slow_host = next(h.name for h in lab.spec.lab_hosts() if health(lab, h.name, "orc_slow_app"))
    assert health(lab, slow_host, "orc_slow_app").startswith("starting")

    # init containers: both ran, in order, before the app, in the volume they share with it
    cp = orc("exec", "boot", "--", "cat", "/work/order", cwd=project)
    assert cp.returncode == 0 and cp.stdout == "first\nsecond\napp\n", cp.stdout + cp.stderr
    cp = orc("reconcile", cwd=project)  # observes the pods the first pass made
    assert cp.returncode == 0, cp.stdout + cp.stderr
    boot = pod_doc(project, "boot")
    inits = boot["status"]["initContainerStatuses"]
    assert [(s["name"], s["state"]["terminated"]["reason"]) for s in inits] == [("first", "Completed"),
                                                                             ("second", "Completed")]
    first, second = (s["state"]["terminated"] for s in inits)
    assert first["finishedAt"] <= second["startedAt"]
    assert boot["status"]["containerStatuses"][0]["state"].get("running") is not None
    mac = orc("exec", "boot", "--", "sh", "-c", "cat /work/mac /sys/class/net/eth0/address", cwd=project).stdout
    assert len(mac.split()) == 2 and mac.split()[0] == mac.split()[1], mac  # one network namespace: the pod's
    cp = orc("logs", "boot", "-c", "first", cwd=project)  # an init container's log, as kubectl reads it
    assert cp.returncode == 0 and cp.stdout == "first\n", cp.stdout + cp.stderr

    h = next(h for h in lab.spec.lab_hosts() if h.name == slow_host)
    until("slow becomes healthy", lambda: health(lab, slow_host, "orc_slow_app").startswith("healthy"))
    since = daemons.docker(h, "inspect", "-f", "{{.State.StartedAt}}", "orc_slow_app").stdout.decode().strip()
    ran = time.time() - datetime.fromisoformat(since[:26].rstrip("Z") + "+00:00").timestamp()
    assert ran > 5.5, ran  # the app touches /tmp/started 6 s after it starts
    mark = ["exec", "orc_slow_app", "test", "-e", STARTED_MARK]
    assert daemons.docker(h, *mark, check=False).returncode == 0
    # restarted, it goes through its startup probe again: its mark went with the old run's /dev/shm
    daemons.docker(h, "restart", "-t", "0", "orc_slow_app")
    assert daemons.docker(h, *mark, check=False).returncode == 1
    assert health(lab, slow_host, "orc_slow_app").startswith("starting")

    # a startupProbe that never succeeds: the container is restarted (failureThreshold 2 x periodSeconds 1)
    never_host = pod_doc(project, "never")["spec"]["nodeName"]

    def restarted() -> bool:
        orc("reconcile", cwd=project)
        return int(health(lab, never_host, "orc_never_app").split()[-1] or 0) > 0 or \
            pod_doc(project, "never")["status"]["containerStatuses"][0]["restartCount"] > 0
    until("the never-started container is restarted", restarted, timeout=25)
    events = orc("get", "events", cwd=project).stdout
    assert "Startup probe failed" in events, events

    # a failing init container is retried (docker's back-off) and the app container never starts
    stuck = pod_doc(project, "stuck")["status"]
    assert stuck["initContainerStatuses"][0]["restartCount"] > 0, stuck
    assert stuck["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    line = orc("get", "pod", "stuck", "--no-headers", cwd=project).stdout.split()
    assert line[2] in ("Init:Error", "Init:CrashLoopBackOff"), line

    # headless: no cluster IP; inside a pod the name resolves to both ready pods' hosts (one per host: hostPort)
    svc = orc_json("get", "svc", "peers", cwd=project)
    assert svc["spec"]["clusterIP"] == "None"
    assert "None" in orc("get", "svc", "peers", cwd=project).stdout
    peers = orc_json("get", "pods", "-l", "app=peer", cwd=project)["items"]
    want = sorted(p["status"]["hostIP"] for p in peers)
    assert len(set(want)) == 2
    cp = orc("exec", "boot", "--", "cat", "/etc/hosts", cwd=project)
    assert cp.returncode == 0
    got = sorted(line.split()[0] for line in cp.stdout.splitlines() if line.split()[1:] == ["peers"])
    assert got == want, cp.stdout
    cp = orc("exec", "boot", "--", "sh", "-c", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 peers 8081",
             cwd=project)
    assert cp.returncode == 0 and " 200 " in cp.stdout.splitlines()[0], cp.stdout + cp.stderr

    # preStop: it runs before the app gets SIGTERM, within the grace period
    assert orc("delete", "pod", "boot", cwd=project).returncode == 0
    cp = orc("reconcile", cwd=project)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert (hooks / "log").read_text() == "prestop\nterm\n"
    names = [p["metadata"]["name"] for p in json.loads(orc("get", "pods", "-o", "json", cwd=project).stdout)["items"]]
    assert "boot" not in names
