"""`group_vars/` and `host_vars/` beside an inventory source, found as Ansible's host_group_vars plugin
finds them: for a name, the first of `NAME`, `NAME.yml`, `NAME.yaml`, `NAME.json` that exists; a folder
of that name contributes every file in it (recursively, sorted; hidden files, `~` backups and files with
other extensions skipped), later files overriding earlier ones key by key."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from orchestrator.errors import ConfigError
from orchestrator.inventory.yaml_loader import load_yaml

VARS_EXTENSIONS = (".yml", ".yaml", ".json")


def _dir_files(folder: Path) -> list[Path]:
    found: list[Path] = []
    for entry in sorted(os.listdir(folder)):
        if entry.startswith(".") or entry.endswith("~"):
            continue
        path = folder / entry
        ext = os.path.splitext(entry)[1]
        if path.is_dir() and not ext:
            found.extend(_dir_files(path))
        elif path.is_file() and (not ext or ext in VARS_EXTENSIONS):
            found.append(path)
    return found


def find_vars_files(folder: Path, name: str) -> list[Path]:
    base = folder / name
    for candidate in (base, *(folder / f"{name}{ext}" for ext in VARS_EXTENSIONS)):
        if candidate.exists():
            return _dir_files(candidate) if candidate.is_dir() else [candidate]
    return []


class VarsFiles:
    """The group_vars/host_vars of one inventory base folder, each file read once."""

    def __init__(self, base: Path):
        self.base = base
        self._cache: dict[Path, dict[str, Any]] = {}

    def _load(self, path: Path) -> dict[str, Any]:
        if path not in self._cache:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                raise ConfigError(f"{path}: cannot read vars file: {e}") from None
            data = load_yaml(text, str(path)).data
            if data is None:
                data = {}
            if not isinstance(data, dict):
                raise ConfigError(
                    f"{path}: a vars file must be a mapping of variable names, got {type(data).__name__}"
                )
            self._cache[path] = data
        return self._cache[path]

    def vars_for(self, kind: str, name: str) -> dict[str, Any]:
        """Merged vars for a group (`kind="group_vars"`) or host (`"host_vars"`)."""
        folder = self.base / kind
        if name.startswith(os.path.sep) or not folder.is_dir():
            return {}
        merged: dict[str, Any] = {}
        for path in find_vars_files(folder, name):
            merged.update(self._load(path))
        return merged
