"""Real manifests nobody here wrote (Kubernetes' documentation examples, tests/fixtures/k8s-examples/, CC BY
4.0) apply unchanged; the kinds orc does not run are refused in one line each, naming the kind and what to do
instead; another namespace than `default` is refused saying that orc has one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.cli_support import init_project, orc

pytestmark = pytest.mark.timeout(120)

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "k8s-examples"
OUT_OF_SCOPE = {  # file -> the kinds refused in it
    "controllers/job.yaml": ["Job"],
    "controllers/daemonset.yaml": ["DaemonSet"],
    "controllers/statefulset.yaml": ["StatefulSet"],  # its headless Service is accepted: see below
    "application/job/cronjob.yaml": ["CronJob"],
    "service/networking/minimal-ingress.yaml": ["Ingress"],
    "service/networking/network-policy-default-deny-all.yaml": ["NetworkPolicy"],
}
OTHER_NAMESPACE = ["admin/namespace-dev.yaml", "pods/qos/qos-pod.yaml"]
SUPPORTED = sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*.yaml")
                   if str(p.relative_to(CORPUS)) not in {*OUT_OF_SCOPE, *OTHER_NAMESPACE})


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return init_project(tmp_path, monkeypatch)


def test_the_corpus_is_what_the_readme_lists() -> None:
    readme = (CORPUS / "README.md").read_text()
    files = sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*.yaml"))
    assert len(files) >= 30 and all(f"`{f}`" in readme for f in files)
    assert "CC BY 4.0" in readme


@pytest.mark.parametrize("name", SUPPORTED)
def test_a_supported_example_applies_unchanged(project: Path, name: str) -> None:
    result = orc("apply", "-f", str(CORPUS / name))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines and all(line.endswith(" created") for line in lines), result.stdout
    for line in lines:
        ref = line.split()[0]
        doc = json.loads(orc("get", ref, "-o", "json").stdout)
        assert doc["metadata"]["namespace"] == "default" and doc["metadata"]["uid"]


def test_the_guestbook_applies_as_a_whole_and_its_services_get_addresses(project: Path) -> None:
    result = orc("apply", "-f", str(CORPUS / "application" / "guestbook"))
    assert result.exit_code == 0, result.output
    ips = orc("get", "svc", "-o", "jsonpath={range .items[*]}{.metadata.name}={.spec.clusterIP}{'\\n'}{end}")
    names = dict(line.split("=") for line in ips.stdout.splitlines())
    assert set(names) == {"frontend", "redis-follower", "redis-leader"} and all(names.values())


def test_a_load_balancer_service_is_served_as_node_port_with_a_note(project: Path) -> None:
    result = orc("apply", "-f", str(CORPUS / "application" / "nginx-app.yaml"))
    assert result.exit_code == 0
    assert "Warning: Service \"my-nginx-svc\": type LoadBalancer is served as NodePort" in result.stderr
    row = orc("get", "svc", "my-nginx-svc", "--no-headers").stdout.split()
    assert row[1:3] == ["LoadBalancer", "10.233.0.2"] and row[3] == "<pending>" and row[4] == "80:30000/TCP"


@pytest.mark.parametrize(("name", "kinds"), sorted(OUT_OF_SCOPE.items()))
def test_a_kind_out_of_scope_is_refused_in_one_line_naming_it(project: Path, name: str, kinds: list[str]) -> None:
    result = orc("apply", "-f", str(CORPUS / name))
    assert result.exit_code == 1 and result.stdout == ""
    for kind in kinds:
        (line,) = [x for x in result.stderr.splitlines() if f"kind {kind} is not supported by orc" in x]
        assert line.startswith(str(CORPUS / name) + "#")
    assert "nothing was applied" in result.stderr
    assert "No resources found" in orc("get", "all").stderr


def test_the_statefulsets_headless_service_is_accepted_only_its_kind_is_refused() -> None:
    from orchestrator.errors import ValidationError
    from orchestrator.model import load_objects

    with pytest.raises(ValidationError) as e:
        load_objects([str(CORPUS / "controllers" / "statefulset.yaml")])
    assert e.value.errors and all("kind StatefulSet is not supported" in x for x in e.value.errors), e.value.errors


@pytest.mark.parametrize("name", OTHER_NAMESPACE)
def test_another_namespace_is_refused_saying_orc_has_one(project: Path, name: str) -> None:
    result = orc("apply", "-f", str(CORPUS / name))
    assert result.exit_code == 1
    assert "orc has one namespace" in result.stderr


def test_namespace_default_and_metadata_namespace_default_apply(project: Path, tmp_path: Path) -> None:
    doc = tmp_path / "ns.yaml"
    doc.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: default}\n---\n"
                   "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default}\n"
                   "spec: {containers: [{name: a, image: local/busybox:1}]}\n")
    result = orc("apply", "-f", str(doc))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["namespace/default unchanged", "pod/p created"]
    assert orc("delete", "-f", str(doc)).stdout.strip() == 'pod "p" deleted'
