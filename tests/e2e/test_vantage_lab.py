"""Multi-vantage failure detection on the lab: a host only the controller cannot reach (an iptables rule in
its namespace drops the controller's address) keeps its pods, nothing is replaced, and the pass says the
controller's path is at fault; the same host power-cut is replaced after the grace period; with most hosts'
sshd stopped at once, nothing is replaced and the pass reports a full disruption."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from orchestrator.lab import cluster, daemons, system
from tests.e2e.conftest import lab_pods
from tests.e2e.helpers import orc

pytestmark = pytest.mark.e2e

RC = """\
apiVersion: v1
kind: ReplicationController
metadata: {name: web}
spec:
  replicas: 3
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 0
      containers: [{name: main, image: local/busybox:1, command: [sleep, "3600"]}]
"""


def settle(project: Path) -> None:
    (project / "rc.yaml").write_text(RC)
    assert orc("apply", "-f", "rc.yaml", cwd=project).returncode == 0
    cp = orc("reconcile", cwd=project)
    assert cp.returncode == 0, cp.stderr


def past_grace(project: Path):  # type: ignore[no-untyped-def]
    """A pass that sees the failure, the grace period (4 s), and the pass after it."""
    first = orc("reconcile", cwd=project)
    time.sleep(4.5)
    return first, orc("reconcile", cwd=project)


def test_a_host_only_the_controller_cannot_reach_keeps_its_pods_but_a_power_cut_one_is_replaced(
        lab, project: Path) -> None:  # type: ignore[no-untyped-def]
    settle(project)
    h = lab.host(3)
    before = lab_pods(lab, "rc/web")
    assert len(before[h.name]) == 1
    rule = ["-s", lab.spec.gateway, "-p", "tcp", "--dport", "22", "-j", "DROP"]
    system.run(["ip", "netns", "exec", h.netns, "iptables", "-I", "INPUT", *rule])
    try:
        first, cp = past_grace(project)
        assert cp.returncode == 4 and "created" not in first.stdout + cp.stdout, cp.stdout
        assert f"host {h.name} is unreachable from this controller only" in first.stderr + cp.stderr
        assert "peers reach it" in cp.stderr
        assert lab_pods(lab, "rc/web") == before  # its pod still runs, nothing was added elsewhere
    finally:
        system.run(["ip", "netns", "exec", h.netns, "iptables", "-D", "INPUT", *rule], check=False)
    assert orc("reconcile", cwd=project).returncode == 0
    cluster.stop_host(lab.spec, h)  # now the host is really gone: no peer reaches it either
    first, cp = past_grace(project)
    assert "no peer reaches it either" in first.stderr + cp.stderr
    assert "created pod/web-" in cp.stdout, cp.stdout + cp.stderr
    alive = {n: v for n, v in lab_pods(lab, "rc/web").items() if n != h.name}
    assert sum(len(v) for v in alive.values()) == 3


def test_most_hosts_failing_at_once_replace_nothing(lab, project: Path) -> None:  # type: ignore[no-untyped-def]
    settle(project)
    before = lab_pods(lab, "rc/web")
    for i in (1, 2):
        daemons.stop_sshd(lab.host(i))
    first, cp = past_grace(project)
    assert "created" not in first.stdout + cp.stdout, cp.stdout
    assert "full disruption: 2 of 3 hosts fail at once" in first.stderr + cp.stderr, cp.stderr
    assert lab_pods(lab, "rc/web") == before
