"""What only the SQLite store has: its file (created with its folders, upgraded from an older schema, named
when it is not a database) and how `open_store` reads a `sqlite:` URL. The contract both backends keep is
in test_store_contract.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import ConfigError, StoreError
from orchestrator.store import open_store
from orchestrator.store.sqlite import SQLiteStore


def test_a_store_from_before_leases_is_upgraded(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE locks (name TEXT PRIMARY KEY, token INTEGER NOT NULL, pid INTEGER NOT NULL, "
                 "host TEXT NOT NULL, since REAL NOT NULL)")
    conn.execute("INSERT INTO locks VALUES ('reconcile', 7, 1, 'x', 0)")
    conn.commit()
    conn.close()
    s = SQLiteStore(path)
    with s.lock("reconcile", ttl=5) as lk:
        assert lk.token > 7


# -- open_store ---------------------------------------------------------------------------------------


def test_open_store_sqlite_creates_folders(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "state.db"
    with open_store(f"sqlite:{path}") as s:
        s.put("pod/x", {})
    with open_store(f"sqlite://{path}") as s:
        assert s.get("pod/x") is not None


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("sqlite:relative/state.db", "must be absolute"),
        ("etcd://", "no endpoint"),
        ("etcd://127.0.0.1:99999", "port .99999. is invalid"),
        ("redis://x", "use sqlite:PATH"),
    ],
)
def test_open_store_rejects(url: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        open_store(url)


def test_a_file_that_is_not_sqlite_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "state.db"
    bad.write_text("this is not a database, " * 100)
    with pytest.raises(StoreError, match=f"store {bad}: cannot open it as a SQLite database"):
        SQLiteStore(bad)
