"""The store contract, run against both backends (the SQLite file and a real etcd): compare-and-swap,
transactions, history, watch, locks and fencing, including with several processes using the same store.
Revisions are counted from the store's revision when the test starts (etcd's is shared by every prefix)."""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
import time

import pytest

from orchestrator.errors import ConflictError, LockHeldError, StoreError
from orchestrator.store import (
    Check,
    CompactedError,
    Delete,
    FencedError,
    Lock,
    Put,
    Record,
    Store,
    open_store,
)
from tests.store_backends import BACKENDS, Backend, backend_fixture

pytestmark = pytest.mark.timeout(30)

ctx = multiprocessing.get_context("fork")

backend = pytest.fixture(params=BACKENDS)(backend_fixture)


@pytest.fixture
def store(backend: Backend):
    s = backend.open()
    yield s
    s.close()


@pytest.fixture
def r0(store: Store) -> int:
    """The store's revision before the test writes."""
    return store.revision()


# -- compare-and-swap ---------------------------------------------------------------------------------


def test_create_update_and_conflicts(store: Store, r0: int) -> None:
    created = store.put("pod/web-1", {"image": "nginx:1"}, expect_revision=0)
    assert created == Record("pod/web-1", {"image": "nginx:1"}, r0 + 1, r0 + 1, 1)

    with pytest.raises(ConflictError, match=rf'"pod/web-1".*expected it not to exist.*at revision {r0 + 1}.*re-read'):
        store.put("pod/web-1", {"image": "other"}, expect_revision=0)

    store.put("svc/web", {"port": 80})  # unconditional create: revision r0 + 2
    updated = store.put("pod/web-1", {"image": "nginx:2"}, expect_revision=created.revision)
    assert (updated.revision, updated.create_revision, updated.version) == (r0 + 3, r0 + 1, 2)

    with pytest.raises(ConflictError) as err:
        store.put("pod/web-1", {"image": "stale"}, expect_revision=created.revision)
    msg = str(err.value)
    assert '"pod/web-1"' in msg and f"revision {r0 + 1}" in msg and f"revision {r0 + 3}" in msg and "retry" in msg
    assert store.get("pod/web-1") == updated
    assert store.revision() == r0 + 3


def test_update_of_missing_key_conflicts(store: Store, r0: int) -> None:
    with pytest.raises(ConflictError, match=r'"rc/web".*expected revision 4.*does not exist'):
        store.put("rc/web", {"replicas": 2}, expect_revision=4)
    assert store.get("rc/web") is None
    assert store.revision() == r0


def test_delete_with_and_without_revision(store: Store, r0: int) -> None:
    rec = store.put("rc/web", {"replicas": 2})
    store.put("rc/web", {"replicas": 3})
    with pytest.raises(ConflictError, match=f"expected revision {r0 + 1}.*at revision {r0 + 2}"):
        store.delete("rc/web", expect_revision=rec.revision)
    assert store.get("rc/web") is not None

    assert store.delete("rc/web", expect_revision=r0 + 2) is True
    assert store.get("rc/web") is None
    assert store.revision() == r0 + 3
    assert store.delete("rc/web") is False  # nothing to delete: no new revision
    assert store.revision() == r0 + 3
    with pytest.raises(ConflictError, match="does not exist"):
        store.delete("rc/web", expect_revision=r0 + 2)

    again = store.put("rc/web", {"replicas": 1}, expect_revision=0)
    assert (again.revision, again.create_revision, again.version) == (r0 + 4, r0 + 4, 1)


def test_values_are_copies(store: Store) -> None:
    value = {"spec": {"replicas": 1}}
    rec = store.put("rc/web", value)
    value["spec"]["replicas"] = 9
    rec.value["spec"]["replicas"] = 8
    got = store.get("rc/web")
    assert got is not None and got.value == {"spec": {"replicas": 1}}


def test_list_by_prefix_sorted_with_revision(store: Store, r0: int) -> None:
    for key in ["svc/web", "pod/web-2", "pod/web-1", "pod/web-10", "podx/a", "_meta/snapshot"]:
        store.put(key, {"k": key})
    listed = store.list("pod/")
    assert [r.key for r in listed] == ["pod/web-1", "pod/web-10", "pod/web-2"]
    assert listed.revision == r0 + 6
    assert [r.key for r in store.list()] == sorted(
        ["svc/web", "pod/web-2", "pod/web-1", "pod/web-10", "podx/a", "_meta/snapshot"]
    )
    assert store.list("nothing/") == []


