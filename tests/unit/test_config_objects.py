"""ConfigMaps and Secrets: validated as the API server does (every error at once, field paths named, never a
Secret's value), resolved for new pods (envFrom, key refs, volumes) or CreateContainerConfigError with the
kubelet's message, and running pods' volumes updated in place when their object changes."""

from __future__ import annotations

import base64
import dataclasses
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from orchestrator.commands.config_volume import update_volume
from orchestrator.commands.pod import create_pod, env_exports, env_file, pod_env
from orchestrator.controllers.book import Book
from orchestrator.errors import ValidationError
from orchestrator.model.load import parse_objects
from orchestrator.observe.snapshot import ClusterSnapshot
from orchestrator.plan.config_refs import ConfigSource, ConfigVolume, content_version, resolve, volume_files
from orchestrator.plan.pass_plan import PassInputs, plan_pass
from orchestrator.plan.types import CreatePod, UpdateConfigVolume
from orchestrator.secrets import SecretSource
from tests.unit.plan_fixtures import T0, desired, running_pod
from tests.unit.test_pass_plan import CONFIG, HOSTS, facts

SECRET_VALUE = "hunter2-very-secret"


def cm(name: str = "app", **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data or {"mode": "fast"}}


def pod(name: str = "p", **spec: Any) -> dict[str, Any]:
    c = {"name": "c", "image": "local/app:1", **spec.pop("container", {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [c], **spec}}


def errors_of(*docs: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as e:
        parse_objects(list(docs))
    return e.value.errors


def test_a_config_map_is_checked_as_the_api_server_does_with_every_error_at_once() -> None:
    bad = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"},
           "data": {"bad key": "1", "ok": "2"}, "binaryData": {"ok": "AAA=", "b": "%%%"}}
    errors = errors_of(bad)
    assert any("data[bad key]: Invalid value: \"bad key\": a valid config key must consist" in e for e in errors)
    assert any("binaryData[ok]: Duplicate value" in e for e in errors)
    assert any("binaryData[b]: Invalid value" in e and "base64" in e for e in errors)
    assert all(e.startswith('ConfigMap "x" is invalid: ') for e in errors)
    big = cm(big="x" * (1024 * 1024 + 1))
    assert any("may not have more than 1048576 bytes" in e for e in errors_of(big))


def test_a_secret_is_checked_without_ever_showing_a_value() -> None:
    bad = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "type": "kubernetes.io/tls",
           "data": {"tls.crt": "not base64 " + SECRET_VALUE}, "stringData": {"tls.crt": SECRET_VALUE, "n": 5}}
    errors = errors_of(bad)
    text = "\n".join(errors)
    assert SECRET_VALUE not in text and "not base64" not in text
    assert "data[tls.crt]: Invalid value" in text and "base64" in text
    assert "stringData[tls.crt]: Duplicate value" in text
    assert "stringData[n]: Invalid value" in text
    assert "data[tls.key]: Required value" in text
    wrong_type = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "type": "x/y"}
    assert any('type: Unsupported value: "x/y"' in e for e in errors_of(wrong_type))


def test_a_secret_is_stored_without_its_values() -> None:
    (s,) = parse_objects([{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                           "data": {"a": base64.b64encode(b"\x00\xffbin").decode()}, "stringData": {"b": "x\ny"}}])
    assert s.values() == {"a": b"\x00\xffbin", "b": b"x\ny"}  # type: ignore[union-attr]
    manifest = s.to_manifest()
    assert "data" not in manifest and "stringData" not in manifest and manifest["type"] == "Opaque"


