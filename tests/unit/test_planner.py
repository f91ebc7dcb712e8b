"""The pure planner, one pass at a time, on hand-built snapshots (containers labelled as create_pod labels
them)."""

from __future__ import annotations

import copy
from collections import Counter

from orchestrator.controllers.book import Book
from orchestrator.observe.snapshot import ClusterSnapshot
from orchestrator.plan.planner import plan
from orchestrator.plan.types import CreatePod, DeletePod, Plan, RemoveOrphan, RestartContainer
from orchestrator.plan.views import PodView
from tests.unit.plan_fixtures import (
    GRACE,
    T0,
    config,
    containers_for,
    desired,
    host,
    pod_doc,
    rc_doc,
    running_pod,
    unreachable,
)


def creates(p: Plan) -> list[CreatePod]:
    return [a for a in p.actions if isinstance(a, CreatePod)]


def deletes(p: Plan) -> list[DeletePod]:
    return [a for a in p.actions if isinstance(a, DeletePod)]


def snap(*hosts) -> ClusterSnapshot:
    return ClusterSnapshot.build(list(hosts), T0, cluster="c1")


def web_cluster(replicas: int = 3, n_hosts: int = 3, **kw):
    """RC web with one running pod on each of the first `replicas` hosts (of n_hosts)."""
    d = desired(rc_doc("web", replicas, **kw))
    pods, facts = [], []
    for i in range(n_hosts):
        cs = []
        if i < replicas:
            run, cs = running_pod(d, "rc/web", f"h{i + 1}", name=f"web-p{i + 1}", started=T0 - 100 + i)
            pods.append(run)
        facts.append(host(f"h{i + 1}", containers=cs))
    return d, pods, facts


def assumed_of(run, host_name: str) -> dict:
    from orchestrator.observe.snapshot import pods_of

    (p,) = pods_of(host(host_name, containers=containers_for(run)))
    return PodView.of(p).to_dict()


# --- replication controllers ---


def test_rc_of_three_on_three_empty_hosts_creates_three_pods_on_three_hosts() -> None:
    d = desired(rc_doc("web", 3))
    p = plan(d, snap(host("h1"), host("h2"), host("h3")), Book(), T0, config(), seed=1)
    cs = creates(p)
    assert len(cs) == 3 and len(p.actions) == 3
    assert sorted(a.host for a in cs) == ["h1", "h2", "h3"]
    assert len({a.pod.name for a in cs}) == 3 and len({a.pod.uid for a in cs}) == 3
    for a in cs:
        assert a.pod.owner == "rc/web" and a.pod.name.startswith("web-")
        assert a.pod.labels == {"app": "web"}
        assert a.pod.requests["cpu"] == 100
    assert not p.pending and not p.warnings


def test_converged_cluster_plans_nothing() -> None:
    d, _, facts = web_cluster()
    p = plan(d, snap(*facts), Book(), T0, config(), seed=1)
    assert p.actions == [] and p.empty
    assert not p.pending and not p.warnings


def test_pod_missing_its_app_container_is_deleted_and_replaced() -> None:
    d = desired(rc_doc("web", 3, sidecar=True))  # an infra container: the pod without its app is Incomplete
    r1, c1 = running_pod(d, "rc/web", "h1", name="web-aaaaa")
    r2, c2 = running_pod(d, "rc/web", "h2", name="web-bbbbb", missing=("app",))
    r3, c3 = running_pod(d, "rc/web", "h3", name="web-ccccc")
    p = plan(
        d,
        snap(host("h1", containers=c1), host("h2", containers=c2), host("h3", containers=c3)),
        Book(),
        T0,
        config(),
        seed=1,
    )
    (dl,) = deletes(p)
    assert (dl.host, dl.name, dl.uid) == ("h2", "web-bbbbb", r2.uid)
    assert "incomplete" in dl.reason
    (cr,) = creates(p)
    assert cr.pod.name not in {"web-aaaaa", "web-bbbbb", "web-ccccc"}
    assert cr.host == "h2"  # the only host without a pod of web once the incomplete one is gone


def test_failed_pod_of_a_controller_is_deleted_and_replaced() -> None:
    d = desired(rc_doc("web", 1))
    run, cs = running_pod(d, "rc/web", "h1", state="exited", exit_code=137)
    p = plan(d, snap(host("h1", containers=cs), host("h2")), Book(), T0, config(), seed=1)
    assert [(a.uid, a.reason) for a in deletes(p)] == [(run.uid, "failed")]
    assert len(creates(p)) == 1