def test_invalid_keys_and_values_are_refused(store: Store, r0: int) -> None:
    with pytest.raises(StoreError, match="must be a dict"):
        store.put("pod/a", ["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="not JSON-serialisable"):
        store.put("pod/a", {"when": object()})
    with pytest.raises(StoreError, match="non-empty string"):
        store.put("", {})
    with pytest.raises(StoreError, match="expect_revision -1 is invalid"):
        store.put("pod/a", {}, expect_revision=-1)
    assert store.revision() == r0


# -- transactions -------------------------------------------------------------------------------------


def test_txn_is_all_or_nothing(store: Store, r0: int) -> None:
    store.put("svc/web", {"port": 80})  # revision r0 + 1
    with pytest.raises(ConflictError, match='"svc/web"'):
        store.txn([Put("rc/web", {"replicas": 2}, 0), Put("svc/web", {"port": 81}, 0), Delete("pod/x")])
    assert store.get("rc/web") is None
    assert store.get("svc/web") is not None and store.get("svc/web").value == {"port": 80}  # type: ignore[union-attr]
    assert store.revision() == r0 + 1

    rev = store.txn([Put("rc/web", {"replicas": 2}, 0), Put("svc/web", {"port": 81}, r0 + 1), Check("pod/x", 0)])
    assert rev == r0 + 2
    assert [(r.key, r.revision) for r in store.list()] == [("rc/web", r0 + 2), ("svc/web", r0 + 2)]


def test_txn_names_every_conflict_and_check_blocks(store: Store) -> None:
    store.put("a", {})
    store.put("b", {})
    with pytest.raises(ConflictError) as err:
        store.txn([Put("a", {"x": 1}, 0), Put("b", {"x": 1}, 0)])
    assert '"a"' in str(err.value) and '"b"' in str(err.value)
    with pytest.raises(ConflictError, match='"b"'):
        store.txn([Put("a", {"x": 1}), Check("b", 7)])
    assert store.get("a").value == {}  # type: ignore[union-attr]


def test_txn_refuses_writing_a_key_twice(store: Store) -> None:
    with pytest.raises(StoreError, match='"a" twice'):
        store.txn([Put("a", {}), Delete("a")])


# -- history ------------------------------------------------------------------------------------------


def test_history_newest_first_with_deletions(store: Store, r0: int) -> None:
    store.put("rc/web", {"image": "v1"})
    store.put("other", {})
    store.put("rc/web", {"image": "v2"})
    store.delete("rc/web")
    store.put("rc/web", {"image": "v3"})
    hist = store.history("rc/web")
    assert [(r.revision - r0, r.deleted, r.value) for r in hist] == [
        (5, False, {"image": "v3"}),
        (4, True, {}),
        (3, False, {"image": "v2"}),
        (1, False, {"image": "v1"}),
    ]
    assert [r.revision - r0 for r in store.history("rc/web", limit=2)] == [5, 4]
    assert store.history("missing") == []


def test_history_keeps_at_most_limit_per_key(backend: Backend) -> None:
    s = backend.open(history_limit=3, event_window=5, compact_every=1)
    for i in range(12):
        s.put("rc/web", {"generation": i})
    assert [r.value["generation"] for r in s.history("rc/web")] == [11, 10, 9]
    assert s.history("rc/web", limit=50)[-1].value == {"generation": 9}
    # older revisions are really gone: a watch from them is told to re-list
    with pytest.raises(CompactedError, match="cannot watch from revision 1.*list again"):
        next(s.watch(start_revision=1, timeout=0.1))
    events = list(s.watch(start_revision=s.revision() - 2, timeout=0.05))
    assert [e.record.value["generation"] for e in events] == [9, 10, 11]


def test_deleted_keys_are_forgotten_after_the_window(backend: Backend) -> None:
    s = backend.open(history_limit=5, event_window=2, compact_every=1)
    s.put("pod/gone", {})
    s.delete("pod/gone")
    for i in range(4):
        s.put("pod/kept", {"i": i})
    assert s.history("pod/gone") == []
    assert len(s.history("pod/kept")) == 4


# -- watch --------------------------------------------------------------------------------------------


def _writer(url: str, keys: list[str], delay: float) -> None:
    s = open_store(url)
    for i, key in enumerate(keys):
        s.put(key, {"i": i})
        time.sleep(delay)
    s.delete(keys[0])


def test_watch_sees_another_process_in_order(store: Store, backend: Backend) -> None:
    start = store.revision() + 1
    keys = [f"pod/p{i}" for i in range(15)] + ["svc/ignored"]
    proc = ctx.Process(target=_writer, args=(backend.url, keys, 0.002))
    proc.start()
    events = []
    for ev in store.watch("pod/", start_revision=start, timeout=10):
        events.append(ev)
        if ev.type == "DELETE":
            break
    proc.join(5)
    assert [e.record.key for e in events[:-1]] == keys[:-1]
    assert [e.record.revision for e in events] == sorted(e.record.revision for e in events)
    assert events[-1].type == "DELETE" and events[-1].record.deleted
    assert events[-1].prev is not None and events[-1].prev.value == {"i": 0}


def test_watch_from_a_past_revision_replays_with_prev(store: Store, r0: int) -> None:
    store.put("rc/web", {"replicas": 1})
    store.put("rc/web", {"replicas": 2})
    store.txn([Put("rc/db", {"replicas": 1}), Delete("rc/web")])
    events = list(store.watch("rc/", start_revision=r0 + 2, timeout=0.05))
    assert [(e.type, e.record.key, e.record.revision - r0) for e in events] == [
        ("PUT", "rc/web", 2),
        ("PUT", "rc/db", 3),
        ("DELETE", "rc/web", 3),
    ]
    assert events[0].prev is not None and events[0].prev.value == {"replicas": 1}
    assert events[1].prev is None
    assert events[2].prev is not None and events[2].prev.value == {"replicas": 2}


def test_watch_without_start_sees_only_new_changes_and_stops_on_timeout(store: Store) -> None:
    store.put("pod/old", {})
    t0 = time.monotonic()
    assert list(store.watch(timeout=0.2)) == []
    assert 0.15 <= time.monotonic() - t0 < 2


def _busy_writer(url: str, started, listed) -> None:  # type: ignore[no-untyped-def]
    s = open_store(url)
    for i in range(400):
        key = f"pod/p{i % 7}"
        if i % 5 == 4:
            s.delete(key)
        else:
            s.put(key, {"i": i})
        if i == 50:
            started.set()  # the parent lists while we go on writing
        if i == 350:
            listed.wait(10)  # make sure some writes come after the list, however fast this runs


def test_no_gap_between_list_and_watch(store: Store, backend: Backend) -> None:
    started, listed_evt = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_busy_writer, args=(backend.url, started, listed_evt))
    proc.start()
    assert started.wait(10)
    listed = store.list("pod/")
    listed_evt.set()
    state = {r.key: r.value for r in listed}
    proc.join(20)
    assert proc.exitcode == 0
    final_rev = store.revision()
    assert listed.revision < final_rev
    for ev in store.watch("pod/", start_revision=listed.revision + 1, timeout=5):
        if ev.type == "PUT":
            state[ev.record.key] = ev.record.value
        else:
            del state[ev.record.key]
        if ev.record.revision == final_rev:
            break
    assert state == {r.key: r.value for r in store.list("pod/")}


# -- concurrency --------------------------------------------------------------------------------------


def _increment(url: str, n: int) -> None:
    s = open_store(url)
    done = 0
    while done < n:
        rec = s.get("counter")
        assert rec is not None
        try:
            s.put("counter", {"n": rec.value["n"] + 1}, expect_revision=rec.revision)
            done += 1
        except ConflictError:
            continue


def test_two_processes_cas_increment_exactly(store: Store, backend: Backend) -> None:
    store.put("counter", {"n": 0})
    procs = [ctx.Process(target=_increment, args=(backend.url, 100)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(25)
        assert p.exitcode == 0
    rec = store.get("counter")
    assert rec is not None and rec.value == {"n": 200} and rec.version == 201


# -- locks and fencing --------------------------------------------------------------------------------


def _hold_lock(url: str, ready, release) -> None:  # type: ignore[no-untyped-def]
    s = open_store(url)
    with s.lock("reconcile", ttl=30) as lk:
        ready.put(lk.token)
        release.wait(20)


def test_lock_excludes_other_processes(store: Store, backend: Backend) -> None:
    ready, release = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=_hold_lock, args=(backend.url, ready, release))
    proc.start()
    child_token = ready.get(timeout=10)
    with pytest.raises(LockHeldError) as err:
        store.lock("reconcile", ttl=30).acquire()
    assert f"pid {proc.pid}" in str(err.value) and "since" in str(err.value)
    assert err.value.exit_code == 3
    release.set()
    proc.join(5)
    with store.lock("reconcile", ttl=30) as lk:
        assert lk.token > child_token


def test_lock_is_exclusive_within_one_process_too(store: Store) -> None:
    with store.lock("reconcile", ttl=30):
        with pytest.raises(LockHeldError):
            store.lock("reconcile", ttl=30).acquire()
        with store.lock("other", ttl=30) as other:  # other names are independent
            assert other.held


def test_lock_of_a_killed_holder_is_free(store: Store, backend: Backend) -> None:
    ready, release = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=_hold_lock, args=(backend.url, ready, release))
    proc.start()
    token = ready.get(timeout=10)
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(5)
    with store.lock("reconcile", ttl=30) as lk:
        assert lk.token > token


def test_fencing_refuses_a_writer_that_lost_the_lock(store: Store, backend: Backend) -> None:
    old = store.lock("reconcile", ttl=30).acquire()
    old_fence = old.fence
    store.put("rc/web", {"replicas": 1}, fence=old_fence)
    old.release()  # as if its lease expired

    other = backend.open()
    with other.lock("reconcile", ttl=30) as new:
        assert new.token > old_fence[1]
        want = rf'lock "reconcile" is now at token {new.token}, .* holds token {old_fence[1]};.*lost the lock'
        with pytest.raises(FencedError, match=want):
            store.put("rc/web", {"replicas": 9}, fence=old_fence)
        with pytest.raises(FencedError):
            store.txn([Put("rc/db", {})], fence=old_fence)
        with pytest.raises(FencedError):
            store.delete("rc/web", fence=old_fence)
        other.put("rc/web", {"replicas": 2}, fence=new.fence)
        new.refresh()
    assert store.get("rc/web").value == {"replicas": 2}  # type: ignore[union-attr]
    assert store.get("rc/db") is None
    with pytest.raises(FencedError, match="never been taken"):
        store.put("x", {}, fence=("unknown", 1))


def test_refresh_notices_a_lost_lock(store: Store, backend: Backend) -> None:
    lk = store.lock("reconcile", ttl=30).acquire()
    backend.steal(lk)  # someone broke the lock: a second holder can now get in
    with backend.open().lock("reconcile", ttl=30), pytest.raises(FencedError):
        lk.refresh()
    lk.release()


def _hold_then_check(url: str, ttl: float, ready, resumed, out) -> None:  # type: ignore[no-untyped-def]
    s = open_store(url)
    lk = s.lock("reconcile", ttl=ttl).acquire()
    ready.put(lk.token)
    resumed.wait(30)  # the parent SIGSTOPs this process here, takes the lease, then SIGCONTs it
    for attempt in ("check", "refresh", "write"):
        try:
            if attempt == "check":
                lk.check()
            elif attempt == "refresh":
                lk.refresh()
            else:
                s.put("rc/web", {"by": "stale"}, fence=lk.fence)
            out.put((attempt, "ok"))
        except FencedError as e:
            out.put((attempt, str(e)))
    lk.release()
    out.put(("released", ""))


def _take_within(backend: Backend, deadline: float) -> Lock:
    other = backend.open()
    while True:
        try:
            return other.lock("reconcile", ttl=30).acquire()
        except LockHeldError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_a_stopped_holder_loses_its_lease_after_the_ttl_and_learns_it_on_resume(backend: Backend, store: Store) -> None:
    ready, resumed, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    proc = ctx.Process(target=_hold_then_check, args=(backend.url, 0.6, ready, resumed, out))
    proc.start()
    assert proc.pid is not None
    try:
        old = ready.get(timeout=10)
        os.kill(proc.pid, signal.SIGSTOP)
        stopped_at = time.monotonic()
        with pytest.raises(LockHeldError):  # alive and within its ttl: not yet
            store.lock("reconcile", ttl=30).acquire()
        new = _take_within(backend, time.monotonic() + 10)
        assert time.monotonic() - stopped_at >= 0.5  # only once the ttl ran out
        assert new.token > old
        holder = store.lock_holder("reconcile")
        assert holder is not None and holder.pid == os.getpid() and holder.token == new.token
        os.kill(proc.pid, signal.SIGCONT)  # (an Event cannot be set while a waiter is stopped)
        resumed.set()
        got = dict(out.get(timeout=10) for _ in range(4))
        want = rf'lock "reconcile" is now at token {new.token}, but this writer holds token {old};'
        assert re.search("lease refresh refused: " + want, got["check"]), got
        assert re.search("lease refresh refused: " + want, got["refresh"]), got
        assert re.search("write refused: " + want, got["write"]), got
        proc.join(10)
        assert proc.exitcode == 0
        # The stale holder's release left the new holder's lease alone.
        assert store.lock_holder("reconcile").token == new.token  # type: ignore[union-attr]
        new.check()
        assert store.get("rc/web") is None
        new.release()
    finally:
        if proc.is_alive():
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()


def test_a_live_holder_keeps_its_lease_past_the_ttl_by_refreshing(store: Store, backend: Backend) -> None:
    ready, release = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=_hold_lock_ttl, args=(backend.url, 0.3, ready, release))
    proc.start()
    try:
        ready.get(timeout=10)
        end = time.monotonic() + 1.5  # five ttls
        while time.monotonic() < end:
            with pytest.raises(LockHeldError, match="refreshed until"):
                store.lock("reconcile", ttl=30).acquire()
            time.sleep(0.05)
    finally:
        release.set()
        proc.join(5)
    with store.lock("reconcile", ttl=30):  # released: free at once
        pass


