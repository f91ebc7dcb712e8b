"""What `orc apply` does beyond storing for ConfigMaps and Secrets: a Secret's values go to the secret-values
file (0600) and its stored manifest carries only their id; an immutable object keeps its data; a Secret
may not share its name with one of the `secrets/` folder (refused by name, so there is never a doubt which
one a pod gets)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from orchestrator.model.config import ConfigMap, Secret
from orchestrator.secret_store import VALUES_FIELD, SecretValues

if TYPE_CHECKING:
    from orchestrator.cli.applier import Change
    from orchestrator.model import K8sObject
    from orchestrator.secrets import SecretSource

_IMMUTABLE_FIELDS = {"ConfigMap": ("data", "binaryData", "immutable"),
                     "Secret": (VALUES_FIELD, "type", "immutable")}


def folder_clashes(objects: Sequence[K8sObject], folder: SecretSource) -> list[str]:
    return [f'Secret "{o.name}" is invalid: metadata.name: Duplicate value: "{o.name}": a Secret of this name is '
            f"in {folder.where()} (the secret folder); rename one of them, or remove it from the folder"
            for o in objects if isinstance(o, Secret) and folder.has(o.name)]


def with_secret_values(changes: list[Change], values: SecretValues) -> list[Change]:
    """Changes whose Secret manifests carry the id of their values (a new one only when the values
    changed), with created/configured/unchanged decided on that; the values are set in `values` (saved by
    the caller)."""
    out = []
    for c in changes:
        if isinstance(c.obj, Secret):
            data = c.obj.values()
            id_ = values.id_for(c.obj.name, data)
            after = {**c.after, VALUES_FIELD: id_}
            action = "created" if c.before is None else "unchanged" if c.before.value == after else "configured"
            values.set(c.obj.name, id_, data)
            c = dataclasses.replace(c, after=after, action=action)  # type: ignore[arg-type]
        out.append(c)
    return out


def immutable_errors(changes: Sequence[Change]) -> list[str]:
    """kubectl's error for a change to the data of an object stored with `immutable: true`."""
    errors = []
    for c in changes:
        fields = _IMMUTABLE_FIELDS.get(c.obj.kind)
        if not fields or c.before is None or not c.before.value.get("immutable"):
            continue
        if any(c.before.value.get(f) != c.after.get(f) for f in fields):
            what = "data" if isinstance(c.obj, ConfigMap) else "data"
            errors.append(f'{c.obj.kind} "{c.obj.name}" is invalid: {what}: Forbidden: field is immutable when '
                          "`immutable` is set (delete it and apply it again)")
    return errors
