"""Builders of the services commands use (inventory, transport, the store's one-time moves), from the
project and CLI options.
Imports are local: a command pays only for what it uses."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestrator.cli.context import AppContext
    from orchestrator.inventory.host import Host
    from orchestrator.store import Fence, Store
    from orchestrator.transport.ssh import SSHTransport


def load_hosts(obj: AppContext, pattern: str | None = None) -> list[Host]:
    from pathlib import Path

    from orchestrator.errors import ConfigError
    from orchestrator.inventory.loader import load_inventory

    source = obj.inventory_source()
    if not Path(source).exists() and "," not in source:
        raise ConfigError(f"inventory {source} not found: pass -i FILE, set `inventory:` in orc.yaml, "
                          "or run `orc lab up` for a local test cluster")
    inv = load_inventory(source)
    hosts = inv.select(pattern) if pattern else inv.hosts()
    if not hosts:
        raise ConfigError(f"no hosts in {source}" + (f" match {pattern!r}" if pattern else ""))
    return hosts


def make_transport(obj: AppContext) -> SSHTransport:
    from orchestrator.transport.ssh import SSHTransport

    project = obj.project
    settings = project.settings.ssh
    if settings.known_hosts:
        settings = settings.model_copy(update={"known_hosts": str(project.path(settings.known_hosts))})
    return SSHTransport(settings)


def move_legacy_workloads(store: Store, *, fence: Fence | None = None, quiet: bool = False) -> None:
    """What a command that writes the store does first: move the ReplicaSets and Deployments an older orc
    stored under rc/NAME to their own keys, once, in one transaction (controllers/moved_keys.py), saying
    so on stderr (unless `quiet`)."""
    import time

    import click

    from orchestrator.controllers.moved_keys import migrate

    for line in migrate(store, time.time(), fence=fence):
        if not quiet:
            click.echo(line, err=True)
