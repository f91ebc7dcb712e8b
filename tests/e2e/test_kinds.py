"""Kinds are kept apart, on the real lab: a ReplicationController and a Deployment both named `web` both exist
and run their own pods (counted per owner straight from each dockerd, and served by their own services);
scaling or deleting one leaves the other's pods alone; and a Deployment an older orc stored under rc/web
keeps its running pods through the move to deploy/web (none deleted or restarted)."""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path

import pytest

from orchestrator.lab import daemons
from tests.e2e.conftest import lab_pods
from tests.e2e.helpers import orc

pytestmark = pytest.mark.e2e


def workload(kind: str, replicas: int, tier: str) -> str:
    api, selector = ("v1", f"{{app: web, tier: {tier}}}") if kind == "ReplicationController" else \
        ("apps/v1", f"{{matchLabels: {{app: web, tier: {tier}}}}}")
    return f"""\
apiVersion: {api}
kind: {kind}
metadata: {{name: web}}
spec:
  replicas: {replicas}
  selector: {selector}
  template:
    metadata: {{labels: {{app: web, tier: {tier}}}}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: httpd
        image: local/busybox:1
        command: [sh, -c, "hostname > /tmp/index.html && httpd -f -p 80 -h /tmp & trap 'exit 0' TERM; wait $!"]
        ports: [{{name: http, containerPort: 80}}]
"""


def service(name: str, tier: str, node_port: int) -> str:
    return f"""\
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  type: NodePort
  selector: {{app: web, tier: {tier}}}
  ports: [{{port: 80, targetPort: http, nodePort: {node_port}}}]
"""


def apply(project: Path, *docs: str) -> str:
    (project / "m.yaml").write_text("---\n".join(docs))
    cp = orc("apply", "-f", "m.yaml", cwd=project)
    assert cp.returncode == 0, cp.stderr
    return cp.stdout


def reconcile(project: Path) -> str:
    cp = orc("reconcile", cwd=project)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    return cp.stdout


def pods_of(lab, owner: str) -> set[str]:  # type: ignore[no-untyped-def]
    """The pods whose docker label orc.owner is `owner`, on every lab host, from dockerd itself."""
    return set(sum(lab_pods(lab, owner).values(), []))


