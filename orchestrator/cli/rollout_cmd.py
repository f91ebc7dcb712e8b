"""`orc rollout status`: follow a Deployment's (or an RC's) rollout as kubectl does, from the status the last
reconcile pass stored (plan/rollout.status, in the book). The passes move the rollout (cron, `--watch`);
this command only watches them."""

from __future__ import annotations

import time
from typing import Any

import click

from orchestrator.cli.context import AppContext
from orchestrator.errors import NotFoundError, OrcError

ROLLING = {"deploy": "deployment", "deployment": "deployment", "deployments": "deployment",
           "rc": "replicationcontroller", "replicationcontroller": "replicationcontroller",
           "replicationcontrollers": "replicationcontroller"}
PREFIX = {"deployment": "deploy", "replicationcontroller": "rc"}


class RolloutFailed(OrcError):
    exit_code = 1


@click.group()
def rollout() -> None:
    """Follow rollouts of Deployments and ReplicationControllers (a changed pod template is rolled out by
    `orc reconcile` passes, within maxSurge / maxUnavailable)."""


def message(kind: str, name: str, st: dict[str, Any] | None, revision: int, replicas: int) -> tuple[str, bool]:
    """kubectl's words for where a rollout is, and whether it is finished (raises when it failed)."""
    if st is None or int(st.get("observedGeneration", 0)) < revision:
        return f"Waiting for {kind} spec update to be observed...", False
    progressing: dict[str, Any] = next((c for c in st.get("conditions", []) if c.get("type") == "Progressing"), {})
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        raise RolloutFailed(f'{kind} "{name}" exceeded its progress deadline ({progressing.get("message")})')
    updated, total, avail = st["updatedReplicas"], st["replicas"], st["availableReplicas"]
    wait = f'Waiting for {kind} "{name}" rollout to finish: '
    if updated < replicas:
        return wait + f"{updated} out of {replicas} new replicas have been updated...", False
    if total > updated:
        return wait + f"{total - updated} old replicas are pending termination...", False
    if avail < updated:
        return wait + f"{avail} of {updated} updated replicas are available...", False
    return f'{kind} "{name}" successfully rolled out', True


@rollout.command()
@click.argument("target", metavar="deploy/NAME | rc/NAME")
@click.option("-w", "--watch/--no-watch", default=True, show_default=True,
              help="Wait until the rollout finishes (or fails); --no-watch prints where it is and exits.")
@click.option("--timeout", type=float, default=0, show_default=True,
              help="Seconds to wait before giving up (exit 1); 0 waits for ever.")
@click.pass_obj
def status(obj: AppContext, target: str, watch: bool, timeout: float) -> None:
    """Show the status of a rollout, and wait for it to finish. Exit 0 when it rolled out; 1 when it passed
    its progress deadline (progressDeadlineSeconds, default 600), or on --timeout.

    The status is the one the last `orc reconcile` pass saw: keep passes running (cron, or
    `orc reconcile --watch`) while you wait.

    \b
    Examples:
      orc rollout status deploy/web
      orc rollout status rc/web --timeout 300
    """
    from orchestrator.controllers.book import BOOK_KEY

    kind_word, _, name = target.partition("/")
    kind = ROLLING.get(kind_word.lower())
    if kind is None or not name:
        raise click.UsageError(f"give deploy/NAME or rc/NAME (rollouts are of deployments and replication "
                               f"controllers), not {target!r}")
    key = f"{PREFIX[kind]}/{name}"
    start, last = time.monotonic(), ""
    with obj.project.open_store() as store:
        while True:
            record = store.get(key)
            if record is None:
                raise NotFoundError(f'Error from server (NotFound): {kind}s.apps "{name}" not found')
            replicas = (record.value.get("spec") or {}).get("replicas")
            book = store.get(BOOK_KEY)
            st = ((book.value if book else {}).get("rollouts") or {}).get(key)
            text, done = message(kind, name, st, record.revision, 1 if replicas is None else int(replicas))
            if text != last:
                click.echo(text)
                last = text
            if done or not watch:
                return
            if timeout and time.monotonic() - start > timeout:
                raise RolloutFailed("timed out waiting for the condition")
            time.sleep(1)
