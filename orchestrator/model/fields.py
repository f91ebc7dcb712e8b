"""Field errors as Kubernetes prints them (`spec.replicas: Invalid value: -1: must be ...`), the base class of
every manifest model, and the translation of pydantic's errors into that form.

A model's own checks return `FieldErrors` (pairs of a path relative to the model and an error body); its
`model_validator` raises them as one pydantic error, which `translate` expands back into lines. So problems
in sibling parts of a manifest are all reported, as pydantic validates each part independently.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainValidator, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails, PydanticCustomError

FieldErrors = list[tuple[str, str]]  # (relative path, body)

_ORC_FIELDS = "orc_fields"
_ORC_BODY = "orc_body"


def go_value(value: Any) -> str:
    """A value as Kubernetes shows it in a field error: strings quoted, numbers and booleans bare."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        inner = ", ".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in sorted(value.items()))
        return f"map[string]string{{{inner}}}"
    text = json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def required(detail: str = "") -> str:
    return "Required value" + (f": {detail}" if detail else "")


def invalid(value: Any, detail: str) -> str:
    return f"Invalid value: {go_value(value)}: {detail}"


def unsupported(value: Any, supported: Iterable[str]) -> str:
    return f"Unsupported value: {go_value(value)}: supported values: " + ", ".join(
        json.dumps(s) for s in supported
    )


def forbidden(detail: str) -> str:
    return f"Forbidden: {detail}"


def duplicate(value: Any) -> str:
    return f"Duplicate value: {go_value(value)}"


def not_found(value: Any) -> str:
    return f"Not found: {go_value(value)}"


def join(base: str, rel: str) -> str:
    if not rel:
        return base
    if not base or rel.startswith("["):
        return base + rel
    return f"{base}.{rel}"


def loc_path(loc: Iterable[str | int]) -> str:
    path = ""
    for part in loc:
        path = join(path, f"[{part}]" if isinstance(part, int) else str(part))
    return path


def prefixed(prefix: str, errors: FieldErrors) -> FieldErrors:
    return [(join(prefix, p), b) for p, b in errors]


class K8sModel(BaseModel):
    """Kubernetes field names (camelCase aliases), unknown fields rejected, immutable once read."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        alias_generator=to_camel,
        frozen=True,
        strict=True,
    )

    def check(self) -> FieldErrors:
        """This part's own semantic checks (paths relative to it); override in subclasses."""
        return []

    @model_validator(mode="after")
    def _run_checks(self) -> K8sModel:
        errors = self.check()
        if errors:
            raise PydanticCustomError(
                _ORC_FIELDS, "{count} problem(s)", {"count": len(errors), "errors": errors}
            )
        return self


def _check_one_of(values: tuple[str, ...]):
    def check(v: Any) -> str:
        if not isinstance(v, str) or v not in values:
            raise PydanticCustomError(_ORC_BODY, "{body}", {"body": unsupported(v, values)})
        return v

    return check


def OneOf(*values: str) -> Any:  # noqa: N802 - reads as a type in annotations
    """A string restricted to `values`, reported as Kubernetes' `Unsupported value` error."""
    return Annotated[str, PlainValidator(_check_one_of(values))]


def _int_or_string(v: Any) -> int | str:
    if isinstance(v, bool) or not isinstance(v, int | str):
        raise PydanticCustomError(_ORC_BODY, "{body}", {"body": invalid(v, "must be an integer or a string")})
    return v


IntOrString = Annotated[int | str, PlainValidator(_int_or_string)]

_TYPE_WORDS = {
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "bool_type": "must be a boolean (true or false)",
    "bool_parsing": "must be a boolean (true or false)",
    "string_type": "must be a string (quote it)",
    "dict_type": "must be a map",
    "model_type": "must be an object (a map of fields)",
    "model_attributes_type": "must be an object (a map of fields)",
    "list_type": "must be a list",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
}


def translate(error: ErrorDetails, prefix: str = "") -> list[str]:
    """One pydantic error as Kubernetes-style `<path>: <body>` lines."""
    path = join(prefix, loc_path(error["loc"]))
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == _ORC_FIELDS:
        return [f"{join(path, rel) or '<root>'}: {body}" for rel, body in ctx["errors"]]
    if kind == _ORC_BODY:
        body = ctx["body"]
    elif kind == "missing":
        body = required()
    elif kind == "extra_forbidden":
        name = str(error["loc"][-1]) if error["loc"] else "?"
        body = forbidden(
            f"unknown field {json.dumps(name)} (orc does not support it; fix its spelling or remove it)"
        )
    elif kind in _TYPE_WORDS:
        body = invalid(error.get("input"), _TYPE_WORDS[kind])
    else:
        msg = error["msg"]
        body = invalid(error.get("input"), msg[:1].lower() + msg[1:])
    return [f"{path or '<root>'}: {body}"]
