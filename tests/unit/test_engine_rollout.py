"""A rolling update pass after pass, with the real Engine over simulated docker hosts (tests/harness): the
image of a Deployment (and of an RC) behind a NodePort service changes; the pods are replaced within
maxSurge and maxUnavailable, old pods leave through the drain (out of every proxy before they stop), and
the rollout ends with every pod on the new image."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.plan.types import CreatePod, DeletePod
from tests.harness.lab import SimLab
from tests.unit.plan_fixtures import rc_doc


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[SimLab]:
    lab = SimLab(tmp_path, grace_period=40.0, step=5.0)
    yield lab
    lab.close()


def web(kind: str, replicas: int, image: str, **spec: Any) -> list[dict[str, Any]]:
    doc = copy.deepcopy(rc_doc("web", replicas, image=image))
    c = doc["spec"]["template"]["spec"]["containers"][0]
    c["ports"] = [{"containerPort": 80}]
    c["readinessProbe"] = {"exec": {"command": ["true"]}, "periodSeconds": 10}
    if kind == "Deployment":
        doc.update(apiVersion="apps/v1", kind="Deployment")
        doc["spec"]["selector"] = {"matchLabels": {"app": "web"}}
    doc["spec"].update(spec)
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 80}]}}
    return [doc, svc]


def state(lab: SimLab, owner: str) -> tuple[int, int, dict[str, int]]:
    """(pods, ready pods, image -> pods) of `owner` on the hosts now."""
    now = lab.clock()
    total = ready = 0
    images: dict[str, int] = {}
    for h, name, _, _ in lab.pods_of(owner):
        apps = [c for c in lab.containers(h, name) if c.name.endswith("_app")]
        total += 1
        ready += all(c.running and c.health_status(now) in (None, "healthy") for c in apps)
        for c in apps:
            images[c.image] = images.get(c.image, 0) + 1
    return total, ready, images


def settle(lab: SimLab, owner: str, replicas: int) -> None:
    """Passes until every pod is ready (readiness checks take a period) and a pass changes nothing."""
    for _ in range(10):
        ready = state(lab, owner)[1] == replicas  # as the pass will see it
        if not lab.reconcile().changed and ready:
            return
    raise AssertionError(f"{owner} did not settle: {state(lab, owner)}")


def backends(lab: SimLab, host: str) -> set[str]:
    text = (lab.docker[host].haproxy_loaded or b"").decode()
    return {line.split()[1] for line in text.splitlines() if line.strip().startswith("server ")}


@pytest.mark.parametrize(("kind", "owner", "replicas", "spec", "surge", "unavailable"), [
    ("Deployment", "deploy/web", 4, {}, 1, 1),  # defaults: 25% up, 25% down
    ("Deployment", "deploy/web", 3, {"strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}}, 1, 0),
    ("Deployment", "deploy/web", 5, {"strategy": {"rollingUpdate": {"maxSurge": "40%", "maxUnavailable": 2}}}, 2, 2),
    ("ReplicationController", "rc/web", 3, {}, 1, 0),  # orc rolls an RC too (25% of 3: 1 up, 0 down)
])
def test_a_changed_image_rolls_out_pass_by_pass_never_below_max_unavailable_nor_above_surge(
        lab: SimLab, kind: str, owner: str, replicas: int, spec: dict[str, Any], surge: int,
        unavailable: int) -> None:
    lab.apply(*web(kind, replicas, "nginx:1.25", **spec))
    settle(lab, owner, replicas)
    assert lab.book().endpoints["web"]
    assert state(lab, owner) == (replicas, replicas, {"nginx:1.25": replicas})
    lab.apply(*web(kind, replicas, "nginx:1.27", **spec))
    passes = 0
    while state(lab, owner)[2] != {"nginx:1.27": replicas} or state(lab, owner)[1] < replicas:
        passes += 1
        assert passes <= 30, f"rollout did not finish: {state(lab, owner)}"
        before = state(lab, owner)[0]
        r = lab.reconcile()
        assert not r.failed, r.failed
        made = [a for a in r.plan.actions if isinstance(a, CreatePod)]
        gone = [a for a in r.plan.actions if isinstance(a, DeletePod)]
        # between the pass's phases the new pods run beside every old one: never above replicas + surge
        assert before + len(made) <= replicas + surge, (passes, before, len(made))
        assert all(a.pod.spec.containers[0].image == "nginx:1.27" for a in made)
        # old pods that served leave through the drain: out of every proxy in phase one, deleted after
        assert {a.uid for a in gone} <= r.plan.drain, (passes, gone)
        total, ready, _ = state(lab, owner)
        assert ready >= replicas - unavailable, (passes, state(lab, owner))
        assert total <= replicas + surge
        for h in lab.docker:  # no proxy keeps a pod that is gone
            assert not backends(lab, h) & {a.name for a in gone}
    assert passes >= 2  # it took several passes, each advancing as far as readiness allowed
    settle(lab, owner, replicas)


def test_recreate_stops_every_old_pod_before_any_new_one_starts(lab: SimLab) -> None:
    docs = lambda image: web("Deployment", 3, image, strategy={"type": "Recreate"})  # noqa: E731
    lab.apply(*docs("nginx:1.25"))
    settle(lab, "deploy/web", 3)
    lab.apply(*docs("nginx:1.27"))
    first = lab.reconcile()
    assert [a for a in first.plan.actions if isinstance(a, CreatePod)] == []
    assert len([a for a in first.plan.actions if isinstance(a, DeletePod)]) == 3
    assert state(lab, "deploy/web")[0] == 0
    lab.reconcile()
    assert state(lab, "deploy/web")[2] == {"nginx:1.27": 3}


def test_a_paused_deployment_keeps_its_old_pods_until_resumed(lab: SimLab) -> None:
    lab.apply(*web("Deployment", 3, "nginx:1.25"))
    settle(lab, "deploy/web", 3)
    lab.apply(*web("Deployment", 3, "nginx:1.27", paused=True))
    for _ in range(3):
        r = lab.reconcile()
        assert [a for a in r.plan.actions if isinstance(a, CreatePod | DeletePod)] == []
        assert not r.plan.pending and any("rollout paused" in n for n in r.plan.notices)
    lab.apply(*web("Deployment", 3, "nginx:1.27", paused=False))
    for _ in range(15):
        lab.reconcile()
    assert state(lab, "deploy/web")[2] == {"nginx:1.27": 3}


def test_status_follows_the_rollout_and_a_stuck_one_passes_its_progress_deadline(lab: SimLab) -> None:
    from orchestrator.cli.rollout_cmd import RolloutFailed, message

    lab.apply(*web("Deployment", 3, "nginx:1.25", progressDeadlineSeconds=60))
    settle(lab, "deploy/web", 3)
    revision = lab.store.get("deploy/web").revision
    st = lab.book().rollouts["deploy/web"]
    assert (st["replicas"], st["updatedReplicas"], st["readyReplicas"], st["availableReplicas"]) == (3, 3, 3, 3)
    assert st["observedGeneration"] >= revision
    assert [(c["type"], c["status"], c["reason"]) for c in st["conditions"]] == [
        ("Progressing", "True", "NewReplicaSetAvailable"), ("Available", "True", "MinimumReplicasAvailable")]
    assert message("deployment", "web", st, revision, 3) == ('deployment "web" successfully rolled out', True)
    # a new image whose readiness never passes: the rollout waits, old pods keep serving, then the deadline
    lab.failing_health("nginx:1.27")
    lab.apply(*web("Deployment", 3, "nginx:1.27", progressDeadlineSeconds=60))
    revision = lab.store.get("deploy/web").revision
    assert message("deployment", "web", lab.book().rollouts["deploy/web"], revision, 3)[0] == \
        "Waiting for deployment spec update to be observed..."
    lab.reconcile()  # creates the first new pod (the status is what a pass saw before it acted)
    lab.reconcile()
    st = lab.book().rollouts["deploy/web"]
    assert st["updatedReplicas"] == 1 and st["availableReplicas"] == 3
    assert message("deployment", "web", st, revision, 3) == (
        'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...', False)
    for _ in range(14):  # 5 s a pass: past 60 s without progress
        lab.reconcile()
    st = lab.book().rollouts["deploy/web"]
    assert [(c["status"], c["reason"]) for c in st["conditions"]][0] == ("False", "ProgressDeadlineExceeded")
    assert state(lab, "deploy/web")[1] == 3  # the old pods still serve
    with pytest.raises(RolloutFailed, match="exceeded its progress deadline"):
        message("deployment", "web", st, revision, 3)
