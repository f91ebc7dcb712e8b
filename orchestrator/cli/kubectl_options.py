"""Options scripts written for kubectl pass, accepted with what they mean here: `-n/--namespace` (orc has
one namespace, `default`), `-A/--all-namespaces`, and `--dry-run` in each of its spellings
(`--dry-run`, `--dry-run=client`, `--dry-run=server`, `--dry-run=none`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from orchestrator.errors import NotFoundError

F = TypeVar("F", bound=Callable[..., Any])
NAMESPACE = "default"
DRY_RUN = ("none", "client", "server")


def check_namespace(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and value != NAMESPACE:
        raise NotFoundError(f'Error from server (NotFound): namespaces "{value}" not found (orc has one '
                            f'namespace, "{NAMESPACE}": drop -n or give -n {NAMESPACE})')
    return value


def namespace_options(all_namespaces: bool = False) -> Callable[[F], F]:
    """-n/--namespace (only `default`), and with `all_namespaces` -A/--all-namespaces too."""

    def decorate(f: F) -> F:
        if all_namespaces:
            f = click.option("-A", "--all-namespaces", "all_namespaces", is_flag=True,
                             help="Every namespace: orc has one, `default` (a NAMESPACE column is added).")(f)
        return click.option("-n", "--namespace", "namespace", metavar="default", callback=check_namespace,
                            expose_value=True,
                            help="The namespace: orc has one, `default` (accepted, as kubectl scripts pass it).")(f)

    return decorate


def dry_run_option(what: str) -> Callable[[F], F]:
    """kubectl's --dry-run[=none|client|server]: a bare --dry-run is `client`; both dry runs validate
    against the store and write nothing."""
    return click.option(
        "--dry-run", "dry_run", type=click.Choice(DRY_RUN), is_flag=False, flag_value="client", default="none",
        help=f"client or server (or a bare --dry-run): validate and show {what}; store nothing. none: act.")
