"""Desired state as the planner reads it: the objects in the store, parsed back into the model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestrator.model.objects import Pod, Service, Workload


@dataclass
class DesiredState:
    pods: dict[str, Pod] = field(default_factory=dict)  # name -> bare pod
    workloads: dict[str, Workload] = field(default_factory=dict)  # "rc/web" -> controller
    services: dict[str, Service] = field(default_factory=dict)  # name -> service
    revision: int = 0
    # Objects deleted by `orc delete` ("rc/web", "pod/db") whose pods may still run: those pods are deleted.
    tombstones: frozenset[str] = frozenset()

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
        return d


def load_desired(store: Any) -> DesiredState:
    """Every object in the store (keys outside `_meta/`), validated again on the way in, and the tombstones."""
    from orchestrator.model.load import parse_objects
    from orchestrator.store.keys import META, TOMBSTONE

    records = store.list("")
    docs = [r.value for r in records if not r.key.startswith(META)]
    d = DesiredState.from_objects(parse_objects(docs) if docs else [], records.revision)
    d.tombstones = frozenset(r.key[len(TOMBSTONE):] for r in records if r.key.startswith(TOMBSTONE))
    return d
