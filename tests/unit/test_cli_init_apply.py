"""`orc init` and `orc apply` through the real CLI in a temporary project: scaffolding, validation that
stores nothing, kubectl's created/configured/unchanged, dry-run diffs and conflicts (never a silent
overwrite)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from orchestrator.cli.applier import commit_apply, plan_apply
from orchestrator.cli.main import main
from orchestrator.config import load_project
from orchestrator.errors import ConflictError
from orchestrator.inventory.loader import load_inventory
from orchestrator.model import load_objects
from orchestrator.store import Store, open_store
from tests.unit.cli_support import init_project, orc

pytestmark = pytest.mark.timeout(30)

BAD = """\
apiVersion: v1
kind: ReplicationController
metadata: {name: Bad_Name}
spec:
  replicas: -1
  selector: {app: x}
  template:
    metadata: {labels: {app: x}}
    spec:
      containers: [{name: c, image: local/busybox:1, resources: {requests: {cpu: lots}}}]
---
apiVersion: v1
kind: Service
metadata: {name: s}
spec:
  ports: [{port: 99999}]
---
apiVersion: v1
kind: Pod
metadata: {name: fine}
spec:
  containers: [{name: c, image: local/busybox:1}]
---
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers: [{name: c}]
  bogus: 1
"""

POD = """\
apiVersion: v1
kind: Pod
metadata: {name: solo, labels: {app: solo}}
spec:
  containers: [{name: c, image: local/busybox:1}]
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return init_project(tmp_path, monkeypatch)


def test_init_writes_a_project_that_loads_and_applies_with_no_edits(project: Path) -> None:
    for rel in (
        "orc.yaml",
        "inventory/hosts.yaml",
        "templates/README.md",
        "manifests/web-rc.yaml",
        "manifests/web-svc.yaml",
    ):
        assert (project / rel).is_file(), rel
    p = load_project()
    assert p.root == project.resolve()
    assert p.settings.ssh.host_key_policy == "strict"
    assert load_inventory(p.inventory_path).hosts() == []  # the example hosts are commented out
    assert "haproxy.cfg.j2" in (project / "templates/README.md").read_text()

    result = orc("apply", "-f", "manifests/")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["replicationcontroller/web created", "service/web created"]
    with open_store(p.store_url) as s:
        rc = s.get("rc/web")
        assert rc is not None and rc.value["spec"]["replicas"] == 2
        container = rc.value["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == "local/busybox:1"
        assert container["command"] == ["httpd", "-f", "-p", "80", "-h", "/www"]
        assert s.get("svc/web").value["spec"]["type"] == "NodePort"


def test_init_refuses_to_overwrite_and_names_the_files(project: Path) -> None:
    (project / "orc.yaml").write_text("store: sqlite:.orc/mine.db\n")
    (project / "manifests/web-svc.yaml").unlink()
    result = orc("init")
    assert result.exit_code == 1
    message = str(result.exception)
    assert "orc.yaml" in message and "manifests/web-rc.yaml" in message and "--force" in message
    assert (project / "orc.yaml").read_text() == "store: sqlite:.orc/mine.db\n"
    assert not (project / "manifests/web-svc.yaml").exists()  # nothing written at all

    assert orc("init", "--force").exit_code == 0
    assert "inventory:" in (project / "orc.yaml").read_text()
    assert (project / "manifests/web-svc.yaml").is_file()


def test_init_into_a_new_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = orc("init", "demo")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "demo/orc.yaml").is_file()
    assert "cd demo" in result.stdout


def test_apply_reports_every_mistake_with_field_paths_and_stores_nothing(project: Path, store: Store) -> None:
    (project / "bad.yaml").write_text(BAD)
    result = orc("apply", "-f", "bad.yaml", "-f", "manifests/")
    assert result.exit_code == 1
    err = result.stderr
    for expected in (
        'ReplicationController "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"',
        'ReplicationController "Bad_Name" is invalid: spec.replicas: Invalid value: -1',
        'ReplicationController "Bad_Name" is invalid: spec.template.spec.containers[0].resources.requests[cpu]',
        'Service "s" is invalid: spec.ports[0].port: Invalid value: 99999',
        'Pod "p" is invalid: spec.containers[0].image: Required value',
        'Pod "p" is invalid: spec.bogus: Forbidden: unknown field "bogus"',
    ):
        assert expected in err, expected
    assert "6 problems found; nothing was applied" in err
    assert result.stdout == ""
    assert store.list("") == [] and store.revision() == 0  # not even the valid objects


