"""One reconcile pass: observe every host (one round trip each) -> plan (pure, `plan.pass_plan`) -> act on
exactly that plan (store writes, image copies, one round trip per host with work, a second for drained
deletes) -> record what the hosts cannot tell us. `orc plan` is the same pass without the last two: it
writes nothing. `--watch` repeats passes on docker events and timers."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.act.cluster_events import ClusterEvent, pass_events
from orchestrator.act.cluster_events import record as record_events
from orchestrator.act.events import EventLog
from orchestrator.act.executor import ActionResult, Runtime, execute, refused_hosts
from orchestrator.act.fence import HostFence
from orchestrator.config import Project
from orchestrator.controllers.book import (
    BOOK_KEY,
    Book,
    config_volumes_after,
    host_from_record,
    host_record,
    next_backoff,
    next_restarts,
    next_slow_start,
    with_restarts,
)
from orchestrator.controllers.cordon import cordoned_hosts, drain_grace, draining, read_marks
from orchestrator.controllers.desired import DesiredState, load_desired
from orchestrator.inventory.host import Host
from orchestrator.observe.facts import HostFacts
from orchestrator.observe.hosts import probe_all
from orchestrator.observe.probe import facts_from_dict, facts_to_dict
from orchestrator.observe.snapshot import ClusterSnapshot
from orchestrator.observe.vantage import cross_check
from orchestrator.plan.config_refs import ConfigSource
from orchestrator.plan.pass_plan import PassConfig, PassInputs, plan_pass
from orchestrator.plan.planner import PlannerConfig
from orchestrator.plan.ports import DEFAULT_POD_PORT_RANGE, parse_port_range
from orchestrator.plan.types import CopyImage, CreatePod, DeletePod, Plan, RestartContainer
from orchestrator.plan.views import PodView
from orchestrator.proxy.addresses import StoreOp, allocation_records
from orchestrator.proxy.hostvars import proxy_hosts
from orchestrator.proxy.sync import ENDPOINTS_PREFIX, endpoint_records, probe_steps
from orchestrator.scheduler import SchedulerConfig
from orchestrator.secret_store import SecretValues, config_source
from orchestrator.secrets import SecretSource
from orchestrator.store import keys
from orchestrator.transport.base import Transport
from orchestrator.validated_cache import ValidatedCache

FACTS_PREFIX = "_meta/facts/"  # host -> {"at": time, "facts": static facts of its last full probe}
CONTAINERS_PREFIX = "_meta/containers/"  # host -> its cache of inspected containers (observe/container_cache.py)


@dataclass
class PassResult:
    plan: Plan
    snapshot: ClusterSnapshot
    results: list[ActionResult] = field(default_factory=list)
    duration: float = 0.0
    round_trips: dict[str, int] = field(default_factory=dict)  # host -> exec channels this pass
    desired: DesiredState | None = None
    new_notices: list[str] = field(default_factory=list)  # the plan's notices the last pass did not have
    events: list[ClusterEvent] = field(default_factory=list)  # what `orc get events` shows of this pass

    @property
    def changed(self) -> bool:
        return bool(self.results)

    @property
    def failed(self) -> list[ActionResult]:
        return [r for r in self.results if not r.ok]

    @property
    def errors(self) -> list[str]:
        """What the pass could not do as asked, beside failed actions (a template, an allocation, a
        secret file): the pass fails (exit 1)."""
        return self.plan.errors

    @property
    def unreachable(self) -> list[str]:
        """Hosts that could not be worked on: unreachable, or reachable with docker not answering."""
        return sorted(h for h, f in self.snapshot.hosts.items() if not f.ready)


@dataclass
class _Observed:
    inputs: PassInputs
    probed: list[HostFacts]  # hosts fully probed this pass (their static facts are cached after it)
    cached: dict[str, HostFacts]
    containers: dict[str, Any]  # host -> the cache of inspected containers this pass read
    new_containers: dict[str, Any]  # host -> the cache its probe made (hosts probed with docker answering)
    leaving: list[Host]  # hosts that left the inventory and are being drained
    config: PassConfig  # this pass's (the leaving hosts are part of it)


class Engine:
    def __init__(self, project: Project, hosts: Sequence[Host], transport: Transport, store: Any,
                 events: EventLog | None = None, clock: Callable[[], float] = time.time,
                 reap_orphans: bool = False, sleep: Callable[[float], None] = time.sleep):
        self.project = project
        self.hosts = list(hosts)
        self.transport = transport
        self.store = store
        self.events = events or EventLog()
        self.clock = clock
        self.sleep = sleep
        s = project.settings
        self.cluster = project.cluster
        self.runtime = Runtime(s.infra_image, tuple(s.infra_command), self.cluster)
        planner = PlannerConfig(grace_period=s.grace_period, disruption_threshold=s.disruption_threshold,
                                scheduler=SchedulerConfig.from_dict(s.scheduler),
                                reap_orphans=reap_orphans, cordoned=cordoned_hosts(self.hosts),
                                pod_ports=parse_port_range(s.pod_port_range or DEFAULT_POD_PORT_RANGE),
                                rebalance=s.rebalance.config())
        self.config = PassConfig(planner, s.proxy, project.templates_path)
        # the stored manifests' last validation, reused while they are the same (validated_cache.py)
        self.validated = ValidatedCache(project.cache_dir if project.config_file is not None else None)

    def watching(self) -> None:
        """--watch: a host that no peer reaches either is lost after orc.yaml `watch_grace_period`, not
        `grace_period` (the watch hears of a host gone within seconds: its event stream's heartbeat stops)."""
        planner = dataclasses.replace(self.config.planner,
                                      down_grace_period=self.project.settings.watch_grace_period)
        self.config = dataclasses.replace(self.config, planner=planner)

    def observe(self, unchanged: dict[str, HostFacts] | None = None) -> ClusterSnapshot:
        return self._observe(unchanged).inputs.snapshot

    def _observe(self, unchanged: dict[str, HostFacts] | None = None) -> _Observed:
        """Probe every host, except those in `unchanged`: hosts whose docker event stream has been open
        and silent since they were last probed (`--watch`), whose facts are taken as they were. Then read
        what the plan needs from the store and the secret source. Writes nothing."""
        unchanged = unchanged or {}
        desired = load_desired(self.store, self.validated)
        book = self.book()
        records = allocation_records(self.store)
        cached = self._cached_facts()
        containers = {r.key[len(CONTAINERS_PREFIX):]: r.value for r in self.store.list(CONTAINERS_PREFIX)}
        leaving = self.leaving_hosts(book)
        every = [*self.hosts, *leaving]
        serving = {h.name for h in proxy_hosts(self.hosts, self.config.proxy)} if desired.services else set()
        probed = probe_all(self.transport, [h for h in every if h.name not in unchanged],
                           max_workers=self.project.settings.ssh.max_parallel,
                           extra=lambda h: probe_steps(h, self.cluster, h.name in serving), cached=cached,
                           containers=containers)
        probed = cross_check(self.transport, {h.name: h for h in every}, probed,
                             max_workers=self.project.settings.ssh.max_parallel,
                             also_ready=[h for h, f in unchanged.items() if f.ready])
        by_name = {f.name: f for f in probed} | unchanged
        snapshot = ClusterSnapshot.build([by_name[h.name] for h in every], self.clock(), cluster=self.cluster)
        secrets = SecretSource.load(self.project.secrets_path, strict=False)
        values = SecretValues(self.project.secret_values_path)
        if secrets.names():
            secrets.digest_key = values.digest_key()
        inputs = PassInputs(desired, snapshot, book, self.hosts, records, secrets, self.runtime.infra_image,
                            config_source(desired, values) if desired.config_maps or desired.secrets else ConfigSource())
        marks = read_marks(self.store)  # `orc cordon` / `orc drain`, for this pass (cron respects them)
        config = dataclasses.replace(self.config, planner=dataclasses.replace(
            self.config.planner, cordoned=cordoned_hosts(self.hosts, marks),
            leaving=frozenset(h.name for h in leaving) | draining(marks), drained=draining(marks),
            drain_grace=drain_grace(marks)))
        return _Observed(inputs, [f for f in probed if f.name not in cached and f.ready], cached, containers,
                         {f.name: f.container_cache for f in probed if f.container_cache is not None}, leaving, config)

    def leaving_hosts(self, book: Book) -> list[Host]:
        """Hosts of an earlier pass that left the inventory while pods of ours ran there: still reached, to
        drain them by handover (their pods are replaced elsewhere, then stopped)."""
        names = {h.name for h in self.hosts}
        return [host_from_record(n, d) for n, d in sorted(book.hosts.items())
                if n not in names and book.assumed.get(n)]

    def _cached_facts(self) -> dict[str, HostFacts]:
        """Static facts of hosts fully probed recently: each host's are kept for its own share of `facts_ttl`
        (between half of it and all of it, fixed per host name), so hosts probed together at first are
        refreshed a few per pass afterwards, not all in one pass every `facts_ttl`."""
        ttl = self.project.settings.facts_ttl
        if ttl <= 0:
            return {}
        by_name = {h.name: h for h in self.hosts}
        now = self.clock()
        out = {}
        for rec in self.store.list(FACTS_PREFIX):
            host = by_name.get(rec.key[len(FACTS_PREFIX):])
            if host is not None and now - float(rec.value.get("at", 0)) < facts_ttl_of(host.name, ttl):
                out[host.name] = facts_from_dict(host, rec.value["facts"])
        return out

    def book(self) -> Book:
        rec = self.store.get(BOOK_KEY)
        return Book.from_dict(rec.value if rec else None)

    def plan(self) -> PassResult:
        """Observe and plan; nothing executed, nothing written (`orc plan`)."""
        start = time.monotonic()
        obs = self._observe()
        snapshot = obs.inputs.snapshot
        p = plan_pass(obs.inputs, obs.config, snapshot.taken_at)
        return PassResult(p, snapshot, duration=time.monotonic() - start, desired=obs.inputs.desired)

    def run_pass(self, fence: HostFence | None = None, unchanged: dict[str, HostFacts] | None = None,
                 check_lease: Callable[[], None] | None = None, heard: Mapping[str, float] | None = None) -> PassResult:
        """One pass. With `fence` (the controller's lease, `act/fence.py`) every store write is fenced, the
        lease is checked right before each act phase and every host batch opens with the host-side fence; a
        host that refuses it ends the pass (HostFencedError). `check_lease` is called right before each round
        of host batches too: it raises when the controller no longer holds its lock, and nothing more is sent.
        `heard` (--watch): when each host last said something on its event stream (its heartbeat); a host
        that fails from now on has been failing since then, as Kubernetes counts its node grace period from
        the node's last heartbeat."""
        store_fence = fence.store_fence if fence is not None else None
        before = dict(self.transport.counters.per_host_exec)
        start = time.monotonic()
        obs = self._observe(unchanged)
        if heard:
            obs.inputs = failing_since_heard(obs.inputs, heard)
        inputs = obs.inputs
        snapshot = inputs.snapshot
        p = plan_pass(inputs, obs.config, snapshot.taken_at)
        results = execute(p, [*self.hosts, *obs.leaving], self.transport, self.runtime, store=self.store,
                          fence=store_fence, max_workers=self.project.settings.ssh.max_parallel,
                          drain_seconds=self.project.settings.drain_seconds, sleep=self.sleep,
                          before_batches=check_lease, host_fence=fence)
        if fence is not None and (refused := refused_hosts(results)):  # a stale controller stops here
            self._emit(PassResult(p, snapshot, results, time.monotonic() - start, {}, inputs.desired))
            raise fence.refused(refused)
        self._record(obs, p, results, store_fence)
        events = pass_events(p, results, snapshot, self.config.planner.grace_period, snapshot.taken_at)
        events += self._revisions(p, snapshot.taken_at, store_fence)
        record_events(self.store, events, snapshot.taken_at, store_fence)
        after = self.transport.counters.per_host_exec
        trips = {h.name: after.get(h.name, 0) - before.get(h.name, 0) for h in self.hosts}
        result = PassResult(p, snapshot, results, time.monotonic() - start, trips, inputs.desired,
                            [n for n in p.notices if n not in inputs.book.notices], events)
        self._emit(result)
        return result

    def _record(self, obs: _Observed, p: Plan, results: list[ActionResult], fence: tuple[str, int] | None) -> None:
        """What this pass learnt that the hosts cannot tell the next one, fenced."""
        snapshot, book = obs.inputs.snapshot, obs.inputs.book
        now = snapshot.taken_at
        if self.project.settings.facts_ttl > 0:
            for f in obs.probed:  # what full probes learned, for the light probes of the next passes
                self.store.put(FACTS_PREFIX + f.name, {"at": now, "facts": facts_to_dict(f)}, fence=fence)
        for name, cache in obs.new_containers.items():  # written only when it changed: a no-op pass writes none
            if cache != obs.containers.get(name):
                self.store.put(CONTAINERS_PREFIX + name, cache, fence=fence)
        # Hosts whose images (or anything else static) this pass may have changed: probed fully next.
        touched = {r.host for r in results if r.host and (isinstance(r.action, CreatePod | CopyImage) or not r.ok)}
        for h in sorted(touched):
            self.store.delete(FACTS_PREFIX + h, fence=fence)
        failed_pods = {r.action.pod.name for r in results if isinstance(r.action, CreatePod) and not r.ok}
        failed_pods |= {a.pod.name for a in p.actions if isinstance(a, CreatePod)
                        and not any(r.action is a for r in results)}
        endpoints = {svc: [e for e in eps if e.pod not in failed_pods] for svc, eps in p.endpoints.items()}
        self._store_endpoints(endpoint_records(endpoints), fence)
        pods = believed_pods(snapshot, book, p, results, self.config.planner)
        restarted = [r.action.container for r in results if r.ok and isinstance(r.action, RestartContainer)]
        restarts = next_restarts(book.restarts, restarted, [d for host_pods in pods.values() for d in host_pods])
        new_book = Book(host_failures=p.book["host_failures"], evicted=p.book["evicted"],
                        bindings=p.book["bindings"], assumed=pods,
                        slow_start=next_slow_start(book.slow_start, creation_attempts(results)),
                        backoff=next_backoff(book.backoff, creation_attempts(results, bare=True), now),
                        endpoints={s: [x for x in servers if x.split("@")[0] not in failed_pods]
                                   for s, servers in p.book["endpoints"].items()},
                        proxy_sections=p.book["proxy_sections"],
                        hosts={**{h.name: book.hosts[h.name] for h in obs.leaving if pods.get(h.name)},
                               **{h.name: host_record(h) for h in self.hosts}},
                        notices=list(p.notices), ready_since=p.book.get("ready_since", {}),
                        rollouts=p.book.get("rollouts", {}), restarts=restarts,
                        proxy_renders=p.book.get("proxy_renders", {}),
                        config_volumes=config_volumes_after(book.config_volumes, p.book.get("config_volumes", {}),
                                                            results),
                        config_errors=p.book.get("config_errors", {}),
                        rebalance=p.book.get("rebalance", {}))
        deleted = {r.action.uid for r in results if r.ok and isinstance(r.action, DeletePod)}
        for tombstone, uids in p.book_tombstones.items():  # its pods are gone: the decision is spent
            if deleted.issuperset(uids):
                self.store.delete(keys.tombstone_key(tombstone), fence=fence)
        stored = snapshot.to_dict()
        stored["desired_revision"] = obs.inputs.desired.revision  # what status.observedGeneration says
        stored["inventory_cordoned"] = sorted(h.name for h in self.hosts if h.cordoned)  # for `orc get nodes`
        stored["budgets"] = p.book.get("budgets", {})  # PodDisruptionBudget status, for `orc get pdb`
        stored["pods"] = with_restarts([d for host_pods in pods.values() for d in host_pods], restarts)
        self.store.put(BOOK_KEY, new_book.to_dict(), fence=fence)
        self.store.put(keys.SNAPSHOT, stored, fence=fence)

    def _revisions(self, p: Plan, now: float, fence: tuple[str, int] | None) -> list[ClusterEvent]:
        """Rollout revisions numbered, and autoRollback of a rollout past its progress deadline
        (controllers/revision_upkeep.py), after the pass acted: each rollback is an event and a line."""
        from orchestrator.controllers.revision_upkeep import upkeep

        done = upkeep(self.store, p.book.get("rollouts", {}), self.project.settings.auto_rollback, now, fence)
        for r in done:
            self.events.emit("action", host="store", verb="rolled back", target=r.outcome.target.key,
                             reason=r.message, ok=True, error=None)
        return [ClusterEvent(r.outcome.target.key, "Warning", "DeploymentRollback", r.message) for r in done]

    def _store_endpoints(self, want: dict[str, dict[str, Any]], fence: tuple[str, int] | None) -> None:
        """`_meta/endpoints/<svc>` for `orc get endpoints`, written only when it changed."""
        have = {r.key[len(ENDPOINTS_PREFIX):]: r for r in self.store.list(ENDPOINTS_PREFIX)}
        for name, value in want.items():
            if name not in have or have[name].value != value:
                self.store.put(ENDPOINTS_PREFIX + name, value, fence=fence)
        for name, rec in have.items():
            if name not in want:
                self.store.delete(rec.key, fence=fence)

    def _emit(self, r: PassResult) -> None:
        for res in r.results:
            a = res.action
            if a is None:
                self.events.emit("step", host=res.host, step=res.step, ok=res.ok, error=res.error)
            elif isinstance(a, StoreOp):
                self.events.emit("action", host="store", verb=a.verb, target=a.target, reason=a.reason,
                                 ok=res.ok, error=res.error)
            else:
                self.events.emit("action", host=res.host, verb=a.verb, target=a.target, reason=a.reason,
                                 ok=res.ok, error=res.error)
        for message in r.plan.errors:
            self.events.emit("error", message=message)
        for name in r.unreachable:
            f = r.snapshot.hosts[name]
            self.events.emit("unreachable", host=name, reason=f.reason if not f.reachable else "docker",
                             error=f.error if not f.reachable else f.docker_error)
        for e in r.events:
            self.events.emit("object", **e.to_dict())
        for target, why in sorted(r.plan.pending.items()):
            self.events.emit("pending", target=target, reason=why)


def facts_ttl_of(host: str, ttl: float) -> float:
    """How long `host`'s static facts are reused: between ttl/2 and ttl, by a hash of its name (stable
    across passes and processes), so that refreshes spread over the passes."""
    import zlib

    return ttl * (0.5 + 0.5 * zlib.crc32(host.encode()) / 2**32)


def creation_attempts(results: list[ActionResult], bare: bool = False) -> dict[str, tuple[int, int]]:
    """Controller (with `bare`, also "pod/NAME") -> (pods it tried to create this pass, how many failed)."""
    attempts: dict[str, tuple[int, int]] = {}
    for r in results:
        if isinstance(r.action, CreatePod) and (r.action.pod.owner or bare):
            key = r.action.pod.owner or f"pod/{r.action.pod.name}"
            tried, failed = attempts.get(key, (0, 0))
            attempts[key] = (tried + 1, failed + (not r.ok))
    return attempts


def failing_since_heard(inputs: PassInputs, heard: Mapping[str, float]) -> PassInputs:
    """The inputs, with each host that fails from this pass on failing since it was last heard from."""
    book, snapshot = inputs.book, inputs.snapshot
    new = {h: t for h, t in heard.items() if h in snapshot.hosts and not snapshot.hosts[h].ready
           and h not in book.host_failures and t < snapshot.taken_at}
    if not new:
        return inputs
    return dataclasses.replace(inputs, book=dataclasses.replace(book, host_failures={**book.host_failures, **new}))


def believed_pods(snapshot: ClusterSnapshot, book: Book, p: Plan, results: list[ActionResult],
                  planner: PlannerConfig) -> dict[str, list[dict[str, Any]]]:
    """What runs on each host after this pass, as far as we know: seen pods, less those deleted, plus those
    created; for a host we cannot see yet (within the grace period), what we believed before."""
    deleted = {r.action.uid for r in results if r.ok and isinstance(r.action, DeletePod)}
    created = [r.action for r in results if r.ok and isinstance(r.action, CreatePod)]
    out: dict[str, list[dict[str, Any]]] = {}
    for h, f in snapshot.hosts.items():
        if f.ready:
            pods = [x.to_dict() for x in snapshot.pods if x.host == h and x.uid not in deleted]
            for a in created:
                if a.host == h:
                    view = PodView(a.pod.name, a.pod.uid, h, a.pod.owner, a.pod.spec_hash, a.pod.labels,
                                   "Pending", False, a.pod.requests, (), snapshot.taken_at,
                                   gpu_devices=a.pod.gpu_devices)
                    pods.append({**view.to_dict(), "restarts": 0, "ports": {b.key: b.host_port for b in a.pod.ports},
                                 "containers_ready": f"0/{len(a.pod.spec.containers)}"})
            out[h] = pods
        elif f.verdict == "partition" or (h in p.book["host_failures"]
                                          and snapshot.taken_at - p.book["host_failures"][h]
                                          < planner.grace_for(f.verdict)):
            # cannot be seen, but still there: within the grace period, or reached by its peers
            out[h] = [{**d, "phase": "Unknown", "ready": False} for d in book.assumed.get(h, [])]
    return out
