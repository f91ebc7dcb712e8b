"""The store backends the contract tests run against: the SQLite file and a real etcd (a prefix of the
session's etcd member). Each `Backend` names one store by a URL that a child process can open too."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orchestrator.store import Lock, Store, open_store
from orchestrator.store.etcd import EtcdStore
from orchestrator.store.etcd_client import b64, prefix_end, unb64
from orchestrator.store.sqlite import SQLiteStore

BACKENDS = ["sqlite", "etcd"]


@dataclass
class Backend:
    name: str
    url: str  # `open_store(url)` opens this very store, in this process or another
    root: Any  # the folder (sqlite) or the etcd cluster (etcd) that siblings share

    def open(self, **options: Any) -> Store:
        if self.name == "sqlite":
            return SQLiteStore(self.url[len("sqlite:"):], **{"poll_interval": 0.01, **options})
        return EtcdStore(self.url, **options)

    def sibling(self) -> Backend:
        """Another, empty store of the same kind (a lost state file's successor, another cluster's)."""
        return make(self.name, self.root)

    def steal(self, lock: Lock) -> None:
        """Break `lock` behind its holder's back, as an administrator could (remove the holder's file; delete
        the lock key with etcdctl), so that a second taker can get in."""
        if self.name == "sqlite":
            lock.path.unlink()  # type: ignore[attr-defined]
        else:
            s = open_store(self.url)
            assert isinstance(s, EtcdStore)
            s.client.post("/kv/deleterange", {"key": b64(s.lock_key(lock.name))})
            s.close()

    def cleanup(self) -> None:
        """Revoke the leases of locks left behind, so they expire nowhere near the next test."""
        if self.name != "etcd":
            return
        s = open_store(self.url)
        assert isinstance(s, EtcdStore)
        base = s.lock_key("")
        answer = s.client.post("/kv/range", {"key": b64(base), "range_end": b64(prefix_end(base))})
        for kv in answer.get("kvs") or []:
            if kv.get("lease"):
                s.client.post("/kv/lease/revoke", {"ID": kv["lease"]})
        s.close()


def make(name: str, root: Any) -> Backend:
    if name == "sqlite":
        return Backend(name, f"sqlite:{Path(root) / uuid.uuid4().hex[:8] / 'orc.db'}", root)
    return Backend(name, root.url(f"test/{uuid.uuid4().hex[:12]}"), root)


def backend_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        b = make("sqlite", tmp_path)
    else:
        b = make("etcd", request.getfixturevalue("etcd"))
    yield b
    b.cleanup()


def decoded(kv: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return unb64(kv["key"]).decode(), json.loads(unb64(kv.get("value")))