def test_pod_references_are_validated_with_their_paths() -> None:
    p = pod(container={"envFrom": [{"configMapRef": {"name": "a"}, "secretRef": {"name": "b"}}, {"prefix": "1X"}],
                       "env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "a"}}}]},
            volumes=[{"name": "v", "configMap": {"name": "a", "defaultMode": 4096,
                                                 "items": [{"key": "k", "path": "../x"}, {"key": "k", "path": "a"},
                                                           {"key": "j", "path": "a"}]}}])
    text = "\n".join(errors_of(p))
    assert "spec.containers[0].envFrom[0]: Invalid value" in text
    assert "spec.containers[0].envFrom[1]: Required value: must specify one of: `configMapRef` or `secretRef`" in text
    assert "spec.containers[0].envFrom[1].prefix: Invalid value" in text
    assert "spec.containers[0].env[0].valueFrom.configMapKeyRef.key: Required value" in text
    assert "spec.volumes[0].configMap.defaultMode: Invalid value: 4096" in text
    assert "spec.volumes[0].configMap.items[0].path: Invalid value" in text
    assert "spec.volumes[0].configMap.items[2].path: Duplicate value" in text
    assert "valueFrom.secretKeyRef" not in text  # an error about one field never drags in another


USER = pod(container={
    "envFrom": [{"configMapRef": {"name": "app"}, "prefix": "CFG_"}, {"secretRef": {"name": "db"}}],
    "env": [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "app", "key": "mode"}}},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}},
            {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k", "optional": True}}}],
    "volumeMounts": [{"name": "conf", "mountPath": "/etc/app"},
                     {"name": "conf", "mountPath": "/etc/one.conf", "subPath": "mode"},
                     {"name": "sec", "mountPath": "/run/sec"}]},
    volumes=[{"name": "conf", "configMap": {"name": "app"}},
             {"name": "sec", "secret": {"secretName": "db", "defaultMode": 0o400,
                                        "items": [{"key": "pw", "path": "deep/pw.txt"}]}}])

SOURCE = ConfigSource({"app": {"mode": b"fast", "multi": b"a\nb\n"}}, {"db": {"pw": SECRET_VALUE.encode()}},
                      {"cm/app": "v1", "secret/db": "id1"})


def test_a_pod_gets_env_from_and_key_refs_and_its_volume_files() -> None:
    (p,) = parse_objects([USER])
    r = resolve(p.spec, SOURCE)  # type: ignore[union-attr]
    assert r.error == ""
    assert r.env_from == {"c": {"CFG_mode": "fast", "CFG_multi": "a\nb\n", "pw": SECRET_VALUE}}
    assert r.key_env == {"c": {"MODE": "fast", "PW": SECRET_VALUE}}
    conf, sec = r.volumes
    assert [(f.path, f.data, f.mode) for f in conf.files] == [("mode", b"fast", 0o644), ("multi", b"a\nb\n", 0o644)]
    assert conf.sub_paths == ("mode",)
    assert [(f.path, f.mode) for f in sec.files] == [("deep/pw.txt", 0o400)]


@pytest.mark.parametrize(("source", "message"), [
    (ConfigSource({}, {"db": {"pw": b"x"}}), 'configmap "app" not found'),
    (ConfigSource({"app": {"x": b"1"}}, {"db": {"pw": b"x"}}), "couldn't find key mode in ConfigMap default/app"),
    (ConfigSource({"app": {"mode": b"1"}}, {}), 'secret "db" not found'),
])
def test_a_missing_object_or_key_is_the_kubelets_message(source: ConfigSource, message: str) -> None:
    (p,) = parse_objects([USER])
    assert resolve(p.spec, source).error == message  # type: ignore[union-attr]


def _inputs(d: Any, book: Book | None = None, configs: ConfigSource = SOURCE, containers: list = ()) -> PassInputs:  # type: ignore[assignment]
    snap = ClusterSnapshot.build([facts("h1", containers), facts("h2")], T0, cluster="c1")
    return PassInputs(d, snap, book or Book(), HOSTS, (), SecretSource({}), "local/busybox:1", configs)


