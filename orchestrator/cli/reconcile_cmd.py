"""`orc plan` and `orc reconcile [--watch]`."""

from __future__ import annotations

import sys
import time
from typing import IO, Any

import click

from orchestrator.cli.context import AppContext
from orchestrator.cli.output import dump, print_table
from orchestrator.cli.report_lines import Lines
from orchestrator.errors import EXIT_FAILED, EXIT_OK, EXIT_PARTIAL, EXIT_PENDING
from orchestrator.plan.types import DeletePod

LOCK_NAME = "reconcile"


def _fatal() -> tuple[type[BaseException], ...]:
    """What ends `--watch` instead of being retried: the lock (or fence) lost, a broken project."""
    from orchestrator.errors import ConfigError
    from orchestrator.store.base import FencedError

    return (FencedError, ConfigError, KeyboardInterrupt)


def _engine(obj: AppContext, events_out: IO[str] | None = None, reap_orphans: bool = False,
            write: bool = True) -> Any:
    from orchestrator.act.events import EventLog
    from orchestrator.cli import process_gc
    from orchestrator.cli.services import load_hosts, make_transport
    from orchestrator.engine import Engine

    project = obj.project
    store = project.open_store(write=write)
    engine = Engine(project, load_hosts(obj), make_transport(obj), store, EventLog(events_out),
                    reap_orphans=reap_orphans)
    process_gc.settle()  # the pass's modules are loaded (a few, such as the scheduler's, load when used)
    return engine


def _action_rows(result: Any) -> list[list[str]]:
    """HOST ACTION TARGET REASON for everything the plan does: store writes, image copies, proxies,
    hosts files and pods, host by host in the order they run."""
    rows = [["store", op.verb, op.target, op.reason] for op in result.plan.store_ops]
    by_host: dict[str, list[Any]] = {}
    for c in result.plan.copies:
        by_host.setdefault(c.host, []).append(c)
    for host, actions in result.plan.by_host().items():
        by_host.setdefault(host, []).extend(actions)
    for host in sorted(by_host):
        for a in by_host[host]:
            reason = a.reason
            if getattr(a, "changes", None):
                reason = f"{reason}: {', '.join(a.changes)}"
            elif isinstance(a, DeletePod) and a.uid in result.plan.drain:
                reason = f"{reason} (after the proxies drop it)"
            rows.append([host, a.verb, a.target, reason])
    return rows


@click.command()
@click.option("-o", "--output", type=click.Choice(["table", "json", "yaml"]), default="table")
@click.pass_obj
def plan(obj: AppContext, output: str) -> int:
    """Show everything one reconcile pass would do, per host, executing and writing nothing: pods to
    create and delete, restarts, image copies, service address allocations, HAProxy configs (with the
    servers each service gains or loses) and hosts files.

    \b
    It probes every host (read-only) and plans from the stored desired state:
      orc plan            HOST  ACTION  TARGET  REASON
      orc plan -o json    the same as data
    Exit 1 when the pass could not do everything asked (a template or allocation error, ...), 5 when pods
    are pending (they cannot be scheduled, or wait out a back-off: each is listed with why).
    """
    engine = _engine(obj, write=False)
    try:
        result = engine.plan()
    finally:
        engine.transport.close()
    rows = _action_rows(result)
    if output != "table":
        dump({"actions": [dict(zip(["host", "action", "target", "reason"], r, strict=True)) for r in rows],
              "pending": result.plan.pending, "warnings": result.plan.warnings, "notices": result.plan.notices,
              "errors": result.plan.errors, "moves": [_move_dict(m) for m in result.plan.moves],
              "unreachable": result.unreachable}, output)
        return _plan_code(result)
    if rows:
        print_table(["HOST", "ACTION", "TARGET", "REASON"], rows)
    elif result.plan.blocked:
        n = len(result.plan.blocked)
        click.echo(f"Nothing to do now, but the cluster does not match the desired state: {n} pending:")
    else:
        click.echo("No changes: the cluster matches the desired state.")
    for m in result.plan.moves:
        click.echo(f"rebalance: {m.describe()}")
    for target, why in sorted(result.plan.pending.items()):
        click.echo(f"pending: {target}: {why}")
    for w in result.plan.warnings:
        click.echo(f"warning: {w}", err=True)
    for n in result.plan.notices:
        click.echo(f"notice: {n}", err=True)
    _moved_notes(result)
    for e in result.plan.errors:
        click.echo(f"error: {e}", err=True)
    for h in result.unreachable:
        click.echo(f"warning: {_not_ready(result.snapshot.hosts[h])}", err=True)
    return _plan_code(result)


