"""Output helpers shared by commands: kubectl-like tables (plain when piped), json and yaml."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import click


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Left-aligned columns separated by three spaces, as kubectl prints; no colour or box drawing, so
    the output is the same on a terminal and in a pipe and `awk` works on it."""
    widths = [len(h) for h in headers]
    for r in rows:
        for i, cell in enumerate(r):
            widths[i] = max(widths[i], len(cell))
    for r in [list(headers), *rows]:
        click.echo("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip())


def dump(data: Any, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))
    elif fmt == "yaml":
        import yaml

        click.echo(yaml.safe_dump(data, sort_keys=False, default_flow_style=False), nl=False)
    else:
        raise click.UsageError(f"unknown output format {fmt!r}")


def is_tty() -> bool:
    return sys.stdout.isatty()
