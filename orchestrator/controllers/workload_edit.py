"""What the rollout commands (`orc rollout undo|pause|resume|restart`, `orc set image`) and a pass's
autoRollback do to a rolling controller: read it with its revisions (`read`), compute the new object and
revisions (the pure edits below, which name what they did as kubectl does: "paused", "image updated", "rolled
back"), then write both in one compare-and-swap transaction on the revisions read (`commit`): a concurrent
change is a ConflictError and nothing is written, never an overwrite.

    target = read(store, "deploy/web", now)
    outcome = set_image(target, {"web": "nginx:1.27"}, now)
    commit(store, outcome)

or, re-reading and computing again when another writer got in between: `edit(store, key, change, now)`.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.controllers.revisions import (
    CHANGE_CAUSE_ANNOTATION,
    Revision,
    Revisions,
    history_limit_of,
    revisions_key,
    template_hash,
    template_of,
)
from orchestrator.errors import ConflictError, OrcError, ValidationError
from orchestrator.model.objects import AUTO_ROLLBACK_ANNOTATION
from orchestrator.store import Check, Op, Put, Record

RESTARTED_AT_ANNOTATION = "kubectl.kubernetes.io/restartedAt"
_PLURAL = {"Deployment": "deployments.apps", "ReplicationController": "replicationcontrollers"}


class RolloutError(OrcError):
    """A rollout command that cannot do what was asked (the object is as it was)."""


@dataclass(frozen=True)
class Target:
    """A rolling controller as read: its record and its revisions (folded up to the record)."""

    key: str
    record: Record
    revisions: Revisions
    revisions_record: Record | None

    @property
    def value(self) -> dict[str, Any]:
        return self.record.value

    @property
    def kind(self) -> str:
        return str(self.value.get("kind") or ("Deployment" if self.key.startswith("deploy/") else
                                               "ReplicationController"))

    @property
    def name(self) -> str:
        return self.key.partition("/")[2]

    @property
    def about(self) -> str:
        """How kubectl's errors name it: `deployments.apps "web"`."""
        return f'{_PLURAL.get(self.kind, self.kind.lower() + "s")} "{self.name}"'


@dataclass(frozen=True)
class Outcome:
    target: Target
    value: dict[str, Any] | None  # the new object; None: the object stays as it is
    revisions: Revisions
    verb: str  # kubectl's word for what happened ("" when nothing did)


def read(store: Any, key: str, now: float) -> Target | None:
    """The object at `key` and its revisions, with every newer version of its history folded in."""
    record = store.get(key)
    if record is None:
        return None
    rr = store.get(revisions_key(key))
    return Target(key, record, folded(rr, record, lambda: store.history(key), now), rr)


def folded(rr: Record | None, record: Record, history: Any, now: float) -> Revisions:
    """The revisions stored in `rr`, with the object's history (`history()`, read only when needed) folded
    in up to `record`."""
    revs = Revisions.from_dict(rr.value if rr else None)
    if revs.seen >= record.revision:
        return revs
    return revs.fold(history(), history_limit_of(record.value), now)


def commit(store: Any, outcome: Outcome, fence: tuple[str, int] | None = None) -> bool:
    """Write the outcome in one transaction compared with what was read; False when there was nothing to
    write. Raises ConflictError (nothing written) when the object or its revisions changed meanwhile."""
    t = outcome.target
    ops: list[Op] = []
    if outcome.value is not None and outcome.value != t.value:
        ops.append(Put(t.key, outcome.value, expect_revision=t.record.revision))
    stored = Revisions.from_dict(t.revisions_record.value) if t.revisions_record else None
    if outcome.revisions != stored:
        rev = t.revisions_record.revision if t.revisions_record else 0
        ops.append(Put(revisions_key(t.key), outcome.revisions.to_dict(), expect_revision=rev))
    if not ops:
        return False
    if not any(getattr(op, "key", None) == t.key for op in ops):
        ops.append(Check(t.key, t.record.revision))
    store.txn(ops, fence=fence)
    return True


def edit(store: Any, key: str, change: Callable[[Target, float], Outcome], now: float, *, write: bool = True,
         attempts: int = 3) -> Outcome | None:
    """Read `key`, compute `change` on it and commit it (with `write`), as a kubectl patch is applied to the
    latest version: when another writer got in between the read and the write (a pass numbering revisions,
    a scale), the compare fails, nothing is written, and the change is computed again on what is there now,
    up to `attempts` times (then the ConflictError goes up). None when the object does not exist."""
    for attempt in range(attempts):
        target = read(store, key, now)
        if target is None:
            return None
        outcome = change(target, now)
        if not write:
            return outcome
        try:
            commit(store, outcome)
            return outcome
        except ConflictError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


# -- the edits (pure) -----------------------------------------------------------------------------------


def _cause(value: Mapping[str, Any]) -> str:
    return str(((value.get("metadata") or {}).get("annotations") or {}).get(CHANGE_CAUSE_ANNOTATION) or "")


def _changed(t: Target, new: dict[str, Any], verb: str, now: float) -> Outcome:
    """An outcome writing `new` (validated as `orc apply` validates it), its template recorded as the current
    revision; nothing to write when it equals the object."""
    if new == t.value:
        return Outcome(t, None, t.revisions, "")
    from orchestrator.model.load import parse_documents

    _objects, errors = parse_documents([new])
    if errors:
        raise ValidationError(errors)
    revs = t.revisions.record(template_of(new), now, _cause(new), history_limit_of(new))
    return Outcome(t, new, revs, verb)


def is_paused(value: Mapping[str, Any]) -> bool:
    return bool((value.get("spec") or {}).get("paused"))


