"""Rollout revisions of a rolling controller (a Deployment, a ReplicationController), as Kubernetes numbers
them: revision 1 is the first pod template, each change of the template (an image, an env value, a restart)
is the next number, and rolling back to an older template moves that template to the next number (as
Kubernetes moves the old ReplicaSet's `deployment.kubernetes.io/revision`), so numbers never shift and never
repeat. Pure: no store, no clock.

Where they live: `_meta/revisions/<object key>` ({"items": [...], "seen": N}), because `orc apply` replaces
the whole object with the user's manifest (a revision annotation in it would be dropped, and every apply would
"configure"). Each item keeps its template, so an undo does not depend on the store's history, which keeps
only the newest `history_limit` (10) versions of a key, scales included. The store's history is what is
folded in: every version of the object newer than `seen` (the mod revision last folded in) whose template
differs from the newest revision's is a new revision. Folding runs in each reconcile pass (so revisions made
by `orc apply` are numbered before the history forgets them) and in the rollout commands, which write the new
record in the same compare-and-swap transaction as the object.

`revisionHistoryLimit` (default 10, as Kubernetes) old revisions are kept beside the current one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from orchestrator.store import keys

PREFIX = keys.META + "revisions/"  # + object key ("deploy/web", "rc/web")
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE_ANNOTATION = "kubernetes.io/change-cause"
DEFAULT_REVISION_HISTORY_LIMIT = 10  # Kubernetes' default for a Deployment
ROLLING_PREFIXES = ("deploy/", "rc/")  # the kinds whose changed template rolls out (a ReplicaSet's does not)


def revisions_key(object_key: str) -> str:
    """'deploy/web' -> '_meta/revisions/deploy/web'."""
    return PREFIX + object_key


def template_of(value: Mapping[str, Any]) -> dict[str, Any]:
    return dict((value.get("spec") or {}).get("template") or {})


def template_hash(template: Mapping[str, Any]) -> str:
    """The hash the planner gives the template (its pods' `orc.spec-hash`): equal for equal templates however
    they were written."""
    from orchestrator.model.helpers import spec_hash
    from orchestrator.model.pod import PodTemplateSpec

    try:
        return spec_hash(PodTemplateSpec.model_validate(dict(template)))
    except ValueError:  # not a valid template (never stored by orc): hash it as it is
        return spec_hash(dict(template))


def history_limit_of(value: Mapping[str, Any]) -> int:
    limit = (value.get("spec") or {}).get("revisionHistoryLimit")
    return DEFAULT_REVISION_HISTORY_LIMIT if limit is None else max(0, int(limit))


@dataclass(frozen=True)
class Revision:
    number: int
    hash: str
    template: dict[str, Any]
    at: float = 0.0  # unix time it was recorded
    cause: str = ""  # the object's kubernetes.io/change-cause annotation then
    failed: bool = False  # rolled back from after it passed its progress deadline: autoRollback skips it

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"revision": self.number, "hash": self.hash, "template": self.template, "at": self.at}
        if self.cause:
            out["cause"] = self.cause
        if self.failed:
            out["failed"] = True
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Revision:
        return cls(int(d["revision"]), str(d["hash"]), dict(d.get("template") or {}), float(d.get("at") or 0),
                   str(d.get("cause") or ""), bool(d.get("failed")))


@dataclass(frozen=True)
class Revisions:
    """A controller's revisions, oldest first; the last is the current template's."""

    items: tuple[Revision, ...] = ()
    seen: int = 0  # the object's store (mod) revision last folded in

    def to_dict(self) -> dict[str, Any]:
        return {"items": [r.to_dict() for r in self.items], "seen": self.seen}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Revisions:
        d = d or {}
        return cls(tuple(Revision.from_dict(r) for r in d.get("items") or []), int(d.get("seen") or 0))

    @property
    def current(self) -> Revision | None:
        return self.items[-1] if self.items else None

    def get(self, number: int) -> Revision | None:
        return next((r for r in self.items if r.number == number), None)

    def previous(self, skip_failed: bool = False) -> Revision | None:
        """The newest revision before the current one with another template (for `--to-revision 0`);
        with `skip_failed`, never one that passed its progress deadline (autoRollback)."""
        cur = self.current
        for r in reversed(self.items[:-1]):
            if cur is not None and r.hash == cur.hash:
                continue
            if skip_failed and r.failed:
                continue
            return r
        return None

    def record(self, template: Mapping[str, Any], at: float, cause: str = "", limit: int | None = None) -> Revisions:
        """With `template` as the current revision: unchanged when it is already; an older revision of the same
        template moves to the next number; else a new number. Then only `limit` old revisions are kept."""
        h = template_hash(template)
        cur = self.current
        if cur is not None and cur.hash == h:
            return self
        number = max((r.number for r in self.items), default=0) + 1
        older = next((r for r in self.items if r.hash == h), None)
        rest = tuple(r for r in self.items if r.hash != h)
        new = Revision(number, h, dict(template), at, cause or (older.cause if older else ""))
        items = (*rest, new)
        if limit is not None:
            items = items[max(0, len(items) - 1 - limit):]
        return replace(self, items=items)

    def mark_failed(self, number: int) -> Revisions:
        return replace(self, items=tuple(replace(r, failed=True) if r.number == number else r for r in self.items))

    def fold(self, history: Iterable[Any], limit: int, now: float) -> Revisions:
        """The versions of the object in `history` (store Records, newest first, as `Store.history` gives
        them) newer than `seen`, folded in: a deletion (tombstone) starts the count again, as a new object's
        would."""
        out = self
        newest = self.seen
        for rec in sorted(history, key=lambda r: r.revision):
            if rec.revision <= self.seen:
                continue
            newest = max(newest, rec.revision)
            if rec.deleted:
                out = Revisions(seen=rec.revision)
                continue
            meta = rec.value.get("metadata") or {}
            cause = str((meta.get("annotations") or {}).get(CHANGE_CAUSE_ANNOTATION) or "")
            out = out.record(template_of(rec.value), now, cause, limit)
        items = out.items[max(0, len(out.items) - 1 - limit):]
        return replace(out, items=items, seen=newest)