def running(lab, owner: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Running containers labelled orc.owner=`owner`: name -> id (a restart or re-creation changes the id)."""
    out = {}
    for h in lab.spec.lab_hosts():
        cp = daemons.docker(h, "ps", "--filter", f"label=orc.owner={owner}", "--format", "{{.Names}} {{.ID}}")
        out.update(dict(line.split() for line in cp.stdout.decode().splitlines() if line))
    return out


def answer(address: str, port: int) -> str | None:
    try:
        conn = http.client.HTTPConnection(address, port, timeout=3)
        conn.request("GET", "/")
        r = conn.getresponse()
        body = r.read().decode().strip()
        conn.close()
        return body if r.status == 200 else None
    except (OSError, http.client.HTTPException):
        return None


def served(lab, port: int, want: set[str], within: float = 5.0) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
    """host address -> the pods that answered on the node port, until each host gave `want` or time ran out."""
    hosts = [h.address for h in lab.spec.lab_hosts()]
    seen: dict[str, set[str]] = {h: set() for h in hosts}
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and any(seen[h] != want for h in hosts):
        for h in hosts:
            body = answer(h, port)
            if body:
                seen[h].add(body)
    return seen


def replicas(project: Path, kind: str) -> tuple[int, int]:
    cp = orc("get", kind, "web", "-o", "json", cwd=project)
    assert cp.returncode == 0, cp.stderr
    doc = json.loads(cp.stdout)
    return doc["spec"]["replicas"], doc["status"]["replicas"]


def test_an_rc_and_a_deployment_both_named_web_both_exist_and_run_their_own_pods(lab, project: Path) -> None:
    out = apply(project, workload("ReplicationController", 2, "rc"), workload("Deployment", 3, "deploy"),
                service("web-rc", "rc", 30190), service("web-deploy", "deploy", 30191))
    assert out.splitlines()[:2] == ["replicationcontroller/web created", "deployment.apps/web created"]
    reconcile(project)
    rc, deploy = pods_of(lab, "rc/web"), pods_of(lab, "deploy/web")
    assert len(rc) == 2 and len(deploy) == 3 and not rc & deploy
    assert len(running(lab, "rc/web")) == 2 and len(running(lab, "deploy/web")) == 3  # solo pods: httpd alone
    assert replicas(project, "rc") == (2, 2) and replicas(project, "deploy") == (3, 3)
    # each service serves its own kind's pods, on every host
    assert served(lab, 30190, rc) == {h.address: rc for h in lab.spec.lab_hosts()}
    assert served(lab, 30191, deploy) == {h.address: deploy for h in lab.spec.lab_hosts()}
    ids = running(lab, "rc/web") | running(lab, "deploy/web")
    explained = orc("explain", "deploy/web", cwd=project)
    assert explained.returncode == 0 and explained.stdout.startswith("deploy/web: 3/3 hosts can take it"), \
        explained.stdout + explained.stderr
    nope = orc("explain", "rs", "web", cwd=project)
    assert nope.returncode == 1 and 'replicaset "web" not found' in nope.stderr, nope.stderr
    assert reconcile(project) == ""  # converged: neither takes the other's pods
    assert running(lab, "rc/web") | running(lab, "deploy/web") == ids
    # `orc scale deploy/web` scales the Deployment, not the RC
    scaled = orc("scale", "deploy/web", "--replicas", "1", cwd=project)
    assert (scaled.returncode, scaled.stdout) == (0, "deployment.apps/web scaled\n"), scaled.stderr
    reconcile(project)
    assert pods_of(lab, "rc/web") == rc and len(pods_of(lab, "deploy/web")) == 1 < len(deploy)
    assert pods_of(lab, "deploy/web") < deploy
    # deleting the RC leaves the Deployment's pod running
    left = running(lab, "deploy/web")
    gone = orc("delete", "rc/web", cwd=project)
    assert (gone.returncode, gone.stdout) == (0, 'replicationcontroller "web" deleted\n'), gone.stderr
    reconcile(project)
    assert pods_of(lab, "rc/web") == set() and running(lab, "deploy/web") == left
    assert replicas(project, "deploy") == (1, 1)


def test_a_deployment_an_older_orc_stored_under_rc_keeps_its_running_pods_through_the_move(lab, project: Path) -> None:
    # What an older orc left: its pods, labelled orc.owner=rc/web, and the Deployment stored under rc/web.
    apply(project, workload("ReplicationController", 2, "deploy"))
    reconcile(project)
    old = running(lab, "rc/web")
    assert len(old) == 2  # one container per (solo) pod
    from orchestrator.store import Put, open_store

    deployment = workload("Deployment", 2, "deploy")
    (project / "d.yaml").write_text(deployment)
    with open_store(f"sqlite:{project / '.orc' / 'state.db'}") as store:
        import yaml

        from orchestrator.model.load import parse_objects

        (obj,) = parse_objects([yaml.safe_load(deployment)])
        rec = store.get("rc/web")
        assert rec is not None
        store.txn([Put("rc/web", obj.to_manifest(), expect_revision=rec.revision)])
    # Read as its own kind's before any write; `orc plan` says what the next write does.
    assert replicas(project, "deploy") == (2, 2)
    plan = orc("plan", cwd=project)
    assert plan.returncode == 0 and "No changes" in plan.stdout, plan.stdout + plan.stderr
    assert 'notice: Deployment "web" is stored under rc/web by an older orc' in plan.stderr
    # The upgrade's first reconcile moves it, says so once, and touches no pod.
    first = orc("reconcile", cwd=project)
    assert first.returncode == 0, first.stderr
    assert first.stdout == ""
    assert first.stderr.startswith('store: moved Deployment "web" from rc/web to deploy/web'), first.stderr
    assert "its 2 pods keep their docker label orc.owner=rc/web and stay its own" in first.stderr
    assert running(lab, "rc/web") == old and pods_of(lab, "deploy/web") == set()
    assert orc("reconcile", cwd=project).stderr == ""  # moved once
    assert orc("get", "rc", cwd=project).stdout == "" and replicas(project, "deploy") == (2, 2)
    # An RC named web now runs pods of its own beside them; scaling the Deployment down takes an old pod.
    apply(project, workload("ReplicationController", 1, "rc"))
    reconcile(project)
    assert len(running(lab, "rc/web")) == 2 + 1 and running(lab, "rc/web").items() >= old.items()
    assert replicas(project, "rc") == (1, 1) and replicas(project, "deploy") == (2, 2)
    assert orc("scale", "deploy/web", "--replicas", "1", cwd=project).returncode == 0
    reconcile(project)
    now = running(lab, "rc/web")
    assert len(now) == 2 and len(set(now) & set(old)) == 1  # one old pod left
    assert replicas(project, "rc") == (1, 1) and replicas(project, "deploy") == (1, 1)
