"""Nothing is destroyed without a positive decision (the real Engine over simulated hosts, tests/harness):
a second project on the same hosts, a lost store, a deleted object's tombstone, orphans and adoption."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.plan.types import DeletePod
from orchestrator.store.keys import tombstone_key
from tests.harness.lab import SimLab
from tests.unit.plan_fixtures import pod_doc, rc_doc


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[SimLab]:
    (tmp_path / "one").mkdir()
    lab = SimLab(tmp_path / "one")
    yield lab
    lab.close()


def uids(lab: SimLab, owner: str | None, cluster: str = "harness") -> set[str]:
    return {uid for _, _, uid, _ in lab.pods_of(owner, cluster=cluster)}


def test_a_second_project_on_the_same_hosts_neither_deletes_counts_nor_proxies_the_others_pods(
        lab: SimLab, tmp_path: Path) -> None:
    lab.apply(rc_doc("web", 4), pod_doc("db"))
    lab.reconcile()
    first = uids(lab, "rc/web") | uids(lab, None)
    assert len(first) == 5
    (tmp_path / "two").mkdir()
    other = SimLab.beside(lab, tmp_path / "two", "other")
    try:
        other.apply(rc_doc("web", 2))  # the same controller name, another cluster
        r = other.reconcile()
        assert not r.failed and not [a for a in r.plan.actions if isinstance(a, DeletePod)]
        assert len(uids(other, "rc/web", "other")) == 2  # its own two: the first project's 4 are not counted
        assert uids(lab, "rc/web") | uids(lab, None) == first  # nothing of the first touched
        (notice,) = r.new_notices
        assert "5 pod(s) of another cluster (harness)" in notice and "not counted, adopted, proxied or removed" in notice
        again = other.reconcile()
        assert not again.changed and again.new_notices == [] and again.plan.notices == [notice]  # said once
        assert {e["pod"] for eps in again.plan.endpoints.values() for e in map(vars, eps)} <= {
            p for _, p, _, _ in other.pods(cluster="other")}
        # and the first project, pass after pass, keeps its own and leaves the other's alone
        r1 = lab.reconcile()
        assert not r1.changed and uids(lab, "rc/web") | uids(lab, None) == first
        assert len(uids(other, "rc/web", "other")) == 2
        other.delete(rc_doc("web", 2))
        other.reconcile()
        assert uids(other, "rc/web", "other") == set() and uids(lab, "rc/web") | uids(lab, None) == first
    finally:
        other.close()


def test_a_lost_store_deletes_nothing_reports_orphans_once_and_reapplying_adopts_them(lab: SimLab) -> None:
    lab.apply(rc_doc("web", 3), pod_doc("db"))
    lab.reconcile()
    running = {(h, uid) for h, _, uid, _ in lab.pods()}
    lab.lose_store()
    r = lab.reconcile()
    assert not r.failed and not [a for a in r.plan.actions if isinstance(a, DeletePod)]
    assert {(h, uid) for h, _, uid, _ in lab.pods()} == running
    assert len(r.new_notices) == 2
    assert any("3 orphan pod(s) of rc/web" in n and "apply rc/web again to adopt" in n for n in r.new_notices)
    assert any("orphan bare pod(s) the store does not know (db)" in n for n in r.new_notices)
    assert lab.reconcile().new_notices == []  # reported once, not every pass
    lab.apply(rc_doc("web", 3), pod_doc("db"))  # the manifests again: the pods are adopted, none restarted
    adopted = lab.reconcile()
    assert adopted.plan.actions == [] and adopted.plan.notices == []
    assert {(h, uid) for h, _, uid, _ in lab.pods()} == running


def test_orphans_are_removed_only_with_reap_orphans(lab: SimLab) -> None:
    lab.apply(rc_doc("web", 2))
    lab.reconcile()
    lab.lose_store()
    assert len(lab.pods()) == 2
    r = lab.reconcile(lab.new_engine(reap_orphans=True))
    assert sorted(a.reason for a in r.plan.actions if isinstance(a, DeletePod)) == [
        "orphan: its owner rc/web is unknown to the store (--reap-orphans)"] * 2
    assert lab.pods() == []


def test_a_deleted_object_leaves_a_tombstone_until_its_pods_are_gone(lab: SimLab) -> None:
    lab.apply(rc_doc("web", 3))
    lab.reconcile()
    lab.delete(rc_doc("web", 3))
    assert lab.store.get(tombstone_key("rc/web")) is not None
    lab.unreachable("h1")  # one of its pods cannot be stopped yet
    r = lab.reconcile()
    assert {a.host for a in r.plan.actions if isinstance(a, DeletePod)} == {"h2", "h3"}
    assert lab.store.get(tombstone_key("rc/web")) is not None  # the pod on h1 is still to go
    lab.reachable("h1")
    r = lab.reconcile()
    assert [a.host for a in r.plan.actions if isinstance(a, DeletePod)] == ["h1"]
    assert lab.pods() == [] and lab.store.get(tombstone_key("rc/web")) is None
    assert not lab.reconcile().changed


def test_applying_a_deleted_object_again_clears_its_tombstone(lab: SimLab) -> None:
    lab.apply(rc_doc("web", 1))
    lab.reconcile()
    lab.delete(rc_doc("web", 1))
    lab.apply(rc_doc("web", 1))  # before any pass: the decision to delete is withdrawn
    assert lab.store.get(tombstone_key("rc/web")) is None
    r = lab.reconcile()
    assert r.plan.actions == [] and len(lab.pods()) == 1