def test_scale_up_three_to_six_adds_three_spread_over_hosts() -> None:
    d, _, facts = web_cluster()
    d6 = desired(rc_doc("web", 6))
    p = plan(d6, snap(*facts), Book(), T0, config(), seed=2)
    assert not deletes(p)
    assert sorted(a.host for a in creates(p)) == ["h1", "h2", "h3"]


def test_scale_down_deletes_unready_first() -> None:
    d = desired(rc_doc("web", 3, liveness=True))
    facts = []
    uids = {}
    for i, health in enumerate(["healthy", "unhealthy", "healthy"], start=1):
        run, cs = running_pod(d, "rc/web", f"h{i}", name=f"web-p{i}", health=health, started=T0 - 10 * i)
        uids[i] = run.uid
        facts.append(host(f"h{i}", containers=cs))
    d1 = desired(rc_doc("web", 2, liveness=True))
    p = plan(d1, snap(*facts), Book(), T0, config(), seed=1)
    assert [a.uid for a in deletes(p)] == [uids[2]]
    assert not creates(p)


def test_scale_down_deletes_from_the_most_loaded_host_then_the_newest() -> None:
    d = desired(rc_doc("web", 4))
    ra, ca = running_pod(d, "rc/web", "h1", name="web-old", started=T0 - 300)
    rb, cb = running_pod(d, "rc/web", "h1", name="web-new", started=T0 - 100)
    rc_, cc = running_pod(d, "rc/web", "h2", name="web-newest", started=T0 - 10)
    rd, cd = running_pod(d, "rc/web", "h3", name="web-mid", started=T0 - 200)
    facts = [host("h1", containers=ca + cb), host("h2", containers=cc), host("h3", containers=cd)]
    p3 = plan(desired(rc_doc("web", 3)), snap(*facts), Book(), T0, config(), seed=1)
    assert [a.uid for a in deletes(p3)] == [rb.uid]  # h1 has two: its newer pod goes, not the newest overall
    p2 = plan(desired(rc_doc("web", 2)), snap(*facts), Book(), T0, config(), seed=1)
    assert sorted(a.uid for a in deletes(p2)) == sorted([rb.uid, ra.uid])
    p1 = plan(desired(rc_doc("web", 1)), snap(*facts), Book(), T0, config(), seed=1)
    assert {a.uid for a in deletes(p1)} == {ra.uid, rb.uid, rc_.uid}  # the oldest off h1 stays: web-mid
    assert not creates(p1)


def test_scale_to_zero_and_rc_deleted_remove_every_pod() -> None:
    d, pods, facts = web_cluster()
    p0 = plan(desired(rc_doc("web", 0)), snap(*facts), Book(), T0, config(), seed=1)
    assert sorted(a.uid for a in deletes(p0)) == sorted(r.uid for r in pods) and not creates(p0)
    gone = plan(desired(tombstones=("rc/web",)), snap(*facts), Book(), T0, config(), seed=1)
    assert sorted(a.uid for a in deletes(gone)) == sorted(r.uid for r in pods)
    assert all("rc/web was deleted" in a.reason for a in deletes(gone))
    assert not creates(gone)
    assert gone.book_tombstones == {"rc/web": sorted(r.uid for r in pods)}  # dropped once they are deleted


def test_pods_of_an_owner_the_store_never_knew_are_orphans_kept_running() -> None:
    """A lost or foreign store deletes nothing: pods whose owner is neither desired nor tombstoned are
    orphans, reported once in stable words, counted on their hosts, and removed only with --reap-orphans."""
    d, pods, facts = web_cluster()
    p = plan(desired(), snap(*facts), Book(), T0, config(), seed=1)
    assert p.actions == [] and not p.book_tombstones
    (notice,) = p.notices
    assert f"{len(pods)} orphan pod(s) of rc/web" in notice and "apply rc/web again to adopt" in notice
    again = plan(desired(), snap(*facts), Book(), T0 + 60, config(), seed=2)
    assert again.notices == p.notices  # the same words: printed once
    reap = plan(desired(), snap(*facts), Book(), T0, config(reap_orphans=True), seed=1)
    assert sorted(a.uid for a in deletes(reap)) == sorted(r.uid for r in pods)
    assert all("--reap-orphans" in a.reason for a in deletes(reap))
    adopted = plan(desired(rc_doc("web", len(pods))), snap(*facts), Book(), T0, config(), seed=1)
    assert adopted.actions == [] and adopted.notices == []  # re-applied: adopted, no pod restarted


