"""The embedded store: one SQLite file (WAL mode), safe for several processes at once.

Tables: `kv` (live keys), `revisions` (every change, pruned: history and the watch log), `meta` (the
global revision and the compaction point), `locks` (each lock's lease: token, holder, expiry).
Every write runs in a `BEGIN IMMEDIATE` transaction, so revisions are assigned in commit order. Watch polls
`revisions` every `poll_interval` seconds.

Locks are leases recorded in `locks` (token, holder, `expires`), taken and taken over inside a write
transaction. Each holder also keeps an `flock` on its own file beside the database (`<db>.<name>.<token>.lock`):
the kernel drops it when the holder dies, even by SIGKILL, so a dead holder's lease is free at once, while a
live holder that stopped refreshing (stalled, SIGSTOPped) keeps it only until `expires`.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from orchestrator.errors import StoreError
from orchestrator.store.base import (
    DEFAULT_HISTORY_LIMIT,
    Check,
    CommitResult,
    CompactedError,
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
    conflict,
    encode_value,
    fenced,
    lock_held,
    next_token,
    validate_key,
    validate_lock_name,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (name, value) VALUES ('revision', 0), ('compact_revision', 0), ('schema', 1);
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    revision INTEGER NOT NULL,
    create_revision INTEGER NOT NULL,
    version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS revisions (
    revision INTEGER NOT NULL,
    sub INTEGER NOT NULL,             -- order of the change within its transaction
    key TEXT NOT NULL,
    value TEXT NOT NULL,              -- for a delete: the value deleted
    create_revision INTEGER NOT NULL, -- for a delete: that of the value deleted
    version INTEGER NOT NULL,         -- for a delete: that of the value deleted
    deleted INTEGER NOT NULL,
    prev_revision INTEGER NOT NULL,   -- mod revision of the value before this change, 0 if none
    PRIMARY KEY (revision, sub)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS revisions_by_key ON revisions (key, revision);
CREATE TABLE IF NOT EXISTS locks (
    name TEXT PRIMARY KEY,
    token INTEGER NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    since REAL NOT NULL,
    expires REAL NOT NULL DEFAULT 0 -- when the lease lapses unless refreshed (0: released)
);
"""

_KV_COLS = "key, value, revision, create_revision, version"
_REV_COLS = "key, value, revision, create_revision, version, deleted, prev_revision, sub"


