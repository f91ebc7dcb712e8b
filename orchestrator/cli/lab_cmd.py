"""`orc lab`: the local test cluster."""

from __future__ import annotations

import json
from pathlib import Path

import click

from orchestrator.cli.context import AppContext
from orchestrator.cli.output import print_table


@click.group()
@click.option("--name", default="lab", show_default=True,
              help="Which lab: several may coexist (the test suite builds its own, 'tlab').")
@click.pass_context
def lab(ctx: click.Context, name: str) -> None:
    """A real local cluster for trying orc: each host a network namespace with its own sshd and dockerd.

    \b
      orc lab up            3 hosts (lab1..lab3), inventory written to inventory/lab.yaml
      orc lab up --hosts 5  grow (or shrink) to 5 hosts
      orc lab status        what runs
      orc lab stop lab2     take a host down (as a power cut would); `orc lab start lab2` brings it back
      orc lab down          remove everything the lab made

    Needs root and: docker.io openssh-server haproxy iproute2 iptables busybox-static.
    """
    ctx.meta["lab_name"] = name


def _spec(ctx: click.Context):  # type: ignore[no-untyped-def]
    from orchestrator.lab import cluster

    try:
        return cluster.spec_of(ctx.meta["lab_name"])
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--name") from e


def _say(quiet: bool):  # type: ignore[no-untyped-def]
    return (lambda m: None) if quiet else (lambda m: click.echo(f"lab: {m}", err=True))


@lab.command()
@click.option("--hosts", "n", default=3, show_default=True, help="Number of hosts.")
@click.option("--subnet", default=None, type=int, help="X of the lab's 10.99.X.0/24 (default 0, or as before).")
@click.option("--inventory-out", type=click.Path(dir_okay=False), help="Where to write the inventory "
              "(default: inventory/<name>.yaml of the project).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
@click.pass_context
def up(ctx: click.Context, n: int, subnet: int | None, inventory_out: str | None, quiet: bool) -> None:
    """Create (or complete) the lab. Running it again is safe."""
    from orchestrator.lab import cluster
    from orchestrator.lab.spec import LabSpec

    old = _spec(ctx)
    try:
        spec = LabSpec(hosts=n, name=old.name, subnet=old.subnet if subnet is None else subnet)
    except ValueError as e:
        raise click.BadParameter(str(e)) from e
    obj: AppContext = ctx.obj
    path = Path(inventory_out) if inventory_out else obj.project.root / "inventory" / f"{spec.name}.yaml"
    statuses = cluster.up(spec, path, progress=_say(quiet))
    if not quiet:
        _show(statuses, "table")


@lab.command()
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
def status(ctx: click.Context, output: str) -> None:
    """Show the lab's hosts and their daemons."""
    from orchestrator.lab import cluster

    _show(cluster.status(_spec(ctx)), output)


@lab.command()
@click.option("-q", "--quiet", is_flag=True)
@click.pass_context
def down(ctx: click.Context, quiet: bool) -> None:
    """Remove the lab: containers, daemons, namespaces, bridge, iptables rule, files and its inventory."""
    from orchestrator.lab import cluster

    cluster.down(_spec(ctx), progress=_say(quiet))


@lab.command()
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def stop(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Stop hosts' sshd and dockerd (their containers die with them), as a lost host looks."""
    from orchestrator.lab import cluster

    spec = _spec(ctx)
    for n in names:
        cluster.stop_host(spec, _host(spec, n))


@lab.command()
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def start(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Start stopped hosts again."""
    from orchestrator.lab import cluster

    spec = _spec(ctx)
    for n in names:
        cluster.start_host(spec, _host(spec, n))


def _host(spec, name: str):  # type: ignore[no-untyped-def]
    try:
        return spec.host_named(name)
    except ValueError as e:
        raise click.BadParameter(str(e)) from e


def _show(statuses, output: str) -> None:  # type: ignore[no-untyped-def]
    if output == "json":
        click.echo(json.dumps([{"name": s.name, "address": s.address, "rack": s.rack, "state": s.state,
                                "sshd_pid": s.sshd, "dockerd_pid": s.dockerd} for s in statuses], indent=2))
        return
    rows = [[s.name, s.state, s.address, s.rack, str(s.sshd or "-"), str(s.dockerd or "-")] for s in statuses]
    print_table(["NAME", "STATE", "ADDRESS", "RACK", "SSHD", "DOCKERD"], rows)
