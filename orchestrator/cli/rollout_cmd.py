"""`orc rollout status|history|undo|pause|resume|restart`, as kubectl spells them. `status` follows a
Deployment's (or an RC's) rollout from the status the last reconcile pass stored (plan/rollout.status, in the
book): the passes move the rollout (cron, `--watch`), the command only watches. The others read the object
and its revisions and write through compare-and-swap (controllers/workload_edit.py); printing is here and in
rollout_print."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import click

from orchestrator.cli.context import AppContext
from orchestrator.cli.kubectl_options import dry_run_option
from orchestrator.errors import NotFoundError, OrcError

if TYPE_CHECKING:
    from collections.abc import Callable

    from orchestrator.controllers.workload_edit import Outcome, Target

ROLLING = {"deploy": "deployment", "deployment": "deployment", "deployments": "deployment",
           "rc": "replicationcontroller", "replicationcontroller": "replicationcontroller",
           "replicationcontrollers": "replicationcontroller"}
PREFIX = {"deployment": "deploy", "replicationcontroller": "rc"}


class RolloutFailed(OrcError):
    exit_code = 1


@click.group()
def rollout() -> None:
    """Manage the rollouts of Deployments (and ReplicationControllers): a changed pod template is rolled out by
    `orc reconcile` passes, within maxSurge / maxUnavailable; these commands follow it, list its revisions,
    go back to one, pause, resume or restart it.

    \b
    Examples:
      orc set image deploy/web web=nginx:1.27 && orc rollout status deploy/web
      orc rollout history deploy/web
      orc rollout undo deploy/web --to-revision 1
    """


def rolling_target(target: str, allowed: tuple[str, ...] = ("deployment", "replicationcontroller")) -> tuple[str, str]:
    """`deploy/web` -> ("deployment", "deploy/web"): the kind word and the store key; a usage error for another
    kind (`allowed`: the kinds this command takes)."""
    kind_word, _, name = target.partition("/")
    kind = ROLLING.get(kind_word.lower())
    if kind is None or not name or "/" in name or kind not in allowed:
        names = " or ".join(f"{PREFIX[k]}/NAME" for k in allowed)
        raise click.UsageError(f"give {names}, not {target!r}")
    return kind, f"{PREFIX[kind]}/{name}"


def _read(store: Any, key: str, now: float) -> Target:
    from orchestrator.cli.kinds import of_kind
    from orchestrator.cli.selection import not_found_message
    from orchestrator.controllers.workload_edit import read

    t = read(store, key, now)
    if t is None:
        kind = "Deployment" if key.startswith("deploy/") else "ReplicationController"
        raise NotFoundError(not_found_message(of_kind(kind), key.partition("/")[2]))
    return t


def run_edit(obj: AppContext, key: str, change: Callable[[Target, float], Outcome], dry_run: str = "none") -> Outcome:
    """Read the object, edit it, write it (compare-and-swap, computed again on a concurrent change; nothing
    written with a dry run): the outcome."""
    from orchestrator.cli.applier import conflict_error
    from orchestrator.cli.services import move_legacy_workloads
    from orchestrator.controllers.workload_edit import edit
    from orchestrator.errors import ConflictError

    with obj.project.open_store() as store:
        if dry_run == "none":
            move_legacy_workloads(store)
        try:
            outcome = edit(store, key, change, time.time(), write=dry_run == "none")
        except ConflictError as e:
            kind = "Deployment" if key.startswith("deploy/") else "ReplicationController"
            raise conflict_error(kind, key.partition("/")[2], "changed while editing it; nothing was written") from e
        if outcome is None:
            _read(store, key, time.time())  # raises NotFound
            raise AssertionError("unreachable")
    return outcome


def said(outcome: Outcome, dry_run: str = "none") -> None:
    """kubectl's line: `deployment.apps/web paused`; nothing when nothing changed."""
    from orchestrator.cli.kinds import display_name

    if outcome.verb:
        t = outcome.target
        click.echo(f"{display_name(t.kind)}/{t.name} {outcome.verb}" + (" (dry run)" if dry_run != "none" else ""))


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
                group = ".apps" if kind == "deployment" else ""  # ReplicationControllers are in the core group
                raise NotFoundError(f'Error from server (NotFound): {kind}s{group} "{name}" not found')
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