def test_a_tombstone_is_kept_while_a_host_with_its_pods_cannot_be_seen() -> None:
    d, pods, facts = web_cluster()
    away = pods[0]  # on h1
    book = Book(host_failures={"h1": T0 - 1}, assumed={"h1": [assumed_of(away, "h1")]})
    seen = [f for f in facts if f.name != "h1"] + [unreachable("h1")]
    p = plan(desired(tombstones=("rc/web",)), snap(*seen), book, T0, config(), seed=1)
    assert away.uid not in {a.uid for a in deletes(p)} and p.book_tombstones == {}


def test_other_controllers_pods_are_not_counted_for_this_one() -> None:
    d = desired(rc_doc("web", 1), rc_doc("api", 1))
    _, cw = running_pod(d, "rc/web", "h1", name="web-aaaaa")
    p = plan(d, snap(host("h1", containers=cw), host("h2")), Book(), T0, config(), seed=1)
    (cr,) = creates(p)
    assert cr.pod.owner == "rc/api"


# --- hosts failing and coming back ---


def test_host_unreachable_within_grace_keeps_its_pods_counted_and_creates_nothing() -> None:
    d, pods, facts = web_cluster()
    book = Book(assumed={"h3": [assumed_of(pods[2], "h3")]})
    p = plan(d, snap(facts[0], facts[1], unreachable("h3")), book, T0, config(), seed=1)
    assert p.actions == []
    assert p.book["host_failures"] == {"h3": T0}
    book.host_failures = {"h3": T0 - GRACE + 1}
    p = plan(d, snap(facts[0], facts[1], unreachable("h3")), book, T0, config(), seed=1)
    assert p.actions == [] and p.book["host_failures"] == {"h3": T0 - GRACE + 1}


def test_host_lost_beyond_grace_has_its_pods_replaced_and_recorded_as_evicted() -> None:
    d, pods, facts = web_cluster(replicas=3, n_hosts=4)
    book = Book(host_failures={"h3": T0 - GRACE}, assumed={"h3": [assumed_of(pods[2], "h3")]})
    p = plan(d, snap(facts[0], facts[1], unreachable("h3"), facts[3]), book, T0, config(), seed=1)
    (cr,) = creates(p)
    assert cr.host == "h4" and not deletes(p)
    assert p.book["evicted"] == {pods[2].uid: "h3"}
    assert any("h3 lost" in w for w in p.warnings)


def test_host_back_with_stale_pods_has_them_deleted_and_nothing_else() -> None:
    d, pods, facts = web_cluster(replicas=3, n_hosts=4)
    stale = pods[2]
    _, repl = running_pod(d, "rc/web", "h4", name="web-p4")
    book = Book(host_failures={"h3": T0 - 100}, evicted={stale.uid: "h3"})
    p = plan(d, snap(facts[0], facts[1], facts[2], host("h4", containers=repl)), book, T0, config(), seed=1)
    assert [(a.host, a.uid) for a in p.actions] == [("h3", stale.uid)]
    assert p.book["host_failures"] == {}
    assert p.book["evicted"] == {stale.uid: "h3"}  # kept until the pod is seen gone
    after = plan(
        d,
        snap(facts[0], facts[1], host("h3"), host("h4", containers=repl)),
        Book(evicted=p.book["evicted"]),
        T0 + 10,
        config(),
        seed=1,
    )
    assert after.actions == [] and after.book["evicted"] == {}


def test_duplicates_of_one_pod_name_keep_one() -> None:
    d = desired(rc_doc("web", 2))
    old, c_old = running_pod(d, "rc/web", "h1", name="web-twice", started=T0 - 500)
    new, c_new = running_pod(d, "rc/web", "h2", name="web-twice", started=T0 - 5)
    other, c_other = running_pod(d, "rc/web", "h3", name="web-other")
    p = plan(
        d,
        snap(host("h1", containers=c_old), host("h2", containers=c_new), host("h3", containers=c_other)),
        Book(),
        T0,
        config(),
        seed=1,
    )
    assert [(a.host, a.uid) for a in p.actions] == [("h2", new.uid)]  # the older one stays, count is 2


# --- bare pods ---


