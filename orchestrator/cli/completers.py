"""Shell completion of resource kinds and object names (from the store) for `get`, `describe`, `delete` and
`scale`. Completion must never fail loudly: any problem (no project, unreadable store) completes nothing."""

from __future__ import annotations

import time
from typing import Any

import click
from click.shell_completion import CompletionItem

from orchestrator.cli.kinds import Resource, known_names, resolve


def object_names(ctx: click.Context, resource: Resource) -> list[str]:
    """Names of the objects of `resource` in the project's store (the root command's --config is honoured;
    during completion its callback has not run, so the project is loaded here)."""
    from orchestrator.cli.printers import items_for
    from orchestrator.cli.view import read_view
    from orchestrator.config import load_project

    project = load_project(ctx.find_root().params.get("config_path"))
    if project.config_file is None:
        return []
    with project.open_store() as store:
        view = read_view(store)
    return sorted({i.name for i in items_for(resource, view, time.time())})


def _names(ctx: click.Context, kind_word: str, incomplete: str, prefix: str = "") -> list[CompletionItem]:
    try:
        resource = resolve(kind_word.split(",")[0])
        return [CompletionItem(prefix + n) for n in object_names(ctx, resource) if n.startswith(incomplete)]
    except Exception:  # noqa: BLE001 - completion must stay quiet
        return []


def complete_targets(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """First word: a kind (`po`, `rc`, ...) or `kind/name`; after a kind: names of that kind."""
    done: tuple[str, ...] = tuple(ctx.params.get(param.name or "") or ())
    if "/" in incomplete or (done and "/" in done[0]):
        kind, sep, part = incomplete.partition("/")
        if not sep:
            return []
        return _names(ctx, kind, part, prefix=kind + "/")
    if not done:
        return [CompletionItem(k) for k in [*known_names(), "all"] if k.startswith(incomplete)]
    return _names(ctx, done[0], incomplete)


def complete_kinds(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    return [CompletionItem(k) for k in known_names() if k.startswith(incomplete)]