def _hold_lock_ttl(url: str, ttl: float, ready, release) -> None:  # type: ignore[no-untyped-def]
    with open_store(url).lock("reconcile", ttl=ttl) as lk:
        ready.put(lk.token)
        release.wait(20)


def test_a_stopped_holder_keeps_its_lease_within_the_ttl(store: Store, backend: Backend) -> None:
    ready, release = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=_hold_lock, args=(backend.url, ready, release))  # ttl 30
    proc.start()
    assert proc.pid is not None
    try:
        ready.get(timeout=10)
        os.kill(proc.pid, signal.SIGSTOP)
        with pytest.raises(LockHeldError, match=f"pid {proc.pid}"):
            store.lock("reconcile", ttl=30).acquire()
        os.kill(proc.pid, signal.SIGKILL)  # dead now: free at once, whatever its ttl
        proc.join(5)
        with store.lock("reconcile", ttl=30) as lk:
            lk.check()
    finally:
        if proc.is_alive():
            proc.kill()


def test_check_after_release_says_the_lock_is_not_held(store: Store) -> None:
    lk = store.lock("reconcile", ttl=5).acquire()
    lk.check()
    lk.release()
    with pytest.raises(StoreError, match='lock "reconcile" is not held'):
        lk.check()
    with pytest.raises(StoreError, match="ttl 0 is invalid"):
        store.lock("reconcile", ttl=0)


