"""The desired-state store: the interface every backend implements, and its value types.

The model is etcd's, so the SQLite file and etcd behave alike:

- one **global revision** counts every committed write (a transaction is one revision, whatever the
  number of keys it touches); a write that changes nothing does not advance it;
- every key carries its **mod revision** (`Record.revision`, used as an object's resourceVersion), the
  revision that created it (`create_revision`) and how often it was written since (`version`, 1 on create);
- writes may **compare-and-swap** on the mod revision (`expect_revision`: None = unconditional, 0 = must not
  exist, N = must be at revision N), singly (`put`, `delete`) or several at once, all or nothing (`txn`);
- **watch** yields every change from a revision on, in revision order, whoever wrote it; a watch started at
  `list(...).revision + 1` misses nothing that happened after the list;
- old revisions are **compacted**: `history(key)` keeps the newest `history_limit` (default 10) of each key,
  and a watch from a revision older than the compaction point raises `CompactedError` (re-list, then watch);
- **locks** are leases: exclusive and non-blocking, taken for `ttl` seconds and kept alive by their holder
  (a heartbeat every ttl/3 while held); a holder that stops refreshing (stalled, SIGSTOPped) loses it to the
  next taker once the ttl has passed, and a dead holder's lock is free at once. Each acquisition gets a
  **fencing token** that grows with every acquisition (`next_token`: also above any token an earlier store of
  the same cluster gave, so a lost store does not leave hosts refusing forever); a write given
  `fence=(name, token)` is refused once somebody else took the lock, and the hosts refuse a mutating batch
  whose token is older than one they have seen (`act/fence.py`).

Key layout (keys are plain strings; prefixes are plain string prefixes, as in etcd):

    <kind>/<name>                    desired objects: pod/web-1, rc/web, rs/web, deploy/web, svc/web (see
                                     `keys.object_key`); each kind its own prefix
    _meta/host-failure/<host>        when a host was first seen failing: {"since": <unix time>}
    _meta/evicted/<pod>              pods taken off a lost host, to reap when it returns
    _meta/cluster-ip/<ip>            allocated service cluster IPs: {"service": <name>}
    _meta/node-port/<port>           allocated node ports: {"service": <name>}
    _meta/snapshot                   the last cluster snapshot (JSON of ClusterSnapshot)
    _meta/moved/<old key>            a workload an older orc stored under rc/<name> whatever its kind, moved
                                     to its own key: {"to", "kind", "at", "uids"} (controllers/moved_keys.py)

Keys starting with `_meta/` are bookkeeping, never user objects; `keys.py` builds them.

How the etcd backend (`store/etcd.py`) maps onto this: keys live under the store's prefix
(`<etcd.prefix>/<cluster>/kv/`); `list` is a Range with range_end (header.revision is `RecordList.revision`);
`_commit` reads the keys it touches in one Txn, then commits one Txn whose compares are `mod_revision == N`
(`create_revision == 0` for an absent key) on every one of them plus, with a fence, the revision of
`token/<name>` as read (whose token must be the fence's), and plans again if a key moved in between; the
global revision is etcd's, shared by every prefix (it grows, it is not dense); history is a log of its own
(`hist/<key>\\0<revision>`, written in the same Txn) so that it survives etcd's compaction and a move from
SQLite; `watch` is a native watch (prev_kv, from start_revision; a compacted-revision answer becomes
CompactedError); `lock` puts `lock/<name>` with create_revision == 0 under a lease of `ttl` (refresh =
keep-alive, check = keep-alive plus a read that raises FencedError once the key is gone or another's) and
`token/<name>` with its token (`next_token` of the last one) in the same Txn: that token is what the hosts
compare, so tokens keep growing across a SQLite -> etcd move.
"""

from __future__ import annotations

import abc
import builtins
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from orchestrator.errors import ConflictError, LockHeldError, StoreError

DEFAULT_HISTORY_LIMIT = 10

Fence = tuple[str, int]
"""(lock name, fencing token) a write carries so that a writer which lost its lock is refused."""

_LOCK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


class CompactedError(StoreError):
    """A watch asked for revisions that were already compacted away."""


class FencedError(StoreError):
    """A write carried a fencing token older than the lock's current one: its writer lost the lock."""


@dataclass(frozen=True)
class Record:
    """One key's value at one revision. `revision` is the mod revision (resourceVersion).

    A deletion, as seen in `history()` and in DELETE events, is a tombstone: `deleted=True`, empty value,
    `revision` = the revision of the delete, `create_revision` and `version` 0 (as etcd reports it)."""

    key: str
    value: dict[str, Any]
    revision: int
    create_revision: int
    version: int
    deleted: bool = False


class RecordList(list[Record]):
    """The result of `list()`: records sorted by key, plus the global revision they were read at.
    Start a watch at `.revision + 1` to see every later change."""

    def __init__(self, records: Sequence[Record], revision: int):
        super().__init__(records)
        self.revision = revision


