"""Multi-vantage failure detection on the lab: a host only the controller cannot reach (an iptables rule in
its namespace drops the controller's address) keeps its pods, nothing is replaced, and the pass says the
controller's path is at fault; the same host power-cut is replaced after the grace period; with most hosts'
sshd stopped at once, nothing is replaced and the pass reports a full disruption; under --watch, a host
whose cable is cut (no FIN, no RST: only its event stream's heartbeat stops) is replaced within seconds,
long before the watch's resync would have probed it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.lab import cluster, daemons, system
from tests.e2e.conftest import lab_pods
from tests.e2e.helpers import orc, quiet_pass
from tests.e2e.test_reconcile import Lines

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


def test_under_watch_a_host_whose_cable_is_cut_is_replaced_within_seconds(lab, project: Path) -> None:  # type: ignore[no-untyped-def]
    # A resync every 600 s: the passes between ask no host whose stream is up, so only the heartbeat can
    # tell the watch in time; grace_period 40 s, so only the watch's own (watch_grace_period, 5 s) can
    # replace the host's pod in time.
    cfg = project / "orc.yaml"
    text = cfg.read_text()
    assert "grace_period: 4\n" in text
    cfg.write_text(text.replace("grace_period: 4\n", "grace_period: 40\n") + "resync: 600\n")
    settle(project)
    h = lab.host(3)
    assert len(lab_pods(lab, "rc/web")[h.name]) == 1
    watch = subprocess.Popen([sys.executable, "-m", "orchestrator.cli.main", "-v", "reconcile", "--watch",
                              "--interval", "5"], cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    out, err = Lines(watch.stdout), Lines(watch.stderr)  # type: ignore[arg-type]
    try:
        err.wait_for(quiet_pass(lab), timeout=60)  # every stream open and silent: the watch waits
        system.run(["ip", "link", "set", h.veth, "down"])  # the cable: packets vanish, nothing is refused
        cut = time.monotonic()
        err.wait_for(f"{h.name}: event stream silent", timeout=15)
        try:
            out.wait_for("created pod/web-", timeout=30)
        except AssertionError as e:  # say what the watch said meanwhile
            raise AssertionError(f"{e}\nthe watch's stderr:\n" + "\n".join(err.lines[-30:])) from None
        took = time.monotonic() - cut
        end = time.monotonic() + 30
        while sum(len(v) for n, v in lab_pods(lab, "rc/web").items() if n != h.name) < 3:
            assert time.monotonic() < end, lab_pods(lab, "rc/web")
            time.sleep(0.2)
        assert took < 35, f"replaced after {took:.1f} s"  # watch_grace_period (5 s), not the 40 s grace_period
        assert watch.poll() is None, err.join()
    finally:
        system.run(["ip", "link", "set", h.veth, "up"], check=False)
        system.run(["ip", "netns", "exec", h.netns, "ip", "route", "replace", "default", "via", lab.spec.gateway],
                   check=False)
        watch.terminate()
        watch.wait(30)