@rollout.command()
@click.argument("target", metavar="deploy/NAME | rc/NAME")
@click.option("--revision", type=click.IntRange(min=0), default=0,
              help="Show the pod template of this revision (0: the table of every revision).")
@click.pass_obj
def history(obj: AppContext, target: str, revision: int) -> None:
    """View rollout history: the revisions kept (revisionHistoryLimit old ones, default 10, beside the
    current one, which is the last) and their change cause (the object's kubernetes.io/change-cause
    annotation when it was made). A revision is a pod template; its number never changes, and going back to
    one (`orc rollout undo`) moves it to the next number, as in Kubernetes.

    \b
    Examples:
      orc rollout history deploy/web
      orc rollout history deploy/web --revision 2     # that revision's pod template
    """
    from orchestrator.cli.kinds import display_name
    from orchestrator.cli.rollout_print import history_table, revision_text

    _kind, key = rolling_target(target)
    with obj.project.open_store() as store:
        t = _read(store, key, time.time())
    ref = f"{display_name(t.kind)}/{t.name}"
    if not revision:
        click.echo(history_table(ref, t.revisions), nl=False)
        return
    found = t.revisions.get(revision)
    if found is None:
        raise RolloutFailed("unable to find the specified revision")
    click.echo(revision_text(ref, found), nl=False)


@rollout.command()
@click.argument("target", metavar="deploy/NAME")
@click.option("--to-revision", type=click.IntRange(min=0), default=0, show_default=True,
              help="The revision to go back to; 0: the previous one.")
@dry_run_option("the pod template it would go back to")
@click.pass_obj
def undo(obj: AppContext, target: str, to_revision: int, dry_run: str) -> None:
    """Roll back to a previous rollout: the Deployment's pod template becomes that of the revision (see
    `orc rollout history`), written by compare-and-swap (a concurrent change fails, nothing is written), and
    the next `orc reconcile` passes roll it out as any template change. A paused Deployment is refused.

    \b
    Examples:
      orc rollout undo deploy/web                   # the previous revision
      orc rollout undo deploy/web --to-revision 1
      orc rollout undo deploy/web --dry-run         # the template it would go back to
    """
    from orchestrator.cli.rollout_print import template_text
    from orchestrator.controllers.workload_edit import undo as undo_edit

    _kind, key = rolling_target(target, ("deployment",))
    outcome = run_edit(obj, key, lambda t, now: undo_edit(t, to_revision, now), dry_run)
    if dry_run != "none" and outcome.value is not None:
        click.echo(template_text(outcome.value["spec"]["template"]), nl=False)
    said(outcome, dry_run)


def _simple(verb: str, edit_name: str, doc: str) -> click.Command:
    def command(obj: AppContext, target: str) -> None:
        from orchestrator.controllers import workload_edit

        _kind, key = rolling_target(target, ("deployment",))
        said(run_edit(obj, key, getattr(workload_edit, edit_name)))

    command.__doc__ = doc
    command.__name__ = verb
    return rollout.command(verb)(click.argument("target", metavar="deploy/NAME")(click.pass_obj(command)))


pause = _simple("pause", "pause", """Mark a Deployment as paused (spec.paused: true): passes keep its replica
    count but do not roll out template changes until `orc rollout resume`; `orc set image` meanwhile is
    recorded and rolled out on resume.

    \b
    Examples:
      orc rollout pause deploy/web
    """)
resume = _simple("resume", "resume", """Resume a paused Deployment: the next passes roll out its template.

    \b
    Examples:
      orc rollout resume deploy/web
    """)
restart = _simple("restart", "restart", """Restart a Deployment's pods by its rollout strategy (maxSurge /
    maxUnavailable, zero downtime): the pod template gets the annotation kubectl.kubernetes.io/restartedAt
    (now), as kubectl sets it, so it is a new revision.

    \b
    Examples:
      orc rollout restart deploy/web
    """)
