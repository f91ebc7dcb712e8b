"""Which objects a command names: kubectl's argument forms (`KIND [NAME...]`, `KIND/NAME...`, `rc,svc`,
`all`) parsed into targets, and the items of a view they pick (by name, by kind, by label selector)."""

from __future__ import annotations

from dataclasses import dataclass, field

import click

from orchestrator.cli.kinds import Resource, object_ref, plural_name, resolve_many
from orchestrator.cli.printers import Item, items_for
from orchestrator.cli.view import ClusterView
from orchestrator.labels import Selector, SelectorError


@dataclass
class Target:
    resource: Resource
    names: list[str] = field(default_factory=list)


def parse_targets(args: tuple[str, ...] | list[str], command: str = "get") -> list[Target]:
    """`("rc", "web")`, `("rc/web", "svc/web")`, `("rc,svc",)`, `("all",)` -> targets, in order."""
    if not args:
        raise click.UsageError(
            f"you must specify the type of resource to {command} (e.g. `orc {command} pods`, "
            f"`orc {command} rc/web`); types: pods (po), replicationcontrollers (rc), replicasets (rs), "
            "deployments (deploy), services (svc), endpoints (ep), nodes (no)"
        )
    if "/" in args[0]:
        targets: list[Target] = []
        for arg in args:
            if "/" not in arg:
                raise click.UsageError(
                    f"{arg!r}: there is no need to specify a resource type as a separate argument when "
                    "passing arguments in resource/name form (e.g. `rc/web svc/web`)"
                )
            resource, name = object_ref(arg)
            existing = next((t for t in targets if t.resource == resource), None)
            if existing is None:
                targets.append(Target(resource, [name]))
            elif name not in existing.names:
                existing.names.append(name)
        return targets
    names = list(dict.fromkeys(args[1:]))
    for name in names:
        if "/" in name:
            raise click.UsageError(
                f"{name!r}: give either KIND NAME... or KIND/NAME..., not both (e.g. `orc {command} rc web`)"
            )
    return [Target(r, names) for r in resolve_many(args[0])]


def parse_selector(text: str | None) -> Selector | None:
    if text is None:
        return None
    try:
        return Selector.parse(text)
    except SelectorError as e:
        raise click.BadParameter(str(e), param_hint="'-l' / '--selector'") from None


def not_found_message(resource: Resource, name: str) -> str:
    return f'Error from server (NotFound): {plural_name(resource.kind)} "{name}" not found'


def pick(target: Target, items: list[Item], selector: Selector | None) -> tuple[list[Item], list[str]]:
    """(the items the target names, the names not found). Each kind's items are its own store prefix's
    (`rc/web` and `deploy/web` are two objects). Without names: every item of the target's kind; by name,
    the object under the prefix (also an older orc's Deployment left under rc/, shown as what it is)."""
    if target.names:
        by_name = {i.name: i for i in items}
        found = [by_name[n] for n in target.names if n in by_name]
        missing = [n for n in target.names if n not in by_name]
    else:
        found = [i for i in items if i.kind == target.resource.kind]
        missing = []
    if selector is not None:
        found = [i for i in found if selector.matches(i.labels)]
    return found, missing


def select(
    targets: list[Target], view: ClusterView, now: float, selector: Selector | None
) -> tuple[list[tuple[Target, list[Item]]], list[str]]:
    """Per target its items, and the not-found messages of names that matched nothing."""
    groups: list[tuple[Target, list[Item]]] = []
    errors: list[str] = []
    for target in targets:
        found, missing = pick(target, items_for(target.resource, view, now), selector)
        groups.append((target, found))
        errors += [not_found_message(target.resource, n) for n in missing]
    return groups, errors