@dataclass(frozen=True)
class Event:
    type: Literal["PUT", "DELETE"]
    record: Record
    prev: Record | None = None  # the value before this change; None on create (or if compacted away)


@dataclass(frozen=True)
class Put:
    key: str
    value: dict[str, Any]
    expect_revision: int | None = None


@dataclass(frozen=True)
class Delete:
    key: str
    expect_revision: int | None = None


@dataclass(frozen=True)
class Check:
    """Compare only: the transaction fails unless `key` is at `expect_revision` (0 = absent)."""

    key: str
    expect_revision: int


Op = Put | Delete | Check


@dataclass(frozen=True)
class CommitResult:
    """What a backend's `_commit` returns: the global revision after the transaction, and per op the
    record written (Put), whether something was deleted (Delete), or None (Check)."""

    revision: int
    results: list[Record | bool | None] = field(default_factory=list)


@dataclass(frozen=True)
class LockHolder:
    name: str
    token: int
    pid: int
    host: str
    since: float  # unix time
    expires: float = 0.0  # unix time the lease lapses unless refreshed; 0: released


def next_token(previous: int, now: float) -> int:
    """The fencing token of a new acquisition: above the last one of this lock, and at least the clock in
    milliseconds, so a fresh store (a lost state file, a move to etcd) still hands out tokens above those the
    hosts recorded from the old one."""
    return max(previous + 1, int(now * 1000))


