"""Act on a plan, exactly and only: its store writes (address allocations), its image copies, then each
host's actions of the first phase in ONE batched round trip per host, hosts in parallel (within it, a host's
adjacent pod creations run concurrently: `Command.concurrent`), and, when the plan
drains pods that served a service, a second round trip for their deletes once every proxy dropped them.

A failure fails only what depends on it: a lost allocation race skips the proxy updates built on it; an
image that could not be copied fails the creates that need it on that host; a host that times out fails
its own actions. Everything else runs; every failure is a result (reported, retried next pass).

With a host fence (`act/fence.py`), the lease is checked right before the image copies and before each round
of batches, and every batch opens with the host-side fence: a host that has seen a newer token runs nothing
of it (`refused_hosts`), and no later round is sent."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from orchestrator.act.fence import HostFence, refused_by
from orchestrator.commands.base import Command
from orchestrator.commands.config_volume import update_volume
from orchestrator.commands.haproxy import deploy_steps, hosts_file_step
from orchestrator.commands.pod import (
    continue_pod,
    create_pod,
    delete_pod,
    grace_of,
    restart_container,
    stop_pods,
)
from orchestrator.errors import ConfigError, TransportError
from orchestrator.inventory.host import Host
from orchestrator.plan.pass_plan import images_of
from orchestrator.plan.types import (
    DRAIN,
    FIRST,
    Action,
    ContinuePod,
    CopyImage,
    CreatePod,
    DeletePod,
    Plan,
    RemoveOrphan,
    RestartContainer,
    UpdateConfigVolume,
    UpdateHostsFile,
    UpdateProxy,
)
from orchestrator.proxy.addresses import StoreOp, apply_ops
from orchestrator.transport.base import Transport
from orchestrator.transport.parallel import run_parallel


@dataclass(frozen=True)
class Runtime:
    """How pods are started on hosts (from orc.yaml): `cluster` is the name every container carries."""

    infra_image: str
    infra_command: tuple[str, ...] = ()
    cluster: str = ""


@dataclass(frozen=True)
class ActionResult:
    action: Action | StoreOp | None  # None: a step of no action of the plan (named in `step`)
    host: str  # "" for a store write
    ok: bool
    step: str
    error: str = ""
    seen_token: int | None = None  # a fence refusal: the newer token the host has seen


def render(action: Action, runtime: Runtime, hosts: dict[str, Host] | None = None, *,
           stopped: bool = False) -> list[Command]:
    """The commands of one host action (the only place actions become shell text, through builders)."""
    if isinstance(action, CreatePod):
        return [create_pod(action.pod, runtime.infra_image, runtime.infra_command, cluster=runtime.cluster)]
    if isinstance(action, DeletePod):
        return [delete_pod(action.name, action.uid, action.grace, stopped=stopped, hooks=action.hooks,
                           config_dir=action.config_dir)]
    if isinstance(action, ContinuePod):
        return [continue_pod(action.name, action.inits, action.apps)]
    if isinstance(action, RemoveOrphan):
        return [Command(name=f"remove {action.container}", argv=("docker", "rm", "-f", "--", action.container))]
    if isinstance(action, RestartContainer):
        return [restart_container(action.pod, action.container, action.grace, action.hook)]
    if isinstance(action, UpdateHostsFile):
        return [hosts_file_step(action.path, action.text)]
    if isinstance(action, UpdateConfigVolume):
        return [update_volume(action.pod, action.directory, action.volume)]
    if isinstance(action, UpdateProxy):
        if hosts is None:
            raise ValueError("rendering a proxy update needs the host's settings")
        return deploy_steps(hosts[action.host], action.config, action.state, set(action.addresses),
                            cluster=runtime.cluster)
    raise TypeError(f"unknown action {action!r}")


def execute(plan: Plan, hosts: Sequence[Host], transport: Transport, runtime: Runtime, store: object = None,
            fence: tuple[str, int] | None = None, max_workers: int = 32, drain_seconds: float = 0.0,
            sleep: Callable[[float], None] = time.sleep, push: Callable[..., list] | None = None,
            before_batches: Callable[[], None] | None = None,
            host_fence: HostFence | None = None) -> list[ActionResult]:
    """`before_batches` runs before each round of host batches (the engine checks it still holds its
    lease there; raising stops the pass before anything more is sent). `host_fence` checks the lease before
    the image copies and each round, and opens every batch with the host-side fence."""
    by_name = {h.name: h for h in hosts}
    results: list[ActionResult] = []
    skip: dict[int, str] = {}  # id(action) -> why it does not run

    if plan.store_ops:
        failed = apply_ops(store, plan.store_ops, fence) if store is not None else []  # type: ignore[arg-type]
        bad = {id(op): err for op, err in failed}
        results += [ActionResult(op, "", id(op) not in bad, f"{op.verb} {op.target}", bad.get(id(op), ""))
                    for op in plan.store_ops]
        if bad:
            for a in plan.actions:
                if isinstance(a, UpdateProxy | UpdateHostsFile):
                    skip[id(a)] = "service addresses could not be allocated this pass (see above)"

    if plan.copies and host_fence is not None:
        host_fence.check()  # raises FencedError if the lease was lost: nothing is copied or sent
    results += _copy_images(plan, by_name, transport, skip, push, runtime.infra_image)

    for phase in (FIRST, DRAIN):
        work = {h: [a for a in acts if id(a) not in skip] for h, acts in plan.by_host(phase).items()}
        if refused_hosts(results):  # a stale controller sends no second round
            for acts in work.values():
                for a in acts:
                    skip[id(a)] = "not run: hosts refused this controller's earlier batch (its lease is stale)"
            continue
        if phase == DRAIN and any(work.values()) and drain_seconds > 0:
            sleep(drain_seconds)  # in-flight requests to the pods leaving finish on the old proxy workers
        if any(work.values()) and before_batches is not None:
            before_batches()
        if any(work.values()) and host_fence is not None:
            host_fence.before_batches(first=phase == FIRST)
        results += _run_batches(work, by_name, transport, runtime, max_workers, host_fence)
    results += [ActionResult(a, a.host, False, a.verb, skip[id(a)]) for a in plan.actions if id(a) in skip
                and not isinstance(a, CopyImage)]
    return results


def _copy_images(plan: Plan, hosts: dict[str, Host], transport: Transport, skip: dict[int, str],
                 push: Callable[..., list] | None, infra_image: str) -> list[ActionResult]:
    copies = plan.copies
    if not copies:
        return []
    if push is None:
        from orchestrator.images import push as push_images

        push = push_images
    groups: dict[tuple[str, str], list[CopyImage]] = {}
    for c in copies:
        groups.setdefault((c.image, c.source), []).append(c)
    out: list[ActionResult] = []
    failed: dict[tuple[str, str], str] = {}  # (host, image) -> why

    def one(key: tuple[str, str]) -> list[tuple[CopyImage, bool, str]]:
        image, source = key
        cs = groups[key]
        try:
            done = {r.host: r for r in push(transport, image, [hosts[c.host] for c in cs], hosts[source])}
        except Exception as e:  # noqa: BLE001 - a failing source fails its copies, nothing else
            return [(c, False, str(getattr(e, "message", e))) for c in cs]
        return [(c, bool(done.get(c.host) and done[c.host].ok),
                 done[c.host].error if c.host in done else "no result") for c in cs]

    for key in sorted(groups):  # one source read feeds every target of an image
        for c, ok, error in one(key):
            out.append(ActionResult(c, c.host, ok, f"copy image {c.image} from {c.source}", error))
            if not ok:
                failed[(c.host, c.image)] = error
    for a in plan.actions:
        if isinstance(a, CreatePod):
            for img in images_of(a.pod, infra_image):
                why = failed.get((a.host, img))
                if why is not None:
                    skip[id(a)] = f"image {img} could not be copied to {a.host}: {why}"
    return out


def _run_batches(work: dict[str, list[Action]], hosts: dict[str, Host], transport: Transport,
                 runtime: Runtime, max_workers: int, fence: HostFence | None = None) -> list[ActionResult]:
    todo = [hosts[h] for h, acts in work.items() if acts]

    def run(host: Host) -> list[ActionResult]:
        actions = work[host.name]
        steps: list[Command] = []
        owners: list[Action | None] = []  # None: the parallel stop, reported only when it fails
        # Two or more graceful deletes: ONE step first stops their pods in parallel (each with its own grace
        # period, all at the same time), so five pods at 30 s take 30 s, not 150, and the batch's time limit
        # grows by the longest grace only; the deletes then add no time.
        graceful = [a for a in actions if isinstance(a, DeletePod) and grace_of(a.grace) > 0]
        if len(graceful) > 1:
            steps.append(stop_pods([(a.name, a.uid, a.grace) for a in graceful],
                                   {a.uid: a.hooks for a in graceful if a.hooks}))
            owners.append(None)
        for a in actions:
            cmds = render(a, runtime, hosts, stopped=len(graceful) > 1)
            if isinstance(a, CreatePod):  # a host's adjacent pod creations run at once (docker's own pace)
                cmds = [dataclasses.replace(c, concurrent=True) for c in cmds]
            steps += cmds
            owners += [a] * len(cmds)
        if not steps:
            return []
        if fence is not None:
            try:
                guard = fence.step(host)
            except ConfigError as e:
                return [ActionResult(None, host.name, False, "fence", f"{e} (nothing ran on {host.name})"),
                        *_not_run(owners, steps, host.name)]
            steps = [guard, *steps]
        try:
            result = transport.run_batch(host, steps)
        except TransportError as e:
            return _merge([ActionResult(a, host.name, False, s.name, e.message)
                           for a, s in zip([None, *owners] if fence else owners, steps, strict=True) if a is not None])
        done = list(result.steps)
        if fence is not None:
            gate = done.pop(0)
            steps = steps[1:]
            if not gate.ok:
                return [ActionResult(None, host.name, False, gate.name, fence.refusal(host.name, gate),
                                     refused_by(gate)), *_not_run(owners, steps, host.name)]
            # an accepted fence is not news: it is not a result
        return _merge([ActionResult(a, host.name, s.ok, s.name, "" if s.ok else (s.stderr.strip() or f"exit {s.exit_code}"))
                       for a, s in zip(owners, done, strict=True) if a is not None or not s.ok])

    out: list[ActionResult] = []
    for name, r in run_parallel(todo, run, max_workers=max_workers).items():
        if isinstance(r, Exception):
            out += [ActionResult(a, name, False, a.verb, repr(r)) for a in work[name]]
        else:
            out += r
    return out


def _merge(results: list[ActionResult]) -> list[ActionResult]:
    """One result per action (an action of several steps fails with its first failed step)."""
    out: dict[int, ActionResult] = {}
    order: list[int] = []
    for r in results:
        k = id(r.action)
        if k not in out:
            out[k] = r
            order.append(k)
        elif out[k].ok and not r.ok:
            out[k] = r
    return [out[k] for k in order]


def _not_run(owners: Sequence[Action | None], steps: Sequence[Command], host: str) -> list[ActionResult]:
    return _merge([ActionResult(a, host, False, s.name, f"not run: the fence on {host} stopped the batch")
                   for a, s in zip(owners, steps, strict=True)])


def refused_hosts(results: Sequence[ActionResult]) -> dict[str, int]:
    """Host -> the newer token it has seen, for every host that refused this controller's batch."""
    return {r.host: r.seen_token for r in results if r.seen_token is not None}
