"""ObjectMeta: name, namespace (orc has one: "default"), labels and annotations."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from orchestrator.labels import validate_label_key, validate_labels
from orchestrator.model.fields import FieldErrors, K8sModel, invalid, unsupported

DEFAULT_NAMESPACE = "default"


def _split(line: str) -> tuple[str, str]:
    path, _, body = line.partition(": ")
    return path, body


def label_map_errors(value: Any, path: str) -> FieldErrors:
    """Label-map errors (keys and values by Kubernetes rules) as (path, body) pairs."""
    return [_split(line) for line in validate_labels(value, path)]


def annotation_errors(value: dict[str, Any] | None, path: str) -> FieldErrors:
    errors: FieldErrors = []
    for k, v in (value or {}).items():
        errors += [(path, invalid(k, m)) for m in validate_label_key(k)]
        if not isinstance(v, str):
            errors.append((path, invalid(v, f"the value of annotation {k!r} must be a string (quote it)")))
    return errors


class ObjectMeta(K8sModel):
    name: str | None = None
    namespace: str | None = None
    labels: dict[str, Any] | None = None
    annotations: dict[str, Any] | None = None
    # Written by Kubernetes and by `kubectl get -o yaml`: accepted so such output applies, never stored.
    uid: Any = Field(default=None, exclude=True)
    resource_version: Any = Field(default=None, exclude=True)
    generation: Any = Field(default=None, exclude=True)
    creation_timestamp: Any = Field(default=None, exclude=True)
    managed_fields: Any = Field(default=None, exclude=True)
    self_link: Any = Field(default=None, exclude=True)

    def check(self) -> FieldErrors:
        errors: FieldErrors = []
        if self.namespace not in (None, DEFAULT_NAMESPACE):
            errors.append(("namespace", unsupported(self.namespace, [DEFAULT_NAMESPACE])
                           + f" (orc has one namespace: drop metadata.namespace or set it to {DEFAULT_NAMESPACE})"))
        errors += label_map_errors(self.labels, "labels")
        errors += annotation_errors(self.annotations, "annotations")
        return errors

    @property
    def label_dict(self) -> dict[str, str]:
        return dict(self.labels or {})