def test_a_pod_missing_its_config_map_waits_with_create_container_config_error_then_starts() -> None:
    d = desired(USER)
    p = plan_pass(_inputs(d, configs=ConfigSource({}, {"db": {"pw": b"x"}})), CONFIG, T0, seed=1)
    assert not [a for a in p.actions if isinstance(a, CreatePod)]
    assert p.pending == {"pod/p": 'CreateContainerConfigError: configmap "app" not found'}
    assert p.book["config_errors"] == {"p": 'configmap "app" not found'}
    p = plan_pass(_inputs(d), CONFIG, T0, seed=1)
    (create,) = [a for a in p.actions if isinstance(a, CreatePod)]
    assert create.pod.config_dir == f"/var/lib/orc/c1/pods/{create.pod.uid}"
    assert p.book["config_errors"] == {}
    assert p.book["config_volumes"][create.pod.uid]["volumes"]["conf"]["subPaths"] == ["mode"]


def test_the_create_script_carries_values_only_base64_never_in_argv_and_mounts_read_only() -> None:
    d = desired(USER)
    p = plan_pass(_inputs(d), CONFIG, T0, seed=1)
    (create,) = [a for a in p.actions if isinstance(a, CreatePod)]
    c = create.pod.spec.containers[0]
    assert env_file(c, pod_env(create.pod, c), create.pod.secret_env["c"]).startswith("CFG_mode=fast\n")
    assert env_exports(c, pod_env(create.pod, c), create.pod.secret_env["c"]) == {"CFG_multi": "a\nb\n"}
    cmd = create_pod(create.pod, "local/busybox:1", cluster="c1")
    script = cmd.render()
    assert SECRET_VALUE not in script and base64.b64encode(SECRET_VALUE.encode()).decode() in script
    root = create.pod.config_dir
    assert f"--volume={root}/conf:/etc/app:ro" in script and f"--volume={root}/conf/mode:/etc/one.conf:ro" in script
    assert f"--volume={root}/sec:/run/sec:ro" in script


def _run_lines(script: str, tmp: Path) -> None:
    subprocess.run(["sh", "-c", script], check=True, cwd=tmp, env={**os.environ, "PATH": "/usr/bin:/bin"},
                   capture_output=True)


def test_volume_files_are_laid_out_as_the_kubelet_does_and_an_update_swaps_them(tmp_path: Path) -> None:
    from orchestrator.commands.config_volume import volume_lines

    (p,) = parse_objects([USER])
    conf, sec = resolve(p.spec, SOURCE).volumes  # type: ignore[union-attr]
    d = tmp_path / "conf"
    _run_lines("orc_fail() { echo \"$1\" >&2; exit 1; }\n" + "\n".join(volume_lines(str(d), conf, "orc_fail")),
               tmp_path)
    assert os.readlink(d / "mode") == "..data/mode" and os.readlink(d / "..data").startswith("..20")
    assert (d / "mode").read_bytes() == b"fast" and (d / "multi").read_bytes() == b"a\nb\n"
    first = os.readlink(d / "..data")
    new = ConfigSource({"app": {"mode": b"slow\r\n\x00"}}, SOURCE.secrets, {"cm/app": "v2"})
    files, version = volume_files(p.spec.volumes[0], new)  # type: ignore[union-attr,misc]
    conf2 = ConfigVolume("conf", files, version)
    assert conf2.version != conf.version
    _run_lines(update_volume("p", str(d), conf2).render(), tmp_path)
    assert (d / "mode").read_bytes() == b"slow\r\n\x00"  # byte-exact
    assert not (d / "multi").exists() and not (d / first).exists() and os.readlink(d / "..data") != first
    s = tmp_path / "sec"
    _run_lines("orc_fail() { exit 1; }\n" + "\n".join(volume_lines(str(s), sec, "orc_fail")), tmp_path)
    assert (s / "deep" / "pw.txt").read_bytes() == SECRET_VALUE.encode()
    assert oct((s / "deep" / "pw.txt").stat().st_mode & 0o777) == "0o400"


