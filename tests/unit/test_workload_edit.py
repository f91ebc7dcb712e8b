"""The edits behind `orc set image` and `orc rollout undo|pause|resume|restart`, and autoRollback
(controllers/workload_edit.py), on a real SQLite store: what each writes, kubectl's words for it, what is
refused, and that a stale read is a conflict, never an overwrite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.controllers import workload_edit as we
from orchestrator.controllers.revisions import revisions_key
from orchestrator.errors import ConflictError, ValidationError
from orchestrator.store import Put
from orchestrator.store.sqlite import SQLiteStore
from tests.unit.test_revisions import deploy

NOW = 1_800_000_000.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "state.db")
    yield s
    s.close()


def put(store: SQLiteStore, value: dict[str, Any], key: str = "deploy/web") -> None:
    rec = store.get(key)
    store.put(key, value, expect_revision=rec.revision if rec else 0)


def edit(store: SQLiteStore, fn: Any, *args: Any, key: str = "deploy/web") -> we.Outcome:
    t = we.read(store, key, NOW)
    assert t is not None
    out = fn(t, *args, NOW) if args else fn(t, NOW)
    we.commit(store, out)
    return out


def image(store: SQLiteStore, key: str = "deploy/web", i: int = 0) -> str:
    return store.get(key).value["spec"]["template"]["spec"]["containers"][i]["image"]  # type: ignore[union-attr]


def revisions(store: SQLiteStore) -> list[int]:
    t = we.read(store, "deploy/web", NOW)
    assert t is not None
    return [r.number for r in t.revisions.items]


def test_set_image_changes_the_named_containers_and_is_a_new_revision(store: SQLiteStore) -> None:
    d = deploy("a:1")
    d["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "s:1"})
    put(store, d)
    out = edit(store, we.set_image, {"web": "a:2"})
    assert out.verb == "image updated"
    assert (image(store), image(store, i=1)) == ("a:2", "s:1")
    assert revisions(store) == [1, 2]
    edit(store, we.set_image, {"*": "all:9"})
    spec = store.get("deploy/web").value["spec"]["template"]["spec"]  # type: ignore[union-attr]
    assert [c["image"] for c in spec["containers"]] == ["all:9", "all:9"]
    assert store.get(revisions_key("deploy/web")) is not None  # stored in the same transaction


def test_set_image_to_the_same_image_writes_nothing_and_says_nothing(store: SQLiteStore) -> None:
    put(store, deploy("a:1"))
    before = store.revision()
    t = we.read(store, "deploy/web", NOW)
    assert t is not None
    out = we.set_image(t, {"web": "a:1"}, NOW)
    assert (out.value, out.verb) == (None, "")
    # the revisions of a history never folded before are stored, the object is not touched
    assert we.commit(store, out) and store.get("deploy/web").revision == before  # type: ignore[union-attr]


def test_set_image_refuses_an_unknown_container_and_an_invalid_image_touching_nothing(store: SQLiteStore) -> None:
    put(store, deploy("a:1"))
    rev = store.revision()
    t = we.read(store, "deploy/web", NOW)
    assert t is not None
    with pytest.raises(we.RolloutError, match='unable to find container named "nope"'):
        we.set_image(t, {"nope": "a:2"}, NOW)
    with pytest.raises(ValidationError) as e:
        we.set_image(t, {"web": "a b"}, NOW)
    assert e.value.errors == ['Deployment "web" is invalid: spec.template.spec.containers[0].image: '
                              'Invalid value: "a b": must not contain whitespace']
    assert store.revision() == rev


def test_a_stale_read_is_a_conflict_and_nothing_is_written(store: SQLiteStore) -> None:
    put(store, deploy("a:1"))
    t = we.read(store, "deploy/web", NOW)
    assert t is not None
    put(store, deploy("a:1", 5))  # another writer (a scale) after the read
    with pytest.raises(ConflictError):
        we.commit(store, we.set_image(t, {"web": "a:2"}, NOW))
    assert image(store) == "a:1" and store.get("deploy/web").value["spec"]["replicas"] == 5  # type: ignore[union-attr]
    assert store.get(revisions_key("deploy/web")) is None


def test_a_stale_revisions_record_is_a_conflict_too(store: SQLiteStore) -> None:
    put(store, deploy("a:1"))
    edit(store, we.set_image, {"web": "a:2"})
    t = we.read(store, "deploy/web", NOW)
    assert t is not None
    rr = store.get(revisions_key("deploy/web"))
    assert rr is not None
    store.txn([Put(rr.key, {"items": [], "seen": 0}, expect_revision=rr.revision)])  # another writer's
    with pytest.raises(ConflictError):
        we.commit(store, we.set_image(t, {"web": "a:3"}, NOW))
    assert image(store) == "a:2"


def test_pause_resume_and_their_refusals(store: SQLiteStore) -> None:
    put(store, deploy("a:1"))
    assert edit(store, we.pause).verb == "paused"
    assert store.get("deploy/web").value["spec"]["paused"] is True  # type: ignore[union-attr]
    t = we.read(store, "deploy/web", NOW)
    with pytest.raises(we.RolloutError, match=r'^deployments.apps "web" is already paused$'):
        we.pause(t, NOW)  # type: ignore[arg-type]
    with pytest.raises(we.RolloutError, match="can't restart paused deployment"):
        we.restart(t, NOW)  # type: ignore[arg-type]
    with pytest.raises(we.RolloutError, match="cannot rollback a paused deployment"):
        we.undo(t, 0, NOW)  # type: ignore[arg-type]
    assert edit(store, we.resume).verb == "resumed"
    assert store.get("deploy/web").value == deploy("a:1")  # type: ignore[union-attr]  # a re-apply: unchanged
    with pytest.raises(we.RolloutError, match=r'^deployments.apps "web" is not paused$'):
        we.resume(we.read(store, "deploy/web", NOW), NOW)  # type: ignore[arg-type]


def test_pause_is_for_deployments_only(store: SQLiteStore) -> None:
    from tests.unit.plan_fixtures import rc_doc

    put(store, rc_doc("web", 2), key="rc/web")
    with pytest.raises(we.RolloutError, match="deployments only"):
        we.pause(we.read(store, "rc/web", NOW), NOW)  # type: ignore[arg-type]
    assert edit(store, we.set_image, {"app": "x:2"}, key="rc/web").verb == "image updated"


def test_restart_sets_kubectls_restarted_at_annotation_a_new_revision(store: SQLiteStore) -> None:
    put(store, deploy("a:1"))
    assert edit(store, we.restart).verb == "restarted"
    meta = store.get("deploy/web").value["spec"]["template"]["metadata"]  # type: ignore[union-attr]
    assert meta["annotations"] == {"kubectl.kubernetes.io/restartedAt": "2027-01-15T08:00:00Z"}
    assert revisions(store) == [1, 2]


def test_undo_goes_back_to_the_previous_or_the_named_revision(store: SQLiteStore) -> None:
    put(store, deploy("a:1"))
    for tag in ("a:2", "a:3"):
        edit(store, we.set_image, {"web": tag})
    assert edit(store, we.undo, 0).verb == "rolled back"
    assert image(store) == "a:2" and revisions(store) == [1, 3, 4]  # revision 2 became 4
    assert edit(store, we.undo, 1).verb == "rolled back"
    assert image(store) == "a:1" and revisions(store) == [3, 4, 5]
    out = edit(store, we.undo, 5)
    assert (out.value, out.verb) == (None, "skipped rollback (current template already matches revision 5)")
    with pytest.raises(we.RolloutError, match="unable to find specified revision 1 in history"):
        we.undo(we.read(store, "deploy/web", NOW), 1, NOW)  # type: ignore[arg-type]


def test_undo_without_an_earlier_revision_is_refused(store: SQLiteStore) -> None:
    put(store, deploy("a:1"))
    with pytest.raises(we.RolloutError, match='no rollout history found for deployment "web"'):
        we.undo(we.read(store, "deploy/web", NOW), 0, NOW)  # type: ignore[arg-type]


def exceeded(value: dict[str, Any]) -> dict[str, Any]:
    from orchestrator.controllers.revisions import template_hash, template_of

    return {"mark": [template_hash(template_of(value)), 1, 3],
            "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]}


@pytest.mark.parametrize(("annotation", "default", "rolls"), [
    (None, False, False), (None, True, True), ("true", False, True), ("false", True, False)])
def test_auto_rollback_follows_the_annotation_else_the_config(store: SQLiteStore, annotation: str | None,
                                                             default: bool, rolls: bool) -> None:
    first = deploy("a:1")
    if annotation:
        first["metadata"]["annotations"] = {"orc.io/auto-rollback": annotation}
    put(store, first)
    edit(store, we.set_image, {"web": "bad:1"})
    t = we.read(store, "deploy/web", NOW)
    assert t is not None
    done = we.auto_rollback(t, exceeded(t.value), default, NOW)
    assert (done is not None) == rolls
    if done:
        assert done.message == ('Rolled back deployment "web" to revision 1: revision 2 passed its progress '
                                "deadline (autoRollback)")
        we.commit(store, done.outcome)
        assert image(store) == "a:1"
        again = we.read(store, "deploy/web", NOW)
        assert [(r.number, r.failed) for r in again.revisions.items] == [(2, True), (3, False)]  # type: ignore[union-attr]


def test_auto_rollback_needs_the_deadline_passed_by_the_current_template_and_skips_failed_ones(
        store: SQLiteStore) -> None:
    first = deploy("a:1")
    first["metadata"]["annotations"] = {"orc.io/auto-rollback": "true"}
    put(store, first)
    edit(store, we.set_image, {"web": "bad:1"})
    t = we.read(store, "deploy/web", NOW)
    assert t is not None
    assert we.auto_rollback(t, {"conditions": [{"type": "Progressing", "reason": "ReplicaSetUpdated"}],
                                "mark": exceeded(t.value)["mark"]}, False, NOW) is None
    assert we.auto_rollback(t, exceeded(first), False, NOW) is None  # a status about another template
    we.commit(store, we.auto_rollback(t, exceeded(t.value), False, NOW).outcome)  # type: ignore[union-attr]
    edit(store, we.set_image, {"web": "bad:2"})  # a second bad image: back to a:1, never to bad:1
    t = we.read(store, "deploy/web", NOW)
    done = we.auto_rollback(t, exceeded(t.value), False, NOW)  # type: ignore[arg-type]
    assert done is not None and done.to.template["spec"]["containers"][0]["image"] == "a:1"


def test_edit_computes_the_change_again_on_what_another_writer_left_never_overwriting_it(
        store: SQLiteStore) -> None:
    put(store, deploy("a:1"))
    calls = []

    def change(t: we.Target, now: float) -> we.Outcome:
        calls.append(t.record.revision)
        if len(calls) == 1:
            put(store, deploy("a:1", 7))  # a scale lands between this read and its write
        return we.set_image(t, {"web": "a:2"}, now)

    out = we.edit(store, "deploy/web", change, NOW)
    assert out is not None and out.verb == "image updated" and len(calls) == 2
    value = store.get("deploy/web").value  # type: ignore[union-attr]
    assert (value["spec"]["replicas"], image(store)) == (7, "a:2")
    assert we.edit(store, "deploy/nope", change, NOW) is None


def test_edit_gives_up_after_its_attempts_with_the_conflict(store: SQLiteStore) -> None:
    put(store, deploy("a:1"))

    def always_raced(t: we.Target, now: float) -> we.Outcome:
        put(store, deploy("a:1", t.value["spec"]["replicas"] + 1))
        return we.set_image(t, {"web": "a:2"}, now)

    with pytest.raises(ConflictError):
        we.edit(store, "deploy/web", always_raced, NOW, attempts=2)
    assert image(store) == "a:1"
