"""Act: each host's actions (plus any extra steps, e.g. its proxy config) in ONE batched round trip, hosts
in parallel. A failed action never stops the others; it is reported and retried by the next pass."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.commands.base import Command
from orchestrator.commands.pod import create_pod, delete_pod, grace_of, restart_container, stop_pods
from orchestrator.errors import TransportError
from orchestrator.inventory.host import Host
from orchestrator.plan.types import Action, CreatePod, DeletePod, Plan, RemoveOrphan, RestartContainer
from orchestrator.transport.base import Transport
from orchestrator.transport.parallel import run_parallel


@dataclass(frozen=True)
class Runtime:
    """How pods are started on hosts (from orc.yaml)."""

    infra_image: str
    infra_command: tuple[str, ...] = ()


@dataclass(frozen=True)
class ActionResult:
    action: Action | None  # None: an extra step (named in `step`)
    host: str
    ok: bool
    step: str
    error: str = ""


def render(action: Action, runtime: Runtime, *, stopped: bool = False) -> Command:
    if isinstance(action, CreatePod):
        return create_pod(action.pod, runtime.infra_image, runtime.infra_command)
    if isinstance(action, DeletePod):
        return delete_pod(action.name, action.uid, action.grace, stopped=stopped)
    if isinstance(action, RemoveOrphan):
        return Command(name=f"remove {action.container}", argv=("docker", "rm", "-f", "--", action.container))
    if isinstance(action, RestartContainer):
        return restart_container(action.pod, action.container, action.grace)
    raise TypeError(f"unknown action {action!r}")


@dataclass(frozen=True)
class Step:
    owner: Action | None  # None: an extra step (proxy, hosts file) or a helper of the actions
    command: Command
    helper: bool = False  # part of other steps' work (the parallel stop): reported only when it fails


def host_steps(actions: Sequence[Action], runtime: Runtime) -> list[Step]:
    """One host's actions as batch steps. Two or more graceful deletes are preceded by ONE step that stops
    their pods in parallel (each gets its own grace period, all at the same time), so five pods at 30 s
    take 30 s, not 150, and the batch's time limit grows by the longest grace only."""
    graceful = [a for a in actions if isinstance(a, DeletePod) and grace_of(a.grace) > 0]
    steps: list[Step] = []
    if len(graceful) > 1:
        steps.append(Step(None, stop_pods([(a.name, a.uid, a.grace) for a in graceful]), helper=True))
    return steps + [Step(a, render(a, runtime, stopped=len(graceful) > 1)) for a in actions]


def execute(plan: Plan, hosts: Sequence[Host], transport: Transport, runtime: Runtime,
            extra: dict[str, list[Command]] | None = None, max_workers: int = 32) -> list[ActionResult]:
    extra = extra or {}
    by_host = plan.by_host()
    work = {h.name: h for h in hosts if by_host.get(h.name) or extra.get(h.name)}

    def run(host: Host) -> list[ActionResult]:
        # Extra steps (the host's hosts file and proxy) go first: a new pod bind-mounts the hosts file.
        plan_steps = [Step(None, c) for c in extra.get(host.name, [])] + host_steps(by_host.get(host.name, []), runtime)
        try:
            result = transport.run_batch(host, [s.command for s in plan_steps])
        except TransportError as e:
            return [ActionResult(s.owner, host.name, False, s.command.name, e.message)
                    for s in plan_steps if not s.helper]
        return [ActionResult(s.owner, host.name, r.ok, r.name, "" if r.ok else (r.stderr.strip() or f"exit {r.exit_code}"))
                for s, r in zip(plan_steps, result.steps, strict=True) if not (s.helper and r.ok)]

    results = run_parallel(list(work.values()), run, max_workers=max_workers)
    out: list[ActionResult] = []
    for name, r in results.items():
        if isinstance(r, Exception):
            out += [ActionResult(a, name, False, a.verb, repr(r)) for a in by_host.get(name, [])]
        else:
            out += r
    return out