def test_bare_pod_is_scheduled_once_and_bound() -> None:
    d = desired(pod_doc("db"))
    p = plan(d, snap(host("h1"), host("h2")), Book(), T0, config(), seed=1)
    (cr,) = creates(p)
    assert cr.pod.name == "db" and cr.pod.owner is None
    assert p.book["bindings"] == {"db": cr.host}
    run, cs = running_pod(d, "pod/db", cr.host)
    facts = {n: host(n, containers=cs if n == cr.host else ()) for n in ("h1", "h2")}
    again = plan(d, snap(*facts.values()), Book(bindings=p.book["bindings"]), T0 + 10, config(), seed=2)
    assert again.actions == [] and again.book["bindings"] == {"db": cr.host}


def test_bare_pod_that_vanished_is_recreated_on_its_bound_host() -> None:
    d = desired(pod_doc("db"))
    p = plan(d, snap(host("h1"), host("h2"), host("h3")), Book(bindings={"db": "h3"}), T0, config(), seed=1)
    assert [(a.host, a.pod.name) for a in creates(p)] == [("h3", "db")]


def test_bare_pod_with_changed_spec_is_replaced_on_the_same_host() -> None:
    d = desired(pod_doc("db", image="postgres:15"))
    run, cs = running_pod(d, "pod/db", "h2")
    d2 = desired(pod_doc("db", image="postgres:16"))
    p = plan(
        d2, snap(host("h1"), host("h2", containers=cs)), Book(bindings={"db": "h2"}), T0, config(), seed=1
    )
    assert [type(a).__name__ for a in p.actions] == ["DeletePod", "CreatePod"]
    dl, cr = p.actions
    assert (dl.host, dl.uid) == ("h2", run.uid)
    assert (cr.host, cr.pod.name) == ("h2", "db") and cr.pod.spec.containers[0].image == "postgres:16"
    assert cr.pod.uid != run.uid


def test_bare_pod_whose_host_is_lost_is_pending_not_rescheduled() -> None:
    d = desired(pod_doc("db"))
    run, _ = running_pod(d, "pod/db", "h2")
    book = Book(
        host_failures={"h2": T0 - GRACE - 1}, bindings={"db": "h2"}, assumed={"h2": [assumed_of(run, "h2")]}
    )
    p = plan(d, snap(host("h1"), unreachable("h2")), book, T0, config(), seed=1)
    assert p.actions == []
    assert "h2 was lost" in p.pending["pod/db"]
    within = Book(
        host_failures={"h2": T0 - 1}, bindings={"db": "h2"}, assumed={"h2": [assumed_of(run, "h2")]}
    )
    p = plan(d, snap(host("h1"), unreachable("h2")), within, T0, config(), seed=1)
    assert p.actions == [] and not p.pending


def test_bare_pod_deleted_from_desired_is_deleted() -> None:
    d = desired(pod_doc("db"))
    run, cs = running_pod(d, "pod/db", "h1")
    p = plan(desired(tombstones=("pod/db",)), snap(host("h1", containers=cs)), Book(bindings={"db": "h1"}), T0,
             config(), seed=1)
    assert [(a.uid, a.reason) for a in deletes(p)] == [(run.uid, "pod was deleted")]
    assert p.book["bindings"] == {}
    kept = plan(desired(), snap(host("h1", containers=cs)), Book(bindings={"db": "h1"}), T0, config(), seed=1)
    assert kept.actions == [] and "orphan bare pod(s) the store does not know (db) on h1" in kept.notices[0]


def test_bare_pod_pinned_by_node_name() -> None:
    d = desired(pod_doc("db", node_name="h2"))
    p = plan(d, snap(host("h1"), host("h2"), host("h3")), Book(), T0, config(), seed=1)
    assert [a.host for a in creates(p)] == ["h2"]


# --- what cannot run, health, orphans ---


def test_pod_that_fits_nowhere_is_pending_with_the_summed_reasons() -> None:
    d = desired(rc_doc("big", 1, cpu="64", memory="1Gi"))
    p = plan(d, snap(host("h1"), host("h2"), host("h3")), Book(), T0, config(), seed=1)
    assert p.actions == []
    ((key, why),) = p.pending.items()
    assert key.startswith("rc/big: pod big-")
    assert why.startswith("0/3 hosts are available: 3 ") and "cpu" in why


