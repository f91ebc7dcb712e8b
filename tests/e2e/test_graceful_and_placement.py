"""Graceful deletes and placement rules on the real lab: SIGTERM first and the grace period honoured, the
pods of one host stopped in parallel within one batch; tainted and cordoned hosts get no pods."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import lab_pods
from tests.e2e.helpers import orc

pytestmark = pytest.mark.e2e


def apply(project: Path, text: str) -> None:
    (project / "m.yaml").write_text(text)
    cp = orc("apply", "-f", "m.yaml", cwd=project)
    assert cp.returncode == 0, cp.stderr


def reconcile(project: Path) -> tuple[float, str]:
    start = time.monotonic()
    cp = orc("reconcile", cwd=project, timeout=150)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    return time.monotonic() - start, cp.stdout


def test_a_pod_with_a_term_handler_gets_sigterm_and_exits_cleanly(lab, project: Path, tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    seen.mkdir()
    apply(project, f"""\
apiVersion: v1
kind: Pod
metadata: {{name: tidy}}
spec:
  terminationGracePeriodSeconds: 30
  volumes: [{{name: out, hostPath: {{path: {seen}}}}}]
  containers:
  - name: app
    image: local/busybox:1
    volumeMounts: [{{name: out, mountPath: /out}}]
    command: [sh, -c, "trap 'echo TERM > /out/signal; exit 0' TERM; echo up > /out/signal; while true; do sleep 0.2; done"]
""")
    reconcile(project)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not (seen / "signal").exists():
        time.sleep(0.2)
    assert (seen / "signal").read_text() == "up\n"
    assert orc("delete", "pod/tidy", cwd=project).returncode == 0
    took, out = reconcile(project)
    assert "deleted pod/tidy" in out
    assert (seen / "signal").read_text() == "TERM\n"  # it was asked to stop, and ran its handler
    assert took < 15, f"the delete took {took:.1f}s: it waited for the 30 s grace instead of the exit"
    assert sum(lab_pods(lab).values(), []) == []


def test_pods_of_one_host_stop_in_parallel_within_the_batch_and_are_reported_ok(lab, project: Path) -> None:
    """Four pods on one host that ignore SIGTERM (busybox sleep as PID 1), grace 6 s each, with a 4 s
    command timeout: one after another they would take 24 s, and even in parallel the batch outlasts the
    bare command timeout. Both must be allowed for: all four deleted and reported ok, in about 6 s."""
    (project / "orc.yaml").write_text((project / "orc.yaml").read_text().replace(
        "ssh:\n  connect_timeout: 2\n", "ssh:\n  connect_timeout: 2\n  command_timeout: 4\n"))
    host = lab.host(1)
    apply(project, f"""\
apiVersion: v1
kind: ReplicationController
metadata: {{name: stubborn}}
spec:
  replicas: 4
  template:
    metadata: {{labels: {{app: stubborn}}}}
    spec:
      nodeSelector: {{kubernetes.io/hostname: {host.name}}}
      terminationGracePeriodSeconds: 6
      containers:
      - name: app
        image: local/busybox:1
        command: [sleep, "3600"]
""")
    reconcile(project)
    assert len(lab_pods(lab, "rc/stubborn")[host.name]) == 4
    assert orc("scale", "rc/stubborn", "--replicas", "0", cwd=project).returncode == 0
    took, out = reconcile(project)  # exit 0 checked: nothing reported failed
    assert out.count("deleted pod/stubborn-") == 4, out
    assert lab_pods(lab, "rc/stubborn")[host.name] == []
    assert 5.5 < took < 16, f"took {took:.1f}s: 4 pods of 6 s grace stopped in parallel take about 6 s"


def test_tainted_and_cordoned_hosts_get_no_pods_unless_tolerated(lab, project: Path) -> None:
    inv = yaml.safe_load(lab.inventory.read_text())
    hosts = inv["all"]["children"][lab.spec.name]["hosts"]
    tainted, cordoned = lab.host(2).name, lab.host(3).name
    hosts[tainted]["taints"] = ["dedicated=db:NoSchedule"]
    hosts[cordoned]["orc_cordoned"] = True
    (project / "inventory.yaml").write_text(yaml.safe_dump(inv))
    (project / "orc.yaml").write_text((project / "orc.yaml").read_text().replace(
        f"inventory: {lab.inventory}", "inventory: inventory.yaml"))
    template = """\
apiVersion: v1
kind: ReplicationController
metadata: {{name: {name}}}
spec:
  replicas: 3
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 0
      {tolerations}
      containers:
      - name: app
        image: local/busybox:1
        command: [sleep, "3600"]
---
"""
    apply(project, template.format(name="plain", tolerations="")
          + template.format(name="db", tolerations="tolerations: [{key: dedicated, operator: Equal, value: db}]"))
    reconcile(project)
    plain, db = lab_pods(lab, "rc/plain"), lab_pods(lab, "rc/db")
    first = lab.host(1).name
    assert len(plain[first]) == 3 and plain[tainted] == [] and plain[cordoned] == []
    assert len(db[first]) + len(db[tainted]) == 3 and db[tainted] and db[cordoned] == []
    # A cordon keeps what runs: uncordoned, the host takes new pods again, and the old ones were never touched.
    before = {h: set(v) for h, v in lab_pods(lab).items()}
    hosts[cordoned]["orc_cordoned"] = False
    (project / "inventory.yaml").write_text(yaml.safe_dump(inv))
    assert orc("scale", "rc/plain", "--replicas", "6", cwd=project).returncode == 0
    reconcile(project)
    after = lab_pods(lab)
    assert all(before[h] <= set(after[h]) for h in before)
    assert lab_pods(lab, "rc/plain")[cordoned], "the uncordoned host got none of the new pods"
    # An invalid taint is refused when the inventory loads, by host and value, and nothing is done.
    hosts[tainted]["taints"] = ["dedicated=db:NoSchedul"]
    (project / "inventory.yaml").write_text(yaml.safe_dump(inv))
    cp = orc("reconcile", cwd=project)
    assert cp.returncode == 1 and f'inventory host "{tainted}"' in cp.stderr and "NoSchedul" in cp.stderr
