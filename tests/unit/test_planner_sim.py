"""The planner over several passes: a fake cluster applies each Plan (containers labelled as create_pod
labels them, deletes by uid) and the book is carried between passes as the engine carries it."""

from __future__ import annotations

import random
from collections import Counter

from orchestrator.plan.types import CreatePod, DeletePod
from tests.unit.plan_fixtures import GRACE, FakeCluster, desired, pod_doc, rc_doc


def owned(
    c: FakeCluster, owner: str, *, reachable_only: bool = False
) -> list[tuple[str, str, str, str | None]]:
    return [p for p in c.pods(reachable_only=reachable_only) if p[3] == owner]


def until_lost(c: FakeCluster) -> int:
    """Passes needed for a host failing from now on to be past the grace period."""
    return int(GRACE // c.step) + 1


def test_rc_converges_in_one_pass_then_a_second_pass_does_nothing() -> None:
    c = FakeCluster.of("h1", "h2", "h3")
    d = desired(rc_doc("web", 3))
    first = c.run_pass(d)
    assert len(first.plan.actions) == 3 and all(r.ok for r in first.results)
    assert sorted(h for h, *_ in owned(c, "rc/web")) == ["h1", "h2", "h3"]
    assert c.run_pass(d, seed=1).plan.actions == []


def test_a_removed_container_is_replaced_and_exactly_three_remain() -> None:
    c = FakeCluster.of("h1", "h2", "h3")
    d = desired(rc_doc("web", 3))
    c.run_pass(d)
    victim = owned(c, "rc/web")[0]
    assert c.kill_container(victim[0], victim[1])
    rec = c.run_pass(d, seed=1)
    assert [a.uid for a in rec.plan.actions if isinstance(a, DeletePod)] == [victim[2]]
    assert len(owned(c, "rc/web")) == 3 and victim[2] not in {p[2] for p in owned(c, "rc/web")}
    assert c.run_pass(d, seed=2).plan.actions == []


def test_host_stop_grace_replacement_and_return() -> None:
    c = FakeCluster.of("h1", "h2", "h3", "h4")
    d = desired(rc_doc("web", 3))
    c.run_pass(d)
    down = owned(c, "rc/web")[0][0]
    stale = {p[2] for p in owned(c, "rc/web") if p[0] == down}
    c.hosts[down].up = False
    for i in range(until_lost(c)):
        rec = c.run_pass(d, seed=i)
        if rec.plan.actions:
            break
        assert len(owned(c, "rc/web")) == 3  # within the grace period its pods still count
    assert [type(a) for a in rec.plan.actions] == [CreatePod]
    assert rec.plan.actions[0].host != down
    assert set(rec.plan.book["evicted"]) == stale
    assert len(owned(c, "rc/web", reachable_only=True)) == 3
    assert c.run_pass(d, seed=50).plan.actions == []
    c.hosts[down].up = True
    back = c.run_pass(d, seed=51)
    assert sorted((a.host, a.uid) for a in back.plan.actions) == sorted((down, u) for u in stale)
    assert len(owned(c, "rc/web")) == 3
    assert c.run_pass(d, seed=52).plan.actions == [] and c.book.evicted == {}


def test_scale_three_six_one_then_delete() -> None:
    c = FakeCluster.of("h1", "h2", "h3")
    for replicas in (3, 6, 1):
        d = desired(rc_doc("web", replicas))
        c.run_pass(d)
        assert len(owned(c, "rc/web")) == replicas
        assert (
            max(Counter(p[0] for p in owned(c, "rc/web")).values())
            - min(Counter(p[0] for p in owned(c, "rc/web")).values())
            <= 1
            or replicas < 3
        )
        assert c.run_pass(d).plan.actions == []
    c.run_pass(desired())
    assert c.pods() == []


def test_bare_pod_keeps_its_host_through_a_host_loss_and_return() -> None:
    c = FakeCluster.of("h1", "h2")
    d = desired(pod_doc("db"))
    c.run_pass(d)
    ((h, _, uid, _),) = c.pods()
    c.hosts[h].up = False
    for i in range(until_lost(c) + 1):
        rec = c.run_pass(d, seed=i)
        assert rec.plan.actions == []
    assert "was lost" in rec.plan.pending["pod/db"]
    c.hosts[h].up = True
    back = c.run_pass(d, seed=99)
    assert back.plan.actions == [] and not back.plan.pending  # the same pod, left alone
    assert c.pods() == [(h, "db", uid, None)]


def test_controller_killed_mid_pass_twenty_times_then_exact_and_no_duplicates() -> None:
    rnd = random.Random(5)
    c = FakeCluster.of("h1", "h2", "h3")
    d = desired(rc_doc("web", 3), pod_doc("db"))
    for i in range(20):
        replicas = rnd.choice([1, 3, 6])
        d = desired(rc_doc("web", replicas), pod_doc("db"))
        cut = {h: rnd.randrange(0, 4) for h in c.hosts}
        c.run_pass(d, seed=i, cut=cut, half=rnd.random() < 0.5)
        c.run_pass(d, seed=100 + i)
        assert len(owned(c, "rc/web")) == replicas
        names = Counter(p[1] for p in c.pods())
        assert names["db"] == 1 and max(names.values()) == 1
        assert all(c2.labels.get("orc.pod-uid") for h in c.hosts.values() for c2 in h.containers)


def test_bare_pod_created_by_a_killed_pass_then_out_of_sight_is_run_once_when_its_host_returns() -> None:
    c = FakeCluster.of("h1", "h2")
    d = desired(pod_doc("db", node_name=None))
    rec = c.run_pass(d, cut={"h1": 1, "h2": 1})  # created, but the controller died before writing the book
    ((first, _, first_uid, _),) = c.pods()
    assert rec.plan.actions[0].host == first and c.book.bindings == {}
    c.hosts[first].up = False
    again = c.run_pass(d, seed=1)  # the book knows nothing of it: scheduled again on the other host
    assert [a.host for a in again.plan.actions] == [h for h in c.hosts if h != first]
    c.hosts[first].up = True
    back = c.run_pass(d, seed=2)
    (dup,) = back.plan.actions
    assert isinstance(dup, DeletePod) and dup.name == "db" and "duplicate" in dup.reason
    assert [p[1] for p in c.pods()] == ["db"]
    assert c.run_pass(d, seed=3).plan.actions == []
