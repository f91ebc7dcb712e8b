"""One pass converges and the plan is the only thing that acts, on the real lab: a new service answers from
every pod after ONE `orc reconcile` (the plan chose the pods' host ports, so the proxies were updated in
the same round trip as the creates), a second pass does nothing, `orc plan` writes nothing, pods are
published on their host's cluster address only, and scaling under load drops no request."""

from __future__ import annotations

import http.client
import json
import threading
import time
from pathlib import Path

import pytest

from orchestrator.lab import daemons
from tests.e2e.conftest import lab_pods
from tests.e2e.helpers import orc

pytestmark = pytest.mark.e2e


def manifests(replicas: int, node_port: int = 30180, probe: bool = False) -> str:
    readiness = "        readinessProbe: {httpGet: {path: /, port: http}, periodSeconds: 1}\n" if probe else ""
    return f"""\
apiVersion: v1
kind: ReplicationController
metadata: {{name: one}}
spec:
  replicas: {replicas}
  template:
    metadata: {{labels: {{app: one}}}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: httpd
        image: local/busybox:1
        command: [sh, -c, "hostname > /tmp/index.html && httpd -f -p 80 -h /tmp & trap 'exit 0' TERM; wait $!"]
        ports: [{{name: http, containerPort: 80}}]
{readiness}---
apiVersion: v1
kind: Service
metadata: {{name: one}}
spec:
  type: NodePort
  selector: {{app: one}}
  ports: [{{port: 80, targetPort: http, nodePort: {node_port}}}]
"""


def apply(project: Path, text: str) -> None:
    (project / "m.yaml").write_text(text)
    cp = orc("apply", "-f", "m.yaml", cwd=project)
    assert cp.returncode == 0, cp.stderr


def answer(address: str, port: int) -> str | None:
    """One HTTP request; the body, or None when it failed (any error counts as a failed request)."""
    try:
        conn = http.client.HTTPConnection(address, port, timeout=3)
        conn.request("GET", "/")
        r = conn.getresponse()
        body = r.read().decode().strip()
        conn.close()
        return body if r.status == 200 else None
    except (OSError, http.client.HTTPException):
        return None


def pods(lab) -> set[str]:  # type: ignore[no-untyped-def]
    return set(sum(lab_pods(lab, "rc/one").values(), []))


def test_one_reconcile_serves_every_new_pod_on_every_host_and_a_second_pass_is_silent(lab, project: Path) -> None:
    apply(project, manifests(3))
    first = orc("reconcile", cwd=project)
    assert first.returncode == 0, first.stdout + first.stderr
    done = time.monotonic()
    want = pods(lab)
    assert len(want) == 3
    hosts = [h.address for h in lab.spec.lab_hosts()]
    seen: dict[str, set[str]] = {h: set() for h in hosts}
    while time.monotonic() < done + 3 and any(seen[h] != want for h in hosts):
        for h in hosts:
            body = answer(h, 30180)
            if body:
                seen[h].add(body)
    assert seen == {h: want for h in hosts}, f"within 3 s of ONE pass: {seen}"
    second = orc("reconcile", cwd=project)
    assert (second.returncode, second.stdout, second.stderr) == (0, "", "")


def test_plan_shows_proxies_addresses_and_pods_and_writes_nothing(lab, project: Path) -> None:
    apply(project, manifests(2, node_port=30181))
    db = project / ".orc" / "state.db"
    before = orc("get", "all", "-o", "json", cwd=project)
    revision = _revision(project)
    cp = orc("plan", "-o", "json", cwd=project)
    assert cp.returncode == 0, cp.stderr
    plan = json.loads(cp.stdout)
    kinds = {(a["host"], a["action"], a["target"].split("/")[0].split(" ")[0]) for a in plan["actions"]}
    # `orc apply` allocated the cluster IP and claimed the node port in its own transaction: nothing left to
    # allocate, and `orc get` shows both before any pass
    assert not any(host == "store" for host, _, _ in kinds)
    svc = json.loads(orc("get", "svc", "-o", "json", cwd=project).stdout)["items"][0]
    assert svc["spec"]["clusterIP"] and svc["spec"]["ports"][0]["nodePort"] == 30181
    for h in lab.spec.lab_hosts():
        assert (h.name, "update", "haproxy") in kinds
    assert sum(a["action"] == "create" for a in plan["actions"]) == 2
    assert _revision(project) == revision and db.exists()
    assert orc("get", "all", "-o", "json", cwd=project).stdout == before.stdout
    assert lab_pods(lab, "rc/one") == {h.name: [] for h in lab.spec.lab_hosts()}  # nothing ran


def _revision(project: Path) -> int:
    import sqlite3

    with sqlite3.connect(project / ".orc" / "state.db") as c:
        return int(c.execute("SELECT value FROM meta WHERE name = 'revision'").fetchone()[0])


def test_pod_ports_are_published_on_the_hosts_cluster_address_only(lab, project: Path) -> None:
    apply(project, manifests(3, node_port=30182))
    cp = orc("reconcile", cwd=project)
    assert cp.returncode == 0, cp.stderr
    for h in lab.spec.lab_hosts():
        out = daemons.docker(h, "ps", "--filter", "label=orc.containers", "--format", "{{.Ports}}").stdout.decode()
        for line in filter(None, out.splitlines()):
            assert line.startswith(f"{h.address}:"), f"{h.name}: {line}"
            assert "0.0.0.0" not in line and ":::" not in line


