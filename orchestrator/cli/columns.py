"""kubectl's output options for `orc get`: the `-o` formats (json, yaml, name, wide, jsonpath=,
jsonpath-file=, custom-columns=, custom-columns-file=), the extra table columns (--show-labels, -L KEY,
-A's NAMESPACE), --sort-by and --field-selector. Pure: they work on the items' documents."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from orchestrator.cli.jsonpath import Template
    from orchestrator.cli.printers import Item

SIMPLE = ("wide", "json", "yaml", "name")
FORMATS = (*SIMPLE, "jsonpath=...", "jsonpath-file=...", "custom-columns=...", "custom-columns-file=...")


@dataclass
class OutputFormat:
    kind: str  # table | wide | json | yaml | name | jsonpath | custom-columns
    template: Template | None = None
    columns: list[tuple[str, Template]] = field(default_factory=list)

    @property
    def document(self) -> bool:
        """Prints the objects' documents rather than rows."""
        return self.kind in ("json", "yaml", "jsonpath")


def _jsonpath() -> Any:
    from orchestrator.cli import jsonpath  # python-jsonpath only when a path is asked for

    return jsonpath


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise click.BadParameter(f"cannot read the {what} file {path!r}: {e.strerror}",
                                 param_hint="'-o' / '--output'") from None


def custom_columns(spec: str) -> list[tuple[str, Template]]:
    """`NAME:.metadata.name,NODE:.spec.nodeName` -> [(header, path)]."""
    jp = _jsonpath()
    out = []
    for part in spec.split(","):
        header, sep, path = part.partition(":")
        if not sep or not header or not path:
            raise click.BadParameter(
                f"unexpected custom-columns spec: {part!r}, expected <header>:<json-path-expr> "
                "(e.g. custom-columns=NAME:.metadata.name,NODE:.spec.nodeName)", param_hint="'-o' / '--output'")
        try:
            out.append((header, jp.parse_path(path)))
        except jp.JSONPathError as e:
            raise click.BadParameter(str(e), param_hint="'-o' / '--output'") from None
    return out


def columns_file(text: str) -> list[tuple[str, Template]]:
    """kubectl's custom-columns file: a line of headers and a line of paths, separated by blanks."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if len(lines) != 2 or len(lines[0]) != len(lines[1]):
        raise click.BadParameter("a custom-columns file has two lines, the headers and as many paths",
                                 param_hint="'-o' / '--output'")
    return custom_columns(",".join(f"{h}:{p}" for h, p in zip(lines[0], lines[1], strict=True)))


def parse_output(text: str | None) -> OutputFormat:
    if text is None:
        return OutputFormat("table")
    if text in SIMPLE:
        return OutputFormat(text)
    name, sep, arg = text.partition("=")
    if name in ("jsonpath", "jsonpath-file") and sep:
        jp = _jsonpath()
        source = _read(arg, "jsonpath") if name == "jsonpath-file" else arg
        try:
            return OutputFormat("jsonpath", template=jp.parse(source))
        except jp.JSONPathError as e:
            raise click.BadParameter(str(e), param_hint="'-o' / '--output'") from None
    if name == "custom-columns" and sep:
        return OutputFormat("custom-columns", columns=custom_columns(arg))
    if name == "custom-columns-file" and sep:
        return OutputFormat("custom-columns", columns=columns_file(_read(arg, "custom-columns")))
    raise click.BadParameter(
        f"unable to match a printer suitable for the output format {text!r}, the allowed formats are: "
        + ",".join(FORMATS), param_hint="'-o' / '--output'")


def go_value(value: Any) -> str:
    """A value as kubectl's custom-columns prints it (Go's %v): maps as map[k:v], lists as [a b]."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_value(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return "<nil>" if value is None else str(value)


def column_cells(columns: Sequence[tuple[str, Template]], doc: dict[str, Any]) -> list[str]:
    cells = []
    for _, template in columns:
        (found,) = template.values(doc)
        cells.append(",".join(go_value(v) for v in found) if found else "<none>")
    return cells