class SQLiteStore(Store):
    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        history_limit: int = DEFAULT_HISTORY_LIMIT,
        event_window: int = 1000,
        compact_every: int = 100,
        busy_timeout: float = 10.0,
        poll_interval: float = 0.05,
    ):
        """`history_limit`: revisions kept per key; `event_window`: how many recent global revisions a
        watch can always resume from; compaction runs every `compact_every` revisions."""
        if history_limit < 1:
            raise StoreError(f"SQLiteStore history_limit {history_limit} is invalid: must be >= 1")
        self.path = Path(path)
        self.history_limit = history_limit
        self.event_window = max(event_window, 1)
        self.compact_every = max(compact_every, 1)
        self.busy_timeout = busy_timeout
        self.poll_interval = poll_interval
        self._mutex = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"store {self.path}: cannot create its folder: {e}") from e
        self._connection()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    # -- connection ----------------------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        """The connection of this process (a forked child opens its own, as SQLite requires)."""
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        try:
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            self._retry_busy(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone())
            conn.execute("PRAGMA synchronous = NORMAL")
            self._retry_busy(lambda: self._create_schema(conn))
        except sqlite3.DatabaseError as e:
            raise StoreError(f"store {self.path}: cannot open it as a SQLite database: {e}") from e
        self._conn, self._pid = conn, os.getpid()
        return conn

    def _retry_busy(self, fn: Any) -> Any:
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    @staticmethod
    def _create_schema(conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    conn.execute(stmt)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(locks)")}
            if "expires" not in columns:  # a store made before locks were leases
                conn.execute("ALTER TABLE locks ADD COLUMN expires REAL NOT NULL DEFAULT 0")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._mutex:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    @contextlib.contextmanager
    def _txn(self, mode: str) -> Iterator[sqlite3.Connection]:
        """A transaction: mode "IMMEDIATE" for writes (takes the write lock at once), "DEFERRED" for a
        consistent multi-statement read."""
        with self._mutex:
            conn = self._connection()
            try:
                conn.execute(f"BEGIN {mode}")
            except sqlite3.OperationalError as e:
                raise self._busy(e) from e
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.OperationalError as e:
                conn.execute("ROLLBACK")
                raise self._busy(e) from e

    def _busy(self, e: sqlite3.OperationalError) -> StoreError:
        if "locked" in str(e) or "busy" in str(e):
            return StoreError(
                f"store {self.path} is busy: another process kept it locked for more than "
                f"{self.busy_timeout:.0f}s; retry, or find the process holding it"
            )
        return StoreError(f"store {self.path}: {e}")

    # -- reads ---------------------------------------------------------------------------------------
    def get(self, key: str) -> Record | None:
        validate_key(key)
        with self._txn("DEFERRED") as c:
            row = c.execute(f"SELECT {_KV_COLS} FROM kv WHERE key = ?", (key,)).fetchone()
        return _kv_record(row) if row else None

    def list(self, prefix: str = "") -> RecordList:
        lo, hi = _prefix_range(prefix)
        with self._txn("DEFERRED") as c:
            rev = _meta(c, "revision")
            if hi is None:
                rows = c.execute(f"SELECT {_KV_COLS} FROM kv WHERE key >= ? ORDER BY key", (lo,)).fetchall()
            else:
                rows = c.execute(
                    f"SELECT {_KV_COLS} FROM kv WHERE key >= ? AND key < ? ORDER BY key", (lo, hi)
                ).fetchall()
        return RecordList([_kv_record(r) for r in rows], rev)

    def revision(self) -> int:
        with self._txn("DEFERRED") as c:
            return _meta(c, "revision")

    def history(self, key: str, limit: int | None = None) -> builtins.list[Record]:
        validate_key(key)
        n = self.history_limit if limit is None else max(0, min(limit, self.history_limit))
        with self._txn("DEFERRED") as c:
            rows = c.execute(
                f"SELECT {_REV_COLS} FROM revisions WHERE key = ? ORDER BY revision DESC LIMIT ?", (key, n)
            ).fetchall()
        return [_rev_record(r) for r in rows]

    def history_keys(self, prefix: str = "") -> builtins.list[str]:
        lo, hi = _prefix_range(prefix)
        where = "key >= ?" + ("" if hi is None else " AND key < ?")
        args = (lo,) if hi is None else (lo, hi)
        with self._txn("DEFERRED") as c:
            rows = c.execute(f"SELECT key FROM kv WHERE {where} UNION SELECT key FROM revisions WHERE {where} "
                             "ORDER BY key", args + args).fetchall()
        return [r[0] for r in rows]

    @property
    def where(self) -> str:
        return f"sqlite:{self.path}"

    def watch(
        self, prefix: str = "", start_revision: int | None = None, timeout: float | None = None
    ) -> Iterator[Event]:
        lo, hi = _prefix_range(prefix)
        if start_revision is None:
            start_revision = self.revision() + 1
        return self._watch(lo, hi, start_revision, timeout)

    def _watch(self, lo: str, hi: str | None, start: int, timeout: float | None) -> Iterator[Event]:
        deadline = None if timeout is None else time.monotonic() + timeout
        cursor = (start, 0)  # the next (revision, sub) wanted: everything before it was yielded
        key_filter = "key >= ?" + ("" if hi is None else " AND key < ?")
        key_args: tuple[str, ...] = (lo,) if hi is None else (lo, hi)
        batch = 1000
        while True:
            with self._txn("DEFERRED") as c:
                compacted = _meta(c, "compact_revision")
                if cursor[0] <= compacted:
                    raise CompactedError(
                        f"store {self.path}: cannot watch from revision {cursor[0]}: revisions up to "
                        f"{compacted} were compacted; list again and watch from the list's revision + 1"
                    )
                seen = _meta(c, "revision")
                rows = c.execute(
                    f"SELECT {_REV_COLS} FROM revisions WHERE (revision, sub) >= (?, ?) AND {key_filter} "
                    "ORDER BY revision, sub LIMIT ?",
                    (*cursor, *key_args, batch),
                ).fetchall()
                events = [self._event(c, r) for r in rows]
            for row, event in zip(rows, events, strict=True):
                cursor = (row[2], row[7] + 1)
                yield event
            if len(rows) == batch:
                continue
            cursor = max(cursor, (seen + 1, 0))
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                time.sleep(min(self.poll_interval, left))
            else:
                time.sleep(self.poll_interval)

    @staticmethod
    def _event(c: sqlite3.Connection, row: tuple[Any, ...]) -> Event:
        key, value, revision, create_rev, version, deleted, prev_rev, _sub = row
        if deleted:
            gone = Record(key, json.loads(value), prev_rev, create_rev, version)
            return Event("DELETE", Record(key, {}, revision, 0, 0, deleted=True), gone)
        prev: Record | None = None
        if prev_rev:
            p = c.execute(
                f"SELECT {_REV_COLS} FROM revisions WHERE key = ? AND revision = ?", (key, prev_rev)
            ).fetchone()
            prev = _rev_record(p) if p else None
        return Event("PUT", Record(key, json.loads(value), revision, create_rev, version), prev)

    # -- writes --------------------------------------------------------------------------------------
    def _commit(self, ops: Sequence[Op], fence: Fence | None) -> CommitResult:
        encoded = {op.key: encode_value(op.key, op.value) for op in ops if isinstance(op, Put)}
        with self._txn("IMMEDIATE") as c:
            if fence is not None:
                _check_fence(c, fence)
            current: dict[str, tuple[Any, ...]] = {}
            for op in ops:
                row = c.execute(f"SELECT {_KV_COLS} FROM kv WHERE key = ?", (op.key,)).fetchone()
                if row:
                    current[op.key] = row
            conflicts = []
            for op in ops:
                row = current.get(op.key)
                actual = row[2] if row else None
                want = op.expect_revision
                if want is not None and not (actual == want or (want == 0 and actual is None)):
                    conflicts.append(conflict(op.key, want, actual))
            if conflicts:
                first = conflicts[0]
                if len(conflicts) > 1:
                    first.args = ("; ".join(str(e) for e in conflicts),)
                raise first
            rev = _meta(c, "revision")
            new_rev, sub = rev + 1, 0
            results: builtins.list[Record | bool | None] = []
            for op in ops:
                row = current.get(op.key)
                if isinstance(op, Check):
                    results.append(None)
                elif isinstance(op, Put):
                    create_rev, version = (row[3], row[4] + 1) if row else (new_rev, 1)
                    value = encoded[op.key]
                    c.execute(
                        "INSERT OR REPLACE INTO kv (key, value, revision, create_revision, version) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (op.key, value, new_rev, create_rev, version),
                    )
                    _log(c, new_rev, sub, op.key, value, create_rev, version, False, row[2] if row else 0)
                    sub += 1
                    results.append(Record(op.key, json.loads(value), new_rev, create_rev, version))
                elif row is None:
                    results.append(False)
                else:
                    c.execute("DELETE FROM kv WHERE key = ?", (op.key,))
                    _log(c, new_rev, sub, op.key, row[1], row[3], row[4], True, row[2])
                    sub += 1
                    results.append(True)
            if sub == 0:
                return CommitResult(rev, results)
            c.execute("UPDATE meta SET value = ? WHERE name = 'revision'", (new_rev,))
            if new_rev % self.compact_every == 0:
                self._compact(c, new_rev - self.event_window)
        return CommitResult(new_rev, results)

    def _compact(self, c: sqlite3.Connection, boundary: int) -> None:
        """Forget revisions <= boundary, except each live key's newest `history_limit`."""
        if boundary <= _meta(c, "compact_revision"):
            return
        c.execute(
            "DELETE FROM revisions WHERE revision <= ? AND key NOT IN (SELECT key FROM kv)", (boundary,)
        )
        c.execute(
            "DELETE FROM revisions WHERE (revision, sub) IN ("
            " SELECT revision, sub FROM ("
            "  SELECT revision, sub, ROW_NUMBER() OVER (PARTITION BY key ORDER BY revision DESC) AS n"
            "  FROM revisions) WHERE n > ? AND revision <= ?)",
            (self.history_limit, boundary),
        )
        c.execute("UPDATE meta SET value = ? WHERE name = 'compact_revision'", (boundary,))

    def compact(self) -> None:
        """Compact now (normally done every `compact_every` revisions)."""
        with self._txn("IMMEDIATE") as c:
            self._compact(c, _meta(c, "revision") - self.event_window)

    # -- locks ---------------------------------------------------------------------------------------
    def lock(self, name: str, *, ttl: float) -> SQLiteLock:
        return SQLiteLock(self, validate_lock_name(name), ttl)

    def lock_holder(self, name: str) -> LockHolder | None:
        """The current or last holder of lock `name`, as recorded when it was acquired or refreshed."""
        with self._txn("DEFERRED") as c:
            row = c.execute(
                "SELECT name, token, pid, host, since, expires FROM locks WHERE name = ?", (name,)
            ).fetchone()
        return LockHolder(*row) if row else None

    def _current_token(self, name: str) -> int | None:
        holder = self.lock_holder(name)
        return holder.token if holder else None


class SQLiteLock(Lock):
    """A lease on lock `name`: the row in `locks` says who holds it until when; the holder's `flock` on
    `path` tells a taker whether it still lives. A background thread refreshes the lease every ttl/3."""

    def __init__(self, store: SQLiteStore, name: str, ttl: float):
        if not ttl > 0:
            raise StoreError(f'lock "{name}": ttl {ttl!r} is invalid: use a number of seconds above 0')
        super().__init__(name, ttl)
        self._store = store
        self._fd: int | None = None
        self._lost: FencedError | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.path = self._file(0)

    def _file(self, token: int) -> Path:
        return self._store.path.with_name(f"{self._store.path.name}.{self.name}.{token}.lock")

    def acquire(self) -> SQLiteLock:
        if self._fd is not None:
            raise StoreError(f'lock "{self.name}" is already held by this object: release it first')
        now = time.time()
        with self._store._txn("IMMEDIATE") as c:
            row = c.execute(
                "SELECT name, token, pid, host, since, expires FROM locks WHERE name = ?", (self.name,)
            ).fetchone()
            holder = LockHolder(*row) if row else None
            if holder is not None and holder.expires > now and _alive(self._file(holder.token)):
                raise lock_held(holder, self.name, now)
            token = next_token(holder.token if holder else 0, now)
            fd = _hold(self._file(token))
            try:
                c.execute(
                    "INSERT OR REPLACE INTO locks (name, token, pid, host, since, expires) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (self.name, token, os.getpid(), socket.gethostname(), now, now + self.ttl),
                )
            except BaseException:
                os.close(fd)
                raise
            self._sweep(token)
        self._fd, self._token, self._lost = fd, token, None
        self.path = self._file(token)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._heartbeat, args=(self._stop,),
                                        name=f"lease-{self.name}", daemon=True)
        self._thread.start()
        return self

    def release(self) -> None:
        self._stop.set()
        if self._fd is not None:
            token = self._token
            # (if the store cannot be written now, dropping the flock below frees the lease anyway)
            with contextlib.suppress(StoreError, sqlite3.Error), self._store._txn("IMMEDIATE") as c:
                c.execute("UPDATE locks SET expires = 0 WHERE name = ? AND token = ?", (self.name, token))
            with contextlib.suppress(OSError):
                self.path.unlink()
            os.close(self._fd)  # drops the flock
        self._fd = None
        self._token = None

    def refresh(self) -> None:
        token = self.token
        if self._lost is not None:
            raise self._lost
        with self._store._txn("IMMEDIATE") as c:
            row = c.execute("SELECT token FROM locks WHERE name = ?", (self.name,)).fetchone()
            current = row[0] if row else None
            if current == token:
                c.execute("UPDATE locks SET expires = ? WHERE name = ?", (time.time() + self.ttl, self.name))
        if current != token:
            self._lost = fenced(self.name, token, current, what="lease refresh")
            raise self._lost

    def _heartbeat(self, stop: threading.Event) -> None:
        while not stop.wait(self.ttl / 3):
            try:
                self.refresh()
            except FencedError:
                return  # lost: check() and refresh() say so from now on
            except (StoreError, sqlite3.Error):
                continue  # busy or briefly unreadable: try again at the next beat

    def _sweep(self, current: int) -> None:
        """Remove the files of holders that are gone (a taken-over holder killed while stalled); inside the
        lock's write transaction, so no new holder is between creating its file and locking it."""
        for path in self._store.path.parent.glob(f"{self._store.path.name}.{self.name}.*.lock"):
            if path != self._file(current) and not _alive(path):
                with contextlib.suppress(OSError):
                    path.unlink()


