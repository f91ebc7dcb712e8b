"""`orc logs` and `orc exec`: a pod's containers, wherever the pod runs (found in the last observed
snapshot), through the host's own docker over SSH."""

from __future__ import annotations

import shlex
import sys
from typing import Any

import click

from orchestrator.cli.context import AppContext
from orchestrator.cli.kubectl_options import namespace_options
from orchestrator.commands.base import Command, sh
from orchestrator.errors import NotFoundError


def _pod_name(target: str) -> str:
    kind, sep, name = target.partition("/")
    if sep and kind not in ("pod", "pods", "po"):
        raise click.UsageError(f"{target}: logs and exec work on pods (pod/NAME or NAME)")
    return name if sep else target


def _locate(obj: AppContext, pod: str) -> tuple[Any, str]:
    """(host, pod uid) from the last snapshot; a hint when there is none or the pod is not in it."""
    from orchestrator.cli.observed import read_snapshot
    from orchestrator.cli.services import load_hosts

    with obj.project.open_store() as store:
        snap = read_snapshot(store)
    found = snap.pod(pod) if snap else None
    if found is None or not found.host:
        hint = "run `orc reconcile` first" if snap is None else "see `orc get pods`"
        raise NotFoundError(f'pod "{pod}" is not running on any host as last observed ({hint})')
    hosts = {h.name: h for h in load_hosts(obj)}
    if found.host not in hosts:
        raise NotFoundError(f'pod "{pod}" runs on {found.host}, which is not in the inventory')
    return hosts[found.host], found.uid


def _container(pod: str, uid: str, container: str | None) -> str:
    """Shell that sets $c to the docker container: the named one, or the pod's first container (as
    kubectl defaults), read from the infra container's list."""
    if container:
        return f"c={shlex.quote(f'orc_{pod}_{container}')}"
    infra = shlex.quote(f"orc_{pod}")
    return (f"first=$(docker inspect -f '{{{{index .Config.Labels \"orc.containers\"}}}}' {infra}) || exit 1; "
            f"c=orc_{shlex.quote(pod)}_${{first%%,*}}")


@click.command()
@click.argument("target", metavar="POD")
@click.option("-c", "--container", help="Container name (default: the pod's first container).")
@click.option("-f", "--follow", is_flag=True, help="Keep streaming new lines (Ctrl-C ends).")
@click.option("--tail", type=int, default=None, help="Only the last N lines.")
@click.option("--timestamps", is_flag=True, help="Prefix each line with its time.")
@namespace_options()
@click.pass_obj
def logs(obj: AppContext, target: str, container: str | None, follow: bool, tail: int | None,
         timestamps: bool, namespace: str | None = None) -> None:
    """Print a container's logs (stdout and stderr), from the host the pod runs on.

    \b
      orc logs web-x2k4p
      orc logs pod/web-x2k4p -c sidecar --tail 100 -f
    """
    from orchestrator.cli.services import make_transport

    pod = _pod_name(target)
    host, uid = _locate(obj, pod)
    opts = (["-f"] if follow else []) + (["--tail", str(tail)] if tail is not None else []) + \
        (["--timestamps"] if timestamps else [])
    cmd = sh("logs", f'{_container(pod, uid, container)}; exec docker logs {shlex.join(opts)} "$c" 2>&1')
    transport = make_transport(obj)
    try:
        for line in transport.stream(host, cmd):
            click.echo(line)
    except KeyboardInterrupt:
        pass
    finally:
        transport.close()


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("target", metavar="POD")
@click.option("-c", "--container", help="Container name (default: the pod's first container).")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@namespace_options()
@click.pass_obj
def exec_(obj: AppContext, target: str, container: str | None, command: tuple[str, ...],
          namespace: str | None = None) -> int:
    """Run a command in a pod's container and exit with its status. Standard input is passed on when it
    is not a terminal (no interactive TTY: use ssh and `docker exec -it` for a shell).

    \b
      orc exec web-x2k4p -- cat /etc/hosts
      echo 'SELECT 1' | orc exec pod/db-0 -c db -- psql
    """
    from orchestrator.cli.services import make_transport

    pod = _pod_name(target)
    argv = list(command[1:] if command and command[0] == "--" else command)
    if not argv:
        raise click.UsageError("give the command after --: orc exec POD -- CMD [ARGS...]")
    host, uid = _locate(obj, pod)
    data = None if sys.stdin is None or sys.stdin.isatty() else sys.stdin.buffer.read()
    flags = "-i " if data else ""
    step = Command(name="exec", shell=f'{_container(pod, uid, container)}; exec docker exec {flags}"$c" '
                                      f"{shlex.join(argv)}", stdin=data)
    transport = make_transport(obj)
    try:
        result = transport.run_batch(host, [step])
    finally:
        transport.close()
    (s,) = result.steps
    sys.stdout.write(s.stdout)
    sys.stderr.write(s.stderr)
    return s.exit_code if s.exit_code is not None else 1