def test_a_running_pods_volume_is_updated_in_place_when_its_config_map_changes() -> None:
    d = desired(USER)
    first = plan_pass(_inputs(d), CONFIG, T0, seed=1)
    (create,) = [a for a in first.actions if isinstance(a, CreatePod)]
    book = Book(config_volumes=first.book["config_volumes"])
    run, containers = running_pod(d, "pod/p", "h1", uid=create.pod.uid)
    same = plan_pass(_inputs(d, book, containers=containers), CONFIG, T0 + 10, seed=1)
    assert not [a for a in same.actions if isinstance(a, UpdateConfigVolume)]
    changed = dataclasses.replace(SOURCE, config_maps={"app": {"mode": b"slow"}},
                                  versions={**SOURCE.versions, "cm/app": content_version({"mode": b"slow"})})
    p = plan_pass(_inputs(d, book, changed, containers), CONFIG, T0 + 10, seed=1)
    (update,) = [a for a in p.actions if isinstance(a, UpdateConfigVolume)]
    assert (update.host, update.pod, update.volume.name) == ("h1", "p", "conf")
    assert update.directory == f"/var/lib/orc/c1/pods/{create.pod.uid}/conf"
    assert not [a for a in p.actions if isinstance(a, CreatePod)]  # no restart, no new pod
    assert p.book["config_volumes"][create.pod.uid]["volumes"]["conf"]["version"] == update.volume.version


def test_the_update_says_what_changed_and_a_failed_one_is_tried_again() -> None:
    from orchestrator.act.executor import ActionResult
    from orchestrator.controllers.book import config_volumes_after

    d = desired(USER)
    first = plan_pass(_inputs(d), CONFIG, T0, seed=1)
    (create,) = [a for a in first.actions if isinstance(a, CreatePod)]
    book = Book(config_volumes=first.book["config_volumes"])
    _, containers = running_pod(d, "pod/p", "h1", uid=create.pod.uid)
    changed = dataclasses.replace(SOURCE, versions={**SOURCE.versions, "secret/db": "id2"})
    p = plan_pass(_inputs(d, book, changed, containers), CONFIG, T0 + 10, seed=1)
    (update,) = [a for a in p.actions if isinstance(a, UpdateConfigVolume)]
    assert update.volume.name == "sec" and update.reason.startswith("secret/db changed")
    assert SECRET_VALUE not in repr(update) and SECRET_VALUE not in repr(p.book)
    after = config_volumes_after(book.config_volumes, p.book["config_volumes"],
                                 [ActionResult(update, "h1", False, "update", "boom")])
    assert after == book.config_volumes  # the old version: the next pass plans the update again


def test_a_secret_value_with_a_nul_or_a_lone_surrogate_is_never_shown_in_an_error() -> None:
    doc = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
           "stringData": {"a": SECRET_VALUE + "\x00", "b": SECRET_VALUE + "\ud800"}}
    errors = errors_of(doc)
    assert errors == ['Secret "s" is invalid: stringData[b]: Invalid value: "<redacted>": is not valid Unicode']
    (s,) = parse_objects([{**doc, "stringData": {"a": SECRET_VALUE + "\x00"}}])  # a NUL is fine in a file
    assert s.values()["a"].endswith(b"\x00")  # type: ignore[union-attr]


def test_a_config_map_value_must_be_unicode_and_may_hold_a_nul() -> None:
    errors = errors_of(cm(a="x\ud800"))
    assert errors == ['ConfigMap "app" is invalid: data[a]: Invalid value: is not valid Unicode: a lone surrogate at '
                      "offset 1 cannot be encoded as UTF-8 (use binaryData for bytes)"]
    (c,) = parse_objects([cm(a="x\x00y")])
    assert c.values() == {"a": b"x\x00y"}  # type: ignore[union-attr]
