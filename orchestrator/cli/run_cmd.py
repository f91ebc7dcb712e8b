"""`orc run PATTERN -- CMD...`: an ad-hoc shell command on inventory hosts, as `ansible PATTERN -m shell -a
CMD` runs it: Ansible host patterns, in parallel (--forks), each host's result printed as it completes in
Ansible's shape, over the same SSH transport (host keys, ~/.ssh/config, become) as everything else."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import click

from orchestrator.cli.context import AppContext


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("pattern")
@click.option("-f", "--forks", type=click.IntRange(min=1), default=5, show_default=True,
              help="How many hosts at once (as ansible's --forks).")
@click.option("-b", "--become", is_flag=True, help="Run with sudo -n on every host (as ansible -b).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
              help="How long the command may run per host (default: ssh.command_timeout of orc.yaml).")
@click.argument("command", nargs=-1, required=False, type=click.UNPROCESSED, metavar="-- CMD [ARGS...]")
@click.pass_obj
def run(obj: AppContext, pattern: str, forks: int, become: bool, timeout: float | None,
        command: tuple[str, ...]) -> int:
    """Run a shell command on the hosts PATTERN selects; one result per host.

    PATTERN is an Ansible host pattern: all, a group, a host, 'web*', 'web:&prod', 'all:!lab3', 'web[0:2]'.
    The command is shell text run by the host's `sh -c` (pipes, $VARS, globs work there, as with Ansible's
    shell module); orc passes it as one quoted argument and never interprets it.

    \b
      orc run all -- uptime
      orc run 'lab*' -- uname -r
      orc run web -b -- 'systemctl is-active docker || journalctl -u docker -n 20'

    Exit status as ansible's: 0 all succeeded, 2 a command failed on some host, 4 some host unreachable.
    """
    from orchestrator.cli.adhoc import HostOutcome, exit_status, render, shell_step, shell_text
    from orchestrator.cli.services import make_transport
    from orchestrator.errors import ConfigError, HostUnreachable, OrcError
    from orchestrator.inventory.host import Host
    from orchestrator.inventory.loader import load_inventory
    from orchestrator.transport.parallel import run_parallel

    args = list(command[1:] if command and command[0] == "--" else command)
    if not args:
        raise click.UsageError("give the command after --: orc run PATTERN -- CMD [ARGS...]")
    text = shell_text(args)
    source = obj.inventory_source()
    if not Path(source).exists() and "," not in source:
        raise ConfigError(f"inventory {source} not found: pass -i FILE or set `inventory:` in orc.yaml")
    hosts = load_inventory(source).select(pattern)
    if not hosts:
        click.echo("[WARNING]: No hosts matched, nothing to do", err=True)
        return 0
    if become:
        hosts = [dataclasses.replace(h, become=True) for h in hosts]
    transport = make_transport(obj)
    printing = threading.Lock()
    outcomes: list[HostOutcome] = []

    def one(host: Host) -> None:
        try:
            result = transport.run_batch(host, [shell_step(text)], timeout=timeout)
            step = result.steps[0]
            o = HostOutcome(host.name, step.exit_code if step.exit_code is not None else 255, step.stdout,
                            step.stderr)
        except HostUnreachable as e:
            o = HostOutcome(host.name, message=f"Failed to connect to the host via ssh: {e.message}", unreachable=True)
        except OrcError as e:
            o = HostOutcome(host.name, message=getattr(e, "message", str(e)))
        with printing:
            outcomes.append(o)
            click.echo(render(o))

    try:
        run_parallel(hosts, one, max_workers=forks)
    finally:
        transport.close()
    return exit_status(outcomes)
