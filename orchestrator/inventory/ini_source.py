"""Ansible's INI inventory format.

    host1 x=1              # before any section: an ungrouped host
    [web]                  # hosts of group web: `name[:port] key=value ...` (shell-quoted)
    web[01:03] ansible_user=deploy
    [web:vars]             # one `key = value` per line
    http_port=8080
    [prod:children]        # child groups; may be declared further down
    web

Values, both inline and in `:vars` sections, are read with Python's `ast.literal_eval` when they parse
(`8080` -> 8080, `True` -> true, `[1, 2]` -> list, `"x"` -> x) and kept as strings otherwise (`yes`,
`a b`); that is what ansible-core really does (its docs say `:vars` values stay strings; they do not).
"""

from __future__ import annotations

import ast
import re
import shlex
import warnings
from typing import Any

from orchestrator.errors import ConfigError
from orchestrator.inventory.builder import InventoryBuilder
from orchestrator.inventory.ranges import expand_host_pattern

_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$")
_GROUP_NAME = re.compile(r"^([^:\]\s]+)\s*(?:#.*)?$")
_COMMENT = (";", "#")


def parse_value(text: str) -> Any:
    """An INI value as Ansible types it: a Python literal if it is one, else the text itself."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    except (TypeError, MemoryError, RecursionError) as e:
        raise ValueError(f"value {text!r} cannot be read: {e}") from None
    return _coerce(value)


def _coerce(value: Any) -> Any:
    if isinstance(value, (list, tuple, set)):
        return [_coerce(v) for v in value]
    if isinstance(value, dict):
        return {k: _coerce(v) for k, v in value.items()}
    if value is ...:
        return "..."
    if isinstance(value, complex):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="surrogateescape")
    return value


class _Pending:
    def __init__(self, line: int, state: str, parents: list[str] | None = None):
        self.line = line
        self.state = state
        self.parents = parents or []


def parse_ini(text: str, path: str, inv: InventoryBuilder) -> None:
    """Add the hosts and groups of one INI inventory file to `inv`; errors name `path:line`."""
    pending: dict[str, _Pending] = {}
    group, state = "ungrouped", "hosts"
    for lineno, raw in enumerate(text.splitlines(), start=1):
        where = f"{path}:{lineno}"
        line = raw.strip()
        if not line or line[0] in _COMMENT:
            continue
        m = _SECTION.match(line)
        if m:
            group, state = m.group(1), m.group(2) or "hosts"
            if state not in ("hosts", "children", "vars"):
                raise ConfigError(
                    f"{where}: section [{group}:{state}] has unknown type {state!r}; "
                    "use [name], [name:vars] or [name:children]"
                )
            if group not in inv.groups:
                if state == "vars" and group not in pending:
                    pending[group] = _Pending(lineno, "vars")
                inv.add_group(group, where)
            if group in pending and state != "vars":
                _resolve_pending(inv, group, pending, where)
            continue
        if line.startswith("[") and line.endswith("]"):
            raise ConfigError(
                f"{where}: invalid section {line!r}: a section is [name], [name:vars] or [name:children], "
                "with no spaces inside the brackets"
            )
        try:
            if state == "hosts":
                _parse_host_line(line, group, inv, where)
            elif state == "vars":
                key, sep, value = line.partition("=")
                if not sep:
                    raise ConfigError(f"{where}: expected key=value in [{group}:vars], got {line!r}")
                inv.set_variable(group, key.strip(), parse_value(value.strip()), where)
            else:
                m = _GROUP_NAME.match(line)
                if not m:
                    raise ConfigError(f"{where}: expected a group name in [{group}:children], got {line!r}")
                child = m.group(1)
                if child in inv.groups:
                    inv.add_child(group, child, where)
                elif child in pending:
                    pending[child].parents.append(group)
                else:
                    pending[child] = _Pending(lineno, "children", [group])
        except ValueError as e:
            raise ConfigError(f"{where}: {e}") from None
    for name, decl in pending.items():
        if decl.state == "vars":
            raise ConfigError(
                f"{path}:{decl.line}: section [{name}:vars] is for group {name!r}, which is not defined; "
                f"add a [{name}] or [{name}:children] section"
            )
        raise ConfigError(
            f"{path}:{decl.line}: section [{decl.parents[-1]}:children] includes group {name!r}, "
            f"which is not defined; add a [{name}] section"
        )


def _resolve_pending(inv: InventoryBuilder, group: str, pending: dict[str, _Pending], where: str) -> None:
    decl = pending.pop(group)
    for parent in decl.parents:
        inv.add_child(parent, group, where)
        if parent in pending and pending[parent].state == "children":
            _resolve_pending(inv, parent, pending, where)


def _parse_host_line(line: str, group: str, inv: InventoryBuilder, where: str) -> None:
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError as e:
        raise ConfigError(f"{where}: cannot split host line {line!r}: {e}") from None
    if not tokens:
        return
    pattern = tokens[0]
    names, port = expand_host_pattern(pattern)
    if pattern.endswith(":") and port is None:
        raise ConfigError(f"{where}: host {pattern!r} ends in ':', which is reserved for a port (host:2222)")
    if any(n.strip() == "---" for n in names):
        raise ConfigError(f"{where}: host '---' looks like the start of a YAML document, not INI")
    variables: dict[str, Any] = {}
    for token in tokens[1:]:
        key, sep, value = token.partition("=")
        if not sep:
            raise ConfigError(f"{where}: expected key=value host variable after {pattern!r}, got {token!r}")
        variables[key] = parse_value(value)
    for name in names:
        inv.add_host(name, group, port, where)
        for key, value in variables.items():
            inv.set_variable(name, key, value, where)
