"""`orc explain`: why a pod landed where it is (or why it cannot run), host by host."""

from __future__ import annotations

import dataclasses

import click

from orchestrator.cli.context import AppContext
from orchestrator.cli.output import dump, print_table


@click.command()
@click.argument("kind")
@click.argument("name", required=False)
@click.option("-o", "--output", type=click.Choice(["table", "json", "yaml"]), default="table")
@click.pass_obj
def explain(obj: AppContext, kind: str, name: str | None, output: str) -> None:
    """Explain a scheduling decision: per host, the filter that rejects the pod and why, or the score
    breakdown of the hosts that could take it (the current cluster is probed; nothing is changed).

    \b
      orc explain pod web-x2k4p     a running pod: why its host, against the others (itself not counted)
      orc explain pod/db-0          a bare pod, placed or pending
      orc explain rc/web            where the controller's next replica would go (also rs/NAME, deploy/NAME)
    """
    from orchestrator.cli.kinds import WORKLOADS, resolve
    from orchestrator.cli.reconcile_cmd import _engine
    from orchestrator.controllers.desired import load_desired
    from orchestrator.controllers.placement import node_info, placed_pod, pod_request
    from orchestrator.errors import NotFoundError
    from orchestrator.plan.views import PodView
    from orchestrator.scheduler import explain as explain_pod

    if "/" in kind and name is None:
        kind, name = kind.split("/", 1)
    if not name:
        raise click.UsageError("name the object: orc explain pod NAME | rc/NAME | rs/NAME | deploy/NAME")
    resource = resolve(kind)
    if resource.plural != "pods" and resource.plural not in WORKLOADS:
        raise click.UsageError(f"cannot explain {kind!r}: use pod, rc, rs or deploy")
    kind = "pod" if resource.plural == "pods" else resource.prefix
    engine = _engine(obj, write=False)
    try:
        desired = load_desired(engine.store)
        snapshot = engine.observe()
    finally:
        engine.transport.close()
    seen = [dataclasses.replace(v, owner=desired.owner_of(v.owner, v.uid)) for v in map(PodView.of, snapshot.pods)]
    me = next((v for v in seen if v.name == name), None) if kind == "pod" else None
    if kind == "pod":
        if me is not None and me.owner and me.owner in desired.workloads:
            spec, labels, owner = desired.workloads[me.owner].template.spec, me.labels, me.owner
        elif name in desired.pods:
            spec, labels, owner = desired.pods[name].spec, desired.pods[name].labels, None
        else:
            raise NotFoundError(f'pod "{name}" not found (neither desired nor running on a host)')
    else:
        w = desired.workloads.get(resource.key(name))
        if w is None:
            raise NotFoundError(f'{resource.singular} "{name}" not found')
        spec, labels, owner = w.template.spec, w.template.labels, w.key
    placed: dict[str, list] = {}
    for v in seen:
        if me is None or v.uid != me.uid:
            placed.setdefault(v.host, []).append(placed_pod(v.name, v.owner, v.labels, v.requests, v.host_ports,
                                                            v.gpu_devices))
    from orchestrator.controllers.cordon import cordoned_hosts, read_marks

    cordoned = cordoned_hosts(engine.hosts, read_marks(engine.store))
    nodes = [node_info(f, placed.get(h, []), cordoned=h in cordoned)
             for h, f in sorted(snapshot.hosts.items())]
    rows = explain_pod(pod_request(name if kind == "pod" else f"{name}-new", owner, labels, spec), nodes,
                       engine.config.planner.scheduler)
    rows = sorted(rows, key=lambda e: (not e.passed, -e.total, e.host))
    if output != "table":
        dump([{"host": e.host, "feasible": e.passed, "filter": e.failed_filter, "reason": e.reason,
               "score": e.total, "scores": dict(e.scores)} for e in rows], output)
        return
    where = f" (on {me.host})" if me else ""
    click.echo(f"{kind}/{name}{where}: {sum(e.passed for e in rows)}/{len(rows)} hosts can take it")
    table = []
    for e in rows:
        detail = ", ".join(f"{k}={v:.0f}" for k, v in sorted(e.scores.items())) if e.passed else e.reason or ""
        table.append([e.host + (" *" if me and e.host == me.host else ""),
                      "yes" if e.passed else f"no ({e.failed_filter})", f"{e.total:.1f}" if e.passed else "-",
                      detail])
    print_table(["HOST", "FEASIBLE", "SCORE", "REASON / SCORES"], table)
