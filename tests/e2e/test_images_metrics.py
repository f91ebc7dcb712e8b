"""Images without a registry, and the metrics a pass writes, on the real lab."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest

from orchestrator.lab import daemons
from tests.e2e.helpers import orc

pytestmark = pytest.mark.e2e


def _has(lab, i: int, image: str) -> bool:  # type: ignore[no-untyped-def]
    return daemons.docker(lab.host(i), "image", "inspect", image, check=False).returncode == 0


def test_image_push_copies_from_a_host_that_has_it_and_skips_the_rest(lab, project: Path) -> None:
    image = "local/e2e-push:1"
    daemons.docker(lab.host(1), "tag", "local/busybox:1", image)
    try:
        cp = orc("image", "push", image, cwd=project)
        assert cp.returncode == 0, cp.stderr
        assert f"{lab.host(2).name}: pushed" in cp.stdout and f"{lab.host(3).name}: pushed" in cp.stdout \
            and f"{lab.host(1).name}: pushed" not in cp.stdout
        assert all(_has(lab, i, image) for i in (1, 2, 3))
        again = orc("image", "push", image, cwd=project)
        assert again.returncode == 0 and again.stdout == ""  # everyone has it: nothing to do
    finally:
        for i in (1, 2, 3):
            daemons.docker(lab.host(i), "rmi", image, check=False)


def test_a_pod_whose_image_only_one_host_has_gets_it_copied_before_start(lab, project: Path) -> None:
    image = "local/e2e-only-on-1:1"
    daemons.docker(lab.host(1), "tag", "local/busybox:1", image)
    (project / "pod.yaml").write_text(f"""\
apiVersion: v1
kind: Pod
metadata: {{name: pinned}}
spec:
  nodeName: {lab.host(3).name}
  containers: [{{name: main, image: "{image}", command: [sleep, "600"]}}]
""")
    try:
        assert orc("apply", "-f", "pod.yaml", cwd=project).returncode == 0
        cp = orc("reconcile", cwd=project)
        assert cp.returncode == 0, cp.stderr
        assert f"{lab.host(3).name}: copied image {image} (from {lab.host(1).name}" in cp.stdout and "created pod/pinned" in cp.stdout
        running = daemons.docker(lab.host(3), "ps", "--filter", "name=orc_pinned_main", "-q").stdout
        assert running.strip()
    finally:
        for i in (1, 2, 3):
            daemons.docker(lab.host(i), "rm", "-f", "orc_pinned_main", "orc_pinned", check=False)
            daemons.docker(lab.host(i), "rmi", image, check=False)


def test_metrics_file_after_a_pass(lab, project: Path) -> None:
    (project / "rc.yaml").write_text("""\
apiVersion: v1
kind: ReplicationController
metadata: {name: m}
spec:
  replicas: 2
  template:
    metadata: {labels: {app: m}}
    spec: {containers: [{name: c, image: local/busybox:1, command: [sleep, "600"]}]}
""")
    assert orc("apply", "-f", "rc.yaml", cwd=project).returncode == 0
    prom = project / "orc.prom"
    assert orc("reconcile", "--metrics-file", str(prom), cwd=project).returncode == 0
    s = _samples(prom.read_text())
    assert s[("orc_hosts", (("status", "Ready"),))] == 3
    assert s[("orc_pods_desired", (("controller", "rc/m"),))] == 2
    assert s[("orc_actions_total", (("action", "create"), ("result", "ok")))] == 2
    assert ("orc_ssh_round_trips", (("host", lab.host(1).name),)) in s and ("orc_pass_duration_seconds_count", ()) in s
    assert orc("reconcile", "--metrics-file", str(prom), cwd=project).returncode == 0
    s = _samples(prom.read_text())
    assert s[("orc_pods_running", (("controller", "rc/m"),))] == 2
    assert s[("orc_actions_total", (("action", "create"), ("result", "ok")))] == 2  # kept across runs
    assert s[("orc_passes_total", ())] == 2


def _samples(text: str) -> dict:
    from prometheus_client.parser import text_string_to_metric_families

    return {(x.name, tuple(sorted(x.labels.items()))): x.value
            for f in text_string_to_metric_families(text) for x in f.samples}


def test_metrics_served_over_http_by_watch(lab, project: Path) -> None:
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = subprocess.Popen([sys.executable, "-m", "orchestrator.cli.main", "reconcile", "--watch",
                          "--metrics-port", str(port)], cwd=project, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        body = ""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "orc_hosts" not in body:
            time.sleep(0.3)
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
            except OSError:
                continue
        assert _samples(body)[("orc_hosts", (("status", "Ready"),))] == 3
    finally:
        p.terminate()
        p.wait(timeout=10)
