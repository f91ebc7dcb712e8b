"""The desired-state store. `open_store(project.store_url)` gives the backend named in orc.yaml.

See `store/base.py` for the model (revisions, compare-and-swap, history, watch, locks with fencing tokens)
and the key layout; `store/keys.py` builds keys.
"""

from __future__ import annotations

import os
from typing import Any

from orchestrator.errors import ConfigError, ConflictError
from orchestrator.store.base import (
    Check,
    CompactedError,
    Delete,
    Event,
    Fence,
    FencedError,
    Lock,
    LockHolder,
    Op,
    Put,
    Record,
    RecordList,
    Store,
)

__all__ = [
    "Check",
    "CompactedError",
    "Delete",
    "Event",
    "Fence",
    "FencedError",
    "Lock",
    "LockHolder",
    "Op",
    "Put",
    "Record",
    "RecordList",
    "Store",
    "bind_cluster",
    "cluster_ops",
    "open_store",
]


def open_store(url: str, **options: Any) -> Store:
    """`sqlite:/abs/path.db` (also `sqlite:///abs/path.db`) opens the embedded store, creating the file and
    its folders; `etcd://host:port[,host:port...]/prefix/?options` an etcd store (`store/etcd_options.py`);
    `options` go to the backend (e.g. history_limit)."""
    if url.startswith("sqlite:"):
        raw = url[len("sqlite:") :]
        if raw.startswith("//"):
            raw = "/" + raw.lstrip("/")
        path = os.path.expanduser(raw)
        if not path or not os.path.isabs(path):
            raise ConfigError(
                f"store {url!r} is invalid: the SQLite path must be absolute (as orc.yaml's `store` "
                "resolves it relative to orc.yaml), e.g. sqlite:/srv/orc/state.db"
            )
        from orchestrator.store.sqlite import SQLiteStore

        return SQLiteStore(path, **options)
    if url.startswith("etcd://"):
        from orchestrator.store.etcd import EtcdStore
        from orchestrator.store.etcd_options import parse_url

        return EtcdStore(parse_url(url), **options)
    raise ConfigError(
        f"store {url!r} is invalid: use sqlite:PATH (e.g. sqlite:.orc/state.db in orc.yaml) or etcd://host:port"
    )


def bind_cluster(store: Store, cluster: str | None, *, write: bool) -> None:
    """A store serves one cluster: the name (orc.yaml `cluster:`) recorded in `_meta/cluster`. Refuses a
    store recorded for another cluster (ConfigError, nothing read or written); with `write`, records the name
    in a store that has none yet (create-only, so two first writers agree or one fails). No name: no check."""
    from orchestrator.store.keys import CLUSTER

    if not cluster:
        return
    rec = store.get(CLUSTER)
    if rec is None:
        if write:
            try:
                store.put(CLUSTER, {"name": cluster}, expect_revision=0)
            except ConflictError:
                bind_cluster(store, cluster, write=False)
        return
    have = rec.value.get("name") if isinstance(rec.value, dict) else None
    if have != cluster:
        raise ConfigError(
            f"this store holds the desired state of cluster {have!r}, but orc.yaml names cluster {cluster!r}: "
            f"a store serves one cluster. Put `cluster: {have}` back in orc.yaml if this is that cluster (a "
            "clone of its project), or give this cluster a store of its own (orc.yaml `store:`)"
        )


def cluster_ops(store: Store, cluster: str | None) -> list[Op]:
    """The write that records `cluster` in a store that has no name yet, to commit with a change (so a
    failed change writes nothing at all); none when it is recorded (bind_cluster checked it) or unnamed."""
    from orchestrator.store.keys import CLUSTER

    if not cluster or store.get(CLUSTER) is not None:
        return []
    return [Put(CLUSTER, {"name": cluster}, expect_revision=0)]