def _move_dict(m: Any) -> dict[str, str]:
    return {"owner": m.owner, "pod": m.pod, "from": m.source, "to": m.target, "why": m.why,
            "replacement": m.replacement, "state": m.state}


def _plan_code(result: Any) -> int:
    return EXIT_FAILED if result.plan.errors else EXIT_PENDING if result.plan.blocked else EXIT_OK


def _moved_notes(result: Any) -> None:
    """`orc plan` on a store an older orc wrote: what the next write moves, and what cannot move."""
    from orchestrator.controllers.moved_keys import stranded_message

    for m in (result.desired.moved.values() if result.desired else ()):
        if m.stranded:
            click.echo(f"warning: {stranded_message(m.kind, m.old, m.new)}", err=True)
        elif m.at is None:  # read as it will be once the next write has moved it
            click.echo(f'notice: {m.kind} "{m.new.partition("/")[2]}" is stored under {m.old} by an older orc: '
                       f"the next orc apply, delete, scale or reconcile moves it to {m.new} (its pods stay its "
                       "own)", err=True)


@click.command()
@click.option("--watch", is_flag=True, help="Keep converging: react to docker events, desired-state changes "
              "and lost hosts within seconds (a host that no peer reaches either is replaced after orc.yaml "
              "`watch_grace_period`, default 5 s); resync every --interval.")
@click.option("--interval", type=float, default=None, help="Seconds between passes in --watch (orc.yaml "
              "`interval`, default 10).")
@click.option("--events", "events_path", type=click.Path(dir_okay=False, writable=True),
              help="Append every event as a JSON line to this file ('-' for stdout).")
@click.option("--metrics-file", type=click.Path(dir_okay=False), help="Write Prometheus metrics after each "
              "pass (node_exporter textfile format, written atomically).")
@click.option("--metrics-port", type=int, help="With --watch: also serve the metrics over HTTP on "
              "127.0.0.1:PORT/metrics.")
@click.option("--reap-orphans", is_flag=True, help="Remove containers labelled as ours that belong to no pod.")
@click.option("--wait", "wait", type=float, default=None, metavar="SECONDS",
              help="Repeat passes until the cluster has converged (every pod ready, services serving them, a "
              "pass with nothing to do) or SECONDS pass; exits 1 on timeout. For scripts and deploys.")
@click.option("--wait-lock", "wait_lock", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="If another reconcile holds the lock, wait up to SECONDS for it (then exit 3). --watch "
              "always waits: it stands by and takes over when the leader's lease ends.")
