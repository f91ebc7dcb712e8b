"""`orc store migrate`: a store of 500 objects with their history goes from SQLite to a real etcd and back,
and comes back exactly (compared object by object: every live value and every key's history); a target
that is not empty is refused; a copy that differs is named."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.store import Delete, Put, Store, open_store
from orchestrator.store.migrate import copy, differences, export
from tests.etcd_server import EtcdCluster
from tests.store_backends import make

pytestmark = pytest.mark.timeout(120)


def _fill(store: Store, objects: int = 500, seed: int = 7) -> None:
    """Objects created, scaled (several times for some), some deleted and some re-created, bookkeeping."""
    rng = random.Random(seed)
    for start in range(0, objects, 50):
        store.txn([Put(f"rc/app-{i}", {"spec": {"replicas": 1, "image": f"app:{i}"}}) for i in range(start, start + 50)])
    for gen in range(2, 14):  # more generations than the history keeps, for some keys
        picked = rng.sample(range(objects), 40)
        store.txn([Put(f"rc/app-{i}", {"spec": {"replicas": gen, "image": f"app:{i}"}}) for i in picked])
    for gen in range(14):  # and a few keys more often still
        store.txn([Put(f"rc/app-{i}", {"spec": {"replicas": gen, "image": "busy"}}) for i in (1, 2, 3)])
    store.txn([Delete(f"rc/app-{i}") for i in range(0, objects, 9)])
    store.txn([Put(f"rc/app-{i}", {"spec": {"replicas": 0, "image": "again"}}) for i in range(0, objects, 27)])
    store.put("svc/web", {"spec": {"ports": [{"port": 80}]}})
    store.put("_meta/cluster-ip/10.233.0.5", {"service": "web"})
    store.put("_meta/snapshot", {"hosts": {"h1": {"cpu": 2}}, "pods": ["x" * 2000]})
    store.put("_meta/snapshot", {"hosts": {"h1": {"cpu": 4}}, "pods": []})


def test_500_objects_round_trip_sqlite_etcd_sqlite_exactly(tmp_path: Path, etcd: EtcdCluster) -> None:
    original = open_store(f"sqlite:{tmp_path / 'a.db'}")
    _fill(original)
    before = export(original)
    assert sum(1 for k in before if k.startswith("rc/")) == 500
    assert max(len(h) for h in before.values()) == 10  # some histories are full

    on_etcd = make("etcd", etcd).open()
    copied, data = copy(original, on_etcd)
    assert data == before
    assert copied.keys == len(before) and copied.transactions < copied.changes / 10
    assert differences(before, on_etcd) == []

    back = open_store(f"sqlite:{tmp_path / 'b.db'}")
    copy(on_etcd, back)
    after = export(back)
    assert sorted(after) == sorted(before)
    for key, hist in before.items():  # object by object: the same values and deletions, newest first
        assert [(r.deleted, r.value) for r in after[key]] == [(r.deleted, r.value) for r in hist], key
    live = {r.key: r.value for r in original.list()}
    assert {r.key: r.value for r in on_etcd.list()} == live
    assert {r.key: r.value for r in back.list()} == live


def test_a_target_that_is_not_empty_is_refused_and_a_wrong_copy_is_named(tmp_path: Path, etcd: EtcdCluster) -> None:
    source = open_store(f"sqlite:{tmp_path / 'a.db'}")
    source.put("rc/web", {"replicas": 1})
    source.put("rc/web", {"replicas": 2})
    source.put("svc/web", {"port": 80})
    target = make("etcd", etcd).open()
    target.put("pod/stray", {})
    with pytest.raises(Exception, match=r"is not empty \(1 keys, e.g. 'pod/stray'\).*migrate only into an empty"):
        copy(source, target)
    target.delete("pod/stray")  # its history stays: still not empty
    with pytest.raises(Exception, match="is not empty"):
        copy(source, target)

    fresh = make("etcd", etcd).open()
    _, data = copy(source, fresh)
    fresh.put("rc/web", {"replicas": 3})  # someone wrote to the copy
    fresh.delete("svc/web")
    assert differences(data, fresh) == ["rc/web: the live value differs", "svc/web: the live value differs"]


def test_the_command_copies_to_etcd_verifies_and_says_what_next(tmp_path: Path, etcd: EtcdCluster) -> None:
    (tmp_path / "orc.yaml").write_text("cluster: mig-cli\nstore: sqlite:.orc/state.db\n")
    with open_store(f"sqlite:{tmp_path / '.orc' / 'state.db'}") as s:
        _fill(s, objects=60)
    url = f"etcd://{etcd.endpoints}/cli-{tmp_path.name}"

    def orc(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "orchestrator.cli.main", *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)

    cp = orc("store", "migrate", "--to", url)
    assert cp.returncode == 0, cp.stderr
    assert f"to etcd://{etcd.endpoints}/cli-{tmp_path.name}/mig-cli/" in cp.stdout
    assert "verified: every key, its value and its history match" in cp.stdout
    assert f"next: set `store: {url}`" in cp.stdout
    again = orc("store", "migrate", "--to", url)
    assert again.returncode == 1 and "is not empty" in again.stderr

    (tmp_path / "orc.yaml").write_text(f"cluster: mig-cli\nstore: {url}\n")
    status = orc("store", "status")
    assert status.returncode == 0 and "objects:   " in status.stdout and "/mig-cli/" in status.stdout
    back = orc("store", "migrate", "--to", "sqlite:.orc/back.db")
    assert back.returncode == 0, back.stderr
    a = export(open_store(f"sqlite:{tmp_path / '.orc' / 'state.db'}"))
    b = export(open_store(f"sqlite:{tmp_path / '.orc' / 'back.db'}"))
    assert {k: [(r.deleted, r.value) for r in h] for k, h in a.items()} == \
        {k: [(r.deleted, r.value) for r in h] for k, h in b.items()}
