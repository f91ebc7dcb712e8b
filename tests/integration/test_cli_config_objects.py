"""`orc apply/get/describe/delete` of ConfigMaps and Secrets through the real CLI in a temporary project:
kubectl's tables, a Secret's values only in its 0600 values file and in `-o yaml|json` (base64), nowhere
else (not the store, not describe, not an error), immutable objects, a clash with the secrets/ folder."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
import yaml

from tests.unit.cli_support import init_project, orc

pytestmark = pytest.mark.timeout(60)

VALUE = "s3cr3t\r\nline two\x01"  # bytes a line-based route would alter
LOGO = base64.b64encode(b"\x89PNG").decode()
ADMIN = base64.b64encode(b"admin").decode()
OBJECTS = f"""\
apiVersion: v1
kind: ConfigMap
metadata: {{name: app, labels: {{tier: fe}}}}
data: {{mode: fast, app.conf: "a=1\\nb=2\\n"}}
binaryData: {{logo: {LOGO}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: db}}
type: kubernetes.io/basic-auth
stringData: {{password: {json.dumps(VALUE)}}}
data: {{username: {ADMIN}}}
"""


def squash(text: str) -> str:
    return "\n".join(" ".join(line.split()) for line in text.splitlines())


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    init_project(tmp_path, monkeypatch)
    (tmp_path / "objects.yaml").write_text(OBJECTS)
    r = orc("apply", "-f", "objects.yaml")
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == ["configmap/app created", "secret/db created"]
    return tmp_path


def test_apply_keeps_a_secrets_values_only_in_a_file_of_mode_0600(project: Path) -> None:
    values = project / ".orc" / "secret-values.json"
    assert stat.S_IMODE(values.stat().st_mode) == 0o600
    assert base64.b64encode(VALUE.encode()).decode() in values.read_text()
    for f in (project / ".orc").iterdir():  # the store's own files hold no value, not even encoded
        if f != values and f.is_file():
            raw = f.read_bytes()
            assert b"s3cr3t" not in raw and base64.b64encode(VALUE.encode()) not in raw, f
    assert orc("apply", "-f", "objects.yaml").output.splitlines() == ["configmap/app unchanged", "secret/db unchanged"]


def test_get_tables_are_kubectls(project: Path) -> None:
    r = orc("get", "cm")
    assert r.exit_code == 0, r.output
    assert squash(r.output).splitlines()[0] == "NAME DATA AGE"
    assert squash(r.output).splitlines()[1].startswith("app 3 ")
    for word in ("secret", "secrets"):
        out = squash(orc("get", word).output).splitlines()
        assert out[0] == "NAME TYPE DATA AGE" and out[1].startswith("db kubernetes.io/basic-auth 2 ")
    assert orc("get", "configmaps", "app", "-o", "name").output.strip() == "configmap/app"


def test_get_o_yaml_and_json_show_secret_data_base64_and_describe_only_sizes(project: Path) -> None:
    doc = yaml.safe_load(orc("get", "secret", "db", "-o", "yaml").output)
    assert base64.b64decode(doc["data"]["password"]).decode() == VALUE
    assert base64.b64decode(doc["data"]["username"]) == b"admin"
    assert doc["type"] == "kubernetes.io/basic-auth" and "stringData" not in doc and "orcValues" not in doc
    js = json.loads(orc("get", "secret", "db", "-o", "json").output)
    assert js["data"] == doc["data"]
    cm = yaml.safe_load(orc("get", "cm", "app", "-o", "yaml").output)
    assert cm["data"] == {"mode": "fast", "app.conf": "a=1\nb=2\n"} and cm["metadata"]["labels"] == {"tier": "fe"}
    text = orc("describe", "secret", "db").output
    assert "password:  17 bytes" in text and "username:  5 bytes" in text
    assert "s3cr3t" not in text and doc["data"]["password"] not in text
    cm_text = orc("describe", "configmap", "app").output
    assert "mode:\n----\nfast" in cm_text and "logo: 4 bytes" in cm_text
    for args in (("get", "secrets"), ("get", "all"), ("get", "secret", "db", "-o", "wide")):
        assert "s3cr3t" not in orc(*args).output


def test_immutable_objects_keep_their_data_and_a_change_is_configured(project: Path) -> None:
    changed = OBJECTS.replace("mode: fast", "mode: slow")
    (project / "objects.yaml").write_text(changed)
    assert orc("apply", "-f", "objects.yaml").output.splitlines() == ["configmap/app configured", "secret/db unchanged"]
    frozen = changed.replace("metadata: {name: db}", "metadata: {name: db}\nimmutable: true")
    (project / "objects.yaml").write_text(frozen)
    assert orc("apply", "-f", "objects.yaml").exit_code == 0
    (project / "objects.yaml").write_text(frozen.replace("admin", "root").replace(
        base64.b64encode(b"admin").decode(), base64.b64encode(b"root").decode()))
    r = orc("apply", "-f", "objects.yaml")
    assert r.exit_code == 1
    assert 'Secret "db" is invalid: data: Forbidden: field is immutable when `immutable` is set' in r.output
    assert "root" not in r.output and "s3cr3t" not in r.output


def test_every_error_at_once_never_a_value_and_a_clash_with_the_folder_is_refused(project: Path) -> None:
    bad = ("apiVersion: v1\nkind: Secret\nmetadata: {name: bad}\ndata: {'k y': 'not base64 hunter2'}\n---\n"
           "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\ndata: {a: '1'}\n")
    (project / "bad.yaml").write_text(bad)
    r = orc("apply", "-f", "bad.yaml")
    assert r.exit_code == 1 and "hunter2" not in r.output
    assert 'Secret "bad" is invalid: data[k y]: Invalid value: "k y"' in r.output
    assert "data[k y]: Invalid value: \"<redacted>\": must be base64-encoded" in r.output
    assert 'ConfigMap "Bad_Name" is invalid: metadata.name' in r.output
    (project / "secrets").mkdir()
    (project / "secrets" / "db.yaml").write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: db}\n"
                                                 "stringData: {password: x}\n")
    r = orc("apply", "-f", "objects.yaml")
    assert r.exit_code == 1 and 'Secret "db" is invalid: metadata.name: Duplicate value: "db"' in r.output


def test_delete_removes_the_object_and_a_secrets_values(project: Path) -> None:
    r = orc("delete", "secret/db", "cm/app")
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == ['secret "db" deleted', 'configmap "app" deleted']
    assert "s3cr3t" not in (project / ".orc" / "secret-values.json").read_text()
    assert json.loads((project / ".orc" / "secret-values.json").read_text()) == {}
    assert "No resources found" in orc("get", "secrets").output
    r = orc("get", "cm", "app")
    assert r.exit_code == 1 and 'configmaps "app" not found' in r.output


def test_an_apply_that_fails_in_the_store_keeps_the_old_values(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.cli import applier
    from orchestrator.errors import ConflictError

    def lost(*a: object, **k: object) -> None:
        raise ConflictError("lost the race")

    monkeypatch.setattr(applier, "commit_apply", lost)
    (project / "objects.yaml").write_text(OBJECTS.replace(json.dumps(VALUE), '"changed"'))
    assert orc("apply", "-f", "objects.yaml").exit_code != 0
    doc = yaml.safe_load(orc("get", "secret", "db", "-o", "yaml").output)
    assert base64.b64decode(doc["data"]["password"]).decode() == VALUE


def test_describe_pod_names_where_env_comes_from_never_a_value(project: Path) -> None:
    (project / "pod.yaml").write_text("""\
apiVersion: v1
kind: Pod
metadata: {name: user}
spec:
  containers:
  - name: app
    image: local/busybox:1
    envFrom: [{configMapRef: {name: app}, prefix: CFG_}, {secretRef: {name: db, optional: true}}]
    env:
    - {name: MODE, valueFrom: {configMapKeyRef: {name: app, key: mode}}}
    - {name: PW, valueFrom: {secretKeyRef: {name: db, key: password}}}
    volumeMounts: [{name: conf, mountPath: /etc/app}]
  volumes: [{name: conf, configMap: {name: app}}]
""")
    r = orc("apply", "-f", "pod.yaml")
    assert r.exit_code == 0, r.output
    text = orc("describe", "pod", "user").output
    assert "app ConfigMap with prefix 'CFG_' Optional: false" in squash(text)
    assert "db Secret Optional: true" in squash(text)
    assert "MODE: <set to the key 'mode' of config map 'app'>" in squash(text)
    assert "PW: <set to the key 'password' in secret 'db'>" in squash(text)
    assert "ConfigMap (a volume populated by a ConfigMap: app)" in text
    assert "s3cr3t" not in text
