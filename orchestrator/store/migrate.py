"""Moving a store to another backend (`orc store migrate`): every key, its value and its kept history, copied
and then compared key by key.

The copy replays the source's history into the (empty) target in the order it happened: each value a key
had, oldest first, then its deletions, with the changes of one source revision written in one transaction
(several consecutive revisions share one when they touch different keys). So the target holds the same
values and the same history, newest first, and its own revisions (resourceVersions are the target's: a
client holding an old one re-reads, as after any restore). What the source had already forgotten (a deletion
whose value was compacted away) cannot be replayed and is not compared.

Fencing tokens need no copy: a lock's next token is at least the clock in milliseconds (`next_token`), so
the target hands out tokens above those the hosts recorded from the source.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from orchestrator.errors import StoreError
from orchestrator.store.base import Delete, Op, Put, Record, Store, encode_value

BATCH_OPS = 40  # changes per target transaction (etcd: each is two operations of at most --max-txn-ops 128)
BATCH_BYTES = 512 * 1024  # and their values' size (etcd refuses requests above --max-request-bytes, 1.5 MiB)

Export = dict[str, list[Record]]
"""key -> its history as the store keeps it, newest first (the live value, if any, first)."""


@dataclass(frozen=True)
class Copied:
    keys: int  # keys with a live value or history
    live: int  # of which live
    changes: int  # values and deletions replayed
    transactions: int
    seconds: float


def export(store: Store) -> Export:
    """Every key of `store` with its history."""
    out: Export = {key: store.history(key) for key in store.history_keys()}
    for rec in store.list():  # a live value always heads its history; be sure of it
        hist = out.setdefault(rec.key, [])
        if not hist or hist[0].deleted or hist[0].value != rec.value:
            hist.insert(0, rec)
    return out


def replay(data: Export) -> list[list[Op]]:
    """The transactions that rebuild `data`'s keys and histories, in the order the changes were made."""
    changes: list[tuple[int, str, Record]] = []
    for key, hist in data.items():
        oldest_first = list(reversed(hist))
        while oldest_first and oldest_first[0].deleted:  # a deletion of a value already forgotten
            oldest_first.pop(0)
        changes += [(r.revision, key, r) for r in oldest_first]
    changes.sort(key=lambda c: (c[0], c[1]))
    batches: list[list[Op]] = []
    batch: list[Op] = []
    keys: set[str] = set()
    size = 0
    for _, key, rec in changes:
        op: Op = Delete(key) if rec.deleted else Put(key, rec.value)
        weight = 0 if rec.deleted else len(encode_value(key, rec.value))
        if batch and (key in keys or len(batch) >= BATCH_OPS or size + weight > BATCH_BYTES):
            batches.append(batch)
            batch, keys, size = [], set(), 0
        batch.append(op)
        keys.add(key)
        size += weight
    if batch:
        batches.append(batch)
    return batches


def copy(source: Store, target: Store, progress: Callable[[int, int], None] | None = None) -> tuple[Copied, Export]:
    """Copy everything of `source` into the empty `target`; returns what was copied and the source's export
    (to verify against)."""
    start = time.monotonic()
    present = target.history_keys()
    if present:
        raise StoreError(f"the target store {target.where} is not empty ({len(present)} keys, e.g. {present[0]!r}): "
                         "migrate only into an empty store (a new file, or an etcd prefix of a new cluster name)")
    data = export(source)
    batches = replay(data)
    for i, ops in enumerate(batches):
        target.txn(ops)
        if progress is not None:
            progress(i + 1, len(batches))
    live = sum(1 for h in data.values() if h and not h[0].deleted)
    return Copied(len(data), live, sum(len(b) for b in batches), len(batches), time.monotonic() - start), data


def differences(source: Export, target: Store, limit: int | None = None) -> list[str]:
    """Where `target` differs from the exported `source`: per key, its live value and its history (values and
    deletions, newest first, as far as both keep it). Empty when they match."""
    theirs = export(target)
    keep = limit if limit is not None else target.history_limit
    out: list[str] = []
    for key in sorted(set(source) | set(theirs)):
        a, b = _comparable(source.get(key, []))[:keep], _comparable(theirs.get(key, []))[:keep]
        if a == b:
            continue
        if not b:
            out.append(f"{key}: missing in the target")
        elif not a:
            out.append(f"{key}: in the target only")
        elif a[0] != b[0]:
            out.append(f"{key}: the live value differs")
        else:
            out.append(f"{key}: the history differs ({len(a)} values in the source, {len(b)} in the target)")
    return out


def _comparable(hist: list[Record]) -> list[tuple[bool, str]]:
    entries = [(r.deleted, "" if r.deleted else encode_value(r.key, r.value)) for r in hist]
    while entries and entries[-1][0]:  # deletions of values already forgotten are not kept by a copy
        entries.pop()
    return entries
