"""`orc store`: the desired-state store itself: where it is and what holds its lock (`status`), and moving
it to another backend (`migrate`)."""

from __future__ import annotations

import time
from typing import Any

import click

from orchestrator.cli.context import AppContext
from orchestrator.errors import EXIT_FAILED, EXIT_OK


@click.group()
def store() -> None:
    """The desired-state store (orc.yaml `store`): a SQLite file, or etcd for several controllers.

    \b
      orc store status                                 backend, revision, keys, the reconcile lock
      orc store migrate --to etcd://10.0.0.1:2379      copy everything to etcd, then verify it
      orc store migrate --to sqlite:.orc/state.db      and back
    """


@store.command()
@click.option("--to", "to", required=True, metavar="URL", help="The target store, as orc.yaml's `store` writes it: "
              "sqlite:PATH (relative to orc.yaml) or etcd://HOST:PORT[,HOST:PORT...] (the key prefix and TLS/auth "
              "options come from orc.yaml's `cluster` and `etcd:`). It must be empty.")
@click.option("--from", "from_", metavar="URL", help="The source store (default: orc.yaml's `store`).")
@click.pass_obj
def migrate(obj: AppContext, to: str, from_: str | None) -> int:
    """Copy every object, its history and the bookkeeping to another store, then compare the two key by
    key (values and history). The source is left as it was; switch orc.yaml's `store` afterwards.

    The source's reconcile lock is held while copying, so no reconcile pass writes meanwhile (stop `--watch`
    controllers first, or this waits for none and exits 3). A change made during the copy (an `orc apply`)
    is found by the comparison: the command fails and says how to start again.

    \b
    Examples:
      orc store migrate --to etcd://10.0.0.1:2379,10.0.0.2:2379,10.0.0.3:2379
      orc store migrate --from etcd://10.0.0.1:2379 --to sqlite:.orc/state.db
    """
    from orchestrator.cli.reconcile_cmd import LOCK_NAME
    from orchestrator.store import bind_cluster, open_store

    project = obj.project
    source_url = project.resolve_store_url(from_) if from_ else project.store_url
    target_url = project.resolve_store_url(to)
    if source_url == target_url:
        raise click.UsageError(f"--to names the source store itself ({target_url})")
    with open_store(source_url) as source, open_store(target_url) as target:
        bind_cluster(source, project.settings.cluster, write=False)  # the source is this cluster's
        bind_cluster(target, project.settings.cluster, write=False)  # (and the target no other's)
        lock = source.lock(LOCK_NAME, ttl=project.settings.lease_ttl).acquire()
        try:
            return _copy_and_verify(source, target, to, from_, project.config_file)
        finally:
            lock.release()


def _copy_and_verify(source: Any, target: Any, to: str, from_: str | None, config_file: Any) -> int:
    """Copy, check that the source did not change meanwhile, compare the two key by key, say what next."""
    from orchestrator.store.migrate import copy, differences, export

    copied, data = copy(source, target)
    if export(source) != data:
        click.echo(f"error: the source changed while it was copied (an apply, a scale?): the target {target.where} "
                   "is incomplete; empty it (remove the file, or `etcdctl del --prefix` its prefix) and run "
                   "this again when nothing writes", err=True)
        return EXIT_FAILED
    diffs = differences(data, target, limit=min(source.history_limit, target.history_limit))
    click.echo(f"copied {copied.keys} keys ({copied.live} live, {copied.changes} values and deletions with their "
               f"history) from {source.where} to {target.where} in {copied.transactions} transactions, "
               f"{copied.seconds:.1f}s")
    if diffs:
        for d in diffs[:20]:
            click.echo(f"error: {d}", err=True)
        click.echo(f"error: {len(diffs)} keys differ after the copy: the target is not usable; empty it and run "
                   "this again", err=True)
        return EXIT_FAILED
    click.echo("verified: every key, its value and its history match")
    if not from_:
        click.echo(f"next: set `store: {to}` in {config_file} (the old store is left as it was)")
    return EXIT_OK


@store.command()
@click.option("-o", "--output", type=click.Choice(["table", "json", "yaml"]), default="table")
@click.pass_obj
def status(obj: AppContext, output: str) -> None:
    """Where the store is, its revision and size, and who holds the reconcile lock (and until when)."""
    from orchestrator.cli.output import dump
    from orchestrator.cli.reconcile_cmd import LOCK_NAME

    with obj.project.open_store() as s:
        listed = s.list()
        holder = s.lock_holder(LOCK_NAME)
    now = time.time()
    objects = sum(1 for r in listed if not r.key.startswith("_meta/"))
    lock = None
    if holder is not None:
        lock = {"token": holder.token, "pid": holder.pid, "host": holder.host, "since": holder.since,
                "held": holder.expires > now, "expires": holder.expires or None}
    data = {"store": s.where, "revision": listed.revision, "objects": objects, "keys": len(listed), "lock": lock}
    if output != "table":
        dump(data, output)
        return
    click.echo(f"store:     {s.where}")
    click.echo(f"revision:  {listed.revision}")
    click.echo(f"objects:   {objects} ({len(listed)} keys with the bookkeeping)")
    if holder is None:
        click.echo("lock:      never taken")
    elif holder.expires > now:
        click.echo(f"lock:      held by pid {holder.pid} on {holder.host} (token {holder.token}), lease until "
                   f"{time.strftime('%H:%M:%S', time.localtime(holder.expires))} unless refreshed")
    else:
        click.echo(f"lock:      free (last taken by pid {holder.pid} on {holder.host}, token {holder.token})")