def _hold(path: Path) -> int:
    """Create and flock `path` for a new holder (inside the lock's write transaction)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # a dead holder's leftover of the same token
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        info = json.dumps({"pid": os.getpid(), "host": socket.gethostname()})
        os.pwrite(fd, info.encode() + b"\n", 0)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _alive(path: Path) -> bool:
    """Whether a live process holds the flock on `path` (a holder's file); a missing file is a dead one."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


# -- helpers ----------------------------------------------------------------------------------------


def _meta(c: sqlite3.Connection, name: str) -> int:
    return int(c.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()[0])


def _log(
    c: sqlite3.Connection,
    revision: int,
    sub: int,
    key: str,
    value: str,
    create_revision: int,
    version: int,
    deleted: bool,
    prev_revision: int,
) -> None:
    c.execute(
        "INSERT INTO revisions (revision, sub, key, value, create_revision, version, deleted, prev_revision)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (revision, sub, key, value, create_revision, version, int(deleted), prev_revision),
    )


def _check_fence(c: sqlite3.Connection, fence: Fence) -> None:
    name, token = fence
    row = c.execute("SELECT token FROM locks WHERE name = ?", (name,)).fetchone()
    current = row[0] if row else None
    if current != token:
        raise fenced(name, token, current)


def _kv_record(row: tuple[Any, ...]) -> Record:
    key, value, revision, create_rev, version = row
    return Record(key, json.loads(value), revision, create_rev, version)


def _rev_record(row: tuple[Any, ...]) -> Record:
    key, value, revision, create_rev, version, deleted = row[:6]
    if deleted:
        return Record(key, {}, revision, 0, 0, deleted=True)
    return Record(key, json.loads(value), revision, create_rev, version)


def _prefix_range(prefix: str) -> tuple[str, str | None]:
    """[lo, hi) covering every string that starts with `prefix` (hi None: no upper bound)."""
    if not isinstance(prefix, str):
        raise StoreError(f"store prefix {prefix!r} is invalid: must be a string")
    p = prefix
    while p:
        last = ord(p[-1])
        if last < 0x10FFFF:
            nxt = last + 1
            if 0xD800 <= nxt <= 0xDFFF:
                nxt = 0xE000
            return prefix, p[:-1] + chr(nxt)
        p = p[:-1]
    return prefix, None