def test_tokens_grow_across_a_lost_store(backend: Backend) -> None:
    """A fresh store (the old one lost) still hands out tokens above the old one's, which hosts recorded."""
    first = backend.open()
    with first.lock("reconcile", ttl=5) as a:
        old = a.token
    with backend.sibling().open().lock("reconcile", ttl=5) as b:
        assert b.token > old


def test_invalid_lock_name(store: Store) -> None:
    with pytest.raises(StoreError, match="lock name '../x' is invalid"):
        store.lock("../x", ttl=1)


# -- robustness ---------------------------------------------------------------------------------------


def _use_inherited(store: Store) -> None:
    store.put("from-child", {"ok": True})


def test_a_forked_child_can_use_the_parents_store_object(store: Store) -> None:
    store.put("before", {})
    proc = ctx.Process(target=_use_inherited, args=(store,))
    proc.start()
    proc.join(10)
    assert proc.exitcode == 0
    store.put("after", {})
    assert [r.key for r in store.list()] == ["after", "before", "from-child"]


def test_watch_in_a_thread_sees_writes_of_another_thread(store: Store) -> None:
    import threading

    seen: list[str] = []
    start = store.revision() + 1

    def watcher() -> None:
        for ev in store.watch(start_revision=start, timeout=5):
            seen.append(ev.record.key)
            if len(seen) == 3:
                return

    t = threading.Thread(target=watcher)
    t.start()
    for key in ["a", "b", "c"]:
        store.put(key, {})
    t.join(6)
    assert seen == ["a", "b", "c"]