def test_host_ports_limit_one_pod_per_host_the_rest_pending() -> None:
    d = desired(rc_doc("web", 3, host_port=8080))
    p = plan(d, snap(host("h1"), host("h2")), Book(), T0, config(), seed=1)
    assert sorted(a.host for a in creates(p)) == ["h1", "h2"]
    ((key, why),) = p.pending.items()
    assert "0/2 hosts are available: 2 " in why and "port" in why


def test_unhealthy_liveness_container_is_restarted() -> None:
    d = desired(rc_doc("web", 1, liveness=True))
    run, cs = running_pod(d, "rc/web", "h1", name="web-sick", health="unhealthy")
    p = plan(d, snap(host("h1", containers=cs)), Book(), T0, config(), seed=1)
    assert p.actions == [RestartContainer("h1", "web-sick", "orc_web-sick_app", "liveness probe failed", 30)]


def test_orphans_are_warned_about_or_reaped_on_request() -> None:
    d = desired()
    run, cs = running_pod(desired(rc_doc("web", 1)), "rc/web", "h1", name="web-x")
    orphan = cs[0].__class__(
        **{**cs[0].__dict__, "name": "stray", "labels": {"orc.managed": "true", "orc.cluster": "c1", "orc.container": "app"}}
    )
    facts = host("h1", containers=[orphan])
    p = plan(d, snap(facts), Book(), T0, config(), seed=1)
    assert p.actions == []
    assert any("orphan container stray on h1" in w and "--reap-orphans" in w for w in p.notices)
    reap = plan(d, snap(facts), Book(), T0, config(reap_orphans=True), seed=1)
    assert reap.actions == [RemoveOrphan("h1", "stray")]


# --- purity ---


def test_plan_is_deterministic_and_leaves_its_inputs_alone() -> None:
    d, pods, facts = web_cluster(replicas=3, n_hosts=4)
    book = Book(host_failures={"h3": T0 - GRACE}, assumed={"h3": [assumed_of(pods[2], "h3")]})
    s = snap(facts[0], facts[1], unreachable("h3"), facts[3])
    d6 = desired(rc_doc("web", 6), pod_doc("db"))
    before = copy.deepcopy(book.to_dict())
    a = plan(d6, s, book, T0, config(), seed=7)
    b = plan(d6, s, book, T0, config(), seed=7)
    assert a == b
    assert book.to_dict() == before
    assert Counter(type(x).__name__ for x in a.actions) == {"CreatePod": 5}


def test_slow_start_after_failed_creations_limits_and_then_doubles() -> None:
    from orchestrator.controllers.book import next_slow_start

    d = desired(rc_doc("web", 5))
    snap = ClusterSnapshot.build([host("h1"), host("h2"), host("h3")], T0, cluster="c1")
    limited = plan(d, snap, Book(slow_start={"rc/web": 2}), T0, config(), seed=1)
    assert sum(isinstance(a, CreatePod) for a in limited.actions) == 2
    assert "slow start" in limited.pending["rc/web"]
    assert next_slow_start({}, {"rc/web": (5, 1)}) == {"rc/web": 1}
    assert next_slow_start({"rc/web": 1}, {"rc/web": (1, 0)}) == {"rc/web": 2}
    assert next_slow_start({"rc/web": 4}, {}) == {}  # nothing tried: no limit any more


def test_a_pod_whose_infra_restarted_is_made_again() -> None:
    """Docker restarted the infra container (a new network namespace); the app containers still sit in the
    old one with nothing but lo: the pod looks Running but serves nobody."""
    import dataclasses

    from tests.unit.plan_fixtures import iso

    d = desired(rc_doc("web", 1, sidecar=True))  # a pod with an infra container (a solo pod has none)
    run, cs = running_pod(d, "rc/web", "h1", name="web-aaaaa", uid="u1")
    later = iso(T0 + 60)
    cs = [dataclasses.replace(c, started_at=later) if c.labels.get("orc.infra") == "true" else c for c in cs]
    snap = ClusterSnapshot.build([host("h1", containers=cs), host("h2")], T0 + 120, cluster="c1")
    (pod,) = snap.pods
    assert pod.phase == "SandboxChanged" and not pod.ready
    p = plan(d, snap, Book(), T0 + 120, config(), seed=1)
    assert [(a.name, "network namespace" in a.reason) for a in deletes(p)] == [("web-aaaaa", True)]
    assert len(creates(p)) == 1  # replaced
