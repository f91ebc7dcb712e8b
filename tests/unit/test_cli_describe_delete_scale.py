"""`orc describe`, `orc delete` and `orc scale` through the real CLI in a temporary project."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from orchestrator.cli.observed import ObservedHost, ObservedPod, Snapshot, write_snapshot
from orchestrator.cli.view import created_key
from orchestrator.errors import ConflictError, NotFoundError
from orchestrator.store import Store
from tests.unit.cli_support import init_project, orc

pytestmark = pytest.mark.timeout(30)

SECRET_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: db, labels: {app: db, tier: be}}
spec:
  containers:
  - name: pg
    image: local/busybox:1
    ports: [{containerPort: 5432, name: pg}]
    resources: {requests: {memory: 64Mi}}
    env:
    - {name: MODE, value: primary}
    - name: PASSWORD
      valueFrom: {secretKeyRef: {name: db-creds, key: password}}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    init_project(tmp_path, monkeypatch, apply_examples=True)
    (tmp_path / "secrets").mkdir()  # what SECRET_POD refers to, in the local secret source
    (tmp_path / "secrets" / "db-creds.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db-creds}\nstringData: {password: hunter2}\n")
    return tmp_path


def squash(text: str) -> str:
    """Each line with runs of spaces as one, so the checks do not depend on column widths."""
    return "\n".join(" ".join(line.split()) for line in text.splitlines())


def observe(store: Store) -> None:
    now = time.time()
    write_snapshot(
        store,
        Snapshot(
            taken_at=now,
            hosts=(ObservedHost("lab1", "Ready", "10.99.0.11", {"rack": "r1"}, {"cpu": "2"}),),
            pods=(
                ObservedPod(
                    "web-aaaaa",
                    "u1",
                    "lab1",
                    "rc/web",
                    "Running",
                    True,
                    "1/1",
                    0,
                    now - 60,
                    "172.18.0.2",
                    {"app": "web"},
                ),
                ObservedPod(
                    "web-bbbbb",
                    "u2",
                    "lab1",
                    "rc/web",
                    "Pending",
                    False,
                    "0/1",
                    0,
                    None,
                    None,
                    {"app": "web"},
                ),
            ),
        ),
    )


def test_describe_rc_shows_template_pods_and_events(project: Path, store: Store) -> None:
    observe(store)
    store.put(
        "_meta/events/rc/web/1",
        {
            "object": "rc/web",
            "type": "Normal",
            "reason": "SuccessfulCreate",
            "message": "Created pod: web-aaaaa",
            "time": time.time() - 5,
        },
    )
    result = orc("describe", "rc", "web")
    assert result.exit_code == 0, result.output
    out = squash(result.stdout)
    for line in (
        "Name: web",
        "Selector: app=web",
        "Replicas: 2 current / 2 desired",
        "Pods Status: 1 Running / 1 Waiting / 0 Succeeded / 0 Failed",
        "Pod Template:",
        "Image: local/busybox:1",
        "Port(s): 80/TCP (http)",
        "cpu: 50m",
    ):
        assert line in out, line
    assert "web-aaaaa lab1 Running 1/1" in out
    assert "Normal SuccessfulCreate 5s" in out and "Created pod: web-aaaaa" in out


def test_describe_never_prints_secret_values(project: Path, store: Store) -> None:
    assert orc("apply", "-f", "-", input=SECRET_POD).exit_code == 0
    out = squash(orc("describe", "pod/db").stdout)
    assert "PASSWORD: <set to the key 'password' in secret 'db-creds'>" in out and "hunter2" not in out
    assert "MODE: primary" in out
    assert "Status: Pending (not observed yet" in out
    assert "Events: <none>" in out


def test_describe_service_node_and_observed_pod(project: Path, store: Store) -> None:
    observe(store)
    svc = squash(orc("describe", "svc", "web").stdout)
    # allocated by `orc apply` itself, before any pass
    assert "Type: NodePort" in svc and "IP: 10.233.0.2" in svc and "NodePort: http 30000/TCP" in svc
    node = squash(orc("describe", "node", "lab1").stdout)
    assert "Address: 10.99.0.11" in node and "web-bbbbb" in node
    pod = squash(orc("describe", "pod", "web-aaaaa").stdout)
    assert "Node: lab1/10.99.0.11" in pod and "Controlled By: ReplicationController/web" in pod
    assert "Image: local/busybox:1" in pod  # the template of its controller
    missing = orc("describe", "rc", "nope")
    assert missing.exit_code == 1 and 'replicationcontrollers "nope" not found' in missing.stderr


def test_delete_forms_and_not_found(project: Path, store: Store) -> None:
    assert orc("apply", "-f", "-", input=SECRET_POD).exit_code == 0
    result = orc("delete", "rc/web", "pod/nope")
    assert result.exit_code == 1
    assert result.stdout == 'replicationcontroller "web" deleted\n'
    assert 'Error from server (NotFound): pods "nope" not found' in result.stderr
    assert store.get("rc/web") is None and store.get(created_key("rc/web")) is None

    assert orc("delete", "rc", "web", "--ignore-not-found").exit_code == 0
    assert orc("delete", "pods", "-l", "tier=be").stdout == 'pod "db" deleted\n'
    assert orc("delete", "-f", "manifests/web-svc.yaml").stdout == 'service "web" deleted\n'
    assert [r.key for r in store.list("") if not r.key.startswith("_meta/")] == []
    assert "No resources found" in orc("delete", "svc", "--all").stderr
    assert orc("delete", "svc").exit_code == 2  # no name, selector or --all


def test_delete_of_a_controlled_pod_points_at_its_controller(project: Path, store: Store) -> None:
    observe(store)
    result = orc("delete", "pod", "web-aaaaa")
    assert result.exit_code == 1
    assert "managed by replicationcontroller/web" in result.stderr and "orc scale" in result.stderr


def test_scale_with_preconditions(project: Path, store: Store) -> None:
    result = orc("scale", "rc/web", "--replicas", "5")
    assert result.exit_code == 0 and result.stdout == "replicationcontroller/web scaled\n"
    assert store.get("rc/web").value["spec"]["replicas"] == 5
    rev = store.revision()

    result = orc("scale", "rc", "web", "--replicas", "1", "--current-replicas", "2")
    assert isinstance(result.exception, ConflictError)
    assert "Expected replicas to be 2, was 5" in str(result.exception)
    stale = orc("scale", "rc/web", "--replicas", "1", "--resource-version", "1")
    assert isinstance(stale.exception, ConflictError) and "has been modified" in str(stale.exception)
    assert store.revision() == rev  # neither wrote

    assert orc("scale", "rc/web", "--replicas", "0", "--current-replicas", "5").exit_code == 0
    assert store.get("rc/web").value["spec"]["replicas"] == 0
    assert isinstance(orc("scale", "rc/nope", "--replicas", "1").exception, NotFoundError)
    assert orc("scale", "svc/web", "--replicas", "1").exit_code == 2
    assert orc("scale", "rc/web", "--replicas", "-1").exit_code == 2


def test_every_command_teaches_with_examples() -> None:
    for command in ("init", "apply", "get", "describe", "delete", "scale", "completion"):
        result = orc(command, "--help")
        assert result.exit_code == 0, command
        assert f"orc {command}" in result.stdout, command