@click.option("-q", "--quiet", is_flag=True, help="Print failures only.")
@click.pass_obj
def reconcile(obj: AppContext, watch: bool, interval: float | None, events_path: str | None,
              metrics_file: str | None, metrics_port: int | None, reap_orphans: bool, wait: float | None,
              wait_lock: float | None, quiet: bool) -> int:
    """Observe every host, plan, act: one pass (or --watch to keep at it).

    Built for cron: prints nothing when nothing changed, one line per change otherwise; holds a lease on
    the store's reconcile lock so two runs never act at once (the second exits 3 at once, or waits with
    --wait-lock). A controller stalled past orc.yaml `lease_ttl` loses the lease to the next one, and the
    hosts refuse its batches.

    With --watch on several machines (one etcd store shared), one leads and the others stand by: when the
    leader stops or stalls past `lease_ttl`, one of them takes over; a leader that lost its lease steps
    down and stands by.

    \b
    Exit codes: 0 converged, 1 an action failed (retried next pass) or the lease was lost (hosts refuse
    a stale controller; a --watch one steps down instead), 3 another reconcile holds the lock,
    4 some hosts unreachable (the rest converged), 5 pods pending (one line each on stderr, with why).

    \b
    A crontab line (every minute, mail only news):
      * * * * *  cd /srv/cluster && /opt/orc/.venv/bin/orc reconcile --events /var/log/orc/events.jsonl
    """
    from orchestrator.act.events import human

    out = sys.stdout if events_path == "-" else open(events_path, "a") if events_path else None  # noqa: SIM115
    engine = _engine(obj, out, reap_orphans)
    metrics = None
    if metrics_file or metrics_port:
        from orchestrator.metrics import Metrics

        metrics = Metrics(metrics_file, engine.store, watch=watch)  # its fence: the lock's, once taken
        if metrics_port and watch:
            metrics.serve(metrics_port)
    try:
        cluster = obj.project.cluster
        ttl = obj.project.settings.lease_ttl
        if watch:
            return _lead(engine, cluster, ttl, interval or obj.project.settings.interval, quiet, human,
                         obj.verbose, metrics)
        from orchestrator.leader import take_lock

        lock = take_lock(engine.store, LOCK_NAME, ttl, wait=wait_lock or 0,
                         on_wait=(lambda e: _standing_by(e, ttl, "waiting")) if wait_lock else None)
        try:
            fence = _fence(cluster, lock)
            if metrics is not None:
                metrics.fence = fence
            from orchestrator.cli.services import move_legacy_workloads

            move_legacy_workloads(engine.store, fence=fence.store_fence, quiet=quiet)
            deadline = time.monotonic() + (wait or 0)
            while True:
                result = engine.run_pass(fence=fence)
                _report(result, engine, quiet, human, obj.verbose)
                if metrics:
                    metrics.record(result)
                if wait is None or result.failed or result.errors or _converged(result):
                    return _exit_code(result)
                if time.monotonic() >= deadline:
                    click.echo(f"not converged after {wait:g}s: " + _why_not(result), err=True)
                    return EXIT_FAILED
                time.sleep(1.0)
        finally:
            lock.release()
    finally:
        if metrics is not None:
            metrics.close()
        engine.transport.close()
        if out is not None and out is not sys.stdout:
            out.close()


def _standing_by(e: Any, ttl: float, what: str = "standing by") -> None:
    h = getattr(e, "holder", None)
    who = f"pid {h.pid} on {h.host} (token {h.token})" if h is not None else "another controller"
    click.echo(f"{what}: the reconcile lock is held by {who}; taking over when it is released or its lease "
               f"lapses (lease_ttl {ttl:g}s)", err=True)
    sys.stderr.flush()


def _lead(engine: Any, cluster: str, ttl: float, interval: float, quiet: bool, human: Any, verbose: int,
          metrics: Any) -> int:
    """--watch: stand by while another controller holds the lock, lead (`_watch`) once it is ours, and step
    down to standing by when the lease is lost (the hosts or the store refused us). SIGINT/SIGTERM end it."""
    import signal

    from orchestrator.act.fence import claim_hosts
    from orchestrator.cli.services import move_legacy_workloads
    from orchestrator.leader import take_lock
    from orchestrator.store.base import FencedError

    stop: list[bool] = []
    previous = {sig: signal.signal(sig, lambda *_: stop.append(True)) for sig in (signal.SIGINT, signal.SIGTERM)}
    waited = [False]

    def standing_by(e: Any) -> None:
        waited[0] = True
        _standing_by(e, ttl)

    try:
        while not stop:
            waited[0] = False
            lock = take_lock(engine.store, LOCK_NAME, ttl, wait=None, stopped=lambda: bool(stop),
                             on_wait=standing_by)
            if lock is None:
                break
            if waited[0]:
                click.echo(f"took over: this controller leads now (token {lock.token})", err=True)
            try:
                fence = _fence(cluster, lock)
                if metrics is not None:
                    metrics.fence = fence
                # every host learns the new token now: a stale leader is refused everywhere, at once
                claim_hosts(fence, engine.hosts, engine.transport, engine.project.settings.ssh.max_parallel)
                if stop:  # a signal came while taking over
                    return EXIT_OK
                move_legacy_workloads(engine.store, fence=fence.store_fence, quiet=quiet)
                return _watch(engine, fence, interval, quiet, human, verbose, metrics)
            except FencedError as e:  # lost the lease: somebody else leads now
                click.echo(f"stepping down: {e}", err=True)
                sys.stderr.flush()
            finally:
                lock.release()
        return EXIT_OK
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _fence(cluster: str, lock: Any) -> Any:
    """The host-side fence of this controller's lease (see act/fence.py)."""
    import os

    from orchestrator.act.fence import HostFence

    return HostFence(cluster, lock, stop_before_batches=os.environ.get("ORC_TEST_STOP_BEFORE_BATCHES") == "1")


