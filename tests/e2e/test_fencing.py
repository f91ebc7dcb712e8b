"""A stale controller is refused by the hosts: one `orc reconcile` stops (SIGSTOP) between its last lease check
and its batches, a second takes the expired lease and acts, then the first resumes: every host it sends a batch
to refuses it, nothing it planned runs, and it exits 1 naming the hosts and both tokens."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.errors import EXIT_FAILED, EXIT_LOCKED
from tests.e2e.conftest import lab_pods
from tests.e2e.helpers import orc

pytestmark = pytest.mark.e2e

RC = """\
apiVersion: v1
kind: ReplicationController
metadata: {{name: {name}}}
spec:
  replicas: 3
  selector: {{app: {name}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: main
        image: local/busybox:1
        command: [sleep, "3600"]
        resources: {{requests: {{cpu: 100m, memory: 32Mi}}}}
"""


def _apply(project: Path, name: str) -> None:
    (project / f"{name}.yaml").write_text(RC.format(name=name))
    cp = orc("apply", "-f", f"{name}.yaml", cwd=project)
    assert cp.returncode == 0, cp.stderr


def _state(pid: int) -> str:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2]


def test_a_controller_resumed_after_losing_its_lease_is_refused_by_every_host(lab, project: Path) -> None:
    with (project / "orc.yaml").open("a") as f:
        f.write("lease_ttl: 1\n")
    _apply(project, "web")
    events = project / "stale-events.jsonl"
    stale = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli.main", "reconcile", "--events", str(events)], cwd=project,
        env={**os.environ, "ORC_TEST_STOP_BEFORE_BATCHES": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # It observes, plans 3 web pods, checks its lease and stops itself before sending any batch.
        deadline = time.monotonic() + 60
        while _state(stale.pid) != "T":
            assert stale.poll() is None, stale.communicate()
            assert time.monotonic() < deadline, "the first controller never reached its batches"
            time.sleep(0.05)
        assert lab_pods(lab, "rc/web") == {h.name: [] for h in lab.spec.lab_hosts()}

        # Meanwhile the desired state changes, and a second controller takes the lease once it expired.
        cp = orc("delete", "rc/web", cwd=project)
        assert cp.returncode == 0, cp.stderr
        _apply(project, "other")
        deadline = time.monotonic() + 30
        while True:
            fresh = orc("reconcile", cwd=project)
            if fresh.returncode != EXIT_LOCKED:
                break
            assert time.monotonic() < deadline, f"the lease never expired: {fresh.stderr}"
            time.sleep(0.2)
        assert fresh.returncode == 0, fresh.stderr
        other = lab_pods(lab, "rc/other")
        assert sorted(len(v) for v in other.values()) == [1, 1, 1], other  # it acted on every host

        os.kill(stale.pid, signal.SIGCONT)
        out, err = stale.communicate(timeout=60)
    finally:
        if stale.poll() is None:
            os.kill(stale.pid, signal.SIGCONT)
            stale.kill()
            stale.wait(10)

    assert stale.returncode == EXIT_FAILED, (out, err)
    refused = [json.loads(line) for line in events.read_text().splitlines()]
    refused = [e for e in refused if e.get("step") == "fence"]
    assert refused and all(not e["ok"] for e in refused)
    hosts = sorted(e["host"] for e in refused)
    assert set(hosts) <= {h.name for h in lab.spec.lab_hosts()} and len(set(hosts)) == len(hosts)
    for e in refused:
        assert f"{e['host']} refused this controller's batch: the host has seen fencing token" in e["error"]
    assert "this controller's lease is stale" in err and all(f"{h} (has seen " in err for h in hosts)
    # Nothing it planned ran: no web pod anywhere; the second controller's pods are untouched.
    assert lab_pods(lab, "rc/web") == {h.name: [] for h in lab.spec.lab_hosts()}
    assert lab_pods(lab, "rc/other") == other
    again = orc("reconcile", cwd=project)  # the cluster is the fresh controller's: converged
    assert again.returncode == 0 and again.stdout == "", again.stderr
