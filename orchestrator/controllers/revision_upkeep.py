"""What each reconcile pass does for rollout revisions, after it acted (the engine calls `upkeep`): number the
templates the store's history shows (controllers/revisions.py), undo a rollout that passed its progress
deadline when autoRollback is on (controllers/workload_edit.py), and forget the revisions of deleted objects.
Every write is compare-and-swap on what was read, fenced by the pass's lease: a change made meanwhile (an
`orc apply`, a rollout command) wins, and the next pass looks again."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from orchestrator.controllers.revisions import PREFIX, ROLLING_PREFIXES
from orchestrator.controllers.workload_edit import (
    AutoRollback,
    Outcome,
    Target,
    auto_rollback,
    commit,
    folded,
)
from orchestrator.errors import ConflictError
from orchestrator.store import Delete


def upkeep(store: Any, rollouts: Mapping[str, Mapping[str, Any]], auto_default: bool, now: float,
           fence: tuple[str, int] | None = None) -> list[AutoRollback]:
    """Fold every rolling controller's history into its revisions and roll back those whose rollout passed
    its deadline (`rollouts`: the pass's statuses, plan/rollout.status); the rollbacks made."""
    stored = {r.key[len(PREFIX):]: r for r in store.list(PREFIX)}
    done: list[AutoRollback] = []
    seen: set[str] = set()
    for prefix in ROLLING_PREFIXES:
        for record in store.list(prefix):
            seen.add(record.key)
            rr = stored.get(record.key)
            revs = folded(rr, record, lambda k=record.key: store.history(k), now)
            target = Target(record.key, record, revs, rr)
            rollback = auto_rollback(target, rollouts.get(record.key), auto_default, now)
            try:
                commit(store, rollback.outcome if rollback else Outcome(target, None, revs, ""), fence)
            except ConflictError:
                continue  # changed meanwhile: the next pass decides on what is there then
            if rollback:
                done.append(rollback)
    gone = [Delete(r.key, expect_revision=r.revision) for k, r in stored.items() if k not in seen]
    if gone:
        with contextlib.suppress(ConflictError):  # made again meanwhile: the next pass folds it
            store.txn(gone, fence=fence)
    return done


