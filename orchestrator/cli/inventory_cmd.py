"""`orc inventory`: show the inventory as orc (and Ansible) reads it, in ansible-inventory's formats."""

from __future__ import annotations

import click

from orchestrator.errors import ConfigError


@click.command("inventory")
@click.option(
    "--list", "list_", is_flag=True, help="All groups and host vars as JSON (as ansible-inventory --list)."
)
@click.option("--host", "host", metavar="NAME", help="One host's resolved vars as JSON.")
@click.option("--graph", is_flag=True, help="The group tree (as ansible-inventory --graph).")
@click.option("--vars", "show_vars", is_flag=True, help="With --graph: show host and group vars too.")
@click.argument("group", required=False)
@click.pass_context
def inventory(
    ctx: click.Context, list_: bool, host: str | None, graph: bool, show_vars: bool, group: str | None
) -> None:
    """Show the inventory: --list (JSON), --host NAME, or --graph [GROUP].

    The inventory is -i's (file, folder, or 'h1,h2,' list) or orc.yaml's. Warnings go to stderr.
    """
    chosen = sum(bool(x) for x in (list_, host, graph))
    if chosen != 1:
        raise click.UsageError("give exactly one of --list, --host NAME or --graph")
    if group and not graph:
        raise click.UsageError("a GROUP argument is only for --graph")
    if show_vars and not graph:
        raise click.UsageError("--vars is only for --graph")

    from orchestrator.inventory.ansible_json import dump_json, to_ansible_list, to_graph
    from orchestrator.inventory.loader import load_inventory

    inv = load_inventory(ctx.obj.inventory_source())
    for warning in inv.warnings:
        click.echo(f"[WARNING]: {warning}", err=True)
    if list_:
        click.echo(dump_json(to_ansible_list(inv)))
    elif host is not None:
        matched = inv.select(host)
        if len(matched) != 1:
            raise ConfigError(
                f"--host {host}: matches {len(matched)} hosts in {inv.source}; give the name of exactly one host"
            )
        click.echo(dump_json(matched[0].vars))
    else:
        start = group or "all"
        if start not in inv.groups:
            raise ConfigError(
                f"--graph {start}: no such group in {inv.source}; groups: {', '.join(inv.groups)}"
            )
        click.echo(to_graph(inv, start, with_vars=show_vars))
