"""`orc what-if`: capacity simulation from the last snapshot, without SSH (plan/whatif.py)."""

from __future__ import annotations

import click

from orchestrator.cli.context import AppContext
from orchestrator.errors import EXIT_FAILED, ValidationError

_HOST_KEYS = ("name", "cpu", "memory", "gpus", "ephemeral-storage", "labels")


def parse_scale(text: str) -> tuple[str, int]:
    """`deploy/web=12` -> ("deploy/web", 12); kubectl's kind spellings are accepted (rc, rs, deploy, ...)."""
    from orchestrator.cli.kinds import object_ref

    ref, eq, n = text.rpartition("=")
    if not eq or not n.lstrip("-").isdigit() or "/" not in ref:
        raise click.BadParameter(f"{text!r}: use KIND/NAME=REPLICAS, e.g. deploy/web=12", param_hint="--scale")
    resource, name = object_ref(ref)
    return resource.key(name), int(n)


def parse_host(text: str, index: int) -> tuple[str, dict[str, str], dict[str, str]]:
    """`name=new1,cpu=8,memory=32Gi,labels=rack=r4,zone=a` -> (name, capacity, labels): an item after
    `labels=` that is not one of the known keys is one more label."""
    name = f"new-{index}"
    capacity: dict[str, str] = {}
    labels: dict[str, str] = {}
    in_labels = False
    for item in filter(None, text.split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            raise click.BadParameter(f"{item!r} in {text!r}: use KEY=VALUE", param_hint="--add-host")
        if key == "labels":
            k, e, v = value.partition("=")
            if not e:
                raise click.BadParameter(f"{item!r}: use labels=KEY=VALUE", param_hint="--add-host")
            labels[k] = v
            in_labels = True
        elif key in _HOST_KEYS:
            in_labels = False
            if key == "name":
                name = value
            else:
                capacity["nvidia.com/gpu" if key == "gpus" else key] = value
        elif in_labels:
            labels[key] = value
        else:
            raise click.BadParameter(f"{key!r} in {text!r}: use one of {', '.join(_HOST_KEYS)}",
                                     param_hint="--add-host")
    return name, capacity, labels


@click.command("what-if")
@click.option("--lose", multiple=True, metavar="HOST|KEY=VALUE", help="These hosts fail (a name, or every host "
              "with the label), for longer than the grace period.")
@click.option("--drain", multiple=True, metavar="HOST|KEY=VALUE", help="These hosts are drained: no new pods, "
              "their controllers' pods move elsewhere.")
@click.option("--scale", "scales", multiple=True, metavar="KIND/NAME=N", help="This controller wants N replicas.")
@click.option("--add-host", "added", multiple=True, metavar="SPEC",
              help="One more (empty) host: cpu=8,memory=32Gi,labels=rack=r4 (also name=, gpus=).")
@click.option("--each", metavar="LABEL", help="Check every failure domain in turn: lose each value of this host "
              "label alone (the N+1 check), with the other changes asked.")
@click.option("-o", "--output", type=click.Choice(["table", "json", "yaml"]), default="table")
@click.pass_obj
def what_if(obj: AppContext, lose: tuple[str, ...], drain: tuple[str, ...], scales: tuple[str, ...],
            added: tuple[str, ...], each: str | None, output: str) -> None:
    """What would run, and what would be pending and why, if hosts failed or were drained, a controller
    scaled or a host added. It plans one pass with the real planner and scheduler over the last snapshot
    (`orc reconcile` stores it), without SSH, and changes nothing. Exit 1 when any controller would run
    fewer pods than it wants: a check for CI before a deploy or a maintenance.

    \b
    Examples:
      orc what-if --lose lab2
      orc what-if --lose rack=r2
      orc what-if --drain lab1 --scale deploy/web=12
      orc what-if --add-host cpu=8,memory=32Gi,labels=rack=r4 --scale deploy/web=20
      orc what-if --each rack          # every rack lost in turn
    """
    import time

    from orchestrator.cli.output import dump
    from orchestrator.cli.services import load_hosts
    from orchestrator.controllers.cordon import cordoned_hosts, draining, read_marks
    from orchestrator.controllers.desired import load_desired
    from orchestrator.observe.facts import HostFacts
    from orchestrator.observe.replay import replay
    from orchestrator.plan.planner import PlannerConfig
    from orchestrator.plan.ports import DEFAULT_POD_PORT_RANGE, parse_port_range
    from orchestrator.plan.whatif import Scenario, domains, what_if
    from orchestrator.scheduler import SchedulerConfig
    from orchestrator.store import keys

    project = obj.project
    s = project.settings
    hosts = {h.name: h for h in load_hosts(obj)}
    with project.open_store() as store:
        rec = store.get(keys.SNAPSHOT)
        desired = load_desired(store)
        marks = read_marks(store)  # hosts `orc cordon` / `orc drain` took out: as the next pass sees them
    if rec is None:
        raise ValidationError(["no snapshot of the cluster yet: run `orc reconcile` once, then ask again"])
    facts = replay(rec.value, hosts, project.cluster)
    new = []
    for i, text in enumerate(added, 1):
        name, capacity, labels = parse_host(text, i)
        new.append(HostFacts(name=name, address=name, reachable=True, docker_version="what-if",
                             labels={"kubernetes.io/hostname": name, **labels}, capacity=capacity,
                             bind_address=name))
    config = PlannerConfig(grace_period=s.grace_period, disruption_threshold=s.disruption_threshold,
                           scheduler=SchedulerConfig.from_dict(s.scheduler),
                           cordoned=cordoned_hosts(hosts.values(), marks), leaving=draining(marks),
                           drained=draining(marks),
                           pod_ports=parse_port_range(s.pod_port_range or DEFAULT_POD_PORT_RANGE))
    scale = tuple(parse_scale(x) for x in scales)
    losses = [tuple(lose)] if not each else [(*lose, d) for d in domains([*facts, *new], each)]
    if each and len(losses) == 0:
        raise ValidationError([f"--each {each}: no host has the label {each!r}"])
    now = time.time()
    results = [what_if(desired, facts, Scenario(tuple(x), drain, scale, tuple(new)), config, project.cluster, now)
               for x in losses]
    if output != "table":
        dump(results[0].to_dict() if not each else {"each": each, "scenarios": [r.to_dict() for r in results]},
             output)
    else:
        _print(results, bool(each))
    if not all(r.ok for r in results):
        click.get_current_context().exit(EXIT_FAILED)


def _print(results: list, summary: bool) -> None:  # type: ignore[type-arg]
    from orchestrator.cli.output import print_table

    for r in results:
        if summary:
            verdict = "ok" if r.ok else "SHORT: " + ", ".join(f"{o.key} {o.running}/{o.want}" for o in r.short)
            click.echo(f"{r.scenario.describe()} ({', '.join(r.lost) or 'no host'}): {verdict}")
            if r.ok:
                continue
        else:
            where = f" (lost: {', '.join(r.lost)})" if r.lost else ""
            click.echo(f"What if: {r.scenario.describe()}{where}")
        for e in r.errors:
            click.echo(f"error: {e}", err=True)
        rows = [[o.key, str(o.want), str(o.running), str(o.want - o.running if o.want > o.running else 0),
                 " ".join(f"{h}:{n}" for h, n in o.where.items()) or "-"]
                for o in r.outcomes if not summary or not o.ok]
        if rows:
            print_table(["OBJECT", "WANT", "RUNNING", "SHORT", "WHERE"], rows)
        for o in r.outcomes:
            for why in o.pending if not o.ok else []:
                click.echo(f"pending: {why}")
