"""Load an Ansible inventory (file, folder, or `host1,host2,` list) into an `Inventory`.

A file is tried as YAML when its extension is none, .yml, .yaml or .json, then as INI, as Ansible's
yaml and ini plugins do. A folder is every file in it (sorted, recursively) except those Ansible skips,
plus `group_vars/` and `host_vars/` inside it; beside a file they are read from its folder.

Variables of a host, lowest to highest (Ansible's VARIABLE_PRECEDENCE):
  `all` vars in the sources < other groups' vars in the sources, ordered by (depth, ansible_group_priority,
  name) < group_vars/all < group_vars/<group> (same order) < the host's vars in the sources <
  host_vars/<host>. Values replace, they never merge (Ansible's default hash_behaviour=replace).
Unlike Ansible, a file that no format can read is an error, not a warning: a silently dropped file is a
cluster without some of its hosts.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any

from orchestrator.errors import ConfigError
from orchestrator.inventory.builder import InventoryBuilder
from orchestrator.inventory.host_factory import CAPACITY_VARS, make_host
from orchestrator.inventory.ini_source import parse_ini
from orchestrator.inventory.model import Group, Inventory
from orchestrator.inventory.ranges import split_port
from orchestrator.inventory.validate import host_errors, shown
from orchestrator.inventory.vars_files import VarsFiles
from orchestrator.inventory.yaml_loader import load_yaml
from orchestrator.inventory.yaml_source import parse_yaml_inventory

YAML_EXTENSIONS = ("", ".yml", ".yaml", ".json")
# Ansible's INVENTORY_IGNORE_EXTS (REJECT_EXTS + .orig .cfg .retry) and always-ignored names.
IGNORED_EXTENSIONS = (
    ".pyc",
    ".pyo",
    ".swp",
    ".bak",
    "~",
    ".rpm",
    ".md",
    ".txt",
    ".rst",
    ".orig",
    ".cfg",
    ".retry",
)
IGNORED_NAMES = re.compile(r"^\.|^host_vars$|^group_vars$|^vars_plugins$")

# Vars Ansible computes itself and strips from `ansible-inventory` output (constants.INTERNAL_STATIC_VARS).
INTERNAL_VARS = frozenset(
    (
        "ansible_async_path",
        "ansible_collection_name",
        "ansible_config_file",
        "ansible_dependent_role_names",
        "ansible_diff_mode",
        "ansible_facts",
        "ansible_forks",
        "ansible_inventory_sources",
        "ansible_limit",
        "ansible_play_batch",
        "ansible_play_hosts",
        "ansible_play_hosts_all",
        "ansible_play_role_names",
        "ansible_playbook_python",
        "ansible_role_name",
        "ansible_role_names",
        "ansible_run_tags",
        "ansible_skip_tags",
        "ansible_verbosity",
        "ansible_version",
        "group_names",
        "groups",
        "hostvars",
        "inventory_dir",
        "inventory_file",
        "inventory_hostname",
        "inventory_hostname_short",
        "play_hosts",
        "playbook_dir",
        "role_name",
        "role_names",
        "role_path",
        "role_uuid",
    )
)


def load_inventory(source: str | Path) -> Inventory:
    """Read an inventory as Ansible would. Raises ConfigError naming the file (and line) at fault."""
    text = str(source)
    path = Path(os.path.expanduser(text))
    builder = InventoryBuilder()
    if path.is_dir():
        parse_folder(path, builder)
        base: Path | None = path
    elif path.is_file():
        parse_file(path, builder)
        base = path.parent
    elif "," in text:
        parse_host_list(text, builder)
        base = None
    else:
        raise ConfigError(
            f"inventory {text} not found: give an inventory file or folder with -i, or set `inventory` in orc.yaml"
        )
    builder.reconcile()
    return _resolve(text, builder, VarsFiles(base.resolve()) if base is not None else None)


def parse_host_list(text: str, builder: InventoryBuilder) -> None:
    """`-i 'web1,web2:2222,'`: each entry an ungrouped host (Ansible's host_list plugin; no ranges)."""
    for entry in (e.strip() for e in text.split(",")):
        if entry:
            parsed = split_port(entry)
            name, port = parsed if parsed is not None and "[" not in parsed[0] else (entry, None)
            builder.add_host(name, "ungrouped", port, "host list")


def parse_folder(folder: Path, builder: InventoryBuilder) -> None:
    try:
        entries = sorted(os.listdir(folder))
    except OSError as e:
        raise ConfigError(f"inventory folder {folder}: {e}") from None
    for entry in entries:
        if IGNORED_NAMES.search(entry) or entry.endswith(IGNORED_EXTENSIONS):
            continue
        path = folder / entry
        if path.is_dir():
            parse_folder(path, builder)
        elif path.is_file():
            parse_file(path, builder)


def parse_file(path: Path, builder: InventoryBuilder) -> None:
    """Parse one file into `builder`, trying YAML (by extension) then INI; a failed YAML attempt leaves
    `builder` untouched for the INI one."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read inventory file: {e}") from None
    ext = os.path.splitext(path.name)[1]
    if ext == ".toml":
        raise ConfigError(f"{path}: TOML inventories are not supported; convert it to YAML or INI")
    yaml_error: ConfigError | None = None
    yaml_mapping = False
    if ext in YAML_EXTENSIONS:
        try:
            doc = load_yaml(text, str(path))
            yaml_mapping = isinstance(doc.data, dict)
            if not yaml_mapping:  # refused before anything is added
                parse_yaml_inventory(doc, str(path), builder)
            else:
                trial = copy.deepcopy(builder)
                parse_yaml_inventory(doc, str(path), trial)
                builder.__dict__.update(trial.__dict__)
            return
        except ConfigError as e:
            yaml_error = e
    try:
        parse_ini(text, str(path), builder)  # the last attempt: a failure here is raised anyway
    except ConfigError as ini_error:
        if yaml_error is not None and (ext or yaml_mapping):
            raise yaml_error from None
        raise ini_error from None


def _sort_key(group: Group) -> tuple[int, int, str]:
    return (group.depth, group.priority, group.name)


def _resolve(source: str, b: InventoryBuilder, files: VarsFiles | None) -> Inventory:
    def group_file_vars(name: str) -> dict[str, Any]:
        return files.vars_for("group_vars", name) if files is not None else {}

    groups = {
        name: Group(
            name=name,
            hosts=tuple(g.hosts),
            children=tuple(g.children),
            parents=tuple(g.parents),
            vars=dict(g.vars),
            file_vars=group_file_vars(name),
            priority=g.priority,
            depth=g.depth,
        )
        for name, g in b.groups.items()
    }
    skeleton = Inventory(source, groups, [], b.warnings)
    hosts = []
    problems: list[str] = []
    for name in skeleton.group_host_names("all"):
        node = b.hosts[name]
        member: set[str] = set()
        for direct in node.groups:
            member |= {direct} | b.ancestors(direct)
        ordered = sorted((groups[g] for g in member if g != "all"), key=_sort_key)
        resolved = _host_vars(groups["all"], ordered, node.vars, files, name)
        group_names = tuple(sorted(g.name for g in ordered))
        found = host_errors(name, resolved, CAPACITY_VARS)
        where = f"inventory host {shown(name)} ({node.origin})"
        try:
            hosts.append(make_host(name, resolved, group_names, node.origin))
        except ConfigError as e:  # its own checks (ports, booleans, paths): the first, unless said above
            if not any(f"{where}: {var}:" in str(e) for var, _ in found):
                problems.append(str(e))
        problems += [f"{where}: {var}: {msg}" for var, msg in found]
    if len(problems) == 1:
        raise ConfigError(problems[0])
    if problems:
        raise ConfigError(f"inventory {source}: {len(problems)} problems:\n  " + "\n  ".join(problems))
    return Inventory(source, groups, hosts, b.warnings, definition_order=list(b.hosts))


def _host_vars(
    all_group: Group, ordered: list[Group], own: dict[str, Any], files: VarsFiles | None, name: str
) -> dict[str, Any]:
    """One host's vars, lowest precedence first (see the module docstring)."""
    resolved: dict[str, Any] = dict(all_group.vars)
    for g in ordered:
        resolved.update(g.vars)
    resolved.update(all_group.file_vars)
    for g in ordered:
        resolved.update(g.file_vars)
    resolved.update(own)
    if files is not None:
        resolved.update(files.vars_for("host_vars", name))
    for internal in INTERNAL_VARS & resolved.keys():
        del resolved[internal]
    return resolved
