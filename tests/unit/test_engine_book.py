"""The book carried between passes: what the engine believes runs on each host after acting
(`believed_pods`), and its stored form."""

from __future__ import annotations

import json

from orchestrator.act.executor import ActionResult
from orchestrator.controllers.book import Book
from orchestrator.engine import believed_pods
from orchestrator.observe.snapshot import ClusterSnapshot
from orchestrator.plan.planner import PlannerConfig, plan
from orchestrator.plan.types import CreatePod, DeletePod
from orchestrator.plan.views import PodView
from tests.unit.plan_fixtures import GRACE, T0, config, desired, host, rc_doc, running_pod, unreachable

# a sidecar: the pods have an infra container, so one whose app container is gone is still seen (Incomplete)
D = desired(rc_doc("web", 3, host_port=8080, sidecar=True))


def results(p, failed: set[int] = frozenset()) -> list[ActionResult]:
    return [ActionResult(a, a.host, i not in failed, a.verb) for i, a in enumerate(p.actions)]


def uids(believed: dict, h: str) -> set[str]:
    return {d["uid"] for d in believed[h]}


def test_ready_hosts_hold_what_was_seen_less_deleted_plus_created() -> None:
    keep, ck = running_pod(D, "rc/web", "h1", name="web-keep")
    extra, ce = running_pod(D, "rc/web", "h1", name="web-extra", missing=("app",))
    s = ClusterSnapshot.build([host("h1", containers=ck + ce), host("h2"), host("h3")], T0, cluster="c1")
    p = plan(D, s, Book(), T0, config(), seed=1)
    assert {type(a) for a in p.actions} == {CreatePod, DeletePod}
    created = [a for a in p.actions if isinstance(a, CreatePod)]
    b = believed_pods(s, Book(), p, results(p), PlannerConfig(grace_period=GRACE))
    assert set(b) == {"h1", "h2", "h3"}
    everywhere = set().union(*(uids(b, h) for h in b))
    assert everywhere == {keep.uid} | {a.pod.uid for a in created}
    new = next(d for d in b[created[0].host] if d["uid"] == created[0].pod.uid)
    assert (new["name"], new["owner"], new["phase"], new["ready"]) == (
        created[0].pod.name,
        "rc/web",
        "Pending",
        False,
    )
    assert new["requests"] == created[0].pod.requests and new["started_at"] == T0
    # A view rebuilt from the book counts as a pod of its controller, not seen this pass.
    v = PodView.from_dict(new)
    assert (v.owner, v.seen, v.host) == ("rc/web", False, created[0].host)


def test_failed_actions_leave_the_belief_as_it_was() -> None:
    _, ck = running_pod(D, "rc/web", "h1", name="web-keep")
    extra, ce = running_pod(D, "rc/web", "h1", name="web-extra", missing=("app",))
    s = ClusterSnapshot.build([host("h1", containers=ck + ce), host("h2"), host("h3")], T0, cluster="c1")
    p = plan(D, s, Book(), T0, config(), seed=1)
    b = believed_pods(s, Book(), p, results(p, failed=set(range(len(p.actions)))), PlannerConfig(grace_period=GRACE))
    assert uids(b, "h1") == {d.uid for d in s.pods} and b["h2"] == [] and b["h3"] == []
    assert extra.uid in uids(b, "h1")


def test_hosts_out_of_sight_keep_their_old_belief_until_the_grace_period_ends() -> None:
    run, cs = running_pod(D, "rc/web", "h2", name="web-away")
    first = ClusterSnapshot.build([host("h1"), host("h2", containers=cs)], T0, cluster="c1")
    p = plan(D, first, Book(), T0, config(), seed=1)
    book = Book(
        p.book["host_failures"],
        p.book["evicted"],
        p.book["bindings"],
        believed_pods(first, Book(), p, results(p), PlannerConfig(grace_period=GRACE)),
    )
    assert run.uid in uids(book.assumed, "h2")

    later = T0 + GRACE - 1
    s = ClusterSnapshot.build([host("h1"), unreachable("h2")], later, cluster="c1")
    p2 = plan(D, s, Book(host_failures={"h2": T0}, assumed=book.assumed), later, config(), seed=2)
    b2 = believed_pods(s, Book(assumed=book.assumed), p2, results(p2), PlannerConfig(grace_period=GRACE))
    (away,) = [d for d in b2["h2"] if d["uid"] == run.uid]
    assert (away["phase"], away["ready"]) == ("Unknown", False)

    gone = T0 + GRACE
    s3 = ClusterSnapshot.build([host("h1"), unreachable("h2")], gone, cluster="c1")
    p3 = plan(D, s3, Book(host_failures={"h2": T0}, assumed=b2), gone, config(), seed=3)
    b3 = believed_pods(s3, Book(assumed=b2), p3, results(p3), PlannerConfig(grace_period=GRACE))
    assert "h2" not in b3  # lost: its pods were replaced and are remembered as evicted instead
    assert p3.book["evicted"] == {run.uid: "h2"}


def test_book_survives_the_store_as_json() -> None:
    _, cs = running_pod(D, "rc/web", "h1", name="web-a")
    s = ClusterSnapshot.build([host("h1", containers=cs), host("h2")], T0, cluster="c1")
    p = plan(D, s, Book(), T0, config(), seed=1)
    book = Book({"h9": T0 - 5}, {"u1": "h9"}, {"db": "h1"}, believed_pods(s, Book(), p, results(p), PlannerConfig(grace_period=GRACE)))
    again = Book.from_dict(json.loads(json.dumps(book.to_dict())))
    assert again == book
    assert Book.from_dict(None) == Book()
    # Views rebuilt from it keep requests and host ports, so placement accounting needs no desired state.
    v = PodView.from_dict(again.assumed["h1"][0])
    assert v.requests["cpu"] == 100 and v.host_ports == ((8080, "TCP"),)
