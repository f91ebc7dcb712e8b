"""Host maintenance in the pure layers: PodDisruptionBudgets counted as Kubernetes counts them and spent by a
drain's evictions and a rolling update's removals (plan/disruption.py), a drained host handed over by the
planner as a host that left the inventory (replacements first, under the budgets, with the drain's grace
period), where a drain stands after a pass (plan/drain.py), the cordon marks in a real SQLite store, and
the PodDisruptionBudget manifest's validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestrator.controllers.book import Book
from orchestrator.controllers.cordon import cordoned_hosts, drain_grace, draining, mark, read_marks, unmark
from orchestrator.errors import ValidationError
from orchestrator.inventory.host import Host
from orchestrator.model.load import parse_objects
from orchestrator.observe.snapshot import ClusterSnapshot
from orchestrator.plan.disruption import BUDGET_VIOLATION, Disruptions, budget_of
from orchestrator.plan.drain import DrainPod, drain_state, unmanaged_pods, with_local_storage
from orchestrator.plan.planner import plan
from orchestrator.plan.types import CreatePod, DeletePod
from orchestrator.plan.views import PodView
from tests.unit.plan_fixtures import T0, config, desired, host, pod_doc, rc_doc, running_pod
from tests.unit.test_rollout import cluster_of, deploy_doc


def pdb(name: str = "web", selector: Any = None, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": "web"}} if selector is None else selector, **spec}}


def views(n: int, ready: int, owner: str | None = "rc/web", labels: dict[str, str] | None = None) -> list[PodView]:
    return [PodView(f"web-{i}", f"u{i}", "h1", owner, "h", labels or {"app": "web"}, "Running", i < ready)
            for i in range(n)]


# --- budgets as Kubernetes' disruption controller counts them ---


@pytest.mark.parametrize(("spec", "pods", "ready", "want"), [
    # (desiredHealthy, currentHealthy, disruptionsAllowed, expectedPods)
    ({"minAvailable": 2}, 3, 3, (2, 3, 1, 3)),
    ({"minAvailable": 2}, 3, 2, (2, 2, 0, 3)),
    ({"minAvailable": "50%"}, 3, 3, (2, 3, 1, 3)),  # 50% of 3 rounds up to 2
    ({"maxUnavailable": 1}, 3, 3, (2, 3, 1, 3)),
    ({"maxUnavailable": "34%"}, 3, 3, (1, 3, 2, 3)),  # 34% of 3 rounds up to 2 unavailable
    ({"maxUnavailable": 0}, 3, 3, (3, 3, 0, 3)),
    ({"maxUnavailable": 0}, 5, 5, (3, 5, 2, 3)),  # replacements surged in are healthy pods too
    ({"minAvailable": "100%"}, 3, 1, (3, 1, 0, 3)),
])
def test_a_budget_counts_as_kubernetes(spec: dict[str, Any], pods: int, ready: int,
                                       want: tuple[int, int, int, int]) -> None:
    d = desired(rc_doc("web", 3), pdb(**spec))
    b = budget_of(d.budgets["web"], views(pods, ready), d.workloads)
    st = b.status()
    assert (st["desiredHealthy"], st["currentHealthy"], st["disruptionsAllowed"], st["expectedPods"]) == want


def test_a_budget_picks_pods_by_its_selector_and_counts_bare_pods_as_one_each() -> None:
    d = desired(rc_doc("web", 3), pdb(selector={"matchLabels": {"tier": "fe"}}, maxUnavailable=1))
    pods = [*views(3, 3, labels={"app": "web"}), *views(2, 2, owner=None, labels={"tier": "fe"})]
    b = budget_of(d.budgets["web"], [PodView(f"p{i}", f"x{i}", "h1", v.owner, "h", v.labels, "Running", v.ready)
                                     for i, v in enumerate(pods)], d.workloads)
    assert (b.expected, b.current_healthy, b.allowed) == (2, 2, 1) and b.pods == ["p3", "p4"]


def test_evictions_spend_the_budget_and_unready_pods_follow_the_eviction_policy() -> None:
    d = desired(rc_doc("web", 3), pdb(minAvailable=2))
    pods = views(4, 3)  # web-3 is not ready
    dis = Disruptions.of(d.budgets, pods, d.workloads)
    assert dis.evict(pods[0]) is None  # 3 healthy, 2 needed: one may go
    refused = dis.evict(pods[1])
    assert refused is not None and "allows no disruption now: 2 healthy, 2 needed" in refused.why()
    assert dis.evict(pods[3]) is None  # not healthy, and the budget is met (IfHealthyBudget)
    short = Disruptions.of(d.budgets, views(4, 1), d.workloads)  # 1 healthy of 2: the budget is not met
    assert short.evict(views(4, 1)[3]) is not None
    always = desired(rc_doc("web", 3), pdb(minAvailable=2, unhealthyPodEvictionPolicy="AlwaysAllow"))
    assert Disruptions.of(always.budgets, views(4, 1), always.workloads).evict(views(4, 1)[3]) is None
    # a rolling update may always remove a pod that is not ready: it takes nothing from the budget
    assert Disruptions.of(d.budgets, views(4, 1), d.workloads).remove(views(4, 1)[3]) is None


# --- the planner: a drained host is handed over, under the budgets ---


def drained_cluster(with_replacements: bool, *extra: dict[str, Any]) -> tuple[Any, ClusterSnapshot]:
    """rc/web (3 replicas): web-a on h1, web-b and web-c on h2 (drained); with the two replacements ready."""
    d = desired(rc_doc("web", 3), *extra)
    on: dict[str, list[Any]] = {"h1": [], "h2": [], "h3": []}
    for name, h in (("web-aaaaa", "h1"), ("web-bbbbb", "h2"), ("web-ccccc", "h2")):
        on[h] += running_pod(d, "rc/web", h, name=name, started=T0 - 300)[1]
    if with_replacements:
        for name, h in (("web-nnnn1", "h1"), ("web-nnnn2", "h3")):
            on[h] += running_pod(d, "rc/web", h, name=name, started=T0 - 60)[1]
    return d, ClusterSnapshot.build([host(h, containers=cs) for h, cs in on.items()], T0, cluster="c1")


DRAINED = config(leaving=frozenset({"h2"}), drained=frozenset({"h2"}))


def test_a_drained_host_gets_replacements_elsewhere_first_and_loses_its_pods_once_they_are_ready() -> None:
    d, snap = drained_cluster(False)
    first = plan(d, snap, Book(), T0, DRAINED, seed=1)
    made = [a for a in first.actions if isinstance(a, CreatePod)]
    assert len(made) == 2 and {a.host for a in made} <= {"h1", "h3"}  # never on the cordoned host
    assert not [a for a in first.actions if isinstance(a, DeletePod)]
    assert "being drained (h2) keep serving until 3 pods are ready elsewhere (1 now)" in first.pending[
        "rc/web: handover"]
    d, snap = drained_cluster(True)
    second = plan(d, snap, Book(), T0, DRAINED, seed=1)
    gone = sorted((a.name, a.host, a.reason) for a in second.actions if isinstance(a, DeletePod))
    assert gone == [(n, "h2", "rc/web: its host is drained and a ready replacement runs elsewhere")
                    for n in ("web-bbbbb", "web-ccccc")]
    assert not [a for a in second.actions if isinstance(a, CreatePod)] and not second.pending


def test_a_budget_that_allows_no_disruption_keeps_the_drained_pods_and_says_why() -> None:
    d, snap = drained_cluster(True, pdb(minAvailable=5))  # 5 healthy (3 elsewhere + 2 drained), 5 needed
    p = plan(d, snap, Book(), T0, DRAINED, seed=1)
    assert not [a for a in p.actions if isinstance(a, DeletePod)]
    assert sorted(p.refused_evictions) == ["web-bbbbb", "web-ccccc"]
    assert p.refused_evictions["web-bbbbb"].startswith(BUDGET_VIOLATION)
    assert "pdb/web (minAvailable 5)" in p.pending["rc/web: handover"] and p.in_progress("rc/web: handover")
    assert p.book["budgets"]["web"] == {"currentHealthy": 5, "desiredHealthy": 5, "disruptionsAllowed": 0,
                                        "expectedPods": 5}
    d, snap = drained_cluster(True, pdb(minAvailable=4))  # one may go this pass, the other waits
    p = plan(d, snap, Book(), T0, DRAINED, seed=1)
    assert len([a for a in p.actions if isinstance(a, DeletePod)]) == 1 and len(p.refused_evictions) == 1
    d, snap = drained_cluster(True, pdb(maxUnavailable=0))  # the ready replacements count: both may go
    p = plan(d, snap, Book(), T0, DRAINED, seed=1)
    assert len([a for a in p.actions if isinstance(a, DeletePod)]) == 2 and not p.refused_evictions


def test_a_drain_grace_period_replaces_the_pods_own() -> None:
    d, snap = drained_cluster(True)
    p = plan(d, snap, Book(), T0, config(leaving=frozenset({"h2"}), drained=frozenset({"h2"}),
                                         drain_grace=(("h2", 3),)), seed=1)
    assert {a.grace for a in p.actions if isinstance(a, DeletePod)} == {3}


def test_a_rolling_update_never_removes_an_old_pod_below_the_budget() -> None:
    snap = cluster_of(desired(rc_doc("web", 3)), "deploy/web", 3)  # 3 old pods, ready
    rolling = deploy_doc(3, image="nginx:1.27", strategy={"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}})
    free = plan(desired(rolling), snap, Book(), T0, config(), seed=1)
    assert len([a for a in free.actions if isinstance(a, DeletePod)]) == 1  # maxUnavailable 1 lets one go
    held = plan(desired(rolling, pdb(minAvailable=3)), snap, Book(), T0, config(), seed=1)
    assert not [a for a in held.actions if isinstance(a, DeletePod)]
    assert len([a for a in held.actions if isinstance(a, CreatePod)]) == 1  # the surge pod still starts
    assert "old pods kept" in held.pending["deploy/web: rollout"] and "pdb/web" in held.pending["deploy/web: rollout"]
    allows = plan(desired(rolling, pdb(maxUnavailable=1)), snap, Book(), T0, config(), seed=1)
    assert len([a for a in allows.actions if isinstance(a, DeletePod)]) == 1


# --- where a drain stands ---


def test_drain_state_tells_what_is_left_what_went_and_why_the_rest_waits() -> None:
    pods = [DrainPod("web-a", "h2", "rc/web"), DrainPod("web-b", "h2", "rc/web"), DrainPod("solo", "h2", None),
            DrainPod("old-x", "h2", "rc/gone"), DrainPod("web-c", "h1", "rc/web")]
    st = drain_state({"h2"}, pods, {"web-a"}, {"rc/web"}, {"rc/web: handover": "web-b: refused",
                                                            "rc/api: handover": "1 pods keep serving"},
                     {"web-b": "budget"})
    assert [p.name for p in st.evicted] == ["web-a"] and st.left == {"h2": ["web-b"]}
    assert st.refused == {"web-b": "budget"} and st.waiting == ["rc/api: handover: 1 pods keep serving"]
    assert not st.all_done and not st.done("h2")
    assert [p.name for p in st.unmanaged["h2"]] == ["solo", "old-x"]
    assert unmanaged_pods(pods, {"h1"}, {"rc/web"}) == {}
    assert drain_state({"h2"}, pods[2:4], set(), {"rc/web"}, {}, {}).all_done  # bare pods are not waited for
    unseen = drain_state({"h2"}, [], set(), {"rc/web"}, {}, {}, unseen={"h2", "h1"})  # no pods seen: not known
    assert unseen.unseen == {"h2"} and not unseen.all_done


def test_pods_with_an_empty_dir_are_named_before_a_drain_loses_their_data() -> None:
    scratch = rc_doc("cache", 2)
    scratch["spec"]["template"]["spec"]["volumes"] = [{"name": "tmp", "emptyDir": {}}]
    scratch["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [{"name": "tmp", "mountPath": "/tmp"}]
    d = desired(rc_doc("web", 2), scratch)
    pods = [DrainPod("cache-a", "h2", "rc/cache"), DrainPod("web-a", "h2", "rc/web"), DrainPod("cache-b", "h1", "rc/cache")]
    assert with_local_storage(pods, {"h2"}, d.workloads) == {"h2": [pods[0]]}


# --- the marks in the store ---


def test_cordon_marks_live_in_the_store_beside_the_inventorys(tmp_path: Path) -> None:
    from orchestrator.store import open_store

    store = open_store(f"sqlite:{tmp_path / 'state.db'}")
    assert mark(store, "h1", T0) == (False, True)
    assert mark(store, "h1", T0 + 5) == (True, False)  # already cordoned: nothing written
    assert mark(store, "h2", T0, drain=True, grace=7) == (False, True)
    assert mark(store, "h1", T0 + 9, drain=True) == (True, True)  # a cordoned host drained: kept its time
    marks = read_marks(store)
    assert (marks["h1"].at, marks["h1"].drain, marks["h2"].grace) == (T0, True, 7)
    assert draining(marks) == {"h1", "h2"} and drain_grace(marks) == (("h2", 7),)
    inventory = [Host("h3", "127.0.0.3", cordoned=True), Host("h4", "127.0.0.4")]
    assert cordoned_hosts(inventory, marks) == {"h1", "h2", "h3"}
    assert unmark(store, "h1") and not unmark(store, "h1")
    assert set(read_marks(store)) == {"h2"}
    store.close()


# --- the manifest ---


def test_a_pod_disruption_budget_is_validated_with_every_problem_named() -> None:
    (ok,) = parse_objects([pdb(minAvailable="50%", unhealthyPodEvictionPolicy="AlwaysAllow")])
    assert ok.key == "pdb/web" and ok.to_manifest()["apiVersion"] == "policy/v1"
    with pytest.raises(ValidationError) as e:
        parse_objects([pdb(minAvailable=1, maxUnavailable=1), pdb("b", minAvailable="150%"),
                       pdb("c", maxUnavailable=-1, unhealthyPodEvictionPolicy="Never"), pdb("d"),
                       {**pdb("e", minAvailable=1), "apiVersion": "policy/v1beta1"},
                       pdb("f", selector={"matchLabels": {"app": "-x"}}, minAvailable="1x")])
    text = "\n".join(e.value.errors)
    assert 'PodDisruptionBudget "web" is invalid: spec: Invalid value' in text
    assert "minAvailable and maxUnavailable cannot be both set" in text
    assert 'PodDisruptionBudget "b" is invalid: spec.minAvailable: Invalid value: "150%": must not be greater' in text
    assert 'PodDisruptionBudget "c" is invalid: spec.maxUnavailable: Invalid value: -1' in text
    assert 'spec.unhealthyPodEvictionPolicy: Unsupported value: "Never"' in text
    assert 'PodDisruptionBudget "d" is invalid: spec.minAvailable: Required value' in text
    assert 'apiVersion: Unsupported value: "policy/v1beta1": supported values: "policy/v1"' in text
    assert 'PodDisruptionBudget "f" is invalid: spec.selector.matchLabels' in text
    assert 'spec.minAvailable: Invalid value: "1x": must be an integer or percentage' in text
    with pytest.raises(ValidationError) as e:
        parse_objects([{**pdb(minAvailable=1), "spec": {**pdb(minAvailable=1)["spec"], "priority": 1}}])
    assert 'spec.priority: Forbidden: unknown field "priority"' in e.value.errors[0]


def test_a_bare_pod_on_a_drained_host_is_never_moved() -> None:
    d = desired(pod_doc("solo"))
    run, cs = running_pod(d, "pod/solo", "h2")
    snap = ClusterSnapshot.build([host("h1"), host("h2", containers=cs)], T0, cluster="c1")
    p = plan(d, snap, Book(bindings={"solo": "h2"}), T0, DRAINED, seed=1)
    assert p.actions == []  # kept where it is (orc drain refuses such a host)


# --- cron-style passes of the real engine over simulated hosts (tests/harness) ---


def test_cron_passes_advance_a_recorded_drain_and_an_uncordon_ends_it(tmp_path: Path) -> None:
    from tests.harness.lab import SimLab

    lab = SimLab(tmp_path, hosts=("h1", "h2", "h3"))
    try:
        lab.apply(rc_doc("web", 4), pdb(minAvailable=3))
        lab.reconcile_until_quiet()
        busy = max(("h1", "h2", "h3"), key=lambda h: len([p for p in lab.pods_of("rc/web") if p[0] == h]))
        before = {p[1] for p in lab.pods_of("rc/web") if p[0] == busy}
        mark(lab.store, busy, lab.clock(), drain=True)  # what `orc drain` records
        for _ in range(6):  # each pass (what cron runs) advances the drain
            r = lab.reconcile()
            assert len(lab.pods_of("rc/web")) >= 4  # never fewer than replicas: replacements come first
            if not [p for p in lab.pods_of("rc/web") if p[0] == busy] and not r.changed:
                break
        assert [p for p in lab.pods_of("rc/web") if p[0] == busy] == []
        assert len(lab.pods_of("rc/web")) == 4 and not before & {p[1] for p in lab.pods_of("rc/web")}
        snap = lab.store.get("_meta/snapshot").value
        assert snap["budgets"]["web"]["expectedPods"] == 4
        lab.apply(rc_doc("web", 6), pdb(minAvailable=3))  # a scale-up keeps off the drained host
        lab.reconcile_until_quiet()
        assert [p for p in lab.pods_of("rc/web") if p[0] == busy] == []
        unmark(lab.store, busy)  # `orc uncordon`
        lab.apply(rc_doc("web", 9), pdb(minAvailable=3))
        lab.reconcile_until_quiet()
        assert [p for p in lab.pods_of("rc/web") if p[0] == busy]  # schedulable again
    finally:
        lab.close()


def test_a_rolling_update_pass_after_pass_never_goes_below_its_budget(tmp_path: Path) -> None:
    """maxUnavailable 2 of 4 would let two old pods go at once; a budget of minAvailable 4 lets an old pod
    go only once a new one is ready beside it: never fewer than 4 ready, and the rollout still completes."""
    from tests.harness.lab import SimLab
    from tests.unit.test_engine_rollout import state, web

    lab = SimLab(tmp_path, grace_period=40.0, step=5.0)
    try:
        spec = {"strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 2}}}
        lab.apply(*web("Deployment", 4, "nginx:1.25", **spec), pdb(minAvailable=4))
        for _ in range(10):
            if not lab.reconcile().changed and state(lab, "deploy/web")[1] == 4:
                break
        lab.apply(*web("Deployment", 4, "nginx:1.27", **spec), pdb(minAvailable=4))
        held = False
        for _ in range(40):
            r = lab.reconcile()
            assert state(lab, "deploy/web")[1] >= 4, state(lab, "deploy/web")
            held = held or "old pods kept" in r.plan.pending.get("deploy/web: rollout", "")
            if state(lab, "deploy/web")[2] == {"nginx:1.27": 4} and state(lab, "deploy/web")[1] == 4:
                break
        assert state(lab, "deploy/web") == (4, 4, {"nginx:1.27": 4}) and held
    finally:
        lab.close()
