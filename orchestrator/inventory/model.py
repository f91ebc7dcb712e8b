"""A loaded inventory: groups as Ansible built them and hosts with every variable resolved."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestrator.errors import ConfigError
from orchestrator.inventory.host import Host
from orchestrator.inventory.patterns import PatternMatcher


@dataclass(frozen=True)
class Group:
    name: str
    hosts: tuple[str, ...] = ()  # direct members, in the order the sources listed them
    children: tuple[str, ...] = ()  # child groups, in order
    parents: tuple[str, ...] = ()
    vars: dict[str, Any] = field(default_factory=dict)  # set in the inventory sources themselves
    file_vars: dict[str, Any] = field(default_factory=dict)  # from group_vars/ files
    priority: int = 1  # ansible_group_priority
    depth: int = 0  # longest path from `all`


class Inventory:
    """Hosts and groups of one inventory source (file, folder or `a,b,` host list)."""

    def __init__(
        self,
        source: str,
        groups: dict[str, Group],
        hosts: list[Host],
        warnings: list[str],
        definition_order: list[str] | None = None,
    ):
        self.source = source
        self.groups = groups
        self._hosts = {h.name: h for h in hosts}
        self.warnings = tuple(warnings)
        names = definition_order if definition_order is not None else [h.name for h in hosts]
        self._matcher = PatternMatcher(names, list(groups), self.group_host_names)

    def hosts(self) -> list[Host]:
        """Every host, in Ansible's order (that of `ansible all --list-hosts`)."""
        return list(self._hosts.values())

    def host_names(self) -> list[str]:
        return list(self._hosts)

    def get(self, name: str) -> Host | None:
        return self._hosts.get(name)

    def host(self, name: str) -> Host:
        host = self._hosts.get(name)
        if host is None:
            raise ConfigError(f"host {name!r} is not in the inventory {self.source}")
        return host

    def group_host_names(self, group: str) -> list[str]:
        """Hosts of a group and of all groups below it: the group's own first, then each level of
        children breadth first (as Ansible's Group.get_hosts)."""
        if group not in self.groups:
            raise ConfigError(f"group {group!r} is not in the inventory {self.source}")
        order = [group]
        level = list(self.groups[group].children)
        seen = {group}
        while level:
            nxt: list[str] = []
            for g in level:
                if g not in seen:
                    seen.add(g)
                    order.append(g)
                    nxt.extend(self.groups[g].children)
            level = nxt
        names: dict[str, None] = {}
        for g in order:
            for h in self.groups[g].hosts:
                names.setdefault(h, None)
        return list(names)

    def select(self, pattern: str, *, strict: bool = False) -> list[Host]:
        """Hosts matching an Ansible host pattern (`all`, `web`, `web:&prod:!web03`, `db*`, `~re`),
        in inventory order of the first term that brought each in. With `strict`, a term that
        matches no group and no host is an error."""
        return [self._hosts[n] for n in self._matcher.select(pattern, strict=strict)]

    def group_vars(self, group: str) -> dict[str, Any]:
        """A group's own vars as `ansible-inventory --graph --vars` shows them."""
        g = self.groups[group]
        out = {**g.vars, **g.file_vars}
        if g.priority != 1:
            out["ansible_group_priority"] = g.priority
        return out