def _report(result: Any, engine: Any, quiet: bool, human: Any, verbose: int,
            seen: dict[str, tuple[bool, str]] | None = None, lines: Lines | None = None) -> None:
    """A pass's lines. Pending pods and errors are conditions (`Lines.condition`): one pass prints each;
    under `--watch` (`lines` made with watch=True; `seen` each host's last reported state) a condition is
    printed when it appears or changes, and again every few minutes, every line with its time."""
    out = lines or Lines()
    pass_events = engine.events.records
    for ev in pass_events:
        line = human(ev)
        if ev["event"] in ("action", "step") and not ev["ok"]:
            out.echo(line, err=True)
        elif ev["event"] in ("action", "step") and not quiet:
            out.echo(line)
    engine.events.records.clear()
    for line in _host_lines(result, seen):
        out.echo(line, err=True)
    for target, why in sorted(result.plan.pending.items()):
        if result.plan.in_progress(target):  # a handover or rollout under way: news when something changed
            if verbose or (result.changed and not quiet):
                out.echo(f"pending: {target}: {why}")
        else:  # at any verbosity: pods that cannot run
            out.condition(f"pending: {target}: {why}", force=bool(verbose))
    for e in result.plan.errors:  # at any verbosity: the pass failed to do something asked
        out.condition(f"error: {e}", force=bool(verbose))
    out.end_pass()
    for w in result.plan.warnings:
        if verbose or result.changed:
            out.echo(f"warning: {w}", err=True)
    for m in result.plan.moves if verbose else []:
        out.echo(f"rebalance: {m.describe()}", err=True)
    for n in [] if quiet else result.plan.notices if verbose else result.new_notices:  # news once
        out.echo(f"notice: {n}", err=True)
    if verbose:
        trips = ", ".join(f"{h}={n}" for h, n in sorted(result.round_trips.items()))
        out.echo(f"pass: {result.duration:.2f}s, {len(result.results)} actions, round trips {trips}", err=True)
    sys.stdout.flush()  # --watch into a pipe or log file: each pass's lines as they happen
    sys.stderr.flush()


def _pass_failed(e: BaseException, verbose: int) -> None:
    """One line for a pass that raised (`--watch` goes on); the traceback only at -vv."""
    import traceback

    message = getattr(e, "message", None) or str(e) or type(e).__name__
    click.echo(f"error: this pass failed ({type(e).__name__}): {message}; retrying", err=True)
    if verbose >= 2:
        traceback.print_exception(e, file=sys.stderr)
    sys.stderr.flush()


def _host_state(f: Any) -> tuple[bool, str]:
    return (bool(f.reachable), str(f.reason) if not f.reachable else "docker")


def _host_lines(result: Any, seen: dict[str, tuple[bool, str]] | None) -> list[str]:
    """A line per host that cannot be worked on; under --watch (`seen`: each host's last reported state)
    only when its state changed, and once when it is back, so a host down for an hour is not 1,800 lines."""
    now = {h: result.snapshot.hosts[h] for h in result.unreachable}
    if seen is None:
        return [_not_ready(f) for f in now.values()]
    lines = [_not_ready(f) for h, f in now.items() if seen.get(h) != _host_state(f)]
    lines += [f"{h}: reachable again" for h in sorted(seen) if h not in now]
    seen.clear()
    seen.update({h: _host_state(f) for h, f in now.items()})
    return lines


