"""The mutable group/host graph that inventory sources fill in, with Ansible's rules for it.

Sources call `add_group`, `add_host`, `add_child` and `set_variable` in file order; `reconcile()` then
applies what Ansible does after parsing: every parentless group becomes a child of `all`, hosts in no
group go to `ungrouped`, hosts in some group leave it, and each group's depth (longest path from `all`)
is what orders group variables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestrator.errors import ConfigError


@dataclass
class GroupNode:
    name: str
    vars: dict[str, Any] = field(default_factory=dict)
    hosts: list[str] = field(default_factory=list)  # direct members, in the order they were added
    children: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    priority: int = 1  # ansible_group_priority
    depth: int = 0


@dataclass
class HostNode:
    name: str
    origin: str  # "file:line" where the host first appeared
    vars: dict[str, Any] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)  # groups listing it directly


class InventoryBuilder:
    def __init__(self) -> None:
        self.groups: dict[str, GroupNode] = {}
        self.hosts: dict[str, HostNode] = {}
        self.warnings: list[str] = []
        self.add_group("all")
        self.add_group("ungrouped")
        self.add_child("all", "ungrouped")

    def add_group(self, name: Any, where: str = "") -> str:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where}: group name {name!r} must be a non-empty string")
        if name not in self.groups:
            self.groups[name] = GroupNode(name)
        return name

    def add_host(self, name: Any, group: str | None, port: int | None, where: str) -> str:
        if not isinstance(name, str) or not name:
            raise ConfigError(
                f"{where}: host name {name!r} must be a non-empty string (quote numbers in YAML)"
            )
        host = self.hosts.get(name)
        if host is None:
            host = self.hosts[name] = HostNode(name, origin=where)
            if port is not None:  # as in Ansible, a `name:port` only counts where the host is first seen
                host.vars["ansible_port"] = port
        if group is not None:
            node = self.groups[group]
            if name not in node.hosts:
                node.hosts.append(name)
                host.groups.append(group)
        return name

    def add_child(self, parent: str, child: str, where: str = "") -> None:
        """Make group `child` a child of `parent`; refuses cycles (naming both groups)."""
        if parent not in self.groups:
            raise ConfigError(f"{where}: {parent!r} is not a known group")
        if child not in self.groups:
            raise ConfigError(f"{where}: {child!r} is not a known group")
        if parent == child:
            raise ConfigError(f"{where}: group {child!r} cannot be a child of itself")
        p, c = self.groups[parent], self.groups[child]
        if child in p.children:
            return
        if child in self.ancestors(parent):
            raise ConfigError(
                f"{where}: adding group {child!r} as a child of {parent!r} creates a loop "
                f"({parent!r} is already below {child!r}); remove one of the two children entries"
            )
        p.children.append(child)
        if parent not in c.parents:
            c.parents.append(parent)

    def set_variable(self, entity: str, key: Any, value: Any, where: str = "") -> None:
        """Set a var on a group or host. As in Ansible, a name that is both a group and a host means
        the group."""
        if not isinstance(key, str):
            raise ConfigError(f"{where}: variable name {key!r} of {entity!r} must be a string")
        if entity in self.groups:
            group = self.groups[entity]
            if key == "ansible_group_priority":
                try:
                    group.priority = int(value)
                except (TypeError, ValueError):
                    raise ConfigError(
                        f"{where}: group {entity!r}: ansible_group_priority must be an integer, got {value!r}"
                    ) from None
                return
            group.vars[key] = value
        elif entity in self.hosts:
            self.hosts[entity].vars[key] = value
        else:
            raise ConfigError(f"{where}: {entity!r} is not a known host nor group")

    def ancestors(self, group: str) -> set[str]:
        seen: set[str] = set()
        todo = list(self.groups[group].parents)
        while todo:
            g = todo.pop()
            if g not in seen:
                seen.add(g)
                todo.extend(self.groups[g].parents)
        return seen

    def reconcile(self) -> None:
        for name, group in self.groups.items():
            if name != "all" and not group.parents:
                self.add_child("all", name)
        ungrouped = self.groups["ungrouped"]
        for name, host in self.hosts.items():
            member = set(host.groups)
            for g in host.groups:
                member |= self.ancestors(g)
            if "ungrouped" in member:
                if member - {"all", "ungrouped"}:
                    ungrouped.hosts.remove(name)
                    host.groups.remove("ungrouped")
            elif not member - {"all"}:
                self.add_host(name, "ungrouped", None, host.origin)
        for clash in sorted(set(self.groups) & set(self.hosts)):
            self.warnings.append(
                f"{self.hosts[clash].origin}: {clash!r} is both a group and a host; "
                "vars written for the host go to the group (as in Ansible): rename one"
            )
        self._compute_depths()

    def _compute_depths(self) -> None:
        """Depth = longest path from `all`, which is what Ansible's incremental updates arrive at."""
        for g in self.groups.values():
            g.depth = 0
        order = self._topological_order()
        for name in order:
            node = self.groups[name]
            for child in node.children:
                c = self.groups[child]
                c.depth = max(c.depth, node.depth + 1)

    def _topological_order(self) -> list[str]:
        indegree = {n: len(g.parents) for n, g in self.groups.items()}
        ready = [n for n, d in indegree.items() if d == 0]
        order: list[str] = []
        while ready:
            n = ready.pop(0)
            order.append(n)
            for child in self.groups[n].children:
                indegree[child] -= 1
                if indegree[child] == 0:
                    ready.append(child)
        return order
