"""`orc cordon`, `orc uncordon` and `orc drain`, as kubectl spells them. The cordon (and drain) is recorded in
the store (controllers/cordon.py), so every pass, from cron or `--watch`, respects it; a drain's pods are
moved by the passes themselves, through the planner's handover of a leaving host (replacement ready
elsewhere and in every proxy before the old pod is stopped, under the disruption budgets). `orc drain` runs
those passes while it waits (holding the reconcile lock, as `orc reconcile` does), or follows another
controller's passes while that one holds the lock."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import click

from orchestrator.cli.context import AppContext
from orchestrator.errors import EXIT_FAILED, EXIT_OK, LockHeldError, NotFoundError

DRY = {"none": "", "client": " (dry run)", "server": " (server dry run)"}


def _dry_run_option(f: Any) -> Any:
    return click.option("--dry-run", "dry_run", type=click.Choice(["none", "client", "server"]), is_flag=False,
                        flag_value="client", default="none",
                        help="client or server (or a bare --dry-run): say what would be done; write nothing.")(f)


def _event(store: Any, host: str, schedulable: bool) -> None:
    """The Node event Kubernetes records for it (`orc describe node`, `orc get events`)."""
    from orchestrator.act.cluster_events import ClusterEvent, record

    reason = "NodeSchedulable" if schedulable else "NodeNotSchedulable"
    record(store, [ClusterEvent(f"node/{host}", "Normal", reason, f"Node {host} status is now: {reason}")],
           time.time())


def _hosts(obj: AppContext, names: tuple[str, ...]) -> dict[str, Any]:
    """The inventory's hosts of these names; NotFound (kubectl's words) naming every unknown one."""
    from orchestrator.cli.services import load_hosts

    hosts = {h.name: h for h in load_hosts(obj)}
    unknown = [n for n in names if n not in hosts]
    if unknown:
        raise NotFoundError("\n".join(f'Error from server (NotFound): nodes "{n}" not found' for n in unknown))
    return {n: hosts[n] for n in dict.fromkeys(names)}


@click.command()
@click.argument("nodes", nargs=-1, required=True, metavar="HOST...")
@_dry_run_option
@click.pass_obj
def cordon(obj: AppContext, nodes: tuple[str, ...], dry_run: str) -> None:
    """Mark hosts unschedulable: no new pod is placed there; the pods they run stay. Recorded in the store, so
    every pass (cron, --watch) respects it; `orc uncordon` undoes it. The inventory's `orc_cordoned: true`
    cordons a host too.

    \b
    Examples:
      orc cordon lab1          # node/lab1 cordoned
      orc get nodes            # lab1  Ready,SchedulingDisabled ...
    """
    from orchestrator.controllers.cordon import mark, read_marks

    hosts = _hosts(obj, nodes)
    with obj.project.open_store(write=dry_run == "none") as store:
        marks = read_marks(store)
        for name, host in hosts.items():
            if name in marks or host.cordoned:
                click.echo(f"node/{name} already cordoned")
                continue
            if dry_run == "none":
                mark(store, name, time.time())
                _event(store, name, schedulable=False)
            click.echo(f"node/{name} cordoned{DRY[dry_run]}")


@click.command()
@click.argument("nodes", nargs=-1, required=True, metavar="HOST...")
@_dry_run_option
@click.pass_obj
def uncordon(obj: AppContext, nodes: tuple[str, ...], dry_run: str) -> None:
    """Mark hosts schedulable again (and end a drain of them): new pods may be placed there. A host the
    inventory cordons (`orc_cordoned: true`) stays cordoned until the inventory says otherwise (exit 1).

    \b
    Examples:
      orc uncordon lab1        # node/lab1 uncordoned
    """
    from orchestrator.controllers.cordon import read_marks, unmark

    hosts = _hosts(obj, nodes)
    code = EXIT_OK
    with obj.project.open_store(write=dry_run == "none") as store:
        marks = read_marks(store)
        for name, host in hosts.items():
            if host.cordoned:
                if name in marks and dry_run == "none":
                    unmark(store, name)
                click.echo(f"error: node/{name} stays cordoned: the inventory sets orc_cordoned: true for {name}; "
                           "remove it there (host or group vars) to uncordon it"
                           + (" (its cordon recorded by orc cordon/drain is removed)" if name in marks else ""),
                           err=True)
                code = EXIT_FAILED
                continue
            if name not in marks:
                click.echo(f"node/{name} already uncordoned")
                continue
            if dry_run == "none":
                unmark(store, name)
                _event(store, name, schedulable=True)
            click.echo(f"node/{name} uncordoned{DRY[dry_run]}")
    if code:
        click.get_current_context().exit(code)


@click.command()
@click.argument("nodes", nargs=-1, required=True, metavar="HOST...")
@click.option("--timeout", "timeout", default="0s", show_default=True, metavar="DURATION",
              help="How long to wait for the hosts to be drained (5m, 90s, 1h); 0s waits for ever. On timeout "
              "the drain stays recorded and the passes go on moving the pods (exit 1).")
@click.option("--grace-period", "grace", type=int, default=-1, show_default=True,
              help="Seconds each evicted pod gets to stop (SIGTERM, then SIGKILL); negative: the pod's own "
              "terminationGracePeriodSeconds.")
@click.option("--delete-emptydir-data", "local_data", is_flag=True,
              help="Drain even when pods use emptyDir volumes: their data is lost (each replacement starts with "
              "an empty one), as kubectl's flag says.")
@_dry_run_option
@click.pass_obj
def drain(obj: AppContext, nodes: tuple[str, ...], timeout: str, grace: int, local_data: bool, dry_run: str) -> None:
    """Cordon hosts, then move their pods elsewhere, one safe step at a time, and wait until no pod of a
    controller runs there. Each pod is replaced first: it goes only once its controller has its replicas
    ready elsewhere (and served by every proxy), and only while every PodDisruptionBudget that picks it
    allows a disruption. A bare pod (no controller) is never moved: a host with one is not drained (delete
    it first); nor one whose pods use emptyDir volumes, unless --delete-emptydir-data.

    The drain is recorded in the store: every `orc reconcile` pass (cron, --watch) goes on with it, after a
    timeout too, until `orc uncordon`. While it waits, `orc drain` runs the passes itself (taking the
    reconcile lock, as `orc reconcile` does), or follows the passes of the controller that holds the lock.

    \b
    Examples:
      orc drain lab1 --timeout 5m        # node/lab1 cordoned ... evicting pod default/web-x2k4p ... drained
      orc drain lab1 --dry-run           # what it would evict
      orc uncordon lab1                  # back in service
    Exit 0 drained, 1 a host could not be drained in time (or has bare pods, or emptyDir data).
    """
    from orchestrator.cli.pod_target import parse_duration

    try:
        limit = parse_duration(timeout)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="'--timeout'") from None
    code = _drain(obj, _hosts(obj, nodes), limit, grace, dry_run, local_data)
    if code:
        click.get_current_context().exit(code)


def _drain(obj: AppContext, hosts: dict[str, Any], limit: float, grace: int, dry_run: str,
           local_data: bool = False) -> int:
    from orchestrator.controllers.cordon import mark, read_marks
    from orchestrator.plan.drain import pods_of, unmanaged_pods, with_local_storage

    project = obj.project
    with project.open_store(write=dry_run == "none") as store:
        marks = read_marks(store)
        for name, host in hosts.items():
            if name in marks or host.cordoned:
                click.echo(f"node/{name} already cordoned")
            else:
                if dry_run == "none":
                    mark(store, name, time.time())
                    _event(store, name, schedulable=False)
                click.echo(f"node/{name} cordoned{DRY[dry_run]}")
        engine = _engine(obj, store)
        try:
            first = engine.plan()  # a fresh look (read-only): what runs there now
            desired = first.desired
            workloads = set(desired.workloads) if desired else set()
            unmanaged = unmanaged_pods(pods_of(first.snapshot.pods), hosts, workloads)
            bare = {h: [p for p in ps if p.owner is None] for h, ps in unmanaged.items()}
            code = EXIT_OK
            for h in list(hosts):
                if bare.get(h):
                    names = ", ".join(f"default/{p.name}" for p in bare[h])
                    click.echo(f'error: unable to drain node "{h}" due to error: cannot delete Pods that declare no '
                               f"controller: {names} (orc never moves a bare pod: delete it with `orc delete "
                               "pod/NAME`, or run it under a Deployment), continuing command...", err=True)
                    hosts.pop(h)
                    code = EXIT_FAILED
                local = with_local_storage(pods_of(first.snapshot.pods), {h}, desired.workloads if desired else {})
                if local.get(h) and not local_data and h in hosts:
                    names = ", ".join(f"default/{p.name}" for p in local[h])
                    click.echo(f'error: unable to drain node "{h}" due to error: cannot delete Pods with local storage '
                               f"(use --delete-emptydir-data to override): {names}, continuing command...", err=True)
                    hosts.pop(h)
                    code = EXIT_FAILED
                orphans = [p for p in unmanaged.get(h, []) if p.owner is not None]
                if orphans and h in hosts:
                    click.echo("Warning: ignoring Pods of an owner the store does not know (orphans, never moved): "
                               + ", ".join(f"default/{p.name}" for p in orphans), err=True)
            if dry_run != "none":
                for p in sorted(first.snapshot.pods, key=lambda p: (p.host, p.name)):
                    if p.host in hosts and p.owner in workloads:
                        click.echo(f"evicting pod default/{p.name}{DRY[dry_run]}")
                for h in hosts:
                    click.echo(f"node/{h} drained{DRY[dry_run]}")
                return code
            for h in hosts:
                mark(store, h, time.time(), drain=True, grace=grace if grace >= 0 else None)
            if hosts:
                code = max(code, _follow(engine, store, set(hosts), limit, project, obj.verbose))
            return code
        finally:
            engine.transport.close()


def _engine(obj: AppContext, store: Any) -> Any:
    from orchestrator.act.events import EventLog
    from orchestrator.cli.services import load_hosts, make_transport
    from orchestrator.engine import Engine

    return Engine(obj.project, load_hosts(obj), make_transport(obj), store, EventLog(None))


def _follow(engine: Any, store: Any, hosts: set[str], limit: float, project: Any, verbose: int = 0,
            make_fence: Callable[[Any], Any] | None = None, sleep: Callable[[float], None] = time.sleep) -> int:
    """Passes (ours while we hold the reconcile lock, else the holder's) until no controller pod is left on
    `hosts`, or `limit` seconds (0: no limit); kubectl's lines as pods go, a line when a pod waits.
    `make_fence`: the fence of a pass from the lock (default: the host-side fence `orc reconcile` uses)."""
    from orchestrator.act.events import human
    from orchestrator.cli.reconcile_cmd import LOCK_NAME, _fence
    from orchestrator.cli.services import move_legacy_workloads
    from orchestrator.leader import take_lock
    from orchestrator.plan.drain import drain_state, pods_of

    deadline = time.monotonic() + limit if limit > 0 else None
    lock = None
    told: dict[str, str] = {}  # what was last said about each pod or handover
    followed = False
    previous: list[Any] | None = None  # the pods left after the last look
    try:
        while True:
            if lock is None:
                try:
                    lock = take_lock(store, LOCK_NAME, project.settings.lease_ttl, wait=0)
                    fence = (make_fence or (lambda lk: _fence(project.cluster, lk)))(lock)
                    # what `orc reconcile` does first
                    move_legacy_workloads(store, fence=fence.store_fence if fence is not None else None)
                except LockHeldError as e:
                    if not followed:
                        h = getattr(e, "holder", None)
                        who = f"pid {h.pid} on {h.host}" if h is not None else "another controller"
                        click.echo(f"the reconcile lock is held by {who}: following its passes", err=True)
                        followed = True
            if lock is not None:
                result = engine.run_pass(fence=fence)
                for ev in engine.events.records:  # what failed, as `orc reconcile` says it (retried next pass)
                    if ev["event"] in ("action", "step") and not ev["ok"]:
                        click.echo(human(ev), err=True)
                engine.events.records.clear()
                unseen = set(result.unreachable)
                if verbose:
                    click.echo(f"pass: {result.duration:.2f}s, {len(result.results)} actions", err=True)
                deleted = {r.action.name for r in result.results if r.ok and type(r.action).__name__ == "DeletePod"}
                pods, pending, refused = result.snapshot.pods, result.plan.pending, result.plan.refused_evictions
                workloads = set(result.desired.workloads) if result.desired else set()
            else:
                snap = _stored_snapshot(store)
                pods, deleted, pending, refused = (snap.pods if snap else ()), set(), {}, {}
                from orchestrator.controllers.desired import load_desired

                workloads = set(load_desired(store).workloads)
                unseen = {h.name for h in (snap.hosts if snap else ()) if h.status != "Ready"}
            state = drain_state(hosts, pods_of(pods), deleted, workloads, pending, refused, unseen)
            for h in sorted(state.unseen):
                if told.get(f"host {h}") != "unseen":
                    click.echo(f"waiting: {h} cannot be seen now (unreachable, or its docker does not answer): "
                               "what runs there is not known", err=True)
                    told[f"host {h}"] = "unseen"
            if lock is None and previous is not None:  # another controller's passes: what went since
                now_left = {n for names in state.left.values() for n in names}
                state.evicted = [p for p in previous if p.name not in now_left]
            previous = [p for p in pods_of(pods) if p.host in hosts and p.name in
                        {n for names in state.left.values() for n in names}]
            for p in state.evicted:
                click.echo(f"evicting pod default/{p.name}")
                click.echo(f"pod/{p.name} evicted")
            for name, why in sorted(state.refused.items()):
                if told.get(name) != why:
                    click.echo(f'error when evicting pods/"{name}" -n "default" (will retry after 0.5s): {why}', err=True)
                    told[name] = why
            for line in state.waiting:
                key = line.partition(": handover")[0]
                if told.get(key) != line:
                    click.echo(f"waiting: {line}", err=True)
                    told[key] = line
            if state.all_done:
                for h in sorted(hosts):
                    click.echo(f"node/{h} drained")
                return EXIT_OK
            if deadline is not None and time.monotonic() >= deadline:
                return _timed_out(state, hosts, limit)
            sleep(0.5)
    finally:
        if lock is not None:
            lock.release()


def _timed_out(state: Any, hosts: set[str], limit: float) -> int:
    left = sorted((h, n) for h, names in state.left.items() for n in names)
    for h in sorted(state.unseen):
        click.echo(f'error: unable to drain node "{h}" due to error: global timeout reached: {limit:g}s; the host '
                   "cannot be seen (unreachable, or its docker does not answer)", err=True)
    for h in sorted({h for h, _ in left}):
        pods = [n for hh, n in left if hh == h]
        why = "; ".join(f"pod/{n}: {state.refused[n]}" if n in state.refused else f"pod/{n}" for n in pods)
        click.echo(f'error: unable to drain node "{h}" due to error: global timeout reached: {limit:g}s; pods left: '
                   f"{why}", err=True)
    pending = sorted({h for h, _ in left} | state.unseen)
    click.echo("There are pending nodes to be drained:\n" + "".join(f" {h}\n" for h in pending), err=True, nl=False)
    click.echo(f"note: {', '.join(pending)} {'stays' if len(pending) == 1 else 'stay'} cordoned and drained: the reconcile passes (cron, --watch) go on "
               f"moving the pods as the budgets allow; `orc uncordon {' '.join(pending)}` ends the drain", err=True)
    return EXIT_FAILED


def _stored_snapshot(store: Any) -> Any:
    from orchestrator.cli.observed import read_snapshot

    return read_snapshot(store)