def _not_ready(f: Any) -> str:
    if not f.reachable:
        said = {"down": "; no peer reaches it either", "partition": "; but its peers reach it (kept)"}.get(f.verdict, "")
        return f"{f.name}: unreachable ({f.reason}): {f.error}{said}"
    return f"{f.name}: not ready: docker: {f.docker_error}"


def _converged(result: Any) -> bool:
    """Nothing done or left to do, and every pod of ours on a reachable host running and ready."""
    return (not result.changed and not result.plan.pending
            and all(p.ready for p in result.snapshot.pods if result.snapshot.hosts[p.host].ready))


def _why_not(result: Any) -> str:
    if result.plan.pending:
        return "; ".join(f"{t}: {w}" for t, w in sorted(result.plan.pending.items()))
    unready = sorted(p.name for p in result.snapshot.pods if not p.ready)
    return f"pods not ready: {', '.join(unready)}" if unready else "the last pass still changed something"


def _exit_code(result: Any) -> int:
    """1 something failed; 5 some pods cannot run (pending: not converged); 4 some hosts unreachable, the
    rest converged; 0 converged."""
    if result.failed or result.errors:
        return EXIT_FAILED
    if result.plan.blocked:
        return EXIT_PENDING
    if result.unreachable:
        return EXIT_PARTIAL
    return EXIT_OK


def _watch(engine: Any, fence: Any, interval: float, quiet: bool, human: Any, verbose: int, metrics: Any) -> int:
    """Passes until SIGINT/SIGTERM, which end the loop after the current pass has been reported (a pass is
    never cut short by Ctrl-C or `systemctl stop`; a second signal interrupts at once)."""
    import signal

    from orchestrator.watch import Triggers, follow_docker_events, follow_store

    triggers = Triggers()

    def stop(signum: int, frame: Any) -> None:
        if triggers.stopped:
            raise KeyboardInterrupt
        triggers.stop()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    engine.watching()
    follow_docker_events(engine.transport, engine.hosts, triggers)
    follow_store(engine.store, triggers)
    facts: dict[str, Any] = {}  # the last facts of each ready host, for hosts with nothing new
    down: dict[str, Any] = {}  # the last facts of each host no peer reached either
    lines = Lines(watch=True)  # timestamps; a lasting condition printed once, then when it changes or is due
    seen: dict[str, tuple[bool, str]] = {}  # the last reported state of each host not ready
    acted: set[str] = set()
    last_full = 0.0
    resync = engine.project.settings.resync
    try:
        while not triggers.stopped:
            quiet_hosts = triggers.quiet_hosts() - acted
            full = time.monotonic() - last_full >= resync
            if full:  # now and then, everything, whatever the streams say
                quiet_hosts, last_full = set(), time.monotonic()
            unchanged = {h: facts[h] for h in quiet_hosts if h in facts}
            if not full:  # a host found down is not waited for again till its event stream is back
                unchanged |= {h: f for h, f in down.items() if h not in triggers.streaming_hosts()}
            try:
                result = engine.run_pass(fence=fence, unchanged=unchanged, heard=triggers.last_heard())
            except _fatal():
                raise
            except Exception as e:  # noqa: BLE001 - a transient failure of one pass; the next one retries
                _pass_failed(e, verbose)
                facts, last_full = {}, 0.0  # everything is probed afresh next time
                if triggers.wait(min(interval, 5.0)) and triggers.stopped:
                    break
                continue
            facts = {h: f for h, f in result.snapshot.hosts.items() if f.ready}
            down = {h: f for h, f in result.snapshot.hosts.items() if not f.ready and f.verdict == "down"}
            acted = {r.host for r in result.results}  # our own changes (a reload makes no docker event)
            _report(result, engine, quiet, human, verbose, seen, lines)
            if metrics:
                metrics.record(result)
            fence.check()  # the lease is also refreshed in the background; a lost one ends the loop (exit 1)
            wait = interval if not (result.changed or result.unreachable) else min(interval, 2.0)
            reasons = triggers.wait(wait)
            if reasons and verbose and not triggers.stopped:
                click.echo(f"woken by: {'; '.join(reasons[:5])}", err=True)
        return EXIT_OK
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        triggers.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
