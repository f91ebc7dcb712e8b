"""`orc lab`: the local test cluster."""

from __future__ import annotations

import json
from pathlib import Path

import click

from orchestrator.cli.context import AppContext
from orchestrator.cli.output import print_table


@click.group()
def lab() -> None:
    """A real local cluster for trying orc: each host a network namespace with its own sshd and dockerd.

    \b
      orc lab up            3 hosts, inventory written to inventory/lab.yaml
      orc lab up --hosts 5  grow (or shrink) to 5 hosts
      orc lab status        what runs
      orc lab stop lab2     take a host down (as a power cut would), `orc lab start lab2` brings it back
      orc lab down          remove everything the lab made

    Needs root and: docker.io openssh-server haproxy iproute2 iptables busybox-static.
    """


def _default_inventory(obj: AppContext) -> Path:
    return obj.project.root / "inventory" / "lab.yaml"


@lab.command()
@click.option("--hosts", "n", default=3, show_default=True, help="Number of hosts.")
@click.option("--inventory-out", type=click.Path(dir_okay=False), help="Where to write the inventory "
              "(default: inventory/lab.yaml of the project).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
@click.pass_obj
def up(obj: AppContext, n: int, inventory_out: str | None, quiet: bool) -> None:
    """Create (or complete) the lab. Running it again is safe."""
    from orchestrator.lab import cluster
    from orchestrator.lab.spec import LabSpec

    try:
        spec = LabSpec(hosts=n)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--hosts") from e
    path = Path(inventory_out) if inventory_out else _default_inventory(obj)
    say = (lambda m: None) if quiet else (lambda m: click.echo(f"lab: {m}", err=True))
    statuses = cluster.up(spec, path, progress=say)
    if not quiet:
        _show(statuses, "table")


@lab.command()
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table")
def status(output: str) -> None:
    """Show the lab's hosts and their daemons."""
    from orchestrator.lab import cluster

    _show(cluster.status(), output)


@lab.command()
@click.option("-q", "--quiet", is_flag=True)
def down(quiet: bool) -> None:
    """Remove the lab: containers, daemons, namespaces, bridge, iptables rule, files and its inventory."""
    from orchestrator.lab import cluster

    cluster.down(progress=(lambda m: None) if quiet else (lambda m: click.echo(f"lab: {m}", err=True)))


@lab.command()
@click.argument("names", nargs=-1, required=True)
def stop(names: tuple[str, ...]) -> None:
    """Stop hosts' sshd and dockerd (their containers die with them), as a lost host looks."""
    from orchestrator.lab import cluster
    from orchestrator.lab.spec import host_from_name

    for n in names:
        cluster.stop_host(_lab_host(n, host_from_name))


@lab.command()
@click.argument("names", nargs=-1, required=True)
def start(names: tuple[str, ...]) -> None:
    """Start stopped hosts again."""
    from orchestrator.lab import cluster
    from orchestrator.lab.spec import host_from_name

    for n in names:
        cluster.start_host(_lab_host(n, host_from_name))


def _lab_host(name, parse):  # type: ignore[no-untyped-def]
    try:
        return parse(name)
    except ValueError as e:
        raise click.BadParameter(str(e)) from e


def _show(statuses, output: str) -> None:  # type: ignore[no-untyped-def]
    if output == "json":
        click.echo(json.dumps([{"name": s.name, "address": s.address, "rack": s.rack, "state": s.state,
                                "sshd_pid": s.sshd, "dockerd_pid": s.dockerd} for s in statuses], indent=2))
        return
    rows = [[s.name, s.state, s.address, s.rack, str(s.sshd or "-"), str(s.dockerd or "-")] for s in statuses]
    print_table(["NAME", "STATE", "ADDRESS", "RACK", "SSHD", "DOCKERD"], rows)
