"""Workloads an older orc stored under `rc/NAME` whatever their kind, and their move to a key per kind.

Each workload kind has its own key, and its pods carry that key as their owner (docker label `orc.owner`):
ReplicationController `rc/NAME`, ReplicaSet `rs/NAME`, Deployment `deploy/NAME`. Before, every kind was
stored under `rc/NAME`, so applying a Deployment `web` replaced the ReplicationController `web`. A store
written then may hold a ReplicaSet or Deployment under `rc/NAME` (a *legacy record*); its pods are
labelled `orc.owner=rc/NAME`, and docker cannot relabel a running container. So:

- reading (desired state, `orc get`/`describe`, `orc plan`) takes a legacy record as its own kind's key
  (`rc/web` holding a Deployment is `deploy/web`) and writes nothing;
- the first command that writes (`orc apply`, `delete`, `scale`, `reconcile`) moves it, once, in one
  transaction: the object to its own key, its creation time with it, and a marker
  `_meta/moved/rc/web` = {"to": "deploy/web", "kind": "Deployment", "at": T, "uids": [...]}, the uids
  being the pods labelled `rc/web` the last pass saw; it says so in one line;
- pods labelled with the old key stay the moved object's (`owner_of`): counted, scaled, served and, if
  the object is deleted, deleted as its pods; never deleted or duplicated because of the move, never
  restarted. Before the move every pod labelled `rc/web` is the legacy object's (no RC `web` can exist
  then); after it, those the marker lists, so the pods of an RC `web` applied later are the RC's own.

If the new key is taken as well (an older orc wrote `rc/web` after a newer one had moved it), the legacy
record is left where it is, under `rc/web` (a line says so; `orc delete rc/web` removes it), and is not
part of the desired state.

    moves = moves_of(records)                       # old key -> Moved
    owner_of("rc/web", uid, moves)                  # "deploy/web" for a pod of the moved Deployment
    objects = current_objects(records)              # object records under the key they belong to
    stored_at(store, "deploy/web")                  # one of them
    messages = migrate(store, time.time())          # the one-time move (nothing to do: [])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestrator.model.objects import KINDS, Workload
from orchestrator.store import keys

if TYPE_CHECKING:
    from orchestrator.store import Fence, Op, Record, Store

LEGACY_PREFIX = "rc/"
CREATED = keys.CREATED  # apply's creation times (cli/view.py), moved with their object
# The kinds an older orc stored under rc/ beside ReplicationControllers, and their own prefixes now.
_OWN_PREFIX = {kind: cls.KEY_PREFIX for kind, cls in KINDS.items()
               if issubclass(cls, Workload) and LEGACY_PREFIX != cls.KEY_PREFIX + "/"}


def own_key(key: str, value: Mapping[str, Any] | None) -> str | None:
    """The key a legacy record belongs under ("rc/web" holding a Deployment -> "deploy/web"); None for a
    record that is where it belongs."""
    if not key.startswith(LEGACY_PREFIX) or not value:
        return None
    prefix = _OWN_PREFIX.get(str(value.get("kind")))
    return f"{prefix}/{key[len(LEGACY_PREFIX):]}" if prefix else None


@dataclass(frozen=True)
class Moved:
    """A workload whose pods may carry an older key as their owner label."""

    old: str  # "rc/web": the owner label its older pods carry
    new: str  # "deploy/web": its key now
    kind: str
    at: float | None = None  # when the store moved it; None: still stored under `old`
    uids: frozenset[str] = frozenset()  # the pods labelled `old` when it was moved
    stranded: bool = False  # still under `old` and cannot move: `new` holds an object too

    def claims(self, uid: str) -> bool:
        """Whether the pod `uid`, labelled with `old`, is this object's."""
        return self.at is None or uid in self.uids


def moves_of(records: Iterable[Record]) -> dict[str, Moved]:
    """Old key -> its move: from the markers, and from legacy records not moved yet (which claim every pod
    labelled with their key)."""
    out: dict[str, Moved] = {}
    legacy: dict[str, Moved] = {}
    records = [r for r in records if not r.deleted]
    live = {r.key for r in records}
    for r in records:
        if r.key.startswith(keys.MOVED):
            old, v = r.key[len(keys.MOVED):], r.value
            if isinstance(v.get("to"), str):
                at = v.get("at")
                uids = frozenset(u for u in v.get("uids") or [] if isinstance(u, str))
                out[old] = Moved(old, v["to"], str(v.get("kind", "")),
                                 float(at) if isinstance(at, int | float) else 0.0, uids)
        elif (new := own_key(r.key, r.value)) is not None:
            legacy[r.key] = Moved(r.key, new, str(r.value.get("kind")), stranded=new in live)
    return {**out, **legacy}  # a legacy record written again after a move claims every pod again


