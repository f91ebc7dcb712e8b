"""Rollouts in the pure planner: the step of one controller in one pass (rollout.step) and whole plans of a
Deployment and an RC whose template changed (old pods replaced within maxSurge / maxUnavailable)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from orchestrator.controllers.book import Book
from orchestrator.observe.snapshot import ClusterSnapshot
from orchestrator.plan.planner import _victims, plan
from orchestrator.plan.rollout import Strategy, scaled, step, strategy_of
from orchestrator.plan.types import CreatePod, DeletePod
from orchestrator.plan.views import PodView
from tests.unit.plan_fixtures import T0, config, desired, host, rc_doc, running_pod


def view(name: str, spec_hash: str, ready: bool = True, seen: bool = True) -> PodView:
    return PodView(name, f"uid-{name}", "h1", "deploy/web", spec_hash, {}, "Running", ready, seen=seen)


def ready_one(v: PodView) -> bool:
    return v.ready


@pytest.mark.parametrize(("value", "replicas", "up", "want"), [
    ("25%", 3, True, 1), ("25%", 3, False, 0), ("25%", 10, True, 3), ("25%", 10, False, 2),
    (2, 10, True, 2), ("100%", 4, False, 4), ("0%", 5, True, 0)])
def test_percentages_round_as_kubernetes_surge_up_unavailable_down(value: Any, replicas: int, up: bool,
                                                                    want: int) -> None:
    assert scaled(value, replicas, "25%", up) == want


def test_rolling_update_with_one_surge_and_none_unavailable_creates_one_then_deletes_one_once_it_is_ready() -> None:
    s = Strategy("RollingUpdate", max_surge=1, max_unavailable=0)
    old = [view(f"o{i}", "A") for i in range(3)]
    first = step(s, 3, [], old, ready_one, _victims)
    assert first.create == 1 and first.delete == []  # 4 pods at most; nothing may go while 3 must be ready
    starting = [view("n0", "B", ready=False)]
    held = step(s, 3, starting, old, ready_one, _victims)
    assert held.create == 0 and held.delete == []  # the new pod is not ready: no progress
    ready_new = [view("n0", "B")]
    second = step(s, 3, ready_new, old, ready_one, _victims)
    assert second.create == 0 and len(second.delete) == 1 and second.delete[0] in old


def test_rolling_update_never_goes_below_replicas_minus_max_unavailable_nor_above_surge_in_any_state() -> None:
    s = Strategy("RollingUpdate", max_surge=2, max_unavailable=1)
    replicas = 5
    for n_new in range(0, 8):
        for n_new_ready in range(0, n_new + 1):
            for n_old in range(0, 8):
                for n_old_ready in range(0, n_old + 1):
                    new = [view(f"n{i}", "B", ready=i < n_new_ready) for i in range(n_new)]
                    old = [view(f"o{i}", "A", ready=i < n_old_ready) for i in range(n_old)]
                    st = step(s, replicas, new, old, ready_one, _victims)
                    total = n_new + n_old
                    assert total + st.create <= max(total, replicas + s.max_surge)
                    gone_ready = sum(1 for v in st.delete if v.ready)
                    before = n_new_ready + n_old_ready
                    assert before - gone_ready >= min(before, replicas - s.max_unavailable)


def test_recreate_deletes_every_old_pod_before_creating_any_new_one() -> None:
    s = Strategy("Recreate", 0, 0)
    old = [view("o0", "A"), view("o1", "A"), view("o2", "A", seen=False)]
    st = step(s, 3, [], old, ready_one, _victims)
    assert st.create == 0 and [v.name for v in st.delete] == ["o0", "o1"]  # the one out of sight: later


def deploy_doc(replicas: int, image: str = "nginx:1.25", **spec: Any) -> dict[str, Any]:
    doc = copy.deepcopy(rc_doc("web", replicas, image=image))
    doc.update(apiVersion="apps/v1", kind="Deployment")
    doc["spec"]["selector"] = {"matchLabels": {"app": "web"}}
    doc["spec"].update(spec)
    return doc




def cluster_of(d_old: Any, key: str, n: int, started: float = T0 - 100, **kw: Any) -> ClusterSnapshot:
    hosts = {f"h{i}": [] for i in range(1, 4)}
    for i in range(n):
        run, cs = running_pod(d_old, "rc/web", f"h{1 + i % 3}", name=f"web-old{i}", started=started, **kw)
        relabelled = [c.__class__(**{**c.__dict__, "labels": {**c.labels, "orc.owner": key}}) for c in cs]
        hosts[f"h{1 + i % 3}"] += relabelled
    return ClusterSnapshot.build([host(h, containers=cs) for h, cs in hosts.items()], T0, cluster="c1")


def test_a_deployment_whose_image_changed_plans_a_rolling_step_and_orc_plan_no_longer_says_nothing() -> None:
    old_rc = desired(rc_doc("web", 4))  # the same template as deploy_doc's old one, to build the old pods
    snap = cluster_of(old_rc, "deploy/web", 4)
    d = desired(deploy_doc(4, image="nginx:1.27"))  # 25%/25% of 4: surge 1, unavailable 1
    assert strategy_of(d.workloads["deploy/web"]) == Strategy("RollingUpdate", 1, 1)
    p = plan(d, snap, Book(), T0, config(), seed=1)
    made = [a for a in p.actions if isinstance(a, CreatePod)]
    gone = [a for a in p.actions if isinstance(a, DeletePod)]
    assert len(made) == 1 and made[0].pod.spec.containers[0].image == "nginx:1.27"
    assert len(gone) == 1 and gone[0].name.startswith("web-old") and "replaced" in gone[0].reason
    assert "rolling update" in p.pending["deploy/web: rollout"]


def test_an_unchanged_deployment_plans_nothing() -> None:
    old_rc = desired(rc_doc("web", 3))
    snap = cluster_of(old_rc, "deploy/web", 3)
    p = plan(desired(deploy_doc(3)), snap, Book(), T0, config(), seed=1)
    assert p.actions == [] and not p.pending


def test_a_paused_deployment_does_not_roll_and_says_so() -> None:
    snap = cluster_of(desired(rc_doc("web", 3)), "deploy/web", 3)
    p = plan(desired(deploy_doc(3, image="nginx:1.27", paused=True)), snap, Book(), T0, config(), seed=1)
    assert p.actions == [] and not p.pending
    assert p.notices == ["deploy/web: rollout paused: 3 of 3 pods run an older template (`paused: false` resumes it)"]


def test_min_ready_seconds_holds_old_pods_until_the_new_ones_were_ready_long_enough() -> None:
    # 3 old pods and 1 new one ready for 5 s; maxUnavailable 0: with minReadySeconds 30 the new one is not
    # available yet, so no old pod may go; without it one may.
    doc = deploy_doc(3, image="nginx:1.27", strategy={"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}})
    old_rc = desired(rc_doc("web", 3))
    snap = cluster_of(old_rc, "deploy/web", 3)
    new_rc = desired(rc_doc("web", 3, image="nginx:1.27"))
    run, cs = running_pod(new_rc, "rc/web", "h1", name="web-new0", started=T0 - 5)
    cs = [c.__class__(**{**c.__dict__, "labels": {**c.labels, "orc.owner": "deploy/web"}}) for c in cs]
    snap = ClusterSnapshot.build([host("h1", containers=[*snap.hosts["h1"].containers, *cs]),
                                  snap.hosts["h2"], snap.hosts["h3"]], T0, cluster="c1")
    free = plan(desired(doc), snap, Book(), T0, config(), seed=1)
    assert len([a for a in free.actions if isinstance(a, DeletePod)]) == 1
    doc["spec"]["minReadySeconds"] = 30
    held = plan(desired(doc), snap, Book(), T0, config(), seed=1)
    assert [a for a in held.actions if isinstance(a, DeletePod)] == []
    later = plan(desired(doc), snap, Book(), T0 + 26, config(), seed=1)  # ready since T0-5: 31 s
    assert len([a for a in later.actions if isinstance(a, DeletePod)]) == 1


def test_a_replicaset_whose_template_changed_keeps_its_pods_as_kubernetes_does() -> None:
    snap = cluster_of(desired(rc_doc("web", 3)), "rs/web", 3)
    doc = deploy_doc(3, image="nginx:1.27")
    doc["kind"] = "ReplicaSet"
    p = plan(desired(doc), snap, Book(), T0, config(), seed=1)
    assert p.actions == []
