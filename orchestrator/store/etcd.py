"""The distributed store: etcd v3, for teams whose several controllers share one cluster.

Semantics are those of `store/base.py` (the SQLite store's), on etcd's own machinery:
- keys live under the store's prefix (`EtcdOptions.prefix`, `/orc/<cluster>/` from orc.yaml), so several
  clusters share one etcd; `Record.revision` is etcd's mod revision and the global revision is etcd's (so
  other clusters' writes and lease bookkeeping advance it too: it grows, it is not dense);
- a write is one etcd Txn: its compares are `mod_revision == N` (`create_revision == 0` for an absent key)
  on every key it touches, plus the fencing token's key with a fence; to know each key's version and what it
  replaces it first reads them (one Txn of ranges), then commits, and plans again if a key moved between;
- history is our own log beside the keys (etcd's compaction would lose it, and a store moved to etcd keeps
  its history): when a write replaces or deletes a value, the old one goes to `hist/<key>\\0<its revision>`
  in the same Txn, so `history()` is the live value plus those, newest first;
- watch is etcd's native watch (prev_kv), `CompactedError` when etcd compacted the revisions asked for;
- compaction: every `compact_every` revisions a writer compacts etcd's revisions older than `event_window`
  (off with `compact=0`), forgets the history of keys deleted before that, and trims each key's history
  to `history_limit`;
- locks are etcd leases (`store/etcd_lock.py`).

A write whose answer is lost (an etcd member died mid-request) is settled, not guessed: each write carries a
nonce in what it writes, and a linearizable read after the failure tells whether it landed.

Layout under the prefix:  kv/<key>  hist/<key>\\0<revision>  lock/<name>  token/<name>  txn/<nonce>  compacted
"""

from __future__ import annotations

import builtins
import contextlib
import json
import queue
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.errors import StoreError
from orchestrator.store.base import (
    DEFAULT_HISTORY_LIMIT,
    Check,
    CommitResult,
    CompactedError,
    Delete,
    Event,
    Fence,
    LockHolder,
    Op,
    Put,
    Record,
    RecordList,
    Store,
    conflict,
    encode_value,
    fenced,
    validate_key,
    validate_lock_name,
)
from orchestrator.store.etcd_client import (
    OUT_OF_RANGE,
    PERMISSION_DENIED,
    AmbiguousWrite,
    EtcdClient,
    EtcdRequestError,
    EtcdUnavailable,
    b64,
    prefix_end,
    unb64,
)
from orchestrator.store.etcd_options import EtcdOptions, parse_url

MAX_ATTEMPTS = 30  # plans of one write before giving up (only under heavy contention on the same keys)
PRUNE_BUDGET = 100  # a write trims history itself only while its Txn stays this small (else compaction does)
DESCEND, SORT_KEY, SORT_MOD = 2, 0, 3


@dataclass
class _Key:
    """What the read before a write saw of one key."""

    kv: dict[str, Any] | None
    history: list[tuple[bytes, int]]  # (entry key, its mod revision), oldest first


@dataclass
class _Seen:
    """The read before a write: the revision, each key, the compaction marker, the fence's token key."""

    revision: int
    keys: dict[str, _Key]
    marker: int | None = None
    token: dict[str, Any] | None = None


