"""Unified diffs of manifests, as `orc apply --dry-run` prints them (kubectl diff's form)."""

from __future__ import annotations

import difflib
from typing import Any

import yaml


def manifest_text(manifest: dict[str, Any] | None) -> str:
    """A manifest as YAML with sorted keys (the store keeps them sorted), so diffs show only real changes."""
    if not manifest:
        return ""
    return yaml.safe_dump(manifest, sort_keys=True, default_flow_style=False)


def manifest_diff(
    key: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    before_label: str = "stored",
    after_label: str = "manifest",
) -> str:
    """The unified diff from `before` to `after` ("" when equal); headers name the store key."""
    lines = difflib.unified_diff(
        manifest_text(before).splitlines(keepends=True),
        manifest_text(after).splitlines(keepends=True),
        fromfile=f"{key} ({before_label})" if before else "/dev/null",
        tofile=f"{key} ({after_label})" if after else "/dev/null",
    )
    return "".join(lines)