def test_node_port_errors_come_with_every_other_error_naming_their_document(project: Path, store: Store) -> None:
    (project / "ports.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c}]}\n---\n"
        "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"
        "spec: {type: NodePort, selector: {app: a}, ports: [{port: 80, nodePort: 22}]}\n---\n"
        "apiVersion: v1\nkind: Service\nmetadata: {name: b}\n"
        "spec: {type: NodePort, selector: {app: b}, ports: [{port: 80, nodePort: 30001}]}\n---\n"
        "apiVersion: v1\nkind: Service\nmetadata: {name: c}\n"
        "spec: {type: NodePort, selector: {app: c}, ports: [{port: 80, nodePort: 30001}]}\n")
    result = orc("apply", "-f", "ports.yaml")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith('ports.yaml#1: Pod "p" is invalid: spec.containers[0].image: Required value')
    assert lines[1].startswith('ports.yaml#2: Service "a" is invalid: spec.ports[0].nodePort: Invalid value: 22: '
                               "provided port is not in the valid range")
    assert lines[2].startswith('ports.yaml#4: Service "c" is invalid: spec.ports[0].nodePort: Duplicate value: '
                               '30001: Service "b" in this apply asks for it too')
    assert lines[3:] == ["error: 3 problems found; nothing was applied"]


def test_apply_created_unchanged_configured(project: Path, store: Store) -> None:
    assert orc("apply", "-f", "manifests/").exit_code == 0
    rev = store.revision()
    result = orc("apply", "-f", "manifests/")
    assert result.stdout.splitlines() == ["replicationcontroller/web unchanged", "service/web unchanged"]
    assert store.revision() == rev  # nothing written

    rc = project / "manifests/web-rc.yaml"
    rc.write_text(rc.read_text().replace("replicas: 2", "replicas: 4"))
    result = orc("apply", "-f", "manifests/")
    assert result.stdout.splitlines() == ["replicationcontroller/web configured", "service/web unchanged"]
    assert store.get("rc/web").value["spec"]["replicas"] == 4
    expected = {o.key: o.to_manifest() for o in load_objects(["manifests/"])}
    assert {k: store.get(k).value for k in expected} == expected


def test_apply_from_stdin(project: Path, store: Store) -> None:
    result = orc("apply", "-f", "-", input=POD)
    assert result.exit_code == 0, result.output
    assert result.stdout == "pod/solo created\n"
    assert store.get("pod/solo").value["metadata"]["labels"] == {"app": "solo"}


def test_dry_run_prints_a_diff_and_stores_nothing(project: Path, store: Store) -> None:
    assert orc("apply", "-f", "manifests/").exit_code == 0
    rev = store.revision()
    rc = project / "manifests/web-rc.yaml"
    rc.write_text(rc.read_text().replace("replicas: 2", "replicas: 5"))
    (project / "manifests/solo.yaml").write_text(POD)
    result = orc("apply", "-f", "manifests/", "--dry-run")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "--- rc/web (stored, revision" in out and "+++ rc/web (manifest)" in out
    assert "-  replicas: 2\n+  replicas: 5\n" in out
    assert "+++ pod/solo (manifest)" in out and "+kind: Pod" in out
    assert "replicationcontroller/web configured (dry run)" in out
    assert "pod/solo created (dry run)" in out
    assert "service/web unchanged (dry run)" in out and "svc/web" not in out  # no diff when equal
    assert store.revision() == rev and store.get("pod/solo") is None


def test_stale_resource_version_is_a_conflict(project: Path, store: Store) -> None:
    assert orc("apply", "-f", "manifests/").exit_code == 0
    got = orc("get", "rc", "web", "-o", "yaml")
    assert got.exit_code == 0
    (project / "web.yaml").write_text(got.stdout.replace("replicas: 2", "replicas: 7"))
    assert orc("scale", "rc/web", "--replicas", "3").exit_code == 0  # somebody else changes it meanwhile

    result = orc("apply", "-f", "web.yaml")
    assert result.exit_code == 1
    assert isinstance(result.exception, ConflictError)
    assert (
        'Operation cannot be fulfilled on replicationcontrollers "web": the object has been modified; '
        "please apply your changes to the latest version and try again"
    ) in str(result.exception)
    assert store.get("rc/web").value["spec"]["replicas"] == 3  # not overwritten

    # re-read, edit, apply: accepted, as its resourceVersion is current
    fresh = yaml.safe_load(orc("get", "rc", "web", "-o", "yaml").stdout)
    fresh["spec"]["replicas"] = 7
    (project / "web.yaml").write_text(yaml.safe_dump(fresh))
    result = orc("apply", "-f", "web.yaml")
    assert result.stdout == "replicationcontroller/web configured\n"
    assert store.get("rc/web").value["spec"]["replicas"] == 7
    assert (
        "status" not in store.get("rc/web").value
        and "resourceVersion" not in store.get("rc/web").value["metadata"]
    )


