"""Property tests of the real engine over random histories on simulated hosts (tests/harness): scale changes,
hosts lost and returning (with their containers, or wiped), containers killed, controllers SIGKILLed mid-pass
(some actions run, a create half-done, the book not written), creations failing, and time passing.
Derandomized: the same examples every run."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.engine import PassResult
from orchestrator.plan.planner import plan
from orchestrator.plan.types import CreatePod, DeletePod, RemoveOrphan, RestartContainer
from tests.harness.lab import SimLab
from tests.unit.plan_fixtures import pod_doc, rc_doc

HOSTS = ("h1", "h2", "h3", "h4")
RCS = ("web", "api")
GRACE = 40.0
POD_ACTIONS = (CreatePod, DeletePod, RestartContainer, RemoveOrphan)

event = st.one_of(
    st.tuples(st.just("scale"), st.sampled_from(RCS), st.integers(0, 6)),
    st.tuples(st.just("down"), st.sampled_from(HOSTS)),
    st.tuples(st.just("up"), st.sampled_from(HOSTS)),
    st.tuples(st.just("wipe"), st.sampled_from(HOSTS)),  # the host comes back empty (reinstalled)
    st.tuples(st.just("kill"), st.integers(0, 30)),  # `docker rm -f` of some pod's app container
    st.tuples(st.just("pass"), st.just("full")),
    st.tuples(st.just("pass"), st.just("full")),
    st.tuples(st.just("pass"), st.just("killed"), st.fixed_dictionaries({h: st.integers(0, 3) for h in HOSTS}),
              st.booleans()),
    st.tuples(st.just("pass"), st.just("failing"), st.integers(1, 4)),  # the next k `docker run`s fail
    st.tuples(st.just("wait"), st.sampled_from([15.0, 45.0])),
)


def _docs(replicas: dict[str, int], bare: bool) -> list[dict[str, Any]]:
    return [*(rc_doc(name, n) for name, n in replicas.items()), *([pod_doc("db")] if bare else [])]


def _key(a: Any) -> tuple[str, str, str, str]:
    return (type(a).__name__, a.host, a.target, getattr(a, "uid", "") or getattr(getattr(a, "pod", None), "uid", ""))


def _check(lab: SimLab, r: PassResult, book_before: Any, replicas: dict[str, int], tainted: set[str]) -> None:
    now = r.snapshot.taken_at
    # Deterministic: the same input gives the same pod actions.
    assert r.desired is not None
    again = plan(r.desired, r.snapshot, book_before, now, lab.engine.config.planner)
    assert [_key(a) for a in again.actions if isinstance(a, POD_ACTIONS)] == \
        [_key(a) for a in r.plan.actions if isinstance(a, POD_ACTIONS)]
    ready = {h for h, f in r.snapshot.hosts.items() if f.ready}
    assert all(a.host in ready for a in r.plan.actions), "an action for a host that cannot be reached"
    # A create that met a duplicate name: its undo removed the other instance's containers too.
    collided = {x.host for x in r.failed if "is already in use" in x.error}
    tainted -= ready - collided
    tainted |= collided
    book = lab.book()
    for h, believed in book.assumed.items():
        if h not in tainted:
            real = {c.labels["orc.pod-uid"] for c in lab.docker[h].containers.values() if "orc.pod-uid" in c.labels}
            assert {x["uid"] for x in believed} == real, f"the book is wrong about {h}"
    if r.failed:
        return
    away = {h for h, since in r.plan.book["host_failures"].items() if now - since < GRACE}
    assert away <= set(book.assumed), "a host within its grace period must keep its pods counted"
    for name, n in replicas.items():
        key = f"rc/{name}"
        seen = [p for p in lab.pods_of(key) if p[0] in ready]
        believed_away = [x for h in away for x in book.assumed[h] if x.get("owner") == key]
        assert len(seen) + len(believed_away) <= max(n, len(believed_away)), (key, seen, believed_away)
        if not away & tainted:  # the truth, where the book can know it: never created twice for a lagging host
            real_away = [p for p in lab.pods_of(key) if p[0] in away]
            assert len(seen) + len(real_away) <= max(n, len(real_away))
        if ready == set(HOSTS) and key not in r.plan.pending:  # (pending: slow start after failed creations)
            assert len(seen) == n, f"{key}: {len(seen)} pods after a full pass on a whole cluster, want {n}"
    names = Counter(p[1] for p in lab.pods() if p[0] in ready)
    assert not [n for n, k in names.items() if k > 1], f"duplicate pods after a full pass: {names}"


def _pass(lab: SimLab, replicas: dict[str, int], tainted: set[str]) -> PassResult:
    book_before = lab.book()
    r = lab.reconcile()
    _check(lab, r, book_before, replicas, tainted)
    return r


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(event, min_size=1, max_size=16), bare=st.booleans(), start=st.integers(1, 4))
def test_random_histories_keep_the_invariants(events: list[tuple[Any, ...]], bare: bool, start: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        lab = SimLab(Path(tmp), hosts=HOSTS, grace_period=GRACE)
        try:
            _history(lab, events, bare, start)
        finally:
            lab.close()


def _history(lab: SimLab, events: list[tuple[Any, ...]], bare: bool, start: int) -> None:
    replicas = {"web": start, "api": 1}
    tainted: set[str] = set()  # hosts changed behind the book's back since a pass last saw them
    lab.apply(*_docs(replicas, bare))
    for e in [*events, ("pass", "full")]:
        kind = e[0]
        if kind == "scale":
            replicas[e[1]] = e[2]
            lab.apply(*_docs(replicas, bare))
        elif kind == "down":
            lab.unreachable(e[1])
        elif kind == "up":
            lab.reachable(e[1])
        elif kind == "wipe":
            lab.reachable(e[1])
            lab.wipe(e[1])
            tainted.add(e[1])
        elif kind == "kill":
            pods = [p for p in lab.pods(reachable_only=True) if f"orc_{p[1]}_app" in lab.docker[p[0]].containers]
            if pods:
                h, name, _, _ = pods[e[1] % len(pods)]
                lab.kill(h, name)
                tainted.add(h)
        elif kind == "wait":
            lab.clock.advance(e[1])
        elif e[1] == "full":
            _pass(lab, replicas, tainted)
        elif e[1] == "killed":
            lab.reconcile_killed(e[2], half=e[3])
            tainted |= set(HOSTS)
        else:
            lab.fail_next_run("nginx:1.25", times=e[2])
            _pass(lab, replicas, tainted)
            lab.fail_next_run("nginx:1.25", times=0)
    # Everything back, passes until a quiet one (slow start may take a few): exactly what is desired, once.
    for h in HOSTS:
        lab.reachable(h)
    for _ in range(6):
        r = _pass(lab, replicas, tainted)
        if not r.plan.actions:
            break
    assert r.plan.actions == [], r.plan.actions
    counts = Counter(p[3] for p in lab.pods())
    assert {k: v for k, v in counts.items() if k} == {f"rc/{n}": k for n, k in replicas.items() if k}
    assert counts[None] == (1 if bare else 0)