def _deployment_only(t: Target, what: str) -> None:
    if t.kind != "Deployment":
        raise RolloutError(f"{t.about}: {what} is supported for deployments only (a ReplicationController has "
                           "no paused field and no rollout history to undo to in Kubernetes)")


def set_image(t: Target, images: Mapping[str, str], now: float) -> Outcome:
    """`orc set image`: each named container (or every one, for `*`) of the template gets its image. A name no
    container has is refused (nothing changes), as kubectl refuses it."""
    new = copy.deepcopy(t.value)
    spec = (new.get("spec") or {}).get("template", {}).get("spec") or {}
    containers = list(spec.get("containers") or [])
    names = {c.get("name") for c in containers}
    for name in images:
        if name != "*" and name not in names:
            raise RolloutError(f'unable to find container named "{name}"')
    for c in containers:
        image = images.get(str(c.get("name")), images.get("*"))
        if image is not None:
            c["image"] = image
    return _changed(t, new, "image updated", now)


def pause(t: Target, now: float) -> Outcome:
    _deployment_only(t, "pausing")
    if is_paused(t.value):
        raise RolloutError(f"{t.about} is already paused")
    new = copy.deepcopy(t.value)
    new.setdefault("spec", {})["paused"] = True
    return _changed(t, new, "paused", now)


def resume(t: Target, now: float) -> Outcome:
    _deployment_only(t, "resuming")
    if not is_paused(t.value):
        raise RolloutError(f"{t.about} is not paused")
    new = copy.deepcopy(t.value)
    new["spec"].pop("paused", None)  # as the manifest had it before `pause`: a re-apply is "unchanged"
    return _changed(t, new, "resumed", now)


def restart(t: Target, now: float) -> Outcome:
    """kubectl's restart: the template's annotation kubectl.kubernetes.io/restartedAt set to now (RFC 3339),
    a new template, so every pod is replaced by the rollout strategy."""
    _deployment_only(t, "restarting")
    if is_paused(t.value):
        raise RolloutError(f"{t.about} can't restart paused deployment (run rollout resume first)")
    new = copy.deepcopy(t.value)
    meta = new["spec"]["template"].setdefault("metadata", {})
    stamp = dt.datetime.fromtimestamp(now, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    meta.setdefault("annotations", {})[RESTARTED_AT_ANNOTATION] = stamp
    return _changed(t, new, "restarted", now)


def undo_target(t: Target, to_revision: int) -> Revision:
    """The revision `orc rollout undo --to-revision N` goes back to (0: the previous one)."""
    if to_revision:
        found = t.revisions.get(to_revision)
        if found is None:
            raise RolloutError(f"unable to find specified revision {to_revision} in history")
        return found
    prev = t.revisions.previous()
    if prev is None:
        raise RolloutError(f'no rollout history found for {t.kind.lower()} "{t.name}"')
    return prev


def undo(t: Target, to_revision: int, now: float) -> Outcome:
    """kubectl's rollback: the template of the revision (0: the previous one) becomes the object's; that
    revision moves to the next number. The same template already: "skipped rollback"."""
    _deployment_only(t, "undo")
    if is_paused(t.value):
        raise RolloutError(f"you cannot rollback a paused deployment; resume it first with "
                           f"'orc rollout resume deploy/{t.name}' and try again")
    target = undo_target(t, to_revision)
    if target.hash == template_hash(template_of(t.value)):
        return Outcome(t, None, t.revisions,
                       f"skipped rollback (current template already matches revision {target.number})")
    new = copy.deepcopy(t.value)
    new["spec"]["template"] = copy.deepcopy(target.template)
    return _changed(t, new, "rolled back", now)


# -- autoRollback -----------------------------------------------------------------------------------------


def auto_rollback_enabled(value: Mapping[str, Any], default: bool) -> bool:
    """The object's annotation orc.io/auto-rollback ("true" / "false", validated at apply), else orc.yaml's
    `auto_rollback`."""
    said = ((value.get("metadata") or {}).get("annotations") or {}).get(AUTO_ROLLBACK_ANNOTATION)
    return default if said is None else said == "true"


def deadline_exceeded(status: Mapping[str, Any] | None) -> bool:
    conditions = (status or {}).get("conditions") or []
    return any(c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded" for c in conditions)


@dataclass(frozen=True)
class AutoRollback:
    outcome: Outcome
    failed: Revision  # the revision that passed its deadline
    to: Revision  # the one restored (by its number before it became the current one)

    @property
    def message(self) -> str:
        return (f'Rolled back {self.outcome.target.kind.lower()} "{self.outcome.target.name}" to revision '
                f"{self.to.number}: revision {self.failed.number} passed its progress deadline (autoRollback)")


def auto_rollback(t: Target, status: Mapping[str, Any] | None, default: bool, now: float) -> AutoRollback | None:
    """A rollout that passed its progress deadline, of a controller with autoRollback on: its template goes
    back to the newest earlier revision that did not fail itself (so two bad templates never alternate), and
    the one that failed is marked failed. None when there is nothing to do. `status` is the pass's
    (plan/rollout.status): only a status about the current template counts."""
    if not deadline_exceeded(status) or not auto_rollback_enabled(t.value, default) or is_paused(t.value):
        return None
    current = t.revisions.current
    h = template_hash(template_of(t.value))
    if current is None or current.hash != h or ((status or {}).get("mark") or [None])[0] != h:
        return None
    to = t.revisions.previous(skip_failed=True)
    if to is None:
        return None
    new = copy.deepcopy(t.value)
    new["spec"]["template"] = copy.deepcopy(to.template)
    base = Target(t.key, t.record, t.revisions.mark_failed(current.number), t.revisions_record)
    return AutoRollback(_changed(base, new, "rolled back", now), current, to)
