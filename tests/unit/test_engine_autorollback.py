"""autoRollback and revision numbering in real Engine passes over simulated docker hosts (tests/harness): a
rollout whose new pods never become ready passes its progress deadline, the pass puts the previous template
back (compare-and-swap, an event), and the next passes roll the cluster back to it; revisions that `orc apply`
made are numbered by the passes before the store's history forgets them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.controllers import workload_edit as we
from orchestrator.controllers.revisions import revisions_key
from tests.harness.lab import SimLab
from tests.unit.test_engine_rollout import settle, state, web


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[SimLab]:
    lab = SimLab(tmp_path, grace_period=40.0, step=5.0)
    yield lab
    lab.close()


def deployment(image: str, auto: str | None = "true") -> list[dict]:  # type: ignore[type-arg]
    docs = web("Deployment", 3, image, progressDeadlineSeconds=30)
    if auto is not None:
        docs[0]["metadata"]["annotations"] = {"orc.io/auto-rollback": auto}
    return docs


def set_image(lab: SimLab, image: str) -> None:
    t = we.read(lab.store, "deploy/web", lab.clock())
    assert t is not None
    we.commit(lab.store, we.set_image(t, {"app": image}, lab.clock()))


def rollback_events(lab: SimLab) -> list[dict]:  # type: ignore[type-arg]
    return [r.value for r in lab.store.list("_meta/events/deploy/web/") if r.value["reason"] == "DeploymentRollback"]


def test_a_rollout_past_its_deadline_is_rolled_back_to_the_previous_template(lab: SimLab) -> None:
    lab.apply(*deployment("nginx:1.25"))
    settle(lab, "deploy/web", 3)
    lab.failing_health("nginx:1.27")
    set_image(lab, "nginx:1.27")
    rolled = None
    for i in range(20):
        r = lab.reconcile()
        if any(e.reason == "DeploymentRollback" for e in r.events):
            rolled = i
            break
        assert state(lab, "deploy/web")[1] >= 3  # the old pods keep serving meanwhile
    assert rolled is not None and rolled >= 6, "rolled back only once 30 s passed without progress"
    assert lab.store.get("deploy/web").value["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    (event,) = rollback_events(lab)
    assert event["type"] == "Warning" and event["message"] == (
        'Rolled back deployment "web" to revision 1: revision 2 passed its progress deadline (autoRollback)')
    settle(lab, "deploy/web", 3)
    assert state(lab, "deploy/web")[2] == {"nginx:1.25": 3}
    st = lab.book().rollouts["deploy/web"]
    assert st["conditions"][0]["reason"] == "NewReplicaSetAvailable"
    revs = we.read(lab.store, "deploy/web", lab.clock()).revisions  # type: ignore[union-attr]
    assert [(r.number, r.failed) for r in revs.items] == [(2, True), (3, False)]
    for _ in range(3):  # done: no second rollback
        lab.reconcile()
    assert len(rollback_events(lab)) == 1


def stick_past_the_deadline(lab: SimLab) -> None:
    """deploy/web (no annotation) settled on nginx:1.25, then set to nginx:1.27, whose pods never become
    ready, for passes past its 30 s progress deadline."""
    lab.apply(*deployment("nginx:1.25", auto=None))
    settle(lab, "deploy/web", 3)
    lab.failing_health("nginx:1.27")
    set_image(lab, "nginx:1.27")
    for _ in range(14):
        lab.reconcile()


def test_without_auto_rollback_the_stuck_rollout_stays_and_the_old_pods_serve(lab: SimLab) -> None:
    stick_past_the_deadline(lab)
    assert lab.book().rollouts["deploy/web"]["conditions"][0]["reason"] == "ProgressDeadlineExceeded"
    assert lab.store.get("deploy/web").value["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert state(lab, "deploy/web")[1] == 3 and not rollback_events(lab)


def test_orc_yaml_auto_rollback_turns_it_on_for_every_controller(tmp_path: Path) -> None:
    lab = SimLab(tmp_path, grace_period=40.0, step=5.0, settings={"auto_rollback": True})
    try:
        stick_past_the_deadline(lab)
        assert rollback_events(lab)
    finally:
        lab.close()


def test_passes_number_the_revisions_apply_made_before_the_history_forgets_them(lab: SimLab) -> None:
    lab.apply(*deployment("nginx:1.25", auto=None))
    lab.reconcile()
    lab.apply(*deployment("nginx:1.27", auto=None))
    lab.reconcile()
    for n in range(12):  # more scales than the store keeps versions of one key (10)
        doc = deployment("nginx:1.27", auto=None)[0]
        doc["spec"]["replicas"] = 3 + n % 2
        lab.apply(doc)
    assert len(lab.store.history("deploy/web")) <= 10
    revs = we.read(lab.store, "deploy/web", lab.clock()).revisions  # type: ignore[union-attr]
    assert [(r.number, r.template["spec"]["containers"][0]["image"]) for r in revs.items] == [
        (1, "nginx:1.25"), (2, "nginx:1.27")]
    lab.delete(deployment("nginx:1.27")[0])
    lab.reconcile()
    assert lab.store.get(revisions_key("deploy/web")) is None  # a deleted object's revisions go with it
