"""The local secret source: Kubernetes Secret manifests on the controller, resolved when a pod starts."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from orchestrator.commands.pod import create_pod, env_file
from orchestrator.errors import ConfigError
from orchestrator.model.load import parse_objects
from orchestrator.plan.pass_plan import resolve_secrets
from orchestrator.plan.types import PodRun
from orchestrator.secrets import SecretSource, missing_refs

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app"},
       "spec": {"containers": [{"name": "c", "image": "i", "env": [
           {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
           {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token", "optional": True}}},
           {"name": "PLAIN", "value": "x"}]}]}}


def _source(tmp_path: Path) -> SecretSource:
    (tmp_path / "db.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\n"
        f"data: {{password: {base64.b64encode(b'hunter2').decode()}}}\nstringData: {{user: app}}\n")
    return SecretSource.load(tmp_path)


def test_values_come_from_data_and_string_data_and_print_redacted(tmp_path: Path) -> None:
    src = _source(tmp_path)
    value = src.get("db", "password")
    assert value == "hunter2" and src.get("db", "user") == "app" and src.get("db", "nope") is None
    assert "hunter2" not in repr(value)


def test_apply_names_every_missing_reference_but_never_a_value(tmp_path: Path) -> None:
    (pod,) = parse_objects([POD])
    assert missing_refs([pod], _source(tmp_path)) == []  # the optional one may be missing
    errors = missing_refs([pod], SecretSource.load(tmp_path / "none"))
    assert errors == [
        'Pod "app" is invalid: spec.containers[0].env[0].valueFrom.secretKeyRef: Not found: secret "db" key '
        f'"password" is not in {tmp_path / "none"} (add it there, or mark the reference optional)']


def test_a_broken_secret_file_is_named_without_its_content(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\ndata: {k: 'not base64!'}\n")
    with pytest.raises(ConfigError) as e:
        SecretSource.load(tmp_path)
    assert "bad.yaml" in str(e.value) and "data.k" in str(e.value) and "not base64!" not in str(e.value)


def test_the_value_reaches_the_env_file_on_stdin_never_argv(tmp_path: Path) -> None:
    (pod,) = parse_objects([POD])
    run = PodRun(name="app", uid="u", owner=None, labels={}, spec=pod.spec, spec_hash="h")
    secret_env, missing = resolve_secrets(run, _source(tmp_path))
    assert missing == "" and secret_env == {"c": {"PASSWORD": "hunter2"}}
    run = PodRun(name="app", uid="u", owner=None, labels={}, spec=pod.spec, spec_hash="h", secret_env=secret_env)
    assert env_file(pod.spec.containers[0], {}, secret_env["c"]) == "PASSWORD=hunter2\nPLAIN=x\n"
    script = create_pod(run, "pause", cluster="c1").render()
    assert "hunter2" not in script  # only inside the base64 env file the script writes from its own text
    assert base64.b64encode(b"PASSWORD=hunter2\nPLAIN=x\n").decode() in script
    _, missing = resolve_secrets(run, SecretSource.load(tmp_path / "none"))
    assert missing == f'secret "db" key "password" is not in {tmp_path / "none"}'
