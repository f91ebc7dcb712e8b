"""Ansible's YAML inventory format: top-level keys are groups; each has optional `hosts` (pattern ->
vars), `children` (group name -> the same structure, recursively) and `vars`.

    all:
      vars: {ntp: pool.ntp.org}
      children:
        web:
          hosts:
            web[01:02]: {ansible_user: deploy}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.errors import ConfigError
from orchestrator.inventory.builder import InventoryBuilder
from orchestrator.inventory.ranges import expand_host_pattern
from orchestrator.inventory.yaml_loader import YamlDocument

_SECTIONS = ("vars", "children", "hosts")


class YamlInventoryParser:
    def __init__(self, doc: YamlDocument, path: str, inv: InventoryBuilder):
        self.doc = doc
        self.path = path
        self.inv = inv

    def where(self, mapping: Any, key: Any) -> str:
        line = self.doc.line(mapping, key)
        return f"{self.path}:{line}" if line else self.path

    def parse(self) -> None:
        data = self.doc.data
        if not data:
            raise ConfigError(f"{self.path}: empty YAML inventory")
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"{self.path}: a YAML inventory must be a mapping of group names, got {type(data).__name__}"
            )
        if data.get("plugin"):
            raise ConfigError(
                f"{self.where(data, 'plugin')}: inventory plugin configs (plugin: {data['plugin']}) are not "
                "supported; export it with `ansible-inventory -i FILE --list -y` and use that file"
            )
        for name, group_data in data.items():
            self._parse_group(name, group_data, self.where(data, name))

    def _parse_group(self, name: Any, data: Any, where: str) -> Any:
        if data is not None and not isinstance(data, Mapping):
            self.inv.warnings.append(f"{where}: skipping {name!r}: a group must be a mapping, not {data!r}")
            return name
        group = self.inv.add_group(name, where)
        if data is None:
            return group
        lines = data  # the mapping the YAML loader recorded key lines for
        for section in _SECTIONS:
            if isinstance(data.get(section), str):  # `hosts: web1` means `hosts: {web1: null}`
                data = {**data, section: {data[section]: None}}
            value = data.get(section)
            if section in data and value is not None and not isinstance(value, Mapping):
                raise ConfigError(
                    f"{self.where(lines, section)}: group {group!r}: {section!r} must be a mapping, "
                    f"got {type(value).__name__}"
                )
        for key, value in data.items():
            at = self.where(lines, key)
            if not isinstance(value, Mapping):
                if value is not None:
                    self.inv.warnings.append(
                        f"{at}: skipping key {key!r} in group {group!r}: it is not a mapping"
                    )
                continue
            if key == "vars":
                for var, var_value in value.items():
                    self.inv.set_variable(group, var, var_value, self.where(value, var))
            elif key == "children":
                for child, child_data in value.items():
                    child_at = self.where(value, child)
                    child_name = self._parse_group(child, child_data, child_at)
                    self.inv.add_child(group, child_name, child_at)
            elif key == "hosts":
                for pattern, host_vars in value.items():
                    self._parse_host(pattern, host_vars, group, self.where(value, pattern))
            else:
                self.inv.warnings.append(
                    f"{at}: skipping unexpected key {key!r} in group {group!r}; "
                    "only 'vars', 'children' and 'hosts' are valid"
                )
        return group

    def _parse_host(self, pattern: Any, host_vars: Any, group: str, where: str) -> None:
        if not isinstance(pattern, str):
            raise ConfigError(
                f"{where}: host {pattern!r} in group {group!r} must be a string; quote numbers and addresses"
            )
        host_vars = host_vars or {}
        if not isinstance(host_vars, Mapping):
            raise ConfigError(
                f"{where}: host {pattern!r} in group {group!r}: its value must be a mapping of vars, "
                f"got {type(host_vars).__name__}"
            )
        try:
            names, port = expand_host_pattern(pattern)
        except ValueError as e:
            raise ConfigError(f"{where}: {e}") from None
        for name in names:
            self.inv.add_host(name, group, port, where)
            for key, value in host_vars.items():
                self.inv.set_variable(name, key, value, self.where(host_vars, key))


def parse_yaml_inventory(doc: YamlDocument, path: str, inv: InventoryBuilder) -> None:
    YamlInventoryParser(doc, path, inv).parse()
