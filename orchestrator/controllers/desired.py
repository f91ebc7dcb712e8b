"""Desired state as the planner reads it: the objects in the store, parsed back into the model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestrator.controllers.moved_keys import Moved, current_objects, moves_of, own_key, owner_of
from orchestrator.model.config import ConfigMap
from orchestrator.model.objects import Pod, PodDisruptionBudget, Service, Workload
from orchestrator.validated_cache import ValidatedCache


@dataclass
class DesiredState:
    pods: dict[str, Pod] = field(default_factory=dict)  # name -> bare pod
    workloads: dict[str, Workload] = field(default_factory=dict)  # "rc/web", "rs/web", "deploy/web" -> controller
    services: dict[str, Service] = field(default_factory=dict)  # name -> service
    budgets: dict[str, PodDisruptionBudget] = field(default_factory=dict)  # name -> PodDisruptionBudget
    config_maps: dict[str, ConfigMap] = field(default_factory=dict)  # name -> ConfigMap
    # name -> the stored Secret manifest (no values: those are in the secret-values file, by its `orcValues` id)
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)
    revision: int = 0
    # Objects deleted by `orc delete` ("rc/web", "pod/db") whose pods may still run: those pods are deleted.
    tombstones: frozenset[str] = frozenset()
    # Old key -> a workload an older orc stored there, whose pods may still carry it as their owner label
    # (see controllers/moved_keys.py).
    moved: dict[str, Moved] = field(default_factory=dict)

    def owner_of(self, owner: str | None, uid: str) -> str | None:
        """The controller key of a pod labelled `owner`: the label, or the moved object's key for its pods
        that still carry the key an older orc stored it under."""
        return owner_of(owner, uid, self.moved)

    @classmethod
    def from_objects(cls, objects: list[Any], revision: int = 0) -> DesiredState:
        d = cls(revision=revision)
        for o in objects:
            if isinstance(o, Pod):
                d.pods[o.name] = o
            elif isinstance(o, Workload):
                d.workloads[o.key] = o
            elif isinstance(o, Service):
                d.services[o.name] = o
            elif isinstance(o, PodDisruptionBudget):
                d.budgets[o.name] = o
            elif isinstance(o, ConfigMap):
                d.config_maps[o.name] = o
        return d


def load_desired(store: Any, cache: ValidatedCache | None = None) -> DesiredState:
    """Every object in the store (keys outside `_meta/`), validated again on the way in (or, with a `cache`,
    taken from the last validation of the same manifests), and the tombstones; a workload an older orc
    stored under rc/ is read as its own kind's (moved_keys.py)."""
    from orchestrator.store.keys import TOMBSTONE

    records = store.list("")
    # (a legacy record that cannot move, its own key being taken, is not desired: see moved_keys.py)
    current = current_objects(records)
    docs = [r.value for k, r in current.items() if own_key(k, r.value) is None and not k.startswith("secret/")]
    objects = (cache or ValidatedCache(None)).get("desired", docs, lambda: _validated(docs)) if docs else []
    d = DesiredState.from_objects(objects, records.revision)
    d.secrets = {k.partition("/")[2]: dict(r.value) for k, r in current.items() if k.startswith("secret/")}
    d.moved = moves_of(records)
    d.tombstones = frozenset(r.key[len(TOMBSTONE):] for r in records if r.key.startswith(TOMBSTONE))
    return d


def _validated(docs: list[dict[str, Any]]) -> list[Any]:
    """The stored manifests as objects, with what every pass derives from them already derived (their pod
    templates' hashes, a service's manifest): a pass that reads them from the cache dumps no model."""
    from orchestrator.model.helpers import spec_hash
    from orchestrator.model.load import parse_objects

    objects = parse_objects(docs)
    for o in objects:
        if isinstance(o, Workload):
            spec_hash(o.template)
        elif isinstance(o, Pod):
            spec_hash(o.spec)
        elif isinstance(o, Service):
            o.manifest_json()
    return objects
