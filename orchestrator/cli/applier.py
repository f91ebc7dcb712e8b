"""`orc apply`: compare validated objects with the store, then write every change in one transaction that
compares each key with the revision read, so a concurrent change fails the whole apply (never a silent
overwrite). A manifest's `metadata.resourceVersion` (as `orc get -o yaml` prints it) must equal the stored
revision, as in kubectl."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from orchestrator.cli.kinds import display_name, plural_name
from orchestrator.cli.view import created_key
from orchestrator.errors import ConflictError
from orchestrator.store import Check, Delete, Op, Put
from orchestrator.store.keys import tombstone_key

if TYPE_CHECKING:
    from orchestrator.config import ProxySettings
    from orchestrator.model import K8sObject
    from orchestrator.model import Service as Service
    from orchestrator.store import Record, Store

MODIFIED = "the object has been modified; please apply your changes to the latest version and try again"

Action = Literal["created", "configured", "unchanged"]


@dataclass(frozen=True)
class Change:
    obj: K8sObject
    action: Action
    before: Record | None
    after: dict[str, Any]

    @property
    def key(self) -> str:
        return self.obj.key

    @property
    def ref(self) -> str:
        """`replicationcontroller/web`, as apply reports it."""
        return f"{display_name(self.obj.kind)}/{self.obj.name}"


def conflict_error(kind: str, name: str, detail: str = "") -> ConflictError:
    """kubectl's message for a lost compare-and-swap."""
    tail = f" ({detail})" if detail else ""
    return ConflictError(f'Operation cannot be fulfilled on {plural_name(kind)} "{name}": {MODIFIED}{tail}')


def plan_apply(store: Store, objects: Sequence[K8sObject]) -> list[Change]:
    """What applying `objects` would do to each. Raises ConflictError when a manifest's resourceVersion is
    not the stored revision. A workload an older orc stored under rc/ counts as stored under its own key
    (for a dry run; `orc apply` has moved it there first: controllers/moved_keys.py)."""
    from orchestrator.controllers.moved_keys import stored_at

    changes: list[Change] = []
    for obj in objects:
        before = stored_at(store, obj.key)
        wanted = obj.metadata.resource_version
        if wanted is not None and str(wanted) != "":
            if before is None:
                raise conflict_error(
                    obj.kind,
                    obj.name,
                    f"resourceVersion {wanted} was given but it no longer exists; remove "
                    "metadata.resourceVersion to create it again",
                )
            if str(wanted) != str(before.revision):
                raise conflict_error(
                    obj.kind,
                    obj.name,
                    f"resourceVersion {wanted} was given, the stored one is {before.revision}",
                )
        after = obj.to_manifest()
        if before is None:
            action: Action = "created"
        elif before.value == after:
            action = "unchanged"
        else:
            action = "configured"
        changes.append(Change(obj, action, before, after))
    return changes


def apply_ops(changes: list[Change], now: float) -> list[Op]:
    """One compare per key read (create-only for new objects); new objects also get their creation time."""
    ops: list[Op] = []
    for c in changes:
        if c.before is None:
            # the creation time first, so a watcher sees the object with its age
            ops += [Put(created_key(c.key), {"at": now, "uid": str(uuid.uuid4())}),
                    Put(c.key, c.after, expect_revision=0),
                    Delete(tombstone_key(c.key))]  # made again: its running pods are adopted, not deleted
        elif c.action == "configured":
            ops.append(Put(c.key, c.after, expect_revision=c.before.revision))
        else:
            ops.append(Check(c.key, c.before.revision))
    return ops


def delete_ops(key: str, revision: int, now: float) -> list[Op]:
    """`orc delete` of one object: the object (compared with the revision read), its creation time, and its
    tombstone, the positive decision that lets a pass stop the object's pods (a pod whose owner the store
    does not know is an orphan, left running)."""
    return [Delete(key, expect_revision=revision), Delete(created_key(key)), Put(tombstone_key(key), {"at": now})]


def commit_apply(store: Store, changes: list[Change], now: float, claims: Sequence[Op] = ()) -> int | None:
    """Write every change in one transaction, with `claims` (the node ports the services name, see
    proxy.node_port_claims); None when there was nothing to write. A concurrent change to any object read,
    or a node port taken meanwhile, raises ConflictError naming it, and nothing is written."""
    if all(c.action == "unchanged" for c in changes) and not any(isinstance(op, Put | Delete) for op in claims):
        return None
    try:
        return store.txn([*apply_ops(changes, now), *claims])
    except ConflictError as e:
        key = getattr(e, "key", None)
        lost = next((c for c in changes if c.key == key), None)
        if lost is None and key is not None and any(getattr(op, "key", None) == key for op in claims):
            what = "cluster IP" if str(key).startswith("_meta/cluster-ip/") else "node port"
            raise ConflictError(f"{what} {str(key).rsplit('/', 1)[-1]} was allocated to another service "
                                "while applying; nothing was applied: apply again (or pick another)") from e
        if lost is None:
            raise
        raise conflict_error(
            lost.obj.kind, lost.obj.name, "changed while applying; nothing was applied"
        ) from e


def allocation_ops(store: Store, services: Sequence[Service], settings: ProxySettings,
                   claimed: Sequence[Op] = ()) -> tuple[list[Op], list[str]]:
    """The writes that give the applied services their cluster IP and node ports in the apply's own
    transaction (the allocator the passes use, so a pass finds them made and keeps them), and the problems
    that keep an applied service from being served (an address outside the range, none left). `claimed`:
    ops already in the transaction (the node ports the manifests name), not written twice."""
    from orchestrator.model import Service
    from orchestrator.model.load import parse_documents
    from orchestrator.proxy.addresses import allocation_records, plan_allocation

    stored, _ = parse_documents([r.value for r in store.list("svc/")])
    everyone = {s.name: s for s in stored if isinstance(s, Service)} | {s.name: s for s in services}
    planned = plan_allocation(allocation_records(store), everyone, settings)
    taken = {getattr(op, "key", None) for op in claimed}
    ops: list[Op] = []
    for op in planned.ops:
        if op.key in taken:
            continue
        if op.op == "claim":
            ops.append(Put(op.key, dict(op.value), expect_revision=0))
        elif op.op == "update":
            ops.append(Put(op.key, dict(op.value), expect_revision=op.revision))
        else:
            ops.append(Delete(op.key, expect_revision=op.revision))
    mine = {s.name for s in services}
    errors = [e for e in planned.errors if any(e.startswith(f'Service "{n}"') for n in mine)]
    return ops, errors
