"""The etcd store against real etcd clusters started here: a 3-member cluster whose leader is killed while a
writer, a watcher and a lock holder go on; TLS with client certificates; etcd users with a password from a
file (and a token that expires)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.errors import LockHeldError, StoreError
from orchestrator.store import open_store
from orchestrator.store.etcd import EtcdStore
from tests.etcd_server import EtcdCluster, etcd_cluster, make_tls

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdCluster]:
    with etcd_cluster(tmp_path_factory.mktemp("etcd3"), size=3) as cluster:
        yield cluster


def _store(cluster: EtcdCluster, **query: str) -> EtcdStore:
    tail = "&".join(f"{k}={v}" for k, v in query.items())
    s = open_store(cluster.url(f"it/{uuid.uuid4().hex[:10]}") + (f"?{tail}" if tail else ""))
    assert isinstance(s, EtcdStore)
    return s


def test_writes_and_a_watch_go_on_when_the_leader_is_killed(three: EtcdCluster) -> None:
    store = _store(three, timeout="2")
    start = store.revision() + 1
    acked: list[tuple[str, int]] = []
    failed: list[str] = []
    seen: list[tuple[str, int]] = []

    def write() -> None:
        for i in range(120):
            try:
                rec = store.put(f"rc/w-{i:03d}", {"i": i}, expect_revision=0)
                acked.append((rec.key, rec.revision))
            except StoreError as e:
                failed.append(str(e))
            time.sleep(0.01)
        store.put("done", {})

    def watch() -> None:
        for ev in store.watch("", start_revision=start, timeout=60):
            if ev.record.key == "done":
                return
            seen.append((ev.record.key, ev.record.revision))

    writer, watcher = threading.Thread(target=write), threading.Thread(target=watch)
    writer.start()
    watcher.start()
    while len(acked) < 30:
        time.sleep(0.01)
    leader = three.leader()
    three.kill(leader)  # SIGKILL, mid-run
    try:
        writer.join(60)
        watcher.join(60)
        assert not failed, failed  # every write rode out the election (retried, or found to have landed)
        assert len(acked) == 120
        listed = {r.key: (r.value["i"], r.revision) for r in store.list("rc/")}
        assert {k: rev for k, rev in acked} == {k: rev for k, (_, rev) in listed.items()}  # nothing acked is lost
        assert seen == acked  # the watch resumed on another member without a gap or a repeat
    finally:
        three.restart(leader)


def test_a_lock_lease_outlives_a_leader_change(three: EtcdCluster) -> None:
    store = _store(three, timeout="2")
    with store.lock("reconcile", ttl=2) as lk:
        token = lk.token
        leader = three.leader()
        three.kill(leader)
        try:
            end = time.monotonic() + 4  # twice the ttl, refreshed in the background meanwhile
            while time.monotonic() < end:
                with pytest.raises(LockHeldError):
                    _store_same(three, store).lock("reconcile", ttl=2).acquire()
                time.sleep(0.2)
            lk.check()
            assert lk.token == token
            store.put("rc/x", {}, fence=lk.fence)
        finally:
            three.restart(leader)


def _store_same(cluster: EtcdCluster, store: EtcdStore) -> EtcdStore:
    s = open_store(cluster.url(store.options.prefix))
    assert isinstance(s, EtcdStore)
    return s


def test_tls_with_a_client_certificate(tmp_path: Path) -> None:
    tls = make_tls(tmp_path / "pki")
    with etcd_cluster(tmp_path / "etcd", tls=tls) as cluster:
        url = cluster.url("tls/c1")
        good = open_store(f"{url}?ca={tls.ca}&cert={tls.client_cert}&key={tls.client_key}")
        good.put("rc/web", {"replicas": 1})
        assert [r.key for r in good.list()] == ["rc/web"]
        with good.lock("reconcile", ttl=2) as lk:
            start = good.revision() + 1
            good.put("rc/web", {"replicas": 2}, fence=lk.fence)
            events = list(good.watch(start_revision=start, timeout=0.2))
            assert [(e.record.key, e.record.value, e.prev.value if e.prev else None) for e in events] == [
                ("rc/web", {"replicas": 2}, {"replicas": 1})]
        with pytest.raises(StoreError, match="unreachable.*TLS error|unreachable"):
            open_store(f"{url}?ca={tls.ca}&timeout=1").get("rc/web")  # no client certificate: refused
        with pytest.raises(StoreError, match="unreachable"):
            open_store(f"etcd://{cluster.endpoints}/tls/c1/?timeout=1").get("rc/web")  # plain HTTP to TLS


def test_an_etcd_user_with_a_password_file(tmp_path: Path) -> None:
    with etcd_cluster(tmp_path / "etcd") as cluster:
        cluster.etcdctl("user", "add", "root:rootpw", "--interactive=false")
        cluster.etcdctl("role", "add", "orc-rw")
        cluster.etcdctl("role", "grant-permission", "orc-rw", "--prefix=true", "readwrite", "/auth/c1/")
        cluster.etcdctl("user", "add", "orc:orcpw", "--interactive=false")
        cluster.etcdctl("user", "grant-role", "orc", "orc-rw")
        cluster.etcdctl("auth", "enable")
        pw = tmp_path / "etcd-password"
        pw.write_text("orcpw\n")
        s = open_store(cluster.url("auth/c1") + f"?user=orc&password_file={pw}")
        assert isinstance(s, EtcdStore)
        s.put("rc/web", {"replicas": 1})
        with s.lock("reconcile", ttl=2) as lk:
            s.put("rc/web", {"replicas": 2}, fence=lk.fence)
        assert [r.value for r in s.history("rc/web")] == [{"replicas": 2}, {"replicas": 1}]
        s.compact()  # compacting etcd itself needs root: skipped, the store's own clean-up still runs
        # an expired token (simple tokens lapse after 5 minutes idle) is replaced by a new one
        for c in s.client._all():
            c.session.headers["Authorization"] = "expired.token"
        assert s.get("rc/web") is not None

        bad = tmp_path / "bad-password"
        bad.write_text("wrong\n")
        with pytest.raises(StoreError, match="etcd refused user 'orc'.*check etcd.user") as err:
            open_store(cluster.url("auth/c1") + f"?user=orc&password_file={bad}").get("rc/web")
        assert "wrong" not in str(err.value) and "orcpw" not in str(err.value)
        with pytest.raises(StoreError, match="give etcd user 'orc' read and write on the prefix /auth/other/"):
            open_store(cluster.url("auth/other") + f"?user=orc&password_file={pw}").put("rc/web", {})