def test_scaling_under_steady_load_drops_no_request(lab, project: Path) -> None:
    apply(project, manifests(3, node_port=30183))
    first = orc("reconcile", "--wait", "60", cwd=project, timeout=90)
    assert first.returncode == 0, first.stdout + first.stderr
    hosts = [h.address for h in lab.spec.lab_hosts()]
    stop = threading.Event()
    counts = {"ok": 0, "failed": 0}

    def load() -> None:
        i = 0
        while not stop.is_set():
            body = answer(hosts[i % len(hosts)], 30183)
            counts["ok" if body else "failed"] += 1
            i += 1

    workers = [threading.Thread(target=load) for _ in range(3)]
    for w in workers:
        w.start()
    try:
        for replicas in (1, 3, 1, 2):
            apply(project, manifests(replicas, node_port=30183))
            cp = orc("reconcile", cwd=project, timeout=90)
            assert cp.returncode == 0, cp.stdout + cp.stderr
            assert len(pods(lab)) == replicas
    finally:
        stop.set()
        for w in workers:
            w.join()
    assert counts["ok"] > 100 and counts["failed"] == 0, counts


def singleton(node_port: int) -> str:
    return manifests(1, node_port=node_port).replace("name: one}", "name: db}").replace("app: one", "app: db")


def test_a_host_removed_from_the_inventory_hands_its_singleton_over_never_two_serving(lab, project: Path) -> None:
    import yaml

    inventory = project / "inventory.yaml"
    inv = yaml.safe_load(lab.inventory.read_text())
    inventory.write_text(yaml.safe_dump(inv))
    config = project / "orc.yaml"
    config.write_text(config.read_text().replace(f"inventory: {lab.inventory}", f"inventory: {inventory}"))
    apply(project, singleton(30184))
    cp = orc("reconcile", "--wait", "60", cwd=project, timeout=90)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    (old_host,) = [h for h, names in lab_pods(lab, "rc/db").items() if names]
    (old_pod,) = lab_pods(lab, "rc/db")[old_host]
    del inv["all"]["children"][lab.spec.name]["hosts"][old_host]
    inventory.write_text(yaml.safe_dump(inv))
    others = [h.address for h in lab.spec.lab_hosts() if h.name != old_host]

    answers: dict[str, list[str | None]] = {h: [] for h in others}
    stop = threading.Event()

    def load(proxy: str) -> None:
        while not stop.is_set():
            answers[proxy].append(answer(proxy, 30184))

    workers = [threading.Thread(target=load, args=(h,)) for h in others]
    for w in workers:
        w.start()
    try:
        first = orc("reconcile", cwd=project)
        assert first.returncode == 0, first.stdout + first.stderr
        now = lab_pods(lab, "rc/db")
        assert now[old_host] == [old_pod], "the old pod runs until its replacement is ready"
        (new_pod,) = [p for h, ps in now.items() if h != old_host for p in ps]
        deadline = time.monotonic() + 30
        while lab_pods(lab, "rc/db")[old_host] and time.monotonic() < deadline:
            cp = orc("reconcile", cwd=project)
            assert cp.returncode == 0, cp.stdout + cp.stderr
        assert lab_pods(lab, "rc/db")[old_host] == [] and pods_named(lab, "rc/db") == {new_pod}
        time.sleep(0.5)
    finally:
        stop.set()
        for w in workers:
            w.join()
    for proxy, seq in answers.items():
        assert None not in seq, f"{proxy}: {seq.count(None)} of {len(seq)} requests failed"
        # Through each proxy: the old pod, then the new one, never the old again once the new one answered
        # (each proxy swaps them in one reload; proxies on different hosts reload within the same moment).
        switch = seq.index(new_pod)
        assert set(seq[:switch]) == {old_pod} and set(seq[switch:]) == {new_pod}, (proxy, sorted(set(seq)))
    assert orc("reconcile", cwd=project).stdout == ""  # the host is forgotten: nothing more to do


def pods_named(lab, owner: str) -> set[str]:  # type: ignore[no-untyped-def]
    return set(sum(lab_pods(lab, owner).values(), []))


def test_watch_goes_on_past_a_broken_secret_file_and_creates_the_other_pods(lab, project: Path) -> None:
    import signal
    import subprocess
    import sys

    (project / "secrets").mkdir()
    needs = """\
apiVersion: v1
kind: Pod
metadata: {name: needs-secret}
spec:
  containers:
  - name: app
    image: local/busybox:1
    command: [sleep, "600"]
    env: [{name: PW, valueFrom: {secretKeyRef: {name: other, key: pw, optional: false}}}]
---
"""
    (project / "secrets" / "other.yaml").write_text("kind: Secret\nmetadata: {name: other}\nstringData: {pw: x}\n")
    apply(project, needs + manifests(2, node_port=30185))
    (project / "secrets" / "other.yaml").unlink()  # gone after apply: that pod must wait, the others run
    (project / "secrets" / "broken.yaml").write_text("kind: Secret\nmetadata: {name: db}\ndata: {pw: '%%%'}\n")
    watch = subprocess.Popen([sys.executable, "-m", "orchestrator.cli.main", "reconcile", "--watch", "--interval", "1"],
                             cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while len(pods(lab)) < 2 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert len(pods(lab)) == 2
        time.sleep(2)  # a few more passes
        assert watch.poll() is None, watch.communicate()
        assert "needs-secret" not in sum(lab_pods(lab).values(), [])
    finally:
        watch.send_signal(signal.SIGINT)
        out, err = watch.communicate(timeout=20)
    assert watch.returncode == 0, err
    assert "broken.yaml" in err and "%%%" not in out + err  # the bad file is named, no value shown
    assert 'pending: pod/needs-secret: CreateContainerConfigError: secret "other" not found' in err  # on stderr, timed
    assert err.count("pending: pod/needs-secret") == 1  # a lasting condition: once, not once per pass