class Lock(abc.ABC):
    """An exclusive, non-blocking lease. Acquired by `with` (or `acquire()`); a second taker gets
    `LockHeldError` at once while the holder lives and refreshes it. `token` grows with every acquisition of
    the same name. The holder keeps it alive (backends refresh it in the background while it is held) and
    calls `check()` before acting: it raises FencedError once another took the lease."""

    def __init__(self, name: str, ttl: float):
        self.name = name
        self.ttl = ttl
        self._token: int | None = None

    @property
    def held(self) -> bool:
        return self._token is not None

    @property
    def token(self) -> int:
        if self._token is None:
            raise StoreError(f'lock "{self.name}" is not held: acquire it (with store.lock(...)) first')
        return self._token

    @property
    def fence(self) -> Fence:
        """Pass as `fence=` to writes that must be refused if this lock was lost."""
        return (self.name, self.token)

    @abc.abstractmethod
    def acquire(self) -> Lock: ...

    @abc.abstractmethod
    def release(self) -> None: ...

    @abc.abstractmethod
    def refresh(self) -> None:
        """Keep the lock alive for another `ttl` (an etcd lease keep-alive); raise FencedError if it was
        lost (another holder took it after it expired)."""

    def check(self) -> None:
        """Raise FencedError unless this holder still holds the lease (and keep it alive): call it right
        before acting on what was decided under the lease."""
        self.refresh()

    def __enter__(self) -> Lock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class Store(abc.ABC):
    """Desired state, history and bookkeeping. See the module docstring for the model and key layout."""

    history_limit: int = DEFAULT_HISTORY_LIMIT

    # -- reads ---------------------------------------------------------------------------------------
    @abc.abstractmethod
    def get(self, key: str) -> Record | None: ...

    @abc.abstractmethod
    def list(self, prefix: str = "") -> RecordList:
        """Every live key starting with `prefix`, sorted by key, read at one revision (`.revision`)."""

    @abc.abstractmethod
    def revision(self) -> int:
        """The global revision: that of the last committed write (0 for an empty store)."""

    @abc.abstractmethod
    def history(self, key: str, limit: int | None = None) -> builtins.list[Record]:
        """Past and current values of `key`, newest first (the current value, if any, is first);
        deletions are tombstones (`deleted=True`). At most `history_limit` entries are kept."""

    @abc.abstractmethod
    def history_keys(self, prefix: str = "") -> builtins.list[str]:
        """Every key under `prefix` with a live value or kept history (deleted keys too), sorted: what
        `orc store migrate` copies."""

    @abc.abstractmethod
    def watch(
        self, prefix: str = "", start_revision: int | None = None, timeout: float | None = None
    ) -> Iterator[Event]:
        """Changes to keys under `prefix` from `start_revision` on (None: from now), in revision order,
        made by any process. Stops after `timeout` seconds (None: never). Raises CompactedError if
        `start_revision` is older than what is kept."""

    # -- writes --------------------------------------------------------------------------------------
    @abc.abstractmethod
    def _commit(self, ops: Sequence[Op], fence: Fence | None) -> CommitResult:
        """Apply `ops` atomically (after `validate_ops`): every compare holds and the fence is current,
        or nothing is written and ConflictError / FencedError is raised."""

    def put(
        self,
        key: str,
        value: dict[str, Any],
        *,
        expect_revision: int | None = None,
        fence: Fence | None = None,
    ) -> Record:
        """Write `value` at `key`. expect_revision None: upsert; 0: create only; N: only if at N."""
        result = self._commit(validate_ops([Put(key, value, expect_revision)]), fence)
        record = result.results[0]
        assert isinstance(record, Record)
        return record

    def delete(self, key: str, *, expect_revision: int | None = None, fence: Fence | None = None) -> bool:
        """Delete `key`; True if it existed. With expect_revision N, only if it is at N."""
        result = self._commit(validate_ops([Delete(key, expect_revision)]), fence)
        return bool(result.results[0])

    def txn(self, ops: Sequence[Op], *, fence: Fence | None = None) -> int:
        """Apply every op or none; returns the global revision after it."""
        return self._commit(validate_ops(ops), fence).revision

    @abc.abstractmethod
    def lock(self, name: str, *, ttl: float) -> Lock:
        """An exclusive lease named `name` (not yet acquired: use `with`). `ttl` is how long a holder
        that stopped refreshing keeps it (a live holder refreshes it every ttl/3); a dead process never
        keeps it."""

    @abc.abstractmethod
    def lock_holder(self, name: str) -> LockHolder | None:
        """The current or last holder of lock `name` (`expires` 0 once released or lapsed)."""

    @property
    def where(self) -> str:
        """How messages name this store (its URL, without secrets)."""
        return repr(self)

    def close(self) -> None:  # noqa: B027 - optional for backends
        """Release connections."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- shared checks and messages ----------------------------------------------------------------------


def validate_key(key: object) -> str:
    if not isinstance(key, str) or not key:
        raise StoreError(f"store key {key!r} is invalid: must be a non-empty string such as 'pod/web-1'")
    if any(c in key for c in "\x00\n\r") or key != key.strip():
        raise StoreError(f"store key {key!r} is invalid: no surrounding spaces, newlines or NUL bytes")
    return key


def encode_value(key: str, value: object) -> str:
    if not isinstance(value, dict):
        raise StoreError(
            f'store key "{key}": value must be a dict (a JSON object), got {type(value).__name__}'
        )
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as e:
        raise StoreError(f'store key "{key}": value is not JSON-serialisable: {e}') from e


def validate_ops(ops: Sequence[Op]) -> list[Op]:
    seen: set[str] = set()
    out: list[Op] = []
    for op in ops:
        if not isinstance(op, Put | Delete | Check):
            raise StoreError(f"transaction op {op!r} is invalid: use Put, Delete or Check")
        validate_key(op.key)
        if op.expect_revision is not None and (
            not isinstance(op.expect_revision, int) or op.expect_revision < 0
        ):
            raise StoreError(
                f'store key "{op.key}": expect_revision {op.expect_revision!r} is invalid: '
                "use None (any), 0 (must not exist) or a revision read earlier"
            )
        if isinstance(op, Put):
            encode_value(op.key, op.value)
        if not isinstance(op, Check):
            if op.key in seen:
                raise StoreError(f'transaction writes store key "{op.key}" twice: write each key once')
            seen.add(op.key)
        out.append(op)
    return out


def validate_lock_name(name: object) -> str:
    if not isinstance(name, str) or not _LOCK_NAME.match(name):
        raise StoreError(
            f"lock name {name!r} is invalid: use 1-63 letters, digits, '.', '_' or '-' (e.g. 'reconcile')"
        )
    return name


def conflict(key: str, expected: int, actual: int | None) -> ConflictError:
    """The error for a failed compare; `actual` None means the key does not exist."""
    want = "expected it not to exist" if expected == 0 else f"expected revision {expected}"
    found = "it does not exist" if actual is None else f"it is at revision {actual}"
    err = ConflictError(
        f'store key "{key}" changed since it was read: {want}, but {found}; re-read it and retry'
    )
    err.key = key  # type: ignore[attr-defined]
    err.expected = expected  # type: ignore[attr-defined]
    err.actual = actual  # type: ignore[attr-defined]
    return err


def lock_held(holder: LockHolder | None, name: str, now: float) -> LockHeldError:
    if holder is None:
        who = "another process"
    else:
        ago = max(0.0, now - holder.since)
        who = f"pid {holder.pid} on host {holder.host} since {_iso(holder.since)} ({ago:.0f}s ago)"
        if holder.expires > now:
            who += f", its lease refreshed until {_iso(holder.expires)}"
    err = LockHeldError(
        f'lock "{name}" is held by {who}: another run is in progress; wait for it to finish and retry'
    )
    err.holder = holder  # type: ignore[attr-defined]
    return err


def fenced(name: str, stale: int, current: int | None, what: str = "write") -> FencedError:
    now = "has never been taken" if current is None else f"is now at token {current}"
    return FencedError(
        f'{what} refused: lock "{name}" {now}, but this writer holds token {stale}; '
        "it lost the lock to another process and must stop (re-acquire the lock to go on)"
    )


def _iso(ts: float) -> str:
    import datetime as _dt

    return _dt.datetime.fromtimestamp(ts, tz=_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
