"""Field errors as Kubernetes prints them (`spec.replicas: Invalid value: -1: must be ...`), the base class of
every manifest model, and the translation of pydantic's errors into that form.

A model's own checks return `FieldErrors` (pairs of a path relative to the model and an error body); its
`model_validator` raises them as one pydantic error, which `translate` expands back into lines. So problems
in sibling parts of a manifest are all reported, as pydantic validates each part independently.
"""

from __future__ import annotations

import functools
import json
import typing
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainValidator, PydanticUserError, TypeAdapter, model_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails, PydanticCustomError

from orchestrator.quote import go_quote

FieldErrors = list[tuple[str, str]]  # (relative path, body)

_ORC_FIELDS = "orc_fields"
_ORC_BODY = "orc_body"


def go_value(value: Any) -> str:
    """A value as Kubernetes shows it in a field error: strings quoted, numbers and booleans bare."""
    if isinstance(value, str):
        return go_quote(value)
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


T = typing.TypeVar("T")
_MEMO = "_memo_"


class K8sModel(BaseModel):
    """Kubernetes field names (camelCase aliases), unknown fields rejected, immutable once read.

    Each model's validator is built when it is first used (`defer_build`), not at import: a pass that
    validates nothing (a no-op reading the desired state from validated_cache.py) builds none."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        alias_generator=to_camel,
        frozen=True,
        strict=True,
        defer_build=True,
    )

    def memo(self, name: str, compute: typing.Callable[[], T]) -> T:
        """A value derived from this (frozen) model's fields, computed once per instance: kept in its
        `__dict__` beside the fields, where ==, hash and model_dump do not look and pickle does (so the
        validated-state cache carries it, and a no-op pass dumps no model to hash it). A copy drops it."""
        key = _MEMO + name
        try:
            return typing.cast(T, self.__dict__[key])
        except KeyError:
            value = self.__dict__[key] = compute()
            return value

    def model_copy(self, *, update: typing.Mapping[str, Any] | None = None, deep: bool = False) -> typing.Self:
        copied = super().model_copy(update=update, deep=deep)
        for key in [k for k in copied.__dict__ if k.startswith(_MEMO)]:
            del copied.__dict__[key]
        return copied

    def check(self) -> FieldErrors:
        """This part's own semantic checks (paths relative to it); override in subclasses."""
        return []

    @model_validator(mode="wrap")
    @classmethod
    def _run_checks(cls, data: Any, handler: Any) -> Any:
        """The fields' errors and this part's own checks together, in one round: when some field is
        invalid, `check()` still runs on the fields that are valid (see `partial_checks`)."""
        try:
            model = handler(data)
        except PydanticValidationError as e:
            inner = error_pairs(e)
            raise fields_error(inner + partial_checks(cls, data, inner)) from None
        errors = model.check()
        if errors:
            raise fields_error(errors)
        return model


def fields_error(errors: FieldErrors) -> PydanticCustomError:
    """Several (path, body) problems as the one pydantic error `translate` expands again."""
    return PydanticCustomError(_ORC_FIELDS, "{count} problem(s)", {"count": len(errors), "errors": errors})


def error_pairs(e: PydanticValidationError) -> FieldErrors:
    """A pydantic ValidationError as (relative path, body) pairs."""
    pairs: FieldErrors = []
    for err in e.errors():
        for line in translate(err):
            path, _, body = line.partition(": ")
            pairs.append(("" if path == "<root>" else path, body))
    return pairs


def _under(path: str, failed: Iterable[str]) -> bool:
    return any(path == f or path.startswith((f + ".", f + "[")) or not f for f in failed)


def _adapter(annotation: Any) -> TypeAdapter[Any]:
    try:
        return TypeAdapter(annotation, config=ConfigDict(strict=True))
    except PydanticUserError:  # a model type has its own config (strict too)
        return TypeAdapter(annotation)


@functools.cache
def _field_adapter(cls: type[BaseModel], name: str) -> TypeAdapter[Any]:
    info = cls.model_fields[name]
    return _adapter(Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation)


def _model_class(annotation: Any) -> type[K8sModel] | None:
    args = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    found = [a for a in args if isinstance(a, type) and issubclass(a, K8sModel)]
    return found[0] if len(found) == 1 else None


def _hollow(annotation: Any) -> Any:
    for a in [annotation, *typing.get_args(annotation)]:
        origin = typing.get_origin(a)
        if origin is list:
            return []
        if origin is dict:
            return {}
    return None


def _partial_value(annotation: Any, raw: Any, adapter: TypeAdapter[Any]) -> Any:
    """`raw` validated as `annotation`, or as much of it as is valid (see `partial_model`)."""
    try:
        return adapter.validate_python(raw)
    except (PydanticValidationError, TypeError, ValueError):
        pass
    model = _model_class(annotation)
    if model is not None and isinstance(raw, dict):
        return partial_model(model, raw)
    for a in [annotation, *typing.get_args(annotation)]:
        if typing.get_origin(a) is list and isinstance(raw, list):
            item = _model_class(typing.get_args(a)[0]) if typing.get_args(a) else None
            if item is not None:
                return [partial_model(item, r) if isinstance(r, dict) else None for r in raw]
    return _hollow(annotation)


def partial_model(cls: type[K8sModel], data: dict[str, Any]) -> K8sModel:
    """A model built without validation from the valid parts of `data`: invalid fields are hollow ([] for
    lists, {} for maps, None otherwise), nested models partial in turn."""
    values: dict[str, Any] = {}
    for name, info in cls.model_fields.items():
        alias = info.alias or name
        key = alias if alias in data else name if name in data else None
        if key is not None:
            values[name] = _partial_value(info.annotation, data[key], _field_adapter(cls, name))
    return cls.model_construct(**values)


def partial_checks(cls: type[K8sModel], data: Any, inner: FieldErrors) -> FieldErrors:
    """`check()` of a model whose fields did not all validate, run on its valid parts (`partial_model`),
    keeping only its errors about fields that are valid (the others are reported already) and no
    "Required value" (a hollow field looks missing). Best effort: a check that cannot run on a partial
    model is skipped (its errors come once the fields are fixed)."""
    if not isinstance(data, dict):
        return []
    failed = [p for p, _ in inner]
    try:
        errors = partial_model(cls, data).check()
    except Exception:  # noqa: BLE001 - a check written for a whole model may trip on a hollow one
        return []
    return [(p, b) for p, b in errors if not _under(p, failed) and not b.startswith("Required value")]


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
