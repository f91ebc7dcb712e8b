"""Kinds kept apart in the CLI: a ReplicationController, a ReplicaSet and a Deployment all named `web` are
three objects (`orc get`, `describe`, `scale`, `delete` act on the kind named only), and a store an older orc
wrote (every workload kind under rc/NAME) is read as if moved, then moved once by the first write."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from orchestrator.cli.observed import ObservedHost, ObservedPod, Snapshot, write_snapshot
from orchestrator.errors import NotFoundError
from orchestrator.store import Put, Store, keys
from tests.unit.cli_support import init_project, orc

pytestmark = pytest.mark.timeout(30)


def workload(kind: str, replicas: int, image: str = "local/busybox:1", name: str = "web") -> str:
    selector = "{app: web}" if kind == "ReplicationController" else "{matchLabels: {app: web}}"
    api = "v1" if kind == "ReplicationController" else "apps/v1"
    return (f"apiVersion: {api}\nkind: {kind}\nmetadata: {{name: {name}}}\nspec:\n  replicas: {replicas}\n"
            f"  selector: {selector}\n  template:\n    metadata: {{labels: {{app: web}}}}\n"
            f"    spec: {{containers: [{{name: app, image: {image}}}]}}\n")


RC, RS, DEPLOY = (workload("ReplicationController", 2, "local/rc:1"), workload("ReplicaSet", 1, "local/rs:1"),
                  workload("Deployment", 3, "local/deploy:1"))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return init_project(tmp_path, monkeypatch)


def rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines()]


def squash(text: str) -> str:
    return "\n".join(" ".join(line.split()) for line in text.splitlines())


def observe(store: Store, pods: list[tuple[str, str, str]]) -> None:
    """A snapshot with running, ready pods (name, uid, owner label)."""
    now = time.time()
    write_snapshot(store, Snapshot(
        taken_at=now, hosts=(ObservedHost("lab1", "Ready", "10.99.0.11"),),
        pods=tuple(ObservedPod(n, u, "lab1", o, "Running", True, "1/1", 0, now - 60, None, {"app": "web"})
                   for n, u, o in pods)))


def three(store: Store) -> None:
    for doc in (RC, RS, DEPLOY):
        assert orc("apply", "-f", "-", input=doc).exit_code == 0
    observe(store, [("web-r1", "u-r1", "rc/web"), ("web-r2", "u-r2", "rc/web"), ("web-s1", "u-s1", "rs/web"),
                    ("web-d1", "u-d1", "deploy/web"), ("web-d2", "u-d2", "deploy/web"),
                    ("web-d3", "u-d3", "deploy/web")])


def test_three_kinds_of_one_name_are_three_objects_under_three_keys(project: Path, store: Store) -> None:
    out = [orc("apply", "-f", "-", input=doc) for doc in (RC, RS, DEPLOY)]
    assert [r.stdout for r in out] == ["replicationcontroller/web created\n", "replicaset.apps/web created\n",
                                       "deployment.apps/web created\n"]
    assert [r.key for r in store.list("") if not r.key.startswith(keys.META)] == ["deploy/web", "rc/web", "rs/web"]
    assert orc("apply", "-f", "-", input=DEPLOY).stdout == "deployment.apps/web unchanged\n"
    assert store.get("rc/web").value["kind"] == "ReplicationController"  # type: ignore[union-attr]
    # one file holding all three applies all three
    both = orc("apply", "-f", "-", input="---\n".join([RC, workload("Deployment", 4, "local/deploy:1")]))
    assert both.stdout == "replicationcontroller/web unchanged\ndeployment.apps/web configured\n"


def test_get_lists_each_kind_with_its_own_replicas(project: Path, store: Store) -> None:
    three(store)
    assert rows(orc("get", "rc").stdout) == [["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
                                             ["web", "2", "2", "2", "0s"]]
    assert rows(orc("get", "rs").stdout)[1][:4] == ["web", "1", "1", "1"]
    assert rows(orc("get", "deploy").stdout)[1][:4] == ["web", "3", "3", "3"]
    assert rows(orc("get", "deployments", "web", "-o", "wide").stdout)[1][5:] == ["app", "local/deploy:1", "app=web"]
    assert orc("get", "all", "-o", "name").stdout.splitlines() == [
        "pod/web-d1", "pod/web-d2", "pod/web-d3", "pod/web-r1", "pod/web-r2", "pod/web-s1",
        "replicationcontroller/web", "replicaset.apps/web", "deployment.apps/web"]
    assert orc("get", "deploy/web", "rc/web", "-o", "name").stdout.splitlines() == [
        "deployment.apps/web", "replicationcontroller/web"]
    doc = yaml.safe_load(orc("get", "rs", "web", "-o", "yaml").stdout)
    assert (doc["kind"], doc["status"]) == ("ReplicaSet", {"replicas": 1, "fullyLabeledReplicas": 1, "readyReplicas": 1,
                                                         "availableReplicas": 1})
    # a pod names its own controller
    pod = yaml.safe_load(orc("get", "pod", "web-d1", "-o", "yaml").stdout)
    assert [(o["kind"], o["name"]) for o in pod["metadata"]["ownerReferences"]] == [("Deployment", "web")]


def test_describe_shows_the_kind_named_and_its_pods_only(project: Path, store: Store) -> None:
    three(store)
    deploy = squash(orc("describe", "deploy", "web").stdout)
    assert "Kind: Deployment" in deploy and "Replicas: 3 current / 3 desired" in deploy
    assert "Image: local/deploy:1" in deploy
    assert [n for n in ("web-d1", "web-d2", "web-d3", "web-r1", "web-s1") if n in deploy] == ["web-d1", "web-d2",
                                                                                               "web-d3"]
    rc = squash(orc("describe", "rc/web").stdout)
    assert "Kind: ReplicationController" in rc and "Replicas: 2 current / 2 desired" in rc and "web-d1" not in rc
    assert "Controlled By: ReplicaSet/web" in squash(orc("describe", "pod", "web-s1").stdout)
    assert orc("delete", "rs/web").exit_code == 0
    gone = orc("describe", "rs", "web")
    assert gone.exit_code == 1 and 'replicasets.apps "web" not found' in gone.stderr


def test_scale_changes_the_kind_named_only(project: Path, store: Store) -> None:
    three(store)
    result = orc("scale", "deploy/web", "--replicas", "5")
    assert result.exit_code == 0 and result.stdout == "deployment.apps/web scaled\n"
    replicas = {k: store.get(k).value["spec"]["replicas"] for k in ("rc/web", "rs/web", "deploy/web")}  # type: ignore[union-attr]
    assert replicas == {"rc/web": 2, "rs/web": 1, "deploy/web": 5}
    assert orc("scale", "rs", "web", "--replicas", "0").stdout == "replicaset.apps/web scaled\n"
    assert orc("scale", "rc/web", "--replicas", "4", "--current-replicas", "2").exit_code == 0
    replicas = {k: store.get(k).value["spec"]["replicas"] for k in ("rc/web", "rs/web", "deploy/web")}  # type: ignore[union-attr]
    assert replicas == {"rc/web": 4, "rs/web": 0, "deploy/web": 5}
    assert orc("delete", "deploy/web").exit_code == 0
    missing = orc("scale", "rc/web", "deploy/web", "--replicas", "1")
    assert isinstance(missing.exception, NotFoundError)
    assert str(missing.exception) == 'Error from server (NotFound): deployments.apps "web" not found'
    assert store.get("rc/web").value["spec"]["replicas"] == 4  # type: ignore[union-attr]  # nothing scaled
    bad = orc("scale", "svc/web", "--replicas", "1")
    assert bad.exit_code == 2 and "only replicationcontrollers (rc), replicasets (rs) and deployments" in bad.output


def test_delete_removes_the_kind_named_only(project: Path, store: Store, tmp_path: Path) -> None:
    three(store)
    result = orc("delete", "deploy", "web")
    assert result.exit_code == 0 and result.stdout == 'deployment.apps "web" deleted\n'
    assert store.get("deploy/web") is None and store.get("rc/web") and store.get("rs/web")
    assert store.get("_meta/created/deploy/web") is None and store.get("_meta/created/rc/web")
    again = orc("delete", "deploy/web")
    assert again.exit_code == 1 and 'deployments.apps "web" not found' in again.stderr
    assert orc("delete", "rs", "--all").stdout == 'replicaset.apps "web" deleted\n'
    (tmp_path / "rc.yaml").write_text(RC)
    assert orc("delete", "-f", str(tmp_path / "rc.yaml")).stdout == 'replicationcontroller "web" deleted\n'
    assert [r.key for r in store.list("") if not r.key.startswith(keys.META)] == []


# -- a store an older orc wrote ----------------------------------------------------------------------------


def older_store(store: Store, kind: str = "Deployment") -> None:
    """What an older orc left after `orc apply` of a `kind` named web and a pass: the object under rc/web,
    its creation time beside it, its two pods labelled orc.owner=rc/web."""
    from orchestrator.model.load import parse_objects

    (obj,) = parse_objects([yaml.safe_load(DEPLOY if kind == "Deployment" else RS)])
    store.txn([Put("_meta/created/rc/web", {"at": time.time() - 7200}), Put("rc/web", obj.to_manifest())])
    observe(store, [("web-o1", "u-o1", "rc/web"), ("web-o2", "u-o2", "rc/web")])


def test_reading_an_older_store_shows_each_kind_as_its_own_and_writes_nothing(project: Path, store: Store) -> None:
    older_store(store)
    revision = store.revision()
    assert orc("get", "rc").stderr.strip() == "No resources found in default namespace."
    assert rows(orc("get", "deploy").stdout)[1] == ["web", "3", "2", "2", "120m"]  # its pods, its age
    assert "Replicas: 2 current / 3 desired" in squash(orc("describe", "deploy/web").stdout)
    assert "Controlled By: Deployment/web" in squash(orc("describe", "pod/web-o1").stdout)
    dry = orc("apply", "--dry-run", "-f", "-", input=DEPLOY)
    assert dry.stdout == "deployment.apps/web unchanged (dry run)\n"
    assert store.revision() == revision and store.get("rc/web") is not None  # reading moved nothing


def test_the_first_write_moves_an_older_store_once_and_its_pods_stay_its_own(project: Path, store: Store) -> None:
    older_store(store)
    result = orc("scale", "deploy/web", "--replicas", "4")
    assert result.exit_code == 0 and result.stdout == "deployment.apps/web scaled\n"
    assert result.stderr == (
        'store: moved Deployment "web" from rc/web to deploy/web (an older orc kept every workload kind under '
        "rc/); its 2 pods keep their docker label orc.owner=rc/web and stay its own\n")
    assert store.get("rc/web") is None and store.get("deploy/web").value["spec"]["replicas"] == 4  # type: ignore[union-attr]
    assert store.get("_meta/created/rc/web") is None and store.get("_meta/created/deploy/web") is not None
    marker = store.get(keys.moved_key("rc/web"))
    assert marker is not None and marker.value["to"] == "deploy/web" and marker.value["uids"] == ["u-o1", "u-o2"]
    again = orc("scale", "deploy/web", "--replicas", "3")
    assert again.exit_code == 0 and again.stderr == ""  # moved once
    # An RC named web now is another object; the old pods (still labelled rc/web) stay the Deployment's.
    assert orc("apply", "-f", "-", input=RC).stdout == "replicationcontroller/web created\n"
    observe(store, [("web-o1", "u-o1", "rc/web"), ("web-o2", "u-o2", "rc/web"), ("web-n1", "u-n1", "rc/web")])
    assert rows(orc("get", "deploy").stdout)[1][:3] == ["web", "3", "2"]
    assert rows(orc("get", "rc").stdout)[1][:3] == ["web", "2", "1"]
    assert "Controlled By: ReplicationController/web" in squash(orc("describe", "pod/web-n1").stdout)
    assert "Controlled By: Deployment/web" in squash(orc("describe", "pod/web-o2").stdout)


@pytest.mark.parametrize("command", [["apply", "-f", "-"], ["delete", "svc/none", "--ignore-not-found"]])
def test_apply_and_delete_move_an_older_store_first(project: Path, store: Store, command: list[str]) -> None:
    older_store(store, kind="ReplicaSet")
    result = orc(*command, input=RS)
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith('store: moved ReplicaSet "web" from rc/web to rs/web')
    if command[0] == "apply":
        assert result.stdout == "replicaset.apps/web unchanged\n"
    assert store.get("rs/web") is not None and store.get("rc/web") is None


def test_an_older_copy_that_cannot_move_is_named_and_can_be_deleted(project: Path, store: Store) -> None:
    older_store(store)
    assert orc("apply", "-f", "-", input=RS).exit_code == 0  # moves the Deployment first
    # an older orc, still running somewhere, stores its Deployment under rc/web again
    store.put("rc/web", yaml.safe_load(orc("get", "deploy/web", "-o", "yaml").stdout) | {"metadata": {"name": "web"}})
    listed = orc("get", "rc", "web")
    assert rows(listed.stdout)[1][0] == "deployment.apps/web"  # shown as what it is, where it is
    result = orc("delete", "rc/web")
    assert result.stderr.startswith('warning: Deployment "web" written by an older orc is still stored under '
                                    "rc/web, and deploy/web exists too: the older copy is ignored; `orc delete "
                                    "rc/web` removes it")
    assert result.stdout == 'deployment.apps "web" deleted (the older copy under rc/web)\n'
    assert store.get("rc/web") is None and store.get("deploy/web") is not None and store.get("rs/web") is not None
    assert orc("scale", "deploy/web", "--replicas", "1").stderr == ""
