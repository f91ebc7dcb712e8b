"""Kinds kept apart, pass after pass, with the real Engine over simulated docker hosts (tests/harness): an RC,
a ReplicaSet and a Deployment of one name are three controllers with three sets of pods; a store an older
orc wrote (every workload kind under rc/NAME) keeps its pods running through the move to a key per kind."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.controllers.moved_keys import migrate
from orchestrator.metrics import Metrics
from orchestrator.plan.types import CreatePod, DeletePod
from orchestrator.store import Put, keys
from tests.harness.lab import SimLab
from tests.unit.plan_fixtures import rc_doc

GRACE = 40.0


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[SimLab]:
    lab = SimLab(tmp_path, grace_period=GRACE)
    yield lab
    lab.close()


def workload_doc(kind: str, name: str, replicas: int, **kw: Any) -> dict[str, Any]:
    """rc_doc's workload as another kind (same template and labels: the selectors overlap on purpose, so
    only the owner can tell the pods apart)."""
    doc = copy.deepcopy(rc_doc(name, replicas, **kw))
    if kind != "ReplicationController":
        doc.update(apiVersion="apps/v1", kind=kind)
        doc["spec"]["selector"] = {"matchLabels": doc["spec"]["selector"]}
    return doc


def uids(lab: SimLab, owner: str) -> set[str]:
    return {uid for _, _, uid, _ in lab.pods_of(owner)}


def creates_and_deletes(result: Any) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for a in result.plan.actions:
        if isinstance(a, CreatePod):
            out.append(("create", a.pod.owner))
        elif isinstance(a, DeletePod):
            out.append(("delete", a.name))
    return out


def test_an_rc_and_a_deployment_both_named_web_each_keep_their_own_replicas_over_several_passes(
        lab: SimLab) -> None:
    lab.apply(workload_doc("ReplicationController", "web", 2), workload_doc("Deployment", "web", 3))
    first = lab.reconcile()
    assert not first.failed and not first.plan.pending
    assert sorted(a.pod.owner or "" for a in first.plan.actions if isinstance(a, CreatePod)) == \
        ["deploy/web"] * 3 + ["rc/web"] * 2
    rc, deploy = uids(lab, "rc/web"), uids(lab, "deploy/web")
    assert len(rc) == 2 and len(deploy) == 3
    for _ in range(4):  # several passes: nobody takes the other's pods, nothing is made or removed
        r = lab.reconcile()
        assert not r.changed and r.plan.actions == []
        assert (uids(lab, "rc/web"), uids(lab, "deploy/web")) == (rc, deploy)
    # Scaling the Deployment touches only its pods; the RC keeps its two.
    lab.apply(workload_doc("Deployment", "web", 1))
    down = lab.reconcile()
    assert [k for k, _ in creates_and_deletes(down)] == ["delete", "delete"]
    assert uids(lab, "rc/web") == rc and len(uids(lab, "deploy/web")) == 1 and uids(lab, "deploy/web") < deploy
    # A ReplicaSet of the same name is a third controller.
    lab.apply(workload_doc("ReplicaSet", "web", 2))
    r = lab.reconcile()
    assert creates_and_deletes(r) == [("create", "rs/web")] * 2
    assert len(uids(lab, "rs/web")) == 2 and uids(lab, "rc/web") == rc
    # Deleting the RC removes its pods only.
    lab.delete(workload_doc("ReplicationController", "web", 2))
    gone = lab.reconcile()
    assert sorted(a.uid for a in gone.plan.actions if isinstance(a, DeletePod) and a.reason == "rc/web was deleted") \
        == sorted(rc) and len(gone.plan.actions) == 2
    assert uids(lab, "rc/web") == set() and len(uids(lab, "deploy/web")) == 1 and len(uids(lab, "rs/web")) == 2
    for _ in range(3):
        assert not lab.reconcile().changed
    # `orc get` reads each kind's replicas from the stored snapshot: one set of pods per owner.
    stored = lab.store.get(keys.SNAPSHOT)
    assert stored is not None
    owners = sorted(p["owner"] for p in stored.value["pods"])
    assert owners == ["deploy/web", "rs/web", "rs/web"]


def legacy_store(lab: SimLab, kind: str = "Deployment", replicas: int = 3) -> set[str]:
    """The store and hosts an older orc left: a `kind` named web stored under rc/web, its pods labelled
    orc.owner=rc/web. (Made as that version made it: the pods by an RC's pass, then the object under the
    same key replaced by the other kind's manifest, as applying it did then.) The pods' uids."""
    lab.apply(workload_doc("ReplicationController", "web", replicas))
    lab.reconcile()
    old = uids(lab, "rc/web")
    assert len(old) == replicas
    rec = lab.store.get("rc/web")
    assert rec is not None
    lab.store.txn([Put("rc/web", workload_doc(kind, "web", replicas), expect_revision=rec.revision)])
    return old


def test_a_deployment_an_older_orc_stored_under_rc_keeps_its_pods_before_and_after_the_move(lab: SimLab) -> None:
    old = legacy_store(lab)
    # Before the move (a pass of the engine reads the old layout, as `orc plan` does): its pods are its own.
    before = lab.store.revision()
    planned = lab.engine.plan()
    assert planned.plan.actions == [] and not planned.plan.pending
    assert lab.store.revision() == before  # `orc plan` wrote nothing, not even the move
    for _ in range(2):
        r = lab.reconcile()
        assert not r.changed and r.plan.actions == [], r.plan.actions
        assert uids(lab, "rc/web") == old
    # The move: once, in one transaction, with a line that says what happened to the pods.
    (line,) = migrate(lab.store, lab.clock())
    assert line.startswith('store: moved Deployment "web" from rc/web to deploy/web')
    assert "its 3 pods keep their docker label orc.owner=rc/web and stay its own" in line
    assert lab.store.get("rc/web") is None and lab.store.get("deploy/web") is not None
    marker = lab.store.get(keys.moved_key("rc/web"))
    assert marker is not None and set(marker.value["uids"]) == old
    revision = lab.store.revision()
    assert migrate(lab.store, lab.clock()) == [] and lab.store.revision() == revision  # nothing more to move
    for _ in range(3):
        r = lab.reconcile()
        assert not r.changed and r.plan.actions == [], r.plan.actions
    assert uids(lab, "rc/web") == old  # still running, never restarted (same uids, same containers)
    metrics = Metrics(None)  # the metrics count them for the Deployment too, not for a phantom rc/web
    metrics.record(r)
    prom = metrics.text
    assert 'orc_pods_running{controller="deploy/web"} 3.0' in prom and 'controller="rc/web"' not in prom
    # An RC named web applied now gets pods of its own: the old ones stay the Deployment's.
    lab.apply(workload_doc("ReplicationController", "web", 2))
    r = lab.reconcile()
    assert creates_and_deletes(r) == [("create", "rc/web")] * 2
    assert len(uids(lab, "rc/web")) == 5 and old < uids(lab, "rc/web")
    for _ in range(3):
        assert not lab.reconcile().changed
    # Scaling the Deployment down deletes its old pods (a positive decision), never the RC's.
    rc_own = uids(lab, "rc/web") - old
    lab.apply(workload_doc("Deployment", "web", 1))
    down = lab.reconcile()
    deleted = {a.uid for a in down.plan.actions if isinstance(a, DeletePod)}
    assert len(deleted) == 2 and deleted < old and all("deploy/web: 3/1 replicas" in a.reason
                                                       for a in down.plan.actions)
    assert uids(lab, "rc/web") == rc_own | (old - deleted)
    assert not lab.reconcile().changed
    # Deleting the Deployment removes its last old pod, and only it.
    lab.delete(workload_doc("Deployment", "web", 1))
    gone = lab.reconcile()
    assert [(type(a).__name__, a.reason) for a in gone.plan.actions] == [("DeletePod", "deploy/web was deleted")]
    assert uids(lab, "rc/web") == rc_own
    assert not lab.reconcile().changed


def test_a_replicaset_an_older_orc_stored_under_rc_is_moved_by_apply_and_keeps_its_pods(lab: SimLab) -> None:
    old = legacy_store(lab, kind="ReplicaSet", replicas=2)
    created = lab.store.get("_meta/created/rc/web")
    assert created is not None
    # `orc apply` of the same ReplicaSet (as the CLI does it: the move first, then the apply): unchanged.
    from orchestrator.cli.applier import plan_apply
    from orchestrator.model.load import parse_objects

    migrate(lab.store, lab.clock())
    (change,) = plan_apply(lab.store, parse_objects([workload_doc("ReplicaSet", "web", 2)]))
    assert change.action == "unchanged" and change.key == "rs/web"
    moved = lab.store.get("_meta/created/rs/web")
    assert moved is not None and moved.value == created.value and lab.store.get("_meta/created/rc/web") is None
    for _ in range(3):
        r = lab.reconcile()
        assert not r.changed and r.plan.actions == []
    assert uids(lab, "rc/web") == old