def owner_of(owner: str | None, uid: str, moves: Mapping[str, Moved]) -> str | None:
    """The key of the controller of a pod labelled `owner`: the moved object's for its older pods."""
    moved = moves.get(owner) if owner else None
    return moved.new if moved is not None and moved.claims(uid) else owner


def current_objects(records: Iterable[Record]) -> dict[str, Record]:
    """Object records (keys outside `_meta/`) by the key they belong under: a legacy record under its own
    kind's key, with that key, unless an object is stored there too (then it stays under its old key)."""
    live = [r for r in records if not r.deleted and not r.key.startswith(keys.META)]
    out = {r.key: r for r in live}
    for r in live:
        new = own_key(r.key, r.value)
        if new is not None and new not in out:
            del out[r.key]
            out[new] = dataclasses.replace(r, key=new)
    return dict(sorted(out.items()))


def stored_at(store: Store, key: str) -> Record | None:
    """The record stored at `key`, or else the legacy record that belongs there (with `key` as its key)."""
    record = store.get(key)
    if record is None and key.partition("/")[0] in _OWN_PREFIX.values():
        legacy = store.get(LEGACY_PREFIX + key.partition("/")[2])
        if legacy is not None and own_key(legacy.key, legacy.value) == key:
            return dataclasses.replace(legacy, key=key)
    return record


def stranded_message(kind: str, old: str, new: str) -> str:
    """What to say of a legacy record that cannot move, its own key holding an object too."""
    return (f'{kind} "{old[len(LEGACY_PREFIX):]}" written by an older orc is still stored under {old}, and '
            f"{new} exists too: the older copy is ignored; `orc delete {old}` removes it")


def _pod_uids(snapshot: Record | None) -> dict[str, set[str]]:
    """Owner label -> uids of the pods the last pass stored in its snapshot."""
    out: dict[str, set[str]] = {}
    pods = snapshot.value.get("pods") if snapshot is not None else None
    for p in pods if isinstance(pods, list) else []:
        if isinstance(p, dict) and isinstance(p.get("owner"), str) and isinstance(p.get("uid"), str):
            out.setdefault(p["owner"], set()).add(p["uid"])
    return out


def migration(records: Iterable[Record], now: float) -> tuple[list[Op], list[str]]:
    """The one transaction that moves every legacy record that can move, and a line for each (and for each
    that cannot). Every key is compared with the revision read, so a concurrent change fails it whole."""
    from orchestrator.store import Delete, Put

    live = {r.key: r for r in records if not r.deleted}
    uids = _pod_uids(live.get(keys.SNAPSHOT))
    ops: list[Op] = []
    messages: list[str] = []
    for r in live.values():
        new = own_key(r.key, r.value)
        if new is None:
            continue
        if new in live:
            messages.append("warning: " + stranded_message(str(r.value.get("kind")), r.key, new))
            continue
        kind, name = str(r.value.get("kind")), r.key[len(LEGACY_PREFIX):]
        mine = uids.get(r.key, set())
        marker = live.get(keys.moved_key(r.key))
        if marker is not None:  # moved before, and written there again by an older orc: its pods too
            mine |= {u for u in marker.value.get("uids") or [] if isinstance(u, str)}
        ops += [Delete(r.key, expect_revision=r.revision), Put(new, r.value, expect_revision=0),
                Put(keys.moved_key(r.key), {"to": new, "kind": kind, "at": now, "uids": sorted(mine)},
                    expect_revision=marker.revision if marker is not None else 0)]
        created = live.get(CREATED + r.key)
        if created is not None:
            ops += [Delete(created.key, expect_revision=created.revision),
                    Put(CREATED + new, created.value, expect_revision=0)]
        pods = f"its {len(mine)} pod{'s' if len(mine) != 1 else ''}" if mine else "its pods"
        messages.append(f'store: moved {kind} "{name}" from {r.key} to {new} (an older orc kept every workload '
                        f"kind under rc/); {pods} keep their docker label orc.owner={r.key} and stay its own")
    return ops, messages


def migrate(store: Store, now: float, *, fence: Fence | None = None) -> list[str]:
    """Move every legacy record to its own key, in one transaction; the lines that say what was done (and
    what could not be). Nothing to move: no write, []. A concurrent change to a key read raises
    ConflictError, and nothing is moved."""
    from orchestrator.errors import ConflictError

    ops, messages = migration(store.list(""), now)
    if ops:
        try:
            store.txn(ops, fence=fence)
        except ConflictError as e:
            raise ConflictError(f"the store changed while moving workloads an older orc stored under rc/ to "
                                f"their own keys ({e}); nothing was moved: run the command again") from e
    return messages