def test_conflict_exit_code_and_message_through_main(
    project: Path, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    assert orc("apply", "-f", "manifests/").exit_code == 0
    doc = yaml.safe_load((project / "manifests/web-rc.yaml").read_text())
    doc["metadata"]["resourceVersion"] = "0"
    (project / "old.yaml").write_text(yaml.safe_dump(doc))
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(["apply", "-f", "old.yaml"])
    assert exit_info.value.code == 1
    assert capsys.readouterr().err.startswith(
        'error: Operation cannot be fulfilled on replicationcontrollers "web": the object has been modified'
    )


def test_a_concurrent_change_fails_the_whole_apply(project: Path, store: Store) -> None:
    assert orc("apply", "-f", "manifests/").exit_code == 0
    rc = project / "manifests/web-rc.yaml"
    rc.write_text(rc.read_text().replace("replicas: 2", "replicas: 4"))
    (project / "manifests/solo.yaml").write_text(POD)
    changes = plan_apply(store, load_objects(["manifests/"]))
    assert [c.action for c in changes] == ["created", "configured", "unchanged"]
    # another process changes the service (read as unchanged) between the read and the write
    svc = store.get("svc/web")
    store.put("svc/web", {**svc.value, "metadata": {"name": "web", "labels": {"app": "other"}}})
    rev = store.revision()
    with pytest.raises(ConflictError, match='services "web": the object has been modified'):
        commit_apply(store, changes, 0.0)
    assert store.revision() == rev
    assert store.get("pod/solo") is None and store.get("rc/web").value["spec"]["replicas"] == 2


def test_init_names_a_new_cluster_each_time_and_the_name_is_kept_in_orc_yaml(tmp_path: Path) -> None:
    from orchestrator.cli.init_cmd import write_scaffold
    from orchestrator.config import load_project

    names = []
    for d in ("My Project_1", "2nd"):
        write_scaffold(tmp_path / d)
        names.append(load_project(str(tmp_path / d / "orc.yaml")).cluster)
    assert names[0].startswith("my-project-1-") and names[1].startswith("c2nd-")
    write_scaffold(tmp_path / "My Project_1b")
    assert load_project(str(tmp_path / "My Project_1b" / "orc.yaml")).cluster != names[0]


def test_a_project_without_a_cluster_name_is_told_how_to_name_it(tmp_path: Path) -> None:
    from orchestrator.config import load_project
    from orchestrator.errors import ConfigError

    (tmp_path / "orc.yaml").write_text("inventory: hosts.ini\n")
    with pytest.raises(ConfigError, match="no `cluster:` name.*cluster: prod-eu"):
        _ = load_project(str(tmp_path / "orc.yaml")).cluster
    (tmp_path / "orc.yaml").write_text("cluster: Bad_Name\n")
    with pytest.raises(ConfigError, match="cluster: .*not a cluster name"):
        load_project(str(tmp_path / "orc.yaml"))


def test_a_store_serves_one_cluster_and_refuses_another_name(project: Path) -> None:
    import re

    from orchestrator.store import open_store
    from orchestrator.store.keys import CLUSTER

    name = re.search(r"^cluster: (\S+)$", (project / "orc.yaml").read_text(), re.M).group(1)  # type: ignore[union-attr]
    failed = orc("apply", "-f", "nowhere.yaml")
    assert failed.exit_code != 0
    with open_store(load_project().store_url) as store:
        assert store.get(CLUSTER) is None  # a failed apply writes nothing, not even the name
    assert orc("apply", "-f", "manifests/").exit_code == 0
    with open_store(load_project().store_url) as store:
        assert store.get(CLUSTER).value == {"name": name}  # type: ignore[union-attr]
        revision = store.revision()
    text = (project / "orc.yaml").read_text()
    (project / "orc.yaml").write_text(text.replace(f"cluster: {name}", "cluster: someone-else"))
    for args in (("get", "rc"), ("apply", "-f", "manifests/"), ("delete", "rc/web"), ("plan",)):
        r = orc(*args)
        assert r.exit_code != 0, args
        assert f"this store holds the desired state of cluster '{name}', but orc.yaml names cluster " \
               "'someone-else'" in str(r.exception), (args, r.exception)
    with open_store(load_project().store_url) as store:
        assert store.revision() == revision and store.get("rc/web") is not None
