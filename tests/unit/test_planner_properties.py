"""Property tests of the planner over random histories: scale changes, hosts lost and returning (with their
containers, or wiped), containers killed, passes cut short by a SIGKILL of the controller (some actions run,
a create half-done, the book not written), passes whose actions fail, and hosts unreachable for a while."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.plan.planner import plan
from tests.unit.plan_fixtures import GRACE, FakeCluster, PassRecord, config, desired, pod_doc, rc_doc

HOSTS = ("h1", "h2", "h3", "h4")
RCS = ("web", "api")

event = st.one_of(
    st.tuples(st.just("scale"), st.sampled_from(RCS), st.integers(0, 6)),
    st.tuples(st.just("down"), st.sampled_from(HOSTS)),
    st.tuples(st.just("up"), st.sampled_from(HOSTS)),
    st.tuples(st.just("wipe"), st.sampled_from(HOSTS)),  # the host comes back empty (reinstalled)
    st.tuples(st.just("kill"), st.integers(0, 30)),  # `docker rm -f` of some pod's app container
    st.tuples(st.just("pass"), st.just("full")),
    st.tuples(st.just("pass"), st.just("full")),
    st.tuples(
        st.just("pass"),
        st.just("killed"),
        st.fixed_dictionaries({h: st.integers(0, 3) for h in HOSTS}),
        st.booleans(),
    ),
    st.tuples(st.just("pass"), st.just("failing"), st.frozensets(st.integers(0, 8), max_size=3)),
    st.tuples(st.just("wait"), st.sampled_from([15.0, 45.0])),
)


def _desired(replicas: dict[str, int], bare: bool):
    docs = [rc_doc(name, n) for name, n in replicas.items()]
    return desired(*docs, *([pod_doc("db")] if bare else []))


def _check(c: FakeCluster, rec: PassRecord, replicas: dict[str, int], d, seed: int) -> None:
    # Deterministic: the same input and seed give the same plan.
    again = plan(d, rec.snapshot, rec.book_before, rec.snapshot.taken_at, config(), seed=seed)
    assert again == rec.plan
    ready = {h for h, f in rec.snapshot.hosts.items() if f.ready}
    # Nothing is asked of a host that cannot be reached.
    assert all(a.host in ready for a in rec.plan.actions), rec.plan.actions
    if not rec.written:
        return
    # The book believes what truly runs on every host it still counts (unless that host changed behind the
    # controller's back since it last saw it).
    for h, believed in c.book.assumed.items():
        if h not in c.tainted:
            assert {x["uid"] for x in believed} == c.uids_on(h), f"the book is wrong about {h}"
    if not rec.complete:
        return
    now = rec.snapshot.taken_at
    away_hosts = {h for h, since in rec.plan.book["host_failures"].items() if now - since < GRACE}
    assert away_hosts <= set(c.book.assumed), "a host within its grace period must keep its pods counted"
    for name, n in replicas.items():
        key = f"rc/{name}"
        # As the planner counts: seen, plus believed on hosts it cannot see; only pods it cannot reach (so
        # cannot delete) may take the count above `replicas`.
        seen = [p for p in c.pods() if p[0] in ready and p[3] == key]
        away = [x for h in away_hosts for x in c.book.assumed[h] if x.get("owner") == key]
        assert len(seen) + len(away) <= max(n, len(away)), (
            f"{key}: {len(seen)} pods seen + {len(away)} believed on unreachable hosts, {n} replicas"
        )
        # The truth, where the book can know it: never a pod created twice because a host lagged.
        if not away_hosts & c.tainted:
            real_away = [p for p in c.pods() if p[0] in away_hosts and p[3] == key]
            assert len(seen) + len(real_away) <= max(n, len(real_away))
        if ready == set(HOSTS):
            assert len(seen) == n, f"{key}: {len(seen)} pods after a full pass on a whole cluster, want {n}"
    names = Counter(p[1] for p in c.pods() if p[0] in ready)
    assert not [n for n, k in names.items() if k > 1], f"duplicate pods after a full pass: {names}"
    if ready == set(HOSTS):
        assert max(Counter(p[1] for p in c.pods()).values(), default=1) == 1
        assert all(x.labels.get("orc.pod-uid") for h in c.hosts.values() for x in h.containers)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(event, min_size=1, max_size=25), bare=st.booleans(), start=st.integers(1, 4))
def test_random_histories_keep_the_invariants(events, bare: bool, start: int) -> None:
    c = FakeCluster.of(*HOSTS)
    replicas = {"web": start, "api": 1}
    d = _desired(replicas, bare)
    for i, e in enumerate([*events, ("pass", "full")]):
        kind = e[0]
        if kind == "scale":
            replicas[e[1]] = e[2]
            d = _desired(replicas, bare)
        elif kind == "down":
            c.hosts[e[1]].up = False
        elif kind == "up":
            c.hosts[e[1]].up = True
        elif kind == "wipe":
            c.wipe(e[1])
        elif kind == "kill":
            pods = c.pods(reachable_only=True)
            if pods:
                h, name, _, _ = pods[e[1] % len(pods)]
                c.kill_container(h, name)
        elif kind == "wait":
            c.now += e[1]
        elif e[1] == "full":
            _check(c, c.run_pass(d, seed=i), replicas, d, i)
        elif e[1] == "killed":
            _check(c, c.run_pass(d, seed=i, cut=e[2], half=e[3]), replicas, d, i)
        else:
            _check(c, c.run_pass(d, seed=i, fail=e[2]), replicas, d, i)
    # Everything back and two quiet passes: exactly what is desired, once each.
    for h in c.hosts.values():
        h.up = True
    for k in range(2):
        rec = c.run_pass(d, seed=1000 + k)
        _check(c, rec, replicas, d, 1000 + k)
    assert rec.plan.actions == [], rec.plan.actions
    counts = Counter(p[3] for p in c.pods())
    assert {k: v for k, v in counts.items() if k} == {f"rc/{n}": r for n, r in replicas.items() if r}
    assert counts[None] == (1 if bare else 0)
