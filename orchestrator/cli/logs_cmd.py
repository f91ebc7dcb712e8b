"""`orc logs`: containers' logs (stdout and stderr), from the hosts their pods run on, as `kubectl logs`
prints them: one pod (`NAME`, `pod/NAME`), one pod of a workload (`deploy/NAME`, `rc/NAME`, `rs/NAME`; all of
them with --all-pods), or every pod a selector picks (`-l app=web`), lines prefixed `[pod/NAME/CONTAINER]`
when they come from several containers. With -f every stream is followed at once."""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import click

from orchestrator.cli.context import AppContext
from orchestrator.cli.kubectl_options import namespace_options
from orchestrator.cli.pod_docker import LogOptions
from orchestrator.cli.pod_target import Source

if TYPE_CHECKING:
    from orchestrator.cli.observed import ObservedPod
    from orchestrator.cli.pod_lookup import Cluster
    from orchestrator.transport.ssh import SSHTransport

USAGE = ("expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.\n"
         "POD or TYPE/NAME is a required argument for the logs command")
SELECTOR_TAIL = 10  # kubectl's --tail default with a selector


def _since(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    from orchestrator.cli.pod_target import parse_duration

    if value is None:
        return None
    try:
        seconds = parse_duration(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    if seconds <= 0:
        raise click.BadParameter("must be a positive duration (5s, 2m, 3h)")
    return seconds


@click.command()
@click.argument("target", metavar="(POD | TYPE/NAME)", required=False)
@click.option("-c", "--container", help="Container name (default: the pod's first container).")
@click.option("-l", "--selector", help="Every pod these labels select (app=web, 'tier in (a,b)').")
@click.option("-f", "--follow", is_flag=True, help="Keep streaming new lines, from every pod at once (^C ends).")
@click.option("-p", "--previous", is_flag=True,
              help="The container's previous run (before its last restart): what its log holds from then.")
@click.option("--since", callback=_since, metavar="DURATION", help="Only lines newer than this: 5s, 2m, 3h.")
@click.option("--tail", type=int, default=None,
              help="Only the last N lines (default: all; 10 per container with -l, as kubectl).")
@click.option("--timestamps", is_flag=True, help="Prefix each line with its RFC 3339 time.")
@click.option("--all-containers", is_flag=True, help="Every container of each pod.")
@click.option("--all-pods", is_flag=True, help="With TYPE/NAME: every pod of the workload (implies --prefix).")
@click.option("--prefix/--no-prefix", default=None,
              help="Start each line with [pod/NAME/CONTAINER] (default: with -l, --all-pods, --all-containers).")
@click.option("--max-log-requests", type=click.IntRange(min=1), default=5, show_default=True,
              help="With -f and several streams: how many may be followed at once.")
@namespace_options()
@click.pass_obj
def logs(obj: AppContext, target: str | None, container: str | None, selector: str | None, follow: bool,
         previous: bool, since: float | None, tail: int | None, timestamps: bool, all_containers: bool,
         all_pods: bool, prefix: bool | None, max_log_requests: int, namespace: str | None = None) -> int:
    """Print containers' logs (stdout and stderr), from the hosts their pods run on.

    \b
      orc logs web-x2k4p
      orc logs pod/web-x2k4p -c sidecar --tail 100 -f
      orc logs deploy/web --since 10m              one pod of the Deployment (--all-pods: every one)
      orc logs -l app=web -f                       every pod labelled app=web, followed at once
      orc logs web-x2k4p -p                        the run before the container's last restart
    """
    from orchestrator.cli.pod_lookup import read_cluster, running_pod, selected_pods, workload_pods
    from orchestrator.cli.pod_target import by_logging, parse_target
    from orchestrator.cli.selection import parse_selector
    from orchestrator.cli.services import make_transport

    if previous and follow:
        raise click.UsageError("only one of follow (-f) or previous (-p) is allowed")
    if container and all_containers:
        raise click.UsageError(f"--all-containers=true should not be specified with container name {container}")
    if target and selector is not None:
        raise click.UsageError("only a selector (-l) or a POD name is allowed")
    if not target and selector is None:
        raise click.UsageError(USAGE)
    sel = parse_selector(selector)
    parsed = parse_target(target) if target else None
    if all_pods and (parsed is None or parsed.is_pod):
        raise click.UsageError("--all-pods works with TYPE/NAME (deploy/web, rc/web, rs/web)")
    cluster = read_cluster(obj, parsed.key if parsed and not parsed.is_pod else None)
    if sel is not None:
        pods = selected_pods(cluster, sel)
        if not pods:
            click.echo("No resources found in default namespace.", err=True)
            return 0
    elif parsed is not None and parsed.is_pod:
        pods = [running_pod(cluster, parsed.name)]
    else:
        assert parsed is not None
        pods = by_logging(workload_pods(cluster, parsed))
        if not all_pods:
            if len(pods) > 1:
                click.echo(f"Found {len(pods)} pods, using pod/{pods[0].name}", err=True)
            pods = pods[:1]
    opts = LogOptions(follow=follow, tail=tail if tail is not None else (SELECTOR_TAIL if sel is not None else None),
                      since=since, timestamps=timestamps)
    show_prefix = prefix if prefix is not None else bool(sel is not None or all_pods or all_containers)
    transport = make_transport(obj)
    try:
        sources, untils = _sources(transport, cluster, pods, container, all_containers, previous,
                                   single=len(pods) == 1 and sel is None)
        if follow and len(sources) > max_log_requests:
            raise click.UsageError(
                f"you are attempting to follow {len(sources)} log streams, but maximum allowed concurrency is "
                f"{max_log_requests}, use --max-log-requests to increase the limit")
        if follow:
            return _follow(transport, cluster, sources, opts, show_prefix)
        return _print_all(transport, cluster, sources, opts, untils, show_prefix)
    except KeyboardInterrupt:
        return 0
    finally:
        transport.close()


def _sources(transport: SSHTransport, cluster: Cluster, pods: Sequence[ObservedPod], container: str | None,
             all_containers: bool, previous: bool, *, single: bool) -> tuple[list[Source], dict[Source, str]]:
    """The containers to read, and with --previous where each one's previous run ends. Every problem (a
    pod gone, a container that is not there, no previous run) is reported at once and nothing is read."""
    from orchestrator.cli.pod_docker import parse_previous, state_query
    from orchestrator.cli.pod_lookup import containers_of, host_of
    from orchestrator.cli.pod_target import choose_containers
    from orchestrator.transport.parallel import run_parallel

    observed = list(pods)
    found = containers_of(transport, cluster, observed)
    sources: list[Source] = []
    errors: list[str] = []
    for p in observed:
        names = found[p.name]
        if isinstance(names, str):
            errors.append(names)
            continue
        try:
            chosen, note = choose_containers(p.name, names, container, all_containers)
        except LookupError as e:
            errors.append(str(e))
            continue
        if note and single:
            click.echo(note, err=True)
        sources += [Source(p.name, c, p.host) for c in chosen]
    untils: dict[Source, str] = {}
    if previous and not errors:
        by_host: dict[str, list[Source]] = {}
        for s in sources:
            by_host.setdefault(s.host, []).append(s)
        hosts = [host_of(cluster, next(p for p in observed if p.host == h)) for h in by_host]
        results = run_parallel(hosts, lambda h: transport.run_batch(
            h, [state_query(s.pod, s.container) for s in by_host[h.name]]))
        for host_name, result in results.items():
            for s in by_host[host_name]:
                if isinstance(result, Exception):
                    errors.append(f"{s.prefix}: {result}")
                    continue
                step = result[f"state {s.pod}/{s.container}"]
                try:
                    until = parse_previous(step.stdout).until if step.ok else None
                except ValueError as e:
                    errors.append(f"{s.prefix}: {e}")
                    continue
                if until is None:
                    errors.append(f'previous terminated container "{s.container}" in pod "{s.pod}" not found')
                else:
                    untils[s] = until
    if errors:
        raise click.ClickException("\n".join(errors))
    return sources, untils


def _print_all(transport: SSHTransport, cluster: Cluster, sources: list[Source], opts: LogOptions,
               untils: dict[Source, str], show_prefix: bool) -> int:
    """Each container's lines in turn (read in parallel, printed in order, as kubectl prints them)."""
    from orchestrator.cli.pod_docker import logs_command

    def read(s: Source) -> list[str]:
        host = cluster.hosts[s.host]
        return list(transport.stream(host, logs_command(s.pod, s.container, opts, untils.get(s))))

    status = 0
    with ThreadPoolExecutor(max_workers=max(1, min(len(sources), 8)), thread_name_prefix="orc-logs") as pool:
        futures = [pool.submit(read, s) for s in sources]
        for s, future in zip(sources, futures, strict=True):
            try:
                lines = future.result()
            except Exception as e:  # noqa: BLE001 - one container's failure is reported, the rest printed
                click.echo(f"error: {s.prefix}: {e}", err=True)
                status = 1
                continue
            for line in lines:
                click.echo(f"{s.prefix} {line}" if show_prefix else line)
    return status


def _follow(transport: SSHTransport, cluster: Cluster, sources: list[Source], opts: LogOptions,
            show_prefix: bool) -> int:
    """Every stream at once, each line printed as it comes, until all end (or ^C)."""
    from orchestrator.cli.pod_docker import logs_command

    lines: queue.Queue[tuple[Source, str | None, str | None]] = queue.Queue(maxsize=10000)

    def pump(s: Source) -> None:
        try:
            for line in transport.stream(cluster.hosts[s.host], logs_command(s.pod, s.container, opts)):
                lines.put((s, line, None))
        except Exception as e:  # noqa: BLE001 - reported by the printing thread
            lines.put((s, None, str(e)))
            return
        lines.put((s, None, None))

    for s in sources:
        threading.Thread(target=pump, args=(s,), name=f"logs {s.pod}/{s.container}", daemon=True).start()
    open_streams, status = len(sources), 0
    while open_streams:
        try:
            s, line, error = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        if line is not None:
            click.echo(f"{s.prefix} {line}" if show_prefix else line)
            continue
        open_streams -= 1
        if error is not None:
            click.echo(f"error: {s.prefix}: {error}", err=True)
            status = 1
    return status