class EtcdStore(Store):
    def __init__(
        self,
        options: EtcdOptions | str,
        *,
        history_limit: int = DEFAULT_HISTORY_LIMIT,
        event_window: int = 1000,
        compact_every: int = 100,
    ):
        """`history_limit`: values kept per key; `event_window`: how many recent revisions a watch can always
        resume from; every `compact_every` revisions a writer compacts."""
        if history_limit < 1:
            raise StoreError(f"EtcdStore history_limit {history_limit} is invalid: must be >= 1")
        self.options = parse_url(options) if isinstance(options, str) else options
        self.history_limit = history_limit
        self.event_window = max(event_window, 1)
        self.compact_every = max(compact_every, 1)
        self.client = EtcdClient(self.options)
        ns = self.options.prefix
        self._kv = ns + "kv/"
        self._hist = ns + "hist/"
        self._lock = ns + "lock/"
        self._token = ns + "token/"
        self._txn = ns + "txn/"
        self._compacted = (ns + "compacted").encode()

    def __repr__(self) -> str:
        return f"EtcdStore({self.options.where!r})"

    @property
    def where(self) -> str:
        return self.options.where

    def close(self) -> None:
        self.client.close()

    # -- keys ----------------------------------------------------------------------------------------
    def kv_key(self, key: str) -> bytes:
        return (self._kv + key).encode()

    def _hist_base(self, key: str) -> bytes:
        return (self._hist + key + "\0").encode()

    def _hist_key(self, key: str, replaced: int) -> bytes:
        return self._hist_base(key) + f"{replaced:020d}".encode()

    def lock_key(self, name: str) -> bytes:
        return (self._lock + name).encode()

    def token_key(self, name: str) -> bytes:
        return (self._token + name).encode()

    # -- reads ---------------------------------------------------------------------------------------
    def _range(self, key: bytes, end: bytes | None = None, **extra: Any) -> dict[str, Any]:
        payload: dict[str, Any] = {"key": b64(key), **extra}
        if end is not None:
            payload["range_end"] = b64(end)
        return self.client.post("/kv/range", payload)

    def get(self, key: str) -> Record | None:
        validate_key(key)
        kvs = self._range(self.kv_key(key)).get("kvs") or []
        return self._record(kvs[0]) if kvs else None

    def list(self, prefix: str = "") -> RecordList:
        if not isinstance(prefix, str):
            raise StoreError(f"store prefix {prefix!r} is invalid: must be a string")
        lo = self.kv_key(prefix)
        answer = self._range(lo, prefix_end(lo))
        return RecordList([self._record(kv) for kv in answer.get("kvs") or []], _revision(answer))

    def revision(self) -> int:
        return _revision(self._range(self._compacted, count_only=True))

    def history(self, key: str, limit: int | None = None) -> builtins.list[Record]:
        validate_key(key)
        n = self.history_limit if limit is None else max(0, min(limit, self.history_limit))
        if n == 0:
            return []
        base = self._hist_base(key)
        answer = self.client.txn([], [
            {"request_range": {"key": b64(self.kv_key(key))}},
            {"request_range": {"key": b64(base), "range_end": b64(prefix_end(base)), "sort_order": DESCEND,
                               "sort_target": SORT_KEY, "limit": n}},
        ], write=False)
        current, entries = (_kvs(r) for r in answer.get("responses") or [{}, {}])
        out = [self._record(current[0])] if current else []
        for entry in entries:
            doc = self._decode(key, entry.get("value"))
            if doc.get("deleted"):
                out.append(Record(key, {}, int(entry["mod_revision"]), 0, 0, deleted=True))
            out.append(Record(key, doc["value"], int(doc["revision"]), int(doc["create_revision"]),
                              int(doc["version"])))
        return out[:n]

    def history_keys(self, prefix: str = "") -> builtins.list[str]:
        """Every key with a live value or kept history, sorted (what `orc store migrate` copies)."""
        lo_kv, lo_hist = self.kv_key(prefix), (self._hist + prefix).encode()
        answer = self.client.txn([], [
            {"request_range": {"key": b64(lo_kv), "range_end": b64(prefix_end(lo_kv)), "keys_only": True}},
            {"request_range": {"key": b64(lo_hist), "range_end": b64(prefix_end(lo_hist)), "keys_only": True}},
        ], write=False)
        live, hist = (_kvs(r) for r in answer.get("responses") or [{}, {}])
        keys = {unb64(kv["key"]).decode()[len(self._kv):] for kv in live}
        keys |= {unb64(kv["key"]).decode()[len(self._hist):].rpartition("\0")[0] for kv in hist}
        return sorted(keys)

    def _record(self, kv: dict[str, Any]) -> Record:
        key = unb64(kv["key"]).decode()[len(self._kv):]
        return Record(key, self._decode(key, kv.get("value")), int(kv.get("mod_revision", 0)),
                      int(kv.get("create_revision", 0)), int(kv.get("version", 0)))

    def _decode(self, key: str, raw: str | None) -> dict[str, Any]:
        try:
            value = json.loads(unb64(raw))
        except ValueError as e:
            raise StoreError(f'{self.where}: store key "{key}" does not hold JSON: was it written by '
                             "something else than orc? remove it (etcdctl del) or restore it") from e
        if not isinstance(value, dict):
            raise StoreError(f'{self.where}: store key "{key}" holds {type(value).__name__}, not an object')
        return value

    # -- watch ---------------------------------------------------------------------------------------
    def watch(
        self, prefix: str = "", start_revision: int | None = None, timeout: float | None = None
    ) -> Iterator[Event]:
        if not isinstance(prefix, str):
            raise StoreError(f"store prefix {prefix!r} is invalid: must be a string")
        if start_revision is None:
            start_revision = self.revision() + 1
        return self._watch(prefix, max(1, start_revision), timeout)

    def _watch(self, prefix: str, start: int, timeout: float | None) -> Iterator[Event]:
        lo = self.kv_key(prefix)
        hi = prefix_end(lo)
        deadline = None if timeout is None else time.monotonic() + timeout
        upto: int | None = None  # after the deadline: the last change there was; stop once it was yielded
        seen = start - 1  # every change up to here was yielded
        stream = self.client.watch_stream(lo, hi, start)
        broken = 0
        try:
            while True:
                if deadline is not None and upto is None and time.monotonic() >= deadline:
                    upto = self._last_change(prefix)
                if upto is not None and seen >= upto:
                    return
                wait = 1.0 if deadline is None or upto is not None else max(0.0, deadline - time.monotonic())
                try:
                    kind, item = stream.messages.get(timeout=min(wait, 1.0) if upto is None else 5.0)
                except queue.Empty:
                    if upto is not None:  # caught up to nothing more: the server owes us nothing
                        return
                    continue
                if kind == "msg":
                    result = item.get("result") or {}
                    if "error" in item:
                        kind, item = "error", StoreError(f"{self.where}: watch failed: {item['error']}")
                    elif result.get("canceled") or result.get("compact_revision"):
                        compacted = int(result.get("compact_revision") or 0)
                        if compacted:
                            raise CompactedError(
                                f"{self.where}: cannot watch from revision {seen + 1}: revisions up to "
                                f"{compacted - 1} were compacted; list again and watch from the list's revision + 1")
                        kind, item = "error", StoreError(f"{self.where}: watch canceled: "
                                                         f"{result.get('cancel_reason', 'by the server')}")
                    else:
                        broken = 0
                        for ev in result.get("events") or []:
                            event = self._event(ev)
                            seen = max(seen, event.record.revision)
                            yield event
                        continue
                # the stream ended or broke (a member went away): resume on the next one from where we are
                stream.close()
                broken += 1
                if broken > 1:
                    time.sleep(min(0.2 * broken, 2.0))
                if deadline is not None and time.monotonic() >= deadline + 2 * self.options.timeout:
                    raise StoreError(f"{self.where}: watch lost its stream ({item}) and could not resume")
                self.client.rotate()
                stream = self.client.watch_stream(lo, hi, seen + 1)
        finally:
            stream.close()

    def _last_change(self, prefix: str) -> int:
        """The revision of the last change to a key under `prefix` (0: none kept): the newest of the live
        keys' mod revisions and of the history entries' (which also record deletions)."""
        lo_kv, lo_hist = self.kv_key(prefix), (self._hist + prefix).encode()
        newest = {"sort_order": DESCEND, "sort_target": SORT_MOD, "limit": 1, "keys_only": True}
        answer = self.client.txn([], [
            {"request_range": {"key": b64(lo_kv), "range_end": b64(prefix_end(lo_kv)), **newest}},
            {"request_range": {"key": b64(lo_hist), "range_end": b64(prefix_end(lo_hist)), **newest}},
        ], write=False)
        return max([int(kv.get("mod_revision", 0)) for r in answer.get("responses") or [] for kv in _kvs(r)],
                   default=0)

    def _event(self, ev: dict[str, Any]) -> Event:
        kv = ev["kv"]
        prev = self._record(ev["prev_kv"]) if ev.get("prev_kv") else None
        if ev.get("type") == "DELETE":
            key = unb64(kv["key"]).decode()[len(self._kv):]
            return Event("DELETE", Record(key, {}, int(kv["mod_revision"]), 0, 0, deleted=True), prev)
        return Event("PUT", self._record(kv), prev)

    # -- writes --------------------------------------------------------------------------------------
    def _commit(self, ops: Sequence[Op], fence: Fence | None) -> CommitResult:
        encoded = {op.key: encode_value(op.key, op.value) for op in ops if isinstance(op, Put)}
        for attempt in range(MAX_ATTEMPTS):
            seen = self._read(ops, fence)
            if fence is not None:
                current = _token_of(seen.token)
                if current != fence[1]:
                    raise fenced(fence[0], fence[1], current)
            conflicts = []
            for op in ops:
                kv = seen.keys[op.key].kv
                actual = int(kv["mod_revision"]) if kv else None
                want = op.expect_revision
                if want is not None and not (actual == want or (want == 0 and actual is None)):
                    conflicts.append(conflict(op.key, want, actual))
            if conflicts:
                first = conflicts[0]
                if len(conflicts) > 1:
                    first.args = ("; ".join(str(e) for e in conflicts),)
                raise first
            # every `compact_every` revisions, the write that passes the mark moves it and compacts after
            compact = seen.marker is not None and seen.revision + 1 - seen.marker >= self.compact_every
            plan = self._plan(ops, seen, encoded, fence is not None, compact or seen.marker is None)
            if plan is None:  # nothing changes: no new revision
                return CommitResult(seen.revision, [None if isinstance(op, Check) else False for op in ops])
            compare, success, proof, nonce = plan
            try:
                answer = self.client.txn(compare, success)
            except AmbiguousWrite as e:
                landed = self._landed(proof, nonce, ops, e)
                if landed is None:
                    continue  # it did not land: plan again from what is there now
                return self._result(ops, seen, encoded, landed)
            except EtcdRequestError as e:
                raise StoreError(f"{e}: the transaction touched {len(ops)} keys "
                                 f"({', '.join(op.key for op in ops[:5])}{', ...' if len(ops) > 5 else ''})"
                                 + ("; etcd allows --max-txn-ops operations in one (default 128): raise it"
                                    if "too many operations" in e.text else "")) from e
            if answer.get("succeeded"):
                rev = _revision(answer)
                if compact:
                    with contextlib.suppress(StoreError):  # best effort: the next writer past the mark retries
                        self._compact(rev)
                return self._result(ops, seen, encoded, rev)
            time.sleep(min(0.002 * attempt, 0.05))  # a key moved between the read and the commit
        raise StoreError(f"{self.where}: the keys {', '.join(op.key for op in ops[:5])} changed under every one "
                         f"of {MAX_ATTEMPTS} attempts to write them: too many writers at once; retry")

    def _read(self, ops: Sequence[Op], fence: Fence | None) -> _Seen:
        """One consistent read of every key the ops touch, the history entries of those they write, the
        compaction marker and the fence's token."""
        keys = list(dict.fromkeys(op.key for op in ops))
        written = list(dict.fromkeys(op.key for op in ops if not isinstance(op, Check)))
        reads: builtins.list[dict[str, Any]] = [{"request_range": {"key": b64(self.kv_key(k))}} for k in keys]
        for k in written:
            base = self._hist_base(k)
            reads.append({"request_range": {"key": b64(base), "range_end": b64(prefix_end(base)),
                                            "keys_only": True}})
        reads.append({"request_range": {"key": b64(self._compacted)}})
        if fence is not None:
            reads.append({"request_range": {"key": b64(self.token_key(validate_lock_name(fence[0])))}})
        answer = self.client.txn([], reads, write=False)
        responses = [_kvs(r) for r in answer.get("responses") or []]
        seen = _Seen(_revision(answer), {k: _Key(responses[i][0] if responses[i] else None, [])
                                         for i, k in enumerate(keys)})
        for j, k in enumerate(written):
            seen.keys[k].history = [(unb64(e["key"]), int(e.get("mod_revision", 0))) for e in responses[len(keys) + j]]
        tail = responses[len(keys) + len(written):]
        if tail[0]:
            seen.marker = int(self._decode("compacted", tail[0][0].get("value"))["revision"])
        if fence is not None and tail[1]:
            seen.token = tail[1][0]
        return seen

    def _plan(self, ops: Sequence[Op], seen: _Seen, encoded: dict[str, str], fenced_write: bool,
              mark: bool) -> tuple[builtins.list[Any], builtins.list[Any], bytes, str] | None:
        """The Txn of a write: compares, the kv operations in the ops' order, then the history entries.
        None if it would change nothing. `proof` is a key the Txn writes whose value carries `nonce`."""
        nonce = secrets.token_hex(8)
        compare: list[dict[str, Any]] = []
        for key in dict.fromkeys(op.key for op in ops):
            kv = seen.keys[key].kv
            if kv is None:
                compare.append({"key": b64(self.kv_key(key)), "target": "CREATE", "result": "EQUAL",
                                "create_revision": 0})
            else:
                compare.append({"key": b64(self.kv_key(key)), "target": "MOD", "result": "EQUAL",
                                "mod_revision": int(kv["mod_revision"])})
        if fenced_write and seen.token is not None:
            compare.append({"key": seen.token["key"], "target": "MOD", "result": "EQUAL",
                            "mod_revision": int(seen.token["mod_revision"])})
        changes: list[dict[str, Any]] = []
        history: list[dict[str, Any]] = []
        prune: list[dict[str, Any]] = []
        proof: bytes | None = None
        for op in ops:
            kv = seen.keys[op.key].kv
            if isinstance(op, Check) or (isinstance(op, Delete) and kv is None):
                continue
            if isinstance(op, Put):
                changes.append({"request_put": {"key": b64(self.kv_key(op.key)), "value": b64(encoded[op.key])}})
            else:
                changes.append({"request_delete_range": {"key": b64(self.kv_key(op.key))}})
            if kv is None:
                continue
            replaced = int(kv["mod_revision"])
            entry = {"value": json.loads(unb64(kv.get("value"))), "revision": replaced,
                     "create_revision": int(kv["create_revision"]), "version": int(kv["version"]),
                     "deleted": isinstance(op, Delete), "nonce": nonce}
            hkey = self._hist_key(op.key, replaced)
            proof = proof or hkey
            history.append({"request_put": {"key": b64(hkey), "value": b64(_dump(entry))}})
            old = [k for k, _ in seen.keys[op.key].history if k != hkey]
            prune += [{"request_delete_range": {"key": b64(k)}} for k in old[: max(0, len(old) + 1 - self.history_limit)]]
        if not changes:
            return None
        if proof is None:  # only creates: a marker says this Txn landed (compaction removes it later)
            proof = (self._txn + nonce).encode()
            history.append({"request_put": {"key": b64(proof), "value": b64(_dump({"nonce": nonce}))}})
        if mark:  # the compaction mark, moved in this very write so that compacting adds no revision
            history.append({"request_put": {"key": b64(self._compacted),
                                            "value": b64(_dump({"revision": seen.revision + 1}))}})
        success = changes + history
        if len(success) + len(prune) <= PRUNE_BUDGET:
            success += prune
        return compare, success, proof, nonce

    def _landed(self, proof: bytes, nonce: str, ops: Sequence[Op], lost: AmbiguousWrite) -> int | None:
        """After a write's answer was lost: the revision it landed at, or None if it did not (the read is
        linearizable, so a write not seen now never lands)."""
        try:
            kvs = self._range(proof).get("kvs") or []
        except EtcdUnavailable as e:
            raise StoreError(f"{lost}; whether the write of {', '.join(op.key for op in ops[:5])} was applied is "
                             f"unknown, as etcd is unreachable now ({e}): re-read and retry") from e
        if kvs and json.loads(unb64(kvs[0].get("value"))).get("nonce") == nonce:
            return int(kvs[0]["mod_revision"])
        return None

    @staticmethod
    def _result(ops: Sequence[Op], seen: _Seen, encoded: dict[str, str], rev: int) -> CommitResult:
        results: builtins.list[Record | bool | None] = []
        for op in ops:
            kv = seen.keys[op.key].kv
            if isinstance(op, Check):
                results.append(None)
            elif isinstance(op, Put):
                create, version = (int(kv["create_revision"]), int(kv["version"]) + 1) if kv else (rev, 1)
                results.append(Record(op.key, json.loads(encoded[op.key]), rev, create, version))
            else:
                results.append(kv is not None)
        return CommitResult(rev, results)

    # -- compaction ----------------------------------------------------------------------------------
    def compact(self) -> None:
        """Compact now (normally done every `compact_every` revisions): etcd's revisions older than the
        event window (unless `compact=0`), the history of keys deleted before it, history past the limit."""
        self._compact(self.revision())

    def _compact(self, rev: int) -> None:
        boundary = rev - self.event_window
        if self.options.compact and boundary > 0:
            try:
                self.client.post("/kv/compaction", {"revision": boundary + 1})
            except EtcdRequestError as e:
                # OUT_OF_RANGE: someone compacted further already; PERMISSION_DENIED: only etcd's root may
                # compact (then etcd's own --auto-compaction does); our own clean-up below goes on either way
                if e.code not in (OUT_OF_RANGE, PERMISSION_DENIED):
                    raise
        answer = self.client.txn([], [
            {"request_range": {"key": b64(self._kv), "range_end": b64(prefix_end(self._kv.encode())),
                               "keys_only": True}},
            {"request_range": {"key": b64(self._hist), "range_end": b64(prefix_end(self._hist.encode())),
                               "keys_only": True}},
            {"request_range": {"key": b64(self._txn), "range_end": b64(prefix_end(self._txn.encode())),
                               "keys_only": True}},
        ], write=False)
        live_kvs, hist_kvs, txn_kvs = (_kvs(r) for r in answer.get("responses") or [{}, {}, {}])
        live = {unb64(kv["key"]).decode()[len(self._kv):] for kv in live_kvs}
        by_key: dict[str, builtins.list[tuple[str, int]]] = {}
        for kv in hist_kvs:
            k = unb64(kv["key"]).decode()
            by_key.setdefault(k[len(self._hist):].rpartition("\0")[0], []).append((kv["key"], int(kv["mod_revision"])))
        doomed: builtins.list[tuple[str | None, str]] = []  # (key that must stay absent, entry to delete)
        for key, entries in by_key.items():
            entries.sort()
            if key not in live and max(m for _, m in entries) <= boundary:
                doomed += [(key, e) for e, _ in entries]
            elif len(entries) > self.history_limit:
                doomed += [(None, e) for e, _ in entries[: len(entries) - self.history_limit]]
        doomed += [(None, kv["key"]) for kv in txn_kvs if int(kv["mod_revision"]) <= boundary]
        for i in range(0, len(doomed), 50):
            chunk = doomed[i:i + 50]
            absent = sorted({k for k, _ in chunk if k is not None})
            compare = [{"key": b64(self.kv_key(k)), "target": "CREATE", "result": "EQUAL", "create_revision": 0}
                       for k in absent]
            self.client.txn(compare, [{"request_delete_range": {"key": e}} for _, e in chunk])

    # -- locks ---------------------------------------------------------------------------------------
    def lock(self, name: str, *, ttl: float) -> Any:
        from orchestrator.store.etcd_lock import EtcdLock

        return EtcdLock(self, validate_lock_name(name), ttl)

    def lock_holder(self, name: str) -> LockHolder | None:
        """The current or last holder of lock `name` (with `expires` from its lease while it lives)."""
        from orchestrator.store.etcd_lock import read_holder

        return read_holder(self, validate_lock_name(name))


def _kvs(response: dict[str, Any]) -> builtins.list[dict[str, Any]]:
    return (response.get("response_range") or {}).get("kvs") or []


def _revision(answer: dict[str, Any]) -> int:
    return int((answer.get("header") or {}).get("revision", 0))


def _dump(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _token_of(kv: dict[str, Any] | None) -> int | None:
    if kv is None:
        return None
    return int(json.loads(unb64(kv.get("value")))["token"])


__all__ = ["Delete", "EtcdStore", "Put"]
