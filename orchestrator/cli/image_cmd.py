"""`orc image push`: deploy an image to hosts without a registry."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

import click

from orchestrator.cli.context import AppContext
from orchestrator.errors import EXIT_FAILED, EXIT_PARTIAL


@click.group()
def image() -> None:
    """Images on hosts, without a registry."""


@image.command()
@click.argument("name")
@click.argument("pattern", required=False)
@click.option("--from", "source", help="Copy from this host (default: this machine's docker if it has the "
              "image, else the first host that has it).")
@click.pass_obj
def push(obj: AppContext, name: str, pattern: str | None, source: str | None) -> int:
    """Stream IMAGE (docker save | docker load over SSH) to every host, or those PATTERN picks, that lacks
    it. Hosts that already have it are skipped.

    \b
      orc image push myapp:1.4             from this machine's docker to every host
      orc image push myapp:1.4 web         to the 'web' group only
      orc image push myapp:1.4 --from lab1 copy from a host that has it
    """
    from orchestrator.cli.services import load_hosts, make_transport
    from orchestrator.images import plan_push
    from orchestrator.images import push as do_push
    from orchestrator.model.image_ref import image_reference_errors

    errors = image_reference_errors(name)
    if errors:
        raise click.BadParameter(f"{name!r} is not an image reference: {'; '.join(errors)}",
                                 param_hint="IMAGE")
    hosts = load_hosts(obj, pattern)
    transport = make_transport(obj)
    try:
        src, targets, unreachable = plan_push(transport, name, hosts, source)
        for h in unreachable:
            click.echo(f"{h}: unreachable, skipped", err=True)
        if not targets:
            return EXIT_PARTIAL if unreachable else 0
        with _progress(name, len(targets)) as tick:
            results = do_push(transport, name, targets, src, progress=tick)
    finally:
        transport.close()
    origin = src.name if src else "this machine"
    for r in results:
        if r.ok:
            click.echo(f"{r.host}: pushed {name} from {origin} ({r.bytes / 2**20:.1f} MiB in {r.seconds:.1f}s)")
        else:
            click.echo(f"{r.host}: FAILED to push {name}: {r.error}", err=True)
    if any(not r.ok for r in results):
        return EXIT_FAILED
    return EXIT_PARTIAL if unreachable else 0


@contextlib.contextmanager
def _progress(image: str, hosts: int) -> Iterator[Callable[[int], None] | None]:
    """A transfer bar on stderr when it is a terminal (rich); nothing when piped or run from cron."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    with Progress(*Progress.get_default_columns()[:1], DownloadColumn(), TransferSpeedColumn(),
                  transient=True, console=None) as bar:
        task = bar.add_task(f"{image} -> {hosts} host{'s' if hosts != 1 else ''}", total=None)
        yield lambda sent: bar.update(task, completed=sent)
