"""The desired-state store. `open_store(project.store_url)` gives the backend named in orc.yaml.

See `store/base.py` for the model (revisions, compare-and-swap, history, watch, locks with fencing tokens)
and the key layout; `store/keys.py` builds keys.
"""

from __future__ import annotations

import os
from typing import Any

from orchestrator.errors import ConfigError
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
