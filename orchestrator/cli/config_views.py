"""`orc get` and `orc describe` of ConfigMaps and Secrets, as kubectl shows them: NAME DATA AGE and NAME TYPE
DATA AGE; `-o yaml|json` of a Secret carries its data base64-encoded (read from the secret-values file,
0600) and nothing else ever shows a value; describe shows a Secret's keys with their sizes only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orchestrator.cli.documents import stored_document

if TYPE_CHECKING:
    from orchestrator.cli.printers import Item
    from orchestrator.cli.view import ClusterView

VALUES_FIELD = "orcValues"  # secret_store.VALUES_FIELD (not imported: `orc get` stays light)


def _labels(record: Any) -> dict[str, str]:
    return dict((record.value.get("metadata") or {}).get("labels") or {})


def config_map_items(view: ClusterView, now: float) -> list[Item]:
    from orchestrator.cli.printers import Item, _age

    items = []
    for record in view.of_prefix("cm"):
        name = record.key.partition("/")[2]
        doc = stored_document(view, record.key)
        count = len(doc.get("data") or {}) + len(doc.get("binaryData") or {})
        items.append(Item("ConfigMap", name, _labels(record), doc, [str(count), _age(view, record.key, now)], []))
    return items


def secret_document(view: ClusterView, key: str) -> dict[str, Any]:
    """The Secret as kubectl's -o yaml shows it: data base64 (when this controller has its values file)."""
    doc = stored_document(view, key)
    id_ = doc.pop(VALUES_FIELD, None)
    values = view.secret_values.values(key.partition("/")[2], id_) if view.secret_values is not None else None
    if values:
        import base64

        doc["data"] = {k: base64.b64encode(v).decode() for k, v in sorted(values.items())}
    return doc


def secret_sizes(view: ClusterView, key: str) -> dict[str, int] | None:
    record = view.objects[key]
    if view.secret_values is None:
        return None
    values = view.secret_values.values(key.partition("/")[2], record.value.get(VALUES_FIELD))
    return None if values is None else {k: len(v) for k, v in values.items()}


def secret_items(view: ClusterView, now: float) -> list[Item]:
    from orchestrator.cli.printers import Item, _age

    items = []
    for record in view.of_prefix("secret"):
        name = record.key.partition("/")[2]
        doc = secret_document(view, record.key)
        sizes = secret_sizes(view, record.key)
        count = str(len(sizes)) if sizes is not None else "<unknown>"
        items.append(Item("Secret", name, _labels(record), doc,
                          [str(record.value.get("type") or "Opaque"), count, _age(view, record.key, now)], []))
    return items


def _head(out: Any, view: ClusterView, key: str) -> dict[str, Any]:
    from orchestrator.cli.describe import _map_lines

    doc = view.objects[key].value
    meta = doc.get("metadata") or {}
    out.block([("Name", key.partition("/")[2]), ("Namespace", "default"), ("Labels", _map_lines(meta.get("labels"))),
               ("Annotations", _map_lines(meta.get("annotations")))])
    return doc


def describe_config_map(view: ClusterView, name: str, now: float) -> str:
    from orchestrator.cli.describe import Text, describe_events, not_found

    key = f"cm/{name}"
    if key not in view.objects:
        raise not_found("ConfigMap", name)
    out = Text()
    doc = _head(out, view, key)
    out.line("")
    out.line("Data")
    out.line("====")
    for k, v in sorted((doc.get("data") or {}).items()):
        out.line(f"{k}:")
        out.line("----")
        out.line(str(v).rstrip("\n"))
        out.line("")
    out.line("")
    out.line("BinaryData")
    out.line("====")
    for k, v in sorted((doc.get("binaryData") or {}).items()):
        out.line(f"{k}: {len(v) * 3 // 4 - v.count('=')} bytes")
    out.line("")
    describe_events(out, view, key, now)
    return str(out)


def describe_secret(view: ClusterView, name: str, now: float) -> str:
    from orchestrator.cli.describe import Text, describe_events, not_found

    key = f"secret/{name}"
    if key not in view.objects:
        raise not_found("Secret", name)
    out = Text()
    doc = _head(out, view, key)
    out.line("")
    out.block([("Type", doc.get("type") or "Opaque")])
    out.line("")
    out.line("Data")
    out.line("====")
    sizes = secret_sizes(view, key)
    if sizes is None:
        out.line("<unknown: this controller has not the secret-values file>")
    for k, n in sorted((sizes or {}).items()):
        out.line(f"{k}:  {n} bytes")
    describe_events(out, view, key, now)
    return str(out)
