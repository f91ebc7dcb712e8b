"""Nothing is destroyed without a positive decision, on the real lab: a second project on the same inventory
runs beside the first, and neither deletes, counts or proxies the other's pods; a lost `.orc/state.db`
deletes nothing, leaves the proxies serving, reports the orphans, and re-applying the manifests adopts them
(no pod restarted)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from orchestrator.lab import daemons
from tests.e2e.helpers import orc
from tests.e2e.test_one_pass import answer

pytestmark = pytest.mark.e2e

NODE_PORT = 30190


def manifests(replicas: int, service: bool) -> str:
    text = f"""\
apiVersion: v1
kind: ReplicationController
metadata: {{name: web}}
spec:
  replicas: {replicas}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: httpd
        image: local/busybox:1
        command: [sh, -c, "hostname > /tmp/index.html && httpd -f -p 80 -h /tmp & trap 'exit 0' TERM; wait $!"]
        ports: [{{name: http, containerPort: 80}}]
"""
    if service:
        text += f"""\
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  type: NodePort
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: http, nodePort: {NODE_PORT}}}]
"""
    return text


def apply(project: Path, text: str) -> None:
    (project / "m.yaml").write_text(text)
    cp = orc("apply", "-f", "m.yaml", cwd=project)
    assert cp.returncode == 0, cp.stderr


def reconcile(project: Path) -> tuple[str, str]:
    cp = orc("reconcile", cwd=project)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    return cp.stdout, cp.stderr


def cluster_of(project: Path) -> str:
    return next(line.split(":", 1)[1].strip() for line in (project / "orc.yaml").read_text().splitlines()
                if line.startswith("cluster:"))


def infra(lab, cluster: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """container id -> pod name of every pod of `cluster` on the lab, straight from each dockerd."""
    out = {}
    for h in lab.spec.lab_hosts():
        cp = daemons.docker(h, "ps", "-a", "--filter", "label=orc.containers", "--filter",
                            f"label=orc.cluster={cluster}", "--format", '{{.ID}} {{.Label "orc.pod"}}')
        for line in cp.stdout.decode().split("\n"):
            if line.strip():
                cid, name = line.split()
                out[cid] = name
    return out


def served_by(lab, requests: int = 30) -> set[str | None]:  # type: ignore[no-untyped-def]
    """The pods (by hostname) that answered requests to the node port, round robin over every host."""
    hosts = lab.spec.lab_hosts()
    return {answer(hosts[i % len(hosts)].address, NODE_PORT) for i in range(requests)}


def wait_served(lab, want: set[str], deadline: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    """Poll until the node port answers from exactly `want` (the pods' httpd may take a moment to listen)."""
    end = time.monotonic() + deadline
    while (got := served_by(lab)) != want and time.monotonic() < end:
        time.sleep(0.3)
    if got != want:  # say what each host's proxy has, so a failure explains itself
        for h in lab.spec.lab_hosts():
            cfg = h.proxy_dir / "haproxy.cfg"
            print(h.name, {answer(h.address, NODE_PORT) for _ in range(6)}, cfg.read_text() if cfg.exists() else "-")
    assert got == want


@pytest.fixture
def second(lab, project: Path, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """Another project (`orc init`'s own cluster name) on the very same inventory."""
    two = tmp_path / "second"
    two.mkdir()
    text = (project / "orc.yaml").read_text()
    (two / "orc.yaml").write_text(text.replace(f"cluster: {cluster_of(project)}", f"cluster: {cluster_of(project)}-b"))
    return two


def test_a_second_project_on_the_same_inventory_runs_beside_the_first_and_touches_none_of_its_pods(
        lab, project: Path, second: Path) -> None:  # type: ignore[no-untyped-def]
    apply(project, manifests(3, service=True))
    reconcile(project)
    mine = infra(lab, cluster_of(project))
    assert len(mine) == 3
    apply(second, manifests(2, service=False))  # the same RC name and pod labels, another cluster
    out, err = reconcile(second)
    theirs = infra(lab, cluster_of(second))
    assert len(theirs) == 2 and "delete" not in out, out
    assert f"3 pod(s) of another cluster ({cluster_of(project)})" in err, err
    assert infra(lab, cluster_of(project)) == mine  # nothing of the first deleted, restarted or added
    out, err = reconcile(project)  # the first sees the other's pods and leaves them alone: no change
    assert out == "" and f"2 pod(s) of another cluster ({cluster_of(second)})" in err, out + err
    assert infra(lab, cluster_of(project)) == mine and infra(lab, cluster_of(second)) == theirs
    wait_served(lab, set(mine.values()))  # its proxies carry its own pods only
    assert served_by(lab, 60) == set(mine.values())  # ... and none failed
    for p in (project, second):  # both settled: silent, and the notice was said once
        assert reconcile(p) == ("", "")


def test_a_lost_state_file_deletes_nothing_and_reapplying_adopts_every_pod(lab, project: Path) -> None:  # type: ignore[no-untyped-def]
    apply(project, manifests(2, service=True))
    reconcile(project)
    cluster = cluster_of(project)
    before = infra(lab, cluster)
    assert len(before) == 2
    wait_served(lab, set(before.values()))
    state = project / ".orc" / "state.db"
    shutil.move(state, project / "state.db.lost")
    out, err = reconcile(project)
    assert "delete" not in out and infra(lab, cluster) == before, out
    assert "2 orphan pod(s) of rc/web" in err and "serves svc/web, unknown to the store" in err, err
    assert served_by(lab) == set(before.values())  # the proxies still serve every pod
    assert reconcile(project) == ("", "")  # reported once
    apply(project, manifests(2, service=True))
    out, err = reconcile(project)
    assert "delete" not in out and "create" not in out and err == "", out + err
    assert infra(lab, cluster) == before  # adopted: the same containers, none restarted
    assert served_by(lab) == set(before.values())
