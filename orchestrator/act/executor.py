"""Act: each host's actions (plus any extra steps, e.g. its proxy config) in ONE batched round trip, hosts
in parallel. A failed action never stops the others; it is reported and retried by the next pass.

With a fence (`act/fence.py`), the lease is checked right before the batches go out and every batch opens
with the host-side fence: a host that has seen a newer token runs nothing of it (`refused_hosts`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.act.fence import HostFence, refused_by
from orchestrator.commands.base import Command
from orchestrator.commands.pod import create_pod, delete_pod, restart_container
from orchestrator.errors import ConfigError, TransportError
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
    seen_token: int | None = None  # a fence refusal: the newer token the host has seen


def render(action: Action, runtime: Runtime) -> Command:
    if isinstance(action, CreatePod):
        return create_pod(action.pod, runtime.infra_image, runtime.infra_command)
    if isinstance(action, DeletePod):
        return delete_pod(action.name, action.uid, action.grace)
    if isinstance(action, RemoveOrphan):
        return Command(name=f"remove {action.container}", argv=("docker", "rm", "-f", "--", action.container))
    if isinstance(action, RestartContainer):
        return restart_container(action.pod, action.container, grace=2)
    raise TypeError(f"unknown action {action!r}")


def execute(plan: Plan, hosts: Sequence[Host], transport: Transport, runtime: Runtime,
            extra: dict[str, list[Command]] | None = None, max_workers: int = 32,
            fence: HostFence | None = None) -> list[ActionResult]:
    extra = extra or {}
    by_host = plan.by_host()
    work = {h.name: h for h in hosts if by_host.get(h.name) or extra.get(h.name)}
    if work and fence is not None:
        fence.before_batches()  # raises FencedError if the lease was lost: nothing is sent

    def run(host: Host) -> list[ActionResult]:
        # Extra steps (the host's hosts file and proxy) go first: a new pod bind-mounts the hosts file.
        actions = by_host.get(host.name, [])
        steps = extra.get(host.name, []) + [render(a, runtime) for a in actions]
        owners: list[Action | None] = [*([None] * len(extra.get(host.name, []))), *actions]
        if fence is not None:
            try:
                guard = fence.step(host)
            except ConfigError as e:
                return [ActionResult(None, host.name, False, "fence", f"{e} (nothing ran on {host.name})"),
                        *not_run(owners, steps, host.name)]
            steps, owners = [guard, *steps], [None, *owners]
        try:
            result = transport.run_batch(host, steps)
        except TransportError as e:
            return [ActionResult(a, host.name, False, s.name, e.message) for a, s in zip(owners, steps, strict=True)]
        if fence is not None:
            gate, *rest = result.steps
            if not gate.ok:
                return [ActionResult(None, host.name, False, gate.name, fence.refusal(host.name, gate),
                                     refused_by(gate)), *not_run(owners[1:], steps[1:], host.name)]
            owners, result_steps = owners[1:], rest  # an accepted fence is not news
        else:
            result_steps = list(result.steps)
        return [ActionResult(a, host.name, s.ok, s.name, "" if s.ok else (s.stderr.strip() or f"exit {s.exit_code}"))
                for a, s in zip(owners, result_steps, strict=True)]

    results = run_parallel(list(work.values()), run, max_workers=max_workers)
    out: list[ActionResult] = []
    for name, r in results.items():
        if isinstance(r, Exception):
            out += [ActionResult(a, name, False, a.verb, repr(r)) for a in by_host.get(name, [])]
        else:
            out += r
    return out


def not_run(owners: Sequence[Action | None], steps: Sequence[Command], host: str) -> list[ActionResult]:
    return [ActionResult(a, host, False, s.name, f"not run: the fence on {host} stopped the batch")
            for a, s in zip(owners, steps, strict=True)]


def refused_hosts(results: Sequence[ActionResult]) -> dict[str, int]:
    """Host -> the newer token it has seen, for every host that refused this controller's batch."""
    return {r.host: r.seen_token for r in results if r.seen_token is not None}
