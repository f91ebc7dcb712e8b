"""`orc what-if --lose rack=r1` on the 3-rack lab reports what losing that rack then does for real: the same
pods per controller, the same controllers short (run both and compare)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from orchestrator.lab import cluster
from tests.e2e.conftest import lab_pods
from tests.e2e.helpers import orc

pytestmark = pytest.mark.e2e


def rc(name: str, replicas: int, cpu: str, spread: bool) -> str:
    constraint = ("      topologySpreadConstraints: [{maxSkew: 1, topologyKey: rack, whenUnsatisfiable: DoNotSchedule, "
                  f"labelSelector: {{matchLabels: {{app: {name}}}}}}}]\n") if spread else ""
    return f"""\
apiVersion: v1
kind: ReplicationController
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 0
{constraint}      containers:
      - name: main
        image: local/busybox:1
        command: [sleep, "3600"]
        resources: {{requests: {{cpu: {cpu}}}}}
"""


def test_what_if_a_rack_is_lost_is_what_losing_it_does(lab, project: Path) -> None:  # type: ignore[no-untyped-def]
    (project / "m.yaml").write_text(rc("web", 3, "500m", spread=True) + "---\n" + rc("big", 2, "1500m", spread=False))
    assert orc("apply", "-f", "m.yaml", cwd=project).returncode == 0
    for _ in range(2):
        cp = orc("reconcile", cwd=project)
        assert cp.returncode == 0, cp.stderr
    rack1 = [h for h in lab.spec.lab_hosts() if h.rack == "r1"]
    cp = orc("what-if", "--lose", "rack=r1", "-o", "json", cwd=project)
    answer = json.loads(cp.stdout)
    assert answer["lost"] == [h.name for h in rack1]
    predicted = {o["object"]: o["running"] for o in answer["objects"]}
    short = {o["object"] for o in answer["objects"] if not o["ok"]}
    assert cp.returncode == (1 if short else 0)

    for h in rack1:  # the real thing: the rack's hosts die (sshd and dockerd), for longer than the grace
        cluster.stop_host(lab.spec, h)
    assert orc("reconcile", cwd=project).returncode == 4  # seen failing from now on
    time.sleep(4.5)  # grace_period: 4
    for _ in range(2):  # lost: replaced where they fit; 5 when some cannot be (what-if said which), else 4
        cp = orc("reconcile", cwd=project)
        assert cp.returncode == (5 if short else 4), cp.stderr
    alive = {h.name for h in lab.spec.lab_hosts()} - {h.name for h in rack1}
    real = {f"rc/{name}": sum(len(v) for h, v in lab_pods(lab, f"rc/{name}").items() if h in alive)
            for name in ("web", "big")}
    assert real == predicted
    plan = json.loads(orc("plan", "-o", "json", cwd=project).stdout)
    assert {k.split(":")[0] for k in plan["pending"] if not k.endswith(": handover")} == short
