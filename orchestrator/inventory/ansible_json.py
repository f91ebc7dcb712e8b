"""The inventory as `ansible-inventory` prints it: `--list` JSON, `--host` vars and `--graph` text."""

from __future__ import annotations

import datetime
import json
from typing import Any

from orchestrator.inventory.model import Inventory

# ansible-core >= 2.19 names the JSON profile of --list output; older versions ignore the key.
JSON_PROFILE = "inventory_legacy"


def to_ansible_list(inv: Inventory) -> dict[str, Any]:
    """The dict `ansible-inventory -i SRC --list` prints: each non-empty group with its `hosts` (direct
    members; none listed for `all`) and `children`, and `_meta.hostvars` for hosts that have vars."""
    result: dict[str, Any] = {}
    seen: set[str] = set()

    def visit(name: str) -> None:
        group = inv.groups[name]
        entry: dict[str, Any] = {}
        if name != "all" and group.hosts:
            entry["hosts"] = list(group.hosts)
        if group.children:
            entry["children"] = list(group.children)
        if entry:
            result[name] = entry
        for child in group.children:
            if child not in seen:
                seen.add(child)
                visit(child)

    visit("all")
    hostvars = {h.name: h.vars for h in inv.hosts() if h.vars}
    result["_meta"] = {"hostvars": hostvars, "profile": JSON_PROFILE}
    return result


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime.date, datetime.datetime, datetime.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    raise TypeError(f"cannot show {type(value).__name__} {value!r} as JSON")


def dump_json(data: Any) -> str:
    """JSON exactly as ansible-inventory formats it (sorted keys, indent 4)."""
    return json.dumps(data, sort_keys=True, indent=4, default=_json_default)


def host_vars(inv: Inventory, name: str) -> dict[str, Any]:
    """What `ansible-inventory --host NAME` prints: the host's resolved vars."""
    return dict(inv.host(name).vars)


def to_graph(inv: Inventory, group: str = "all", with_vars: bool = False) -> str:
    """`ansible-inventory --graph [GROUP] [--vars]`: the group tree, children before hosts."""
    lines: list[str] = []

    def name_at(text: str, depth: int) -> str:
        return "  |" * depth + "--" + text if depth else text

    def show_vars(values: dict[str, Any], depth: int) -> None:
        for key, value in sorted(values.items()):
            lines.append(name_at(f"{{{key} = {value}}}", depth))

    def visit(name: str, depth: int) -> None:
        g = inv.groups[name]
        lines.append(name_at(f"@{name}:", depth))
        for child in g.children:
            visit(child, depth + 1)
        if name != "all":
            for h in g.hosts:
                lines.append(name_at(h, depth + 1))
                if with_vars:
                    show_vars(inv.host(h).vars, depth + 2)
        if with_vars:
            show_vars(inv.group_vars(name), depth + 1)

    visit(group, 0)
    return "\n".join(lines)