# -- extra table columns -----------------------------------------------------------------------------------


def label_headers(keys: Sequence[str]) -> list[str]:
    """-L app.kubernetes.io/name -> NAME, as kubectl heads a label column (the part after the last /)."""
    return [k.rsplit("/", 1)[-1].upper() for k in keys]


def label_cells(labels: dict[str, str], keys: Sequence[str]) -> list[str]:
    return [labels.get(k, "") for k in keys]


def labels_cell(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>"


def split_label_columns(values: Sequence[str]) -> list[str]:
    """-L a -L b,c -> [a, b, c]."""
    return [k.strip() for v in values for k in v.split(",") if k.strip()]


# -- --sort-by ---------------------------------------------------------------------------------------------


def sort_key(template: Template) -> Callable[[Item], tuple[int, Any]]:
    """Items without the field first, then numbers by value, then everything else as text, as kubectl
    orders them."""

    def key(item: Item) -> tuple[int, Any]:
        (found,) = template.values(item.doc)
        if not found or found[0] is None:
            return (0, "")
        value = found[0]
        if isinstance(value, int | float) and not isinstance(value, bool):
            return (1, value)
        return (2, value if isinstance(value, str) else _jsonpath().format_value(value))

    return key


def parse_sort_by(text: str | None) -> Template | None:
    if not text:
        return None
    jp = _jsonpath()
    try:
        return jp.parse_path(text)  # type: ignore[no-any-return]
    except jp.JSONPathError as e:
        raise click.BadParameter(str(e), param_hint="'--sort-by'") from None


# -- --field-selector --------------------------------------------------------------------------------------

_COMMON = ("metadata.name", "metadata.namespace")
FIELDS: dict[str, tuple[str, ...]] = {
    "pods": (*_COMMON, "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
             "status.phase", "status.podIP", "status.hostIP"),
    "replicationcontrollers": (*_COMMON, "status.replicas"),
    "replicasets": (*_COMMON, "status.replicas"),
    "nodes": (*_COMMON, "spec.unschedulable"),
    "events": (*_COMMON, "involvedObject.kind", "involvedObject.name", "reason", "type"),
}
DEFAULTS = {"spec.restartPolicy": "Always", "spec.schedulerName": "default-scheduler",
            "spec.serviceAccountName": "default", "metadata.namespace": "default", "spec.unschedulable": "false"}


@dataclass(frozen=True)
class FieldRequirement:
    path: str
    value: str
    equal: bool

    def matches(self, doc: dict[str, Any]) -> bool:
        node: Any = doc
        for part in self.path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        text = DEFAULTS.get(self.path, "") if node is None else go_value(node) if not isinstance(node, str) else node
        return (text == self.value) == self.equal


def parse_field_selector(text: str | None) -> list[FieldRequirement]:
    """`metadata.name=web,status.phase!=Running` -> requirements (=, == and !=, as kubectl)."""
    if not text:
        return []
    out = []
    for part in text.split(","):
        for op, equal in (("!=", False), ("==", True), ("=", True)):
            path, sep, value = part.partition(op)
            if sep:
                out.append(FieldRequirement(path.strip(), value.strip(), equal))
                break
        else:
            raise click.BadParameter(f"invalid selector: {part!r}; expected FIELD=VALUE, FIELD==VALUE or "
                                     "FIELD!=VALUE (e.g. status.phase=Running)", param_hint="'--field-selector'")
    return out


def check_fields(plural: str, requirements: Sequence[FieldRequirement]) -> None:
    """kubectl's refusal of a field a resource cannot be selected by, naming those it can."""
    known = FIELDS.get(plural, _COMMON)
    for r in requirements:
        if r.path not in known:
            raise click.BadParameter(
                f'field label not supported: {r.path} (for {plural}: {", ".join(known)})',
                param_hint="'--field-selector'")


def field_filter(requirements: Sequence[FieldRequirement]) -> Callable[[Item], bool]:
    return lambda item: all(r.matches(item.doc) for r in requirements)
