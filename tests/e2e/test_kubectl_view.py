"""What `orc get` shows of real pods on the lab, as kubectl would: a container that keeps exiting is
CrashLoopBackOff with a growing restartCount, the loop's liveness restarts are counted, and the status fields
scripts read (hostIP, podIP, nodeName, conditions) are those of the running pod."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import orc

pytestmark = pytest.mark.e2e

CRASHER = """\
apiVersion: v1
kind: Pod
metadata: {name: crasher, labels: {app: crasher}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: main
    image: local/busybox:1
    command: [sh, -c, "sleep 1; exit 3"]
"""

UNHEALTHY = """\
apiVersion: v1
kind: ReplicationController
metadata: {name: sick}
spec:
  replicas: 1
  template:
    metadata: {labels: {app: sick}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: main
        image: local/busybox:1
        command: [sleep, "3600"]
        livenessProbe:
          exec: {command: ["false"]}
          periodSeconds: 1
          failureThreshold: 1
"""


def pod_json(project: Path, name: str) -> dict[str, Any]:
    cp = orc("get", "pod", name, "-o", "json", cwd=project)
    assert cp.returncode == 0, cp.stderr
    return json.loads(cp.stdout)  # type: ignore[no-any-return]


def test_a_container_that_keeps_exiting_is_crash_loop_back_off_with_growing_restarts(lab, project: Path) -> None:
    (project / "crasher.yaml").write_text(CRASHER)
    assert orc("apply", "-f", "crasher.yaml", cwd=project).returncode == 0
    deadline = time.monotonic() + 60
    seen_backoff, counts, table = False, [], ""
    while time.monotonic() < deadline and not (seen_backoff and len(set(counts)) >= 2):
        orc("reconcile", cwd=project)
        doc = pod_json(project, "crasher")
        (cs,) = doc["status"]["containerStatuses"]
        counts.append(cs["restartCount"])
        if cs["state"].get("waiting", {}).get("reason") == "CrashLoopBackOff":
            seen_backoff = True
            table = orc("get", "pods", cwd=project).stdout
            assert cs["lastState"]["terminated"]["exitCode"] == 3
            assert cs["ready"] is False
        time.sleep(0.5)
    assert seen_backoff, f"never CrashLoopBackOff; restart counts seen: {counts}"
    assert counts == sorted(counts) and counts[-1] > counts[0], counts  # it grows, never goes back
    row = next(line.split() for line in table.splitlines() if line.startswith("crasher"))
    assert row[2] == "CrashLoopBackOff" and int(row[3]) >= 1, table
    assert doc["spec"]["nodeName"] in {h.name for h in lab.spec.lab_hosts()}
    assert doc["status"]["hostIP"] == lab.spec.host_named(doc["spec"]["nodeName"]).address
    ready = {c["type"]: c["status"] for c in doc["status"]["conditions"]}
    assert ready["PodScheduled"] == "True" and ready["Ready"] == "False"
    described = orc("describe", "pod", "crasher", cwd=project).stdout
    events = described.split("Events:", 1)[1]
    assert "Scheduled" in events and "BackOff" in events and "exit code 3" in events, described


def test_the_loops_liveness_restarts_count_in_restart_count(lab, project: Path) -> None:
    (project / "sick.yaml").write_text(UNHEALTHY)
    assert orc("apply", "-f", "sick.yaml", cwd=project).returncode == 0
    restarted, out = 0, ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and restarted < 2:
        cp = orc("reconcile", cwd=project)
        restarted += cp.stdout.count("restarted pod/sick-")
        out += cp.stdout
        time.sleep(1)
    assert restarted >= 2, out
    name = next(line.split()[0] for line in orc("get", "pods", "--no-headers", cwd=project).stdout.splitlines()
                if line.startswith("sick-"))
    orc("reconcile", cwd=project)  # the snapshot after the last restart
    doc = pod_json(project, name)
    status = doc["status"]
    (cs,) = status["containerStatuses"]
    # Counted once each: docker does not count a `docker restart` itself, the loop does.
    assert restarted <= cs["restartCount"] <= restarted + 1, (restarted, cs)
    assert status["podIP"] and status["hostIP"] == lab.spec.host_named(doc["spec"]["nodeName"]).address
    columns = orc("get", "pods", "-o", "custom-columns=NAME:.metadata.name,RESTARTS:.status.containerStatuses[0]"
                  ".restartCount,NODE:.spec.nodeName", "--no-headers", cwd=project).stdout
    assert f"{name} " in columns and str(cs["restartCount"]) in columns
    events = orc("get", "events", "--field-selector", f"involvedObject.name={name}", "-o", "json", cwd=project)
    reasons = {e["reason"] for e in json.loads(events.stdout)["items"]}
    assert {"Unhealthy", "Killing"} <= reasons, events.stdout  # the liveness restarts, as kubectl lists them
