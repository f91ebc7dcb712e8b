"""kubectl's output options on `orc get`: -o jsonpath (with range/end), custom-columns, --no-headers,
--show-labels, -L, --sort-by, --field-selector, -n default / -A, --dry-run spellings, "did you mean"; and
the JSONPath template layer itself."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.cli.jsonpath import JSONPathError, parse, parse_path, translate
from orchestrator.cli.observed import ObservedContainer, ObservedHost, ObservedPod, Snapshot, write_snapshot
from orchestrator.store import Store
from tests.unit.cli_support import init_project, orc

pytestmark = pytest.mark.timeout(60)

DOC = {
    "kind": "List",
    "items": [
        {"metadata": {"name": "a", "labels": {"app.kubernetes.io/name": "x", "app-name": "y"}},
         "status": {"phase": "Running", "hostIP": "10.99.0.11"}},
        {"metadata": {"name": "b"}, "status": {"phase": "Pending"}},
    ],
}


@pytest.mark.parametrize(("template", "expected"), [
    ('{range .items[*]}{.metadata.name} {.status.hostIP}{"\\n"}{end}', "a 10.99.0.11\nb \n"),
    ("{.items[*].metadata.name}", "a b"),
    ('{.items[?(@.status.phase=="Running")].metadata.name}', "a"),
    ("{.items[0].metadata.labels.app\\.kubernetes\\.io/name}/{.items[0].metadata.labels.app-name}", "x/y"),
    ("{.items[0].metadata.labels}", '{"app.kubernetes.io/name":"x","app-name":"y"}'),
    ("{..phase}", "Running Pending"),
    ("{.items[-1:].metadata.name}", "b"),
    ("{range .items[*]}[{@.metadata.name}]{'\\t'}{end}", "[a]\t[b]\t"),
    ("{range.items[*]}{.metadata.name};{end}", "a;b;"),  # kubectl reads `range` without a blank after it
    ("{.items[*]['metadata']['name']}", "a b"),
    ("{$.kind}: {.items[1].status.missing}.", "List: ."),  # a missing field prints nothing, as kubectl's get
    ("{range .items[*]}{range .metadata.labels.*}<{@}>{end}{end}", "<x><y>"),
    ("plain text", "plain text"),
])
def test_kubectl_jsonpath_templates(template: str, expected: str) -> None:
    assert parse(template).render(DOC) == expected


@pytest.mark.parametrize(("bad", "why"), [
    ("{.items", "unclosed action"),
    ("{range .items[*]}{.x}", "{range} without {end}"),
    ("{end}", "{end} without {range}"),
    ("{.items[}", "unclosed bracket"),
    ('{"\\q"}', "unknown escape"),
])
def test_broken_templates_say_what_is_wrong(bad: str, why: str) -> None:
    with pytest.raises(JSONPathError, match=why.replace("{", r"\{").replace("}", r"\}")):
        parse(bad)


def test_paths_become_bracket_notation() -> None:
    assert translate(".metadata.labels.kubernetes\\.io/hostname") == (
        '$["metadata"]["labels"]["kubernetes.io/hostname"]', False)
    assert translate("$.items[*]") == ('$["items"][*]', True)
    assert parse_path(".metadata.name").values({"metadata": {"name": "n"}}) == [["n"]]
    with pytest.raises(JSONPathError):
        parse_path('{.a}{"x"}')


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return init_project(tmp_path, monkeypatch, apply_examples=True)


def observe(store: Store) -> None:
    now = time.time()
    c = ObservedContainer("httpd", "id1", "local/busybox:1", "running", 0, now - 50)
    c3 = ObservedContainer("httpd", "id2", "local/busybox:1", "running", 0, now - 50, now - 60, 3)
    write_snapshot(store, Snapshot(now, hosts=(
        ObservedHost("lab1", "Ready", "10.99.0.11"), ObservedHost("lab2", "Ready", "10.99.0.12")), pods=(
        ObservedPod("web-b", "u2", "lab2", "rc/web", "Running", True, "1/1", 0, now - 20, "172.17.0.3",
                    {"app": "web", "track": "canary"}, containers=(c,)),
        ObservedPod("web-a", "u1", "lab1", "rc/web", "Running", True, "1/1", 3, now - 90, "172.17.0.2",
                    {"app": "web", "app.kubernetes.io/name": "web"}, containers=(c3,)),
    )))


def lines(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines()]


def test_the_acceptance_one_liners(project: Path, store: Store) -> None:
    observe(store)
    svc = json.loads(orc("get", "svc", "web", "-o", "json").stdout)
    assert svc["spec"]["clusterIP"] == "10.233.0.2"
    out = orc("get", "pods", "-o", 'jsonpath={range .items[*]}{.metadata.name} {.status.hostIP}{"\\n"}{end}')
    assert out.exit_code == 0, out.output
    assert out.stdout == "web-a 10.99.0.11\nweb-b 10.99.0.12\n"
    cols = orc("get", "pods", "-o", "custom-columns=NAME:.metadata.name,NODE:.spec.nodeName")
    assert lines(cols.stdout) == [["NAME", "NODE"], ["web-a", "lab1"], ["web-b", "lab2"]]
    missing = orc("get", "pods", "-o", "custom-columns=NAME:.metadata.name,X:.spec.nope", "--no-headers")
    assert lines(missing.stdout) == [["web-a", "<none>"], ["web-b", "<none>"]]
    one = orc("get", "svc", "web", "-o", "jsonpath={.spec.ports[0].nodePort}")
    assert one.stdout == "30000"


def test_custom_columns_file(project: Path, store: Store, tmp_path: Path) -> None:
    observe(store)
    spec = tmp_path / "cols.txt"
    spec.write_text("NAME          RESTARTS\n.metadata.name .status.containerStatuses[*].restartCount\n")
    assert lines(orc("get", "pods", "-o", f"custom-columns-file={spec}").stdout)[1:] == [["web-a", "3"], ["web-b", "0"]]


def test_table_extras(project: Path, store: Store) -> None:
    observe(store)
    plain = lines(orc("get", "pods", "--no-headers").stdout)
    assert [r[0] for r in plain] == ["web-a", "web-b"]
    shown = lines(orc("get", "pods", "--show-labels").stdout)
    assert shown[0][-1] == "LABELS" and shown[1][-1] == "app=web,app.kubernetes.io/name=web"
    cols = orc("get", "pods", "-L", "track", "-L", "app.kubernetes.io/name").stdout.splitlines()
    assert cols[0].split()[-2:] == ["TRACK", "NAME"]
    assert cols[1].split()[-1] == "web" and cols[2].split()[-1] == "canary"
    every = lines(orc("get", "pods", "-A").stdout)
    assert every[0][0] == "NAMESPACE" and every[1][:2] == ["default", "web-a"]


def test_sort_by_and_field_selector(project: Path, store: Store) -> None:
    observe(store)
    by_age = orc("get", "pods", "--sort-by", ".metadata.creationTimestamp", "-o", "name").stdout.split()
    assert by_age == ["pod/web-a", "pod/web-b"]
    by_restarts = orc("get", "pods", "--sort-by", "{.status.containerStatuses[0].restartCount}", "-o", "name")
    assert by_restarts.stdout.split() == ["pod/web-b", "pod/web-a"]
    on_lab1 = orc("get", "pods", "--field-selector", "spec.nodeName=lab1", "-o", "name")
    assert on_lab1.stdout.split() == ["pod/web-a"]
    not_lab1 = orc("get", "pods", "--field-selector", "spec.nodeName!=lab1,status.phase=Running", "-o", "name")
    assert not_lab1.stdout.split() == ["pod/web-b"]
    assert orc("get", "pods", "--field-selector", "metadata.name==web-b", "-o", "name").stdout.split() == ["pod/web-b"]
    assert orc("get", "rc", "--field-selector", "metadata.name=web", "-o", "name").stdout.split() == [
        "replicationcontroller/web"]
    bad = orc("get", "svc", "--field-selector", "spec.type=NodePort")
    assert bad.exit_code == 2 and "field label not supported: spec.type" in bad.output
    assert "metadata.name" in bad.output
    as_json = json.loads(orc("get", "pods", "--sort-by", ".status.podIP", "-o", "json").stdout)
    assert [i["metadata"]["name"] for i in as_json["items"]] == ["web-a", "web-b"]


def test_output_format_errors_name_the_formats(project: Path) -> None:
    bad = orc("get", "pods", "-o", "jsn")
    assert bad.exit_code == 2 and "custom-columns=" in bad.output and "jsonpath=" in bad.output
    broken = orc("get", "pods", "-o", "jsonpath={.items")
    assert broken.exit_code == 2 and "unclosed action" in broken.output
    cols = orc("get", "pods", "-o", "custom-columns=NAME")
    assert cols.exit_code == 2 and "<header>:<json-path-expr>" in cols.output


def test_namespace_default_is_accepted_and_others_are_refused(project: Path) -> None:
    assert orc("get", "rc", "-n", "default").exit_code == 0
    assert orc("get", "rc", "--namespace=default", "-o", "name").stdout.strip() == "replicationcontroller/web"
    other = orc("get", "rc", "-n", "kube-system")
    assert other.exit_code == 1 and 'namespaces "kube-system" not found' in str(other.exception)
    assert orc("describe", "rc", "web", "-n", "default").exit_code == 0
    assert orc("scale", "rc/web", "--replicas", "2", "-n", "default").exit_code == 0
    # before the command, as kubectl's global flag
    assert orc("-n", "default", "get", "rc", "-o", "name").stdout.strip() == "replicationcontroller/web"
    before = orc("--namespace", "kube-system", "get", "rc")
    assert before.exit_code == 1 and 'namespaces "kube-system" not found' in str(before.exception)


def test_short_options_with_an_equals_sign_as_kubectl_documents_them(project: Path) -> None:
    cp = subprocess.run([sys.executable, "-m", "orchestrator.cli.main", "-n=default", "get", "rc", "-o=name",
                         "-l=app=web"], capture_output=True, text=True, cwd=project)
    assert (cp.returncode, cp.stdout) == (0, "replicationcontroller/web\n"), cp.stderr
    cp = subprocess.run([sys.executable, "-m", "orchestrator.cli.main", "get", "rc",
                         "-o=jsonpath={.items[*].metadata.name}"], capture_output=True, text=True, cwd=project)
    assert (cp.returncode, cp.stdout) == (0, "web"), cp.stderr


@pytest.mark.parametrize("spelling", [["--dry-run"], ["--dry-run=client"], ["--dry-run=server"]])
def test_dry_run_spellings_store_nothing(project: Path, store: Store, spelling: list[str]) -> None:
    text = Path("manifests").glob("*.yaml")
    files = [str(p) for p in text]
    before = store.list("").revision
    changed = orc("scale", "rc/web", "--replicas", "7")
    assert changed.exit_code == 0
    revision = store.list("").revision
    result = orc("apply", *sum((["-f", f] for f in files), []), *spelling)
    assert result.exit_code == 0, result.output
    assert "(dry run)" in result.stdout or "(server dry run)" in result.stdout
    assert store.list("").revision == revision > before
    bad = orc("apply", "-f", files[0], "--dry-run=maybe")
    assert bad.exit_code == 2


@pytest.mark.parametrize(("spelling", "note"), [(["--dry-run"], "(dry run)"), (["--dry-run=client"], "(dry run)"),
                                                (["--dry-run=server"], "(server dry run)")])
def test_delete_and_scale_dry_runs_change_nothing(project: Path, store: Store, spelling: list[str],
                                                  note: str) -> None:
    revision = store.list("").revision
    gone = orc("delete", "rc", "web", *spelling)
    assert gone.exit_code == 0 and gone.stdout == f'replicationcontroller "web" deleted {note}\n', gone.output
    scaled = orc("scale", "rc/web", "--replicas", "9", *spelling)
    assert scaled.exit_code == 0 and scaled.stdout == f"replicationcontroller/web scaled {note}\n", scaled.output
    assert store.list("").revision == revision and store.get("rc/web").value["spec"]["replicas"] == 2
    precondition = orc("scale", "rc/web", "--replicas", "9", "--current-replicas", "5", *spelling)
    assert precondition.exit_code == 1 and "Expected replicas to be 5, was 2" in str(precondition.exception)
    missing = orc("delete", "rc", "nope", *spelling)
    assert missing.exit_code == 1 and 'replicationcontrollers "nope" not found' in missing.output


def test_a_mistyped_command_or_kind_gets_a_suggestion() -> None:
    result = orc("gte", "pods")
    assert result.exit_code == 2 and 'unknown command "gte"' in result.output and "\tget" in result.output
    kind = orc("get", "pdos")
    assert kind.exit_code == 2 and 'did you mean "pods"' in kind.output


def test_get_imports_no_jsonpath_engine_unless_asked(project: Path) -> None:
    code = ("import sys\nfrom orchestrator.cli.main import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print('JSONPATH' if 'jsonpath' in sys.modules else 'NONE', file=sys.stderr)\n")
    plain = subprocess.run([sys.executable, "-c", code, "get", "rc", "-o", "wide"], capture_output=True, text=True,
                           cwd=project)
    assert plain.stderr.strip().endswith("NONE"), plain.stderr
    asked = subprocess.run([sys.executable, "-c", code, "get", "rc", "-o", "jsonpath={.items[*].metadata.name}"],
                           capture_output=True, text=True, cwd=project)
    assert asked.stdout == "web" and asked.stderr.strip().endswith("JSONPATH")
