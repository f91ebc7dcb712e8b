"""orchestrator/validated_cache.py: a validation is reused only for the same input under the same code, from a
file only this user can have written; anything else validates afresh, and what it serves equals a fresh
validation (the derived values it carries included)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import pytest

from orchestrator.controllers.desired import _validated
from orchestrator.errors import ValidationError
from orchestrator.model.helpers import canonical, spec_hash
from orchestrator.model.objects import Service, Workload
from orchestrator.validated_cache import ValidatedCache, code_key
from tests.unit.plan_fixtures import rc_doc
from tests.unit.test_noop_imports import svc_docs


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / ".orc").mkdir()
    return tmp_path / ".orc" / "cache"


class Counting:
    def __init__(self, docs: list[dict[str, Any]]):
        self.docs = docs
        self.calls = 0

    def __call__(self) -> list[Any]:
        self.calls += 1
        return _validated(self.docs)


def test_the_same_manifests_are_validated_once_and_served_equal_to_a_fresh_validation(folder: Path) -> None:
    docs = svc_docs(3)
    build = Counting(docs)
    first = ValidatedCache(folder).get("desired", docs, build)
    again = ValidatedCache(folder).get("desired", docs, build)  # a new process: a new cache object
    assert build.calls == 1
    assert again == first == _validated(docs) and again is not first
    w = next(o for o in again if isinstance(o, Workload))
    assert w.template.__dict__.get("_memo_spec_hash")  # carried, so a pass dumps no model to hash it
    assert spec_hash(w.template) == spec_hash(canonical(w.template))
    svc = next(o for o in again if isinstance(o, Service))
    assert svc.__dict__.get("_memo_manifest_json") and svc.manifest_json() == Service.model_validate(
        svc_docs(3)[1]).manifest_json()
    assert oct((folder / "desired.pickle").stat().st_mode & 0o777) == "0o600"
    assert oct(folder.stat().st_mode & 0o777) == "0o700"


def test_a_changed_manifest_is_validated_again(folder: Path) -> None:
    cache = ValidatedCache(folder)
    docs = svc_docs(3)
    cache.get("desired", docs, Counting(docs))
    changed = svc_docs(3)
    changed[0]["spec"]["template"]["spec"]["containers"][0]["image"] = "local/other:2"
    build = Counting(changed)
    objects = cache.get("desired", changed, build)
    assert build.calls == 1
    w = next(o for o in objects if isinstance(o, Workload))
    assert w.template.spec.containers[0].image == "local/other:2"
    assert spec_hash(w.template) != spec_hash(next(o for o in _validated(docs) if isinstance(o, Workload)).template)


def test_an_invalid_manifest_raises_as_without_a_cache_and_caches_nothing(folder: Path) -> None:
    bad = [rc_doc("web", -1)]
    with pytest.raises(ValidationError, match="spec.replicas"):
        ValidatedCache(folder).get("desired", bad, lambda: _validated(bad))
    assert not (folder / "desired.pickle").exists()


def test_other_code_validates_afresh(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "model").mkdir(parents=True)
    (pkg / "model" / "pod.py").write_text("x = 1\n")
    before = code_key(pkg)
    assert code_key(pkg) == before
    (pkg / "model" / "pod.py").write_text("x = 22\n")  # an edited (or upgraded) module
    assert code_key(pkg) != before
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__" / "a.py").write_text("")  # bytecode folders are not code
    after = code_key(pkg)
    (pkg / "__pycache__" / "a.py").write_text("changed")
    assert code_key(pkg) == after


def test_a_cache_written_by_other_code_is_not_used(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = svc_docs(2)
    ValidatedCache(folder).get("desired", docs, Counting(docs))
    monkeypatch.setattr("orchestrator.validated_cache.package_code_key", lambda: "another orc")
    build = Counting(docs)
    ValidatedCache(folder).get("desired", docs, build)
    assert build.calls == 1


@pytest.mark.parametrize("spoil", ["group-writable", "symlink", "garbage", "truncated", "other key"])
def test_a_file_it_cannot_trust_or_read_is_ignored_and_the_input_validated(folder: Path, spoil: str) -> None:
    docs = svc_docs(2)
    ValidatedCache(folder).get("desired", docs, Counting(docs))
    path = folder / "desired.pickle"
    if spoil == "group-writable":
        path.chmod(0o620)
    elif spoil == "symlink":
        real = folder / "elsewhere.pickle"
        path.rename(real)
        path.symlink_to(real)
    elif spoil == "garbage":
        path.write_bytes(b"not a pickle")
    elif spoil == "truncated":
        path.write_bytes(path.read_bytes()[:40])
    else:
        path.write_bytes(pickle.dumps({"key": "x", "value": ["planted"]}))
    build = Counting(docs)
    assert ValidatedCache(folder).get("desired", docs, build) == _validated(docs)
    assert build.calls == 1


def test_without_a_project_state_folder_nothing_is_written(tmp_path: Path) -> None:
    folder = tmp_path / "no-project" / ".orc" / "cache"
    docs = svc_docs(2)
    build = Counting(docs)
    ValidatedCache(folder).get("desired", docs, build)
    ValidatedCache(folder).get("desired", docs, build)
    assert build.calls == 2 and not folder.parent.exists()
    assert ValidatedCache(None).get("desired", docs, build) == _validated(docs)


def test_a_copy_with_a_change_never_keeps_the_hash_of_what_it_was_copied_from() -> None:
    w = next(o for o in _validated(svc_docs(2)) if isinstance(o, Workload))
    old = spec_hash(w.template)
    spec = w.template.spec
    changed = w.template.model_copy(update={"spec": spec.model_copy(update={"node_name": "other"})})
    assert spec_hash(changed) == spec_hash(canonical(changed)) != old
    assert spec_hash(w.template) == old
    bigger = w.model_copy(update={"spec": w.spec.model_copy(update={"replicas": 9})})
    assert bigger.manifest_json() != w.manifest_json() and '"replicas": 9' in bigger.manifest_json()


def test_settings_come_from_the_cache_and_a_changed_orc_yaml_is_read_afresh(tmp_path: Path) -> None:
    from orchestrator.config import load_project

    (tmp_path / ".orc").mkdir()
    (tmp_path / "orc.yaml").write_text("cluster: one\ngrace_period: 12\n")
    assert load_project(str(tmp_path / "orc.yaml")).settings.grace_period == 12
    assert (tmp_path / ".orc" / "cache" / "settings.pickle").exists()
    assert load_project(str(tmp_path / "orc.yaml")).settings.grace_period == 12
    (tmp_path / "orc.yaml").write_text("cluster: one\ngrace_period: 13\n")
    assert load_project(str(tmp_path / "orc.yaml")).settings.grace_period == 13
    (tmp_path / "orc.yaml").write_text("cluster: one\ngrace_period: soon\n")
    with pytest.raises(Exception, match="grace_period"):
        load_project(str(tmp_path / "orc.yaml"))
    assert os.stat(tmp_path / ".orc" / "cache" / "settings.pickle").st_mode & 0o077 == 0
