"""`orc proxy render [--host H]`: the HAProxy config a proxy host would get, from the store (services, their
addresses, the last snapshot's pods) and the inventory; nothing is written and no host is contacted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from orchestrator.cli.context import AppContext

if TYPE_CHECKING:
    from orchestrator.observe.facts import HostFacts
    from orchestrator.proxy.endpoints import StoredPod


@click.group()
def proxy() -> None:
    """HAProxy on the proxy hosts: what each host gets."""


def stored_pods_and_hosts(value: dict[str, Any] | None) -> tuple[list[StoredPod], dict[str, HostFacts]]:
    """The pods and hosts of the stored snapshot (`_meta/snapshot`), as endpoints() takes them."""
    from orchestrator.observe.facts import HostFacts
    from orchestrator.proxy.endpoints import StoredPod

    value = value or {}
    pods = [StoredPod.from_dict(p) for p in value.get("pods") or [] if isinstance(p, dict)]
    hosts = {
        str(h["name"]): HostFacts(
            name=str(h["name"]),
            address=str(h.get("address") or ""),
            reachable=h.get("status", "Unreachable") != "Unreachable",
        )
        for h in value.get("hosts") or []
        if isinstance(h, dict) and h.get("name")
    }
    return pods, hosts


@proxy.command("render")
@click.option(
    "--host", "host_name", help="Only this proxy host (default: every proxy host, one after another)."
)
@click.pass_obj
def render_cmd(obj: AppContext, host_name: str | None) -> None:
    """Print the HAProxy config a proxy host would get now (touching nothing).

    Services, their cluster IPs and node ports come from the store; endpoints from the last snapshot a
    reconcile pass stored; templates from the project's templates folder, then the packaged default."""
    from orchestrator.cli.services import load_hosts
    from orchestrator.controllers.desired import load_desired
    from orchestrator.errors import ConfigError
    from orchestrator.proxy.addresses import current
    from orchestrator.proxy.endpoints import endpoints
    from orchestrator.proxy.hostvars import proxy_hosts
    from orchestrator.proxy.render import render
    from orchestrator.store import keys

    project = obj.project
    hosts = proxy_hosts(load_hosts(obj), project.settings.proxy)
    if host_name is not None:
        chosen = [h for h in hosts if h.name == host_name]
        if not chosen:
            names = ", ".join(h.name for h in hosts) or "none"
            raise ConfigError(
                f"host {host_name!r} is not a proxy host (proxy hosts: {names}); see proxy.group in orc.yaml"
            )
        hosts = chosen
    with project.open_store() as store:
        desired = load_desired(store)
        addresses = current(store)
        snap = store.get(keys.SNAPSHOT)
    pods, facts = stored_pods_and_hosts(snap.value if snap is not None else None)
    missing = sorted(n for n in desired.services if n not in addresses)
    if missing:
        click.echo(
            f"note: no cluster IP yet for {', '.join(missing)} (left out); run `orc reconcile`", err=True
        )
    if snap is None and desired.services:
        click.echo("note: no snapshot stored yet, so every backend is empty; run `orc reconcile`", err=True)
    eps = endpoints(desired.services, pods, facts)
    for i, host in enumerate(hosts):
        if i:
            click.echo()
        click.echo(render(host, desired.services, addresses, eps, project.templates_path), nl=False)
