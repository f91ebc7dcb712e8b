"""controllers/moved_keys.py: workloads an older orc stored under rc/NAME whatever their kind, read under their
own kind's key, moved once in one transaction, and their pods (still labelled with the old key) kept theirs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.controllers.desired import load_desired
from orchestrator.controllers.moved_keys import (
    Moved,
    current_objects,
    migrate,
    migration,
    moves_of,
    own_key,
    owner_of,
)
from orchestrator.errors import ConflictError
from orchestrator.store import Put, Record, Store, keys, open_store


def workload(kind: str, name: str = "web") -> dict[str, Any]:
    template = {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "a", "image": "b"}]}}
    if kind == "ReplicationController":
        return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, "spec": {"template": template}}
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": name}}, "template": template}}


def rec(key: str, value: dict[str, Any], revision: int = 1) -> Record:
    return Record(key, value, revision, revision, 1)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:{tmp_path / 'state.db'}")
    yield s
    s.close()


def snapshot(*pods: tuple[str, str | None]) -> dict[str, Any]:
    return {"taken_at": 1.0, "hosts": [], "pods": [{"name": f"p-{u}", "uid": u, "host": "h1", "owner": o}
                                                   for u, o in pods]}


def test_own_key_names_where_a_legacy_record_belongs() -> None:
    assert own_key("rc/web", workload("Deployment")) == "deploy/web"
    assert own_key("rc/web", workload("ReplicaSet")) == "rs/web"
    assert own_key("rc/web", workload("ReplicationController")) is None
    assert own_key("deploy/web", workload("Deployment")) is None
    assert own_key("pod/web", {"kind": "Pod"}) is None
    assert own_key("rc/web", {}) is None


def test_pods_labelled_with_the_old_key_are_the_moved_objects() -> None:
    before = moves_of([rec("rc/web", workload("Deployment"))])
    assert before == {"rc/web": Moved("rc/web", "deploy/web", "Deployment")}
    # not moved yet: every pod labelled rc/web is the Deployment's (no RC web can exist then)
    assert owner_of("rc/web", "any", before) == "deploy/web"
    after = moves_of([rec(keys.moved_key("rc/web"), {"to": "deploy/web", "kind": "Deployment", "at": 5.0,
                                                      "uids": ["u1", "u2"]}),
                      rec("rc/web", workload("ReplicationController")), rec("deploy/web", workload("Deployment"))])
    assert after["rc/web"].at == 5.0 and after["rc/web"].uids == {"u1", "u2"}
    # moved: the pods it had then stay its own; a new RC's pods (other uids) are the RC's
    assert [owner_of("rc/web", u, after) for u in ("u1", "u2", "u3")] == ["deploy/web", "deploy/web", "rc/web"]
    assert owner_of("rc/api", "u1", after) == "rc/api" and owner_of(None, "u1", after) is None
    assert owner_of("deploy/web", "u9", after) == "deploy/web"


def test_current_objects_puts_a_legacy_record_under_its_own_key_unless_that_is_taken() -> None:
    records = [rec("rc/web", workload("Deployment"), 3), rec("rc/api", workload("ReplicationController", "api")),
               rec("_meta/snapshot", {}), rec("svc/web", {"kind": "Service"})]
    got = current_objects(records)
    assert list(got) == ["deploy/web", "rc/api", "svc/web"]
    assert got["deploy/web"].key == "deploy/web" and got["deploy/web"].revision == 3
    taken = current_objects([rec("rc/web", workload("Deployment")), rec("deploy/web", workload("Deployment"), 7)])
    assert {k: r.revision for k, r in taken.items()} == {"deploy/web": 7, "rc/web": 1}


def test_the_desired_state_of_an_older_store_has_each_kind_under_its_own_key(store: Store) -> None:
    store.txn([Put("rc/web", workload("Deployment")), Put("rc/api", workload("ReplicationController", "api")),
               Put("rc/db", workload("ReplicaSet", "db"))])
    d = load_desired(store)
    assert sorted(d.workloads) == ["deploy/web", "rc/api", "rs/db"]
    assert d.owner_of("rc/web", "u1") == "deploy/web" and d.owner_of("rc/api", "u1") == "rc/api"
    assert d.owner_of("rc/db", "u2") == "rs/db"
    # a copy that cannot move (its key taken) is not desired twice
    store.put("deploy/web", workload("Deployment"))
    d = load_desired(store)
    assert sorted(d.workloads) == ["deploy/web", "rc/api", "rs/db"] and d.moved["rc/web"].stranded


def test_migrate_moves_once_in_one_transaction_with_the_pods_the_last_pass_saw(store: Store) -> None:
    store.txn([Put("rc/web", workload("Deployment")), Put("_meta/created/rc/web", {"at": 100.0}),
               Put("rc/api", workload("ReplicationController", "api")), Put("rc/db", workload("ReplicaSet", "db")),
               Put(keys.SNAPSHOT, snapshot(("u1", "rc/web"), ("u2", "rc/web"), ("u3", "rc/api"), ("u4", None)))])
    before = store.revision()
    lines = migrate(store, 1234.0)
    assert store.revision() == before + 1  # one transaction
    assert lines == [
        'store: moved ReplicaSet "db" from rc/db to rs/db (an older orc kept every workload kind under rc/); its '
        "pods keep their docker label orc.owner=rc/db and stay its own",
        'store: moved Deployment "web" from rc/web to deploy/web (an older orc kept every workload kind under '
        "rc/); its 2 pods keep their docker label orc.owner=rc/web and stay its own",
    ]
    objects = [r.key for r in store.list("") if not r.key.startswith(keys.META)]
    assert objects == ["deploy/web", "rc/api", "rs/db"]
    assert store.get("deploy/web").value == workload("Deployment")  # type: ignore[union-attr]
    assert store.get("_meta/created/deploy/web").value == {"at": 100.0}  # type: ignore[union-attr]
    assert store.get("_meta/created/rc/web") is None
    assert store.get(keys.moved_key("rc/web")).value == {  # type: ignore[union-attr]
        "to": "deploy/web", "kind": "Deployment", "at": 1234.0, "uids": ["u1", "u2"]}
    assert store.get(keys.moved_key("rc/db")).value["uids"] == []  # type: ignore[union-attr]
    assert migrate(store, 2000.0) == [] and store.revision() == before + 1  # nothing more to move, no write


def test_a_concurrent_change_fails_the_whole_move(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.txn([Put("rc/web", workload("Deployment")), Put("rc/db", workload("ReplicaSet", "db"))])
    stale = store.list("")
    store.put("rc/web", {**workload("Deployment"), "spec": {**workload("Deployment")["spec"], "replicas": 4}})
    monkeypatch.setattr(store, "list", lambda prefix="": stale)
    with pytest.raises(ConflictError, match="nothing was moved: run the command again"):
        migrate(store, 1.0)
    monkeypatch.undo()
    assert [r.key for r in store.list("") if not r.key.startswith(keys.META)] == ["rc/db", "rc/web"]


def test_a_legacy_record_whose_key_is_taken_stays_and_is_named(store: Store) -> None:
    store.txn([Put("rc/web", workload("Deployment")), Put("deploy/web", workload("Deployment"))])
    ops, lines = migration(store.list(""), 1.0)
    assert ops == [] and lines == [
        'warning: Deployment "web" written by an older orc is still stored under rc/web, and deploy/web exists '
        "too: the older copy is ignored; `orc delete rc/web` removes it"]


def test_written_again_by_an_older_orc_after_a_move_it_moves_again_keeping_both_sets_of_pods(store: Store) -> None:
    store.txn([Put("rc/web", workload("Deployment")), Put(keys.SNAPSHOT, snapshot(("u1", "rc/web")))])
    migrate(store, 1.0)
    store.delete("deploy/web")  # then an older orc, run by someone else, applies it again under rc/web
    store.txn([Put("rc/web", workload("Deployment")), Put(keys.SNAPSHOT, snapshot(("u1", "rc/web"), ("u5", "rc/web")))])
    assert moves_of(store.list(""))["rc/web"].at is None  # meanwhile every rc/web pod is the Deployment's
    migrate(store, 2.0)
    assert store.get(keys.moved_key("rc/web")).value["uids"] == ["u1", "u5"]  # type: ignore[union-attr]
