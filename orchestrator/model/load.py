"""Reading manifests: files, folders (recursively *.yaml, *.yml, *.json) or `-` for stdin, multi-document
YAML and `kind: List`; then validating every document at once into typed objects.

Every problem of every document is reported together, each line as kubectl prints it:
`<Kind> "<name>" is invalid: <field.path>: <what is wrong>`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import yaml
from pydantic import ValidationError as PydanticValidationError

from orchestrator.errors import ValidationError
from orchestrator.model.fields import go_value, required, translate, unsupported
from orchestrator.model.objects import KINDS, OUT_OF_SCOPE, K8sObject, Object, Workload
from orchestrator.model.text import text_errors

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


class Document(dict):
    """One manifest document (a plain dict) that remembers where it came from, for error messages."""

    def __init__(
        self, data: dict[str, Any], source: str = "<input>", index: int = 1, item: int | None = None
    ):
        super().__init__(data)
        self.source = source
        self.index = index
        self.item = item

    @property
    def origin(self) -> str:
        """e.g. `manifests/web.yaml#2` (second document) or `list.yaml#1.items[3]`."""
        text = f"{self.source}#{self.index}"
        return text if self.item is None else f"{text}.items[{self.item}]"


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in MANIFEST_SUFFIXES)
    return [path]


class _ManifestLoader(yaml.SafeLoader):
    """YAML 1.1 safe types, recording every mapping key given twice (kubectl refuses them: `yaml: line 7:
    key "image" already set in map`) instead of keeping the last one silently."""

    duplicates: list[str]

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                if key in seen:
                    self.duplicates.append(f'line {key_node.start_mark.line + 1}: key {json.dumps(key, default=str)} '
                                           "already set in map")
                seen.add(key)
            except TypeError:  # an unhashable key: construct_mapping refuses it itself
                pass
        return super().construct_mapping(node, deep=deep)


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    for k in keys:
        if keys.count(k) > 1:
            raise ValueError(f"key {json.dumps(k)} already set in map")
    return dict(pairs)


def _parse_text(text: str, source: str) -> tuple[list[Any], list[str]]:
    """The documents of one file, and its duplicate keys (the documents are kept, so their other
    problems are reported in the same round)."""
    if source.endswith(".json"):
        return [json.loads(text, object_pairs_hook=_unique_pairs)], []
    loader = _ManifestLoader(text)
    loader.duplicates = []
    docs: list[Any] = []
    try:
        while loader.check_data():
            docs.append(loader.get_data())
    finally:
        loader.dispose()
    return docs, loader.duplicates


def load_documents(sources: list[str], stdin: IO[str] | None = None) -> list[dict[str, Any]]:
    """Every non-empty document of every source, in order; `kind: List` is flattened into its items.

    Raises orchestrator.errors.ValidationError listing every path that does not exist or cannot be parsed."""
    docs, errors = read_documents(sources, stdin)
    if errors:
        raise ValidationError(errors)
    return docs


def read_documents(sources: list[str], stdin: IO[str] | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """The documents that could be read, and every problem reading or parsing the sources."""
    docs: list[dict[str, Any]] = []
    errors: list[str] = []
    for source in sources:
        if source == "-":
            inputs: Iterable[tuple[str, str]] = [("<stdin>", (stdin or sys.stdin).read())]
        else:
            path = Path(source)
            if not path.exists():
                errors.append(f'the path "{source}" does not exist')
                continue
            inputs = []
            for f in _files(path):
                try:
                    inputs.append((str(f), f.read_text(encoding="utf-8")))
                except (OSError, UnicodeDecodeError) as e:
                    errors.append(f"error reading {f}: {e}")
        for name, text in inputs:
            try:
                parsed, duplicates = _parse_text(text, name)
            except (yaml.YAMLError, ValueError) as e:  # json.JSONDecodeError is a ValueError
                errors.append(f"error parsing {name}: {_parse_error(e)}")
                continue
            errors += [f"error parsing {name}: {d}" for d in duplicates]
            index = 0
            for data in parsed:
                if data is None:
                    continue
                index += 1
                docs.extend(_expand(data, name, index))
    return docs, errors


def _parse_error(e: Exception) -> str:
    mark = getattr(e, "problem_mark", None)
    if isinstance(e, yaml.MarkedYAMLError) and mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {e.problem}"
    return " ".join(str(e).split())


def _expand(data: Any, source: str, index: int) -> list[Any]:
    if isinstance(data, dict) and data.get("kind") == "List" and isinstance(data.get("items"), list):
        return [
            Document(item, source, index, i) if isinstance(item, dict) else item
            for i, item in enumerate(data["items"])
        ]
    return [Document(data, source, index) if isinstance(data, dict) else data]


def _label(doc: Any, position: int) -> str:
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    name = meta.get("name") if isinstance(meta, dict) else None
    if isinstance(name, str) and name:
        return name
    return doc.origin if isinstance(doc, Document) else f"document {position + 1}"


def validate_document(doc: Any, position: int = 0) -> tuple[K8sObject | None, list[str]]:
    """One document: the object, or the kubectl-style lines that say why it is not valid."""
    label = _label(doc, position)
    if not isinstance(doc, dict):
        body = f"Invalid value: {go_value(doc)}: a manifest must be a map with apiVersion, kind, metadata and spec"
        return None, [f'Object "{label}" is invalid: <root>: {body}']
    kind = doc.get("kind")
    if not kind:
        return None, [
            f'Object "{label}" is invalid: kind: {required("must be one of " + ", ".join(sorted(KINDS)))}'
        ]
    if kind in OUT_OF_SCOPE:
        return None, [f'{kind} "{label}": kind {kind} is not supported by orc ({OUT_OF_SCOPE[kind]}); it runs '
                      + ", ".join(sorted(KINDS))]
    if kind not in KINDS:
        return None, [
            f'{go_value(kind)[1:-1]} "{label}" is invalid: kind: {unsupported(kind, sorted(KINDS))}'
        ]
    cls = KINDS[kind]
    prefix = f'{kind} "{label}" is invalid: '
    version = doc.get("apiVersion")
    if not version:
        return None, [prefix + f"apiVersion: {required(f'use {cls.API_VERSION!r}')}"]
    if version != cls.API_VERSION:
        return None, [prefix + f"apiVersion: {unsupported(version, [cls.API_VERSION])}"]
    obj: K8sObject | None = None
    # A Secret's values are never shown, not even to say what is wrong with them (its own check words it);
    # a ConfigMap's may hold any text a file can (a NUL byte included).
    shown = {k: v for k, v in doc.items() if k not in ("data", "stringData", "binaryData")} \
        if kind in ("Secret", "ConfigMap") else dict(doc)
    lines = [f"{path}: {body}" for path, body in text_errors(shown)]
    try:
        obj = cls.model_validate(dict(doc))
    except PydanticValidationError as e:
        lines += [line for err in e.errors() for line in translate(err)]
    if issubclass(cls, Workload):
        lines += [f"{path}: {body}" for path, body in cls.template_label_errors(doc)]
    if lines:
        return None, [prefix + line for line in dict.fromkeys(lines)]
    return obj, []


def parse_objects(docs: list[dict[str, Any]]) -> list[Object]:
    """Validate every document and return the typed objects (Pod, ReplicationController / ReplicaSet /
    Deployment, Service) in order. Raises orchestrator.errors.ValidationError listing every problem of
    every document, including two documents that define the same object."""
    objects, errors = parse_documents(docs)
    if errors:
        raise ValidationError(errors)
    return objects


def parse_documents(docs: list[dict[str, Any]]) -> tuple[list[Object], list[str]]:
    """The valid objects, and every problem of every document; a problem of a document read from a file
    starts with where it is (`web.yaml#2: ...`, the file and the document's index in it)."""
    located, errors = parse_located(docs)
    return [obj for obj, _ in located], errors


def parse_located(docs: list[dict[str, Any]]) -> tuple[list[tuple[Object, str]], list[str]]:
    """As parse_documents, each valid object with where it came from (`web.yaml#2`, '' when not read from
    a file): later checks across objects (node ports against the store) name the document too."""
    located: list[tuple[Object, str]] = []
    errors: list[str] = []
    seen: dict[str, K8sObject] = {}
    for position, doc in enumerate(docs):
        obj, problems = validate_document(doc, position)
        where = f"{doc.origin}: " if isinstance(doc, Document) else ""
        errors += [where + p for p in problems]
        if obj is None:
            continue
        if obj.key in seen:
            first = seen[obj.key]
            errors.append(
                where + f'{obj.kind} "{obj.name}" is invalid: metadata.name: Duplicate value: '
                f"{go_value(obj.name)}: {first.kind} {go_value(first.name)} is defined twice (both are {obj.key})"
            )
            continue
        seen[obj.key] = obj
        located.append((obj, doc.origin if isinstance(doc, Document) else ""))  # type: ignore[arg-type]
    return located, errors


def load_objects(sources: list[str], stdin: IO[str] | None = None) -> list[Object]:
    """Read and validate every source: what `orc apply -f` does. Raises ValidationError listing every
    problem of every source and document (unreadable files, duplicate keys, invalid objects) at once."""
    objects, errors = read_objects(sources, stdin)
    if errors:
        raise ValidationError(errors)
    return objects


def read_objects(sources: list[str], stdin: IO[str] | None = None) -> tuple[list[Object], list[str]]:
    """The valid objects of every source, and every problem found (see load_objects)."""
    located, errors = read_located(sources, stdin)
    return [obj for obj, _ in located], errors


def read_located(sources: list[str], stdin: IO[str] | None = None) -> tuple[list[tuple[Object, str]], list[str]]:
    """As read_objects, each object with the document it came from (`web.yaml#2`)."""
    docs, errors = read_documents(sources, stdin)
    located, problems = parse_located(docs)
    return located, errors + problems
