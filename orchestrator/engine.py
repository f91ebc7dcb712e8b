"""One reconcile pass: observe every host (one round trip each) → plan (pure) → act (one round trip per
host with work) → record what the hosts cannot tell us. `--watch` repeats it on docker events and timers."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.act.events import EventLog
from orchestrator.act.executor import ActionResult, Runtime, execute, refused_hosts
from orchestrator.act.fence import HostFence
from orchestrator.config import Project
from orchestrator.controllers.book import BOOK_KEY, Book, next_slow_start
from orchestrator.controllers.desired import DesiredState, load_desired
from orchestrator.inventory.host import Host
from orchestrator.observe.facts import HostFacts
from orchestrator.observe.hosts import probe_all
from orchestrator.observe.probe import facts_from_dict, facts_to_dict
from orchestrator.observe.snapshot import ClusterSnapshot
from orchestrator.plan.planner import PlannerConfig, plan
from orchestrator.plan.types import CreatePod, DeletePod, Plan, PodRun
from orchestrator.plan.views import PodView
from orchestrator.proxy.discovery import hosts_file_path
from orchestrator.proxy.sync import ENDPOINTS_PREFIX, ServicePass, endpoint_records, prepare, probe_steps
from orchestrator.scheduler import SchedulerConfig
from orchestrator.secrets import SecretSource
from orchestrator.store import keys
from orchestrator.transport.base import Transport

PUSHED = "pushed image"
FACTS_PREFIX = "_meta/facts/"  # host -> {"at": time, "facts": static facts of its last full probe}


@dataclass
class PassResult:
    plan: Plan
    snapshot: ClusterSnapshot
    results: list[ActionResult] = field(default_factory=list)
    duration: float = 0.0
    round_trips: dict[str, int] = field(default_factory=dict)  # host -> exec channels this pass
    desired: DesiredState | None = None
    proxy: ServicePass | None = None

    @property
    def changed(self) -> bool:
        return bool(self.results)

    @property
    def failed(self) -> list[ActionResult]:
        return [r for r in self.results if not r.ok]

    @property
    def unreachable(self) -> list[str]:
        """Hosts that could not be worked on: unreachable, or reachable with docker not answering."""
        return sorted(h for h, f in self.snapshot.hosts.items() if not f.ready)


class Engine:
    def __init__(self, project: Project, hosts: Sequence[Host], transport: Transport, store: Any,
                 events: EventLog | None = None, clock: Callable[[], float] = time.time,
                 reap_orphans: bool = False):
        self.project = project
        self.hosts = list(hosts)
        self.transport = transport
        self.store = store
        self.events = events or EventLog()
        self.clock = clock
        s = project.settings
        self.runtime = Runtime(s.infra_image, tuple(s.infra_command))
        self.config = PlannerConfig(grace_period=s.grace_period, scheduler=SchedulerConfig.from_dict(s.scheduler),
                                    reap_orphans=reap_orphans)

    def observe(self, unchanged: dict[str, HostFacts] | None = None,
                fence: tuple[str, int] | None = None) -> ClusterSnapshot:
        """Probe every host, except those in `unchanged`: hosts whose docker event stream has been open
        and silent since they were last probed (`--watch`), whose facts are taken as they were."""
        unchanged = unchanged or {}
        cached = self._cached_facts()
        probed = probe_all(self.transport, [h for h in self.hosts if h.name not in unchanged],
                           max_workers=self.project.settings.ssh.max_parallel, extra=probe_steps, cached=cached)
        now = self.clock()
        for f in probed:  # remember what full probes learned, for the light probes of the next passes
            if f.name not in cached and f.ready and self.project.settings.facts_ttl > 0:
                self.store.put(FACTS_PREFIX + f.name, {"at": now, "facts": facts_to_dict(f)}, fence=fence)
        by_name = {f.name: f for f in probed} | unchanged
        return ClusterSnapshot.build([by_name[h.name] for h in self.hosts], now)

    def _cached_facts(self) -> dict[str, HostFacts]:
        """Static facts of hosts fully probed less than `facts_ttl` ago."""
        ttl = self.project.settings.facts_ttl
        if ttl <= 0:
            return {}
        by_name = {h.name: h for h in self.hosts}
        now = self.clock()
        out = {}
        for rec in self.store.list(FACTS_PREFIX):
            host = by_name.get(rec.key[len(FACTS_PREFIX):])
            if host is not None and now - float(rec.value.get("at", 0)) < ttl:
                out[host.name] = facts_from_dict(host, rec.value["facts"])
        return out

    def _forget_facts(self, hosts: set[str], fence: tuple[str, int] | None = None) -> None:
        """Hosts whose images (or anything else static) this pass may have changed: probe them fully next."""
        for h in sorted(hosts):
            self.store.delete(FACTS_PREFIX + h, fence=fence)

    def services(self, desired: DesiredState, snapshot: ClusterSnapshot, p: Plan, dry_run: bool,
                 fence: tuple[str, int] | None = None) -> ServicePass:
        """Addresses, endpoints and each host's proxy steps; new pods get the discovery env and hosts file."""
        leaving = {a.uid for a in p.actions if isinstance(a, DeletePod)}
        sp = prepare(self.store, desired.services, snapshot, self.hosts, self.project.settings.proxy,
                     self.project.templates_path, leaving, dry_run=dry_run, fence=fence)
        by_name = {h.name: h for h in self.hosts}
        source = SecretSource.load(self.project.secrets_path)
        actions = []
        for a in p.actions:
            if isinstance(a, CreatePod):
                secret_env, missing = resolve_secrets(a.pod, source)
                if missing:  # the pod cannot start as asked: it waits, as Kubernetes' would
                    p.pending[a.target] = missing
                    continue
                a = dataclasses.replace(a, pod=dataclasses.replace(
                    a.pod, env={**sp.env, **a.pod.env}, hosts_file=hosts_file_path(by_name[a.host]),
                    secret_env=secret_env))
            actions.append(a)
        p.actions = actions
        for where, msg in sp.errors:
            p.warnings.append(f"{where}: {msg}")
        return sp

    def book(self) -> Book:
        rec = self.store.get(BOOK_KEY)
        return Book.from_dict(rec.value if rec else None)

    def plan(self) -> PassResult:
        """Observe and plan; nothing executed (`orc plan`)."""
        start = time.monotonic()
        desired = load_desired(self.store)
        snapshot = self.observe()
        p = plan(desired, snapshot, self.book(), snapshot.taken_at, self.config)
        sp = self.services(desired, snapshot, p, dry_run=True)
        return PassResult(p, snapshot, duration=time.monotonic() - start, desired=desired, proxy=sp)

    def run_pass(self, fence: HostFence | None = None,
                 unchanged: dict[str, HostFacts] | None = None) -> PassResult:
        """One pass. With `fence` (the controller's lease), every store write is fenced, the lease is checked
        before each act phase and every mutating batch opens with the host-side fence (`act/fence.py`)."""
        before = dict(self.transport.counters.per_host_exec)
        start = time.monotonic()
        store_fence = fence.store_fence if fence is not None else None
        desired = load_desired(self.store)
        book = self.book()
        snapshot = self.observe(unchanged, store_fence)
        p = plan(desired, snapshot, book, snapshot.taken_at, self.config)
        sp = self.services(desired, snapshot, p, dry_run=False, fence=store_fence)
        if fence is not None and p.actions:
            fence.check()  # before the image copies
        results = self.ensure_images(p, snapshot)
        if p.actions or any(sp.steps.values()):
            results += execute(p, self.hosts, self.transport, self.runtime, extra=sp.steps,
                               max_workers=self.project.settings.ssh.max_parallel, fence=fence)
        if fence is not None and (refused := refused_hosts(results)):  # a stale controller stops here
            self._emit(PassResult(p, snapshot, results, time.monotonic() - start, {}, desired, sp))
            raise fence.refused(refused)
        self._store_endpoints(sp, store_fence)
        self._forget_facts({r.host for r in results if isinstance(r.action, CreatePod) or not r.ok
                            or r.step.startswith(PUSHED)}, store_fence)
        pods = believed_pods(snapshot, book, p, results, self.config.grace_period)
        new_book = Book(host_failures=p.book["host_failures"], evicted=p.book["evicted"],
                        bindings=p.book["bindings"], assumed=pods,
                        slow_start=next_slow_start(book.slow_start, creation_attempts(results)))
        stored = snapshot.to_dict()
        stored["pods"] = [d for host_pods in pods.values() for d in host_pods]
        self.store.put(BOOK_KEY, new_book.to_dict(), fence=store_fence)
        self.store.put(keys.SNAPSHOT, stored, fence=store_fence)
        after = self.transport.counters.per_host_exec
        trips = {h.name: after.get(h.name, 0) - before.get(h.name, 0) for h in self.hosts}
        result = PassResult(p, snapshot, results, time.monotonic() - start, trips, desired, sp)
        self._emit(result)
        return result

    def _store_endpoints(self, sp: ServicePass, fence: tuple[str, int] | None) -> None:
        """`_meta/endpoints/<svc>` for `orc get endpoints`, written only when it changed."""
        want = endpoint_records(sp)
        have = {r.key[len(ENDPOINTS_PREFIX):]: r for r in self.store.list(ENDPOINTS_PREFIX)}
        for name, value in want.items():
            if name not in have or have[name].value != value:
                self.store.put(ENDPOINTS_PREFIX + name, value, fence=fence)
        for name, rec in have.items():
            if name not in want:
                self.store.delete(rec.key, fence=fence)

    def ensure_images(self, p: Plan, snapshot: ClusterSnapshot) -> list[ActionResult]:
        """Images a planned pod needs but its host lacks are copied from a host that has them (deploying
        without a registry); with no such host, docker pulls them when the pod starts."""
        if not hasattr(self.transport, "channel"):
            return []
        from orchestrator.images import push

        need: dict[str, set[str]] = {}
        for a in p.actions:
            if isinstance(a, CreatePod):
                images = [*(c.image for c in a.pod.spec.containers if c.image), self.runtime.infra_image]
                for img in images:
                    if normalize_image(img) not in snapshot.hosts[a.host].images:
                        need.setdefault(normalize_image(img), set()).add(a.host)
        results: list[ActionResult] = []
        by_name = {h.name: h for h in self.hosts}
        for img, targets in sorted(need.items()):
            src = next((by_name[h] for h, f in sorted(snapshot.hosts.items()) if f.ready and img in f.images), None)
            if src is None:
                continue
            for r in push(self.transport, img, [by_name[h] for h in sorted(targets)], src):
                results.append(ActionResult(None, r.host, r.ok, f"{PUSHED} {img} from {src.name}", r.error))
        return results

    def _emit(self, r: PassResult) -> None:
        for res in r.results:
            a = res.action
            if a is None:
                self.events.emit("step", host=res.host, step=res.step, ok=res.ok, error=res.error)
            else:
                self.events.emit("action", host=res.host, verb=a.verb, target=a.target, reason=a.reason,
                                 ok=res.ok, error=res.error)
        for target, why in sorted(r.plan.pending.items()):
            self.events.emit("pending", target=target, reason=why)


def normalize_image(image: str) -> str:
    """As `docker images` lists it: `nginx` is `nginx:latest`."""
    last = image.rsplit("/", 1)[-1]
    return image if ":" in last or "@" in last else f"{image}:latest"


def resolve_secrets(pod: PodRun, source: SecretSource) -> tuple[dict[str, dict[str, str]], str]:
    """Container -> var -> value for the pod's secretKeyRefs, or a message naming what is missing (never a
    value)."""
    out: dict[str, dict[str, str]] = {}
    for c in pod.spec.containers:
        for e in c.env or []:
            ref = e.value_from.secret_key_ref if e.value_from else None
            if ref is None:
                continue
            value = source.get(ref.name, ref.key)
            if value is not None:
                out.setdefault(c.name, {})[e.name] = value
            elif not ref.optional:
                return {}, f'secret "{ref.name}" key "{ref.key}" is not in {source.where()}'
    return out, ""


def creation_attempts(results: list[ActionResult]) -> dict[str, tuple[int, int]]:
    """Controller -> (pods it tried to create this pass, how many failed)."""
    attempts: dict[str, tuple[int, int]] = {}
    for r in results:
        if isinstance(r.action, CreatePod) and r.action.pod.owner:
            tried, failed = attempts.get(r.action.pod.owner, (0, 0))
            attempts[r.action.pod.owner] = (tried + 1, failed + (not r.ok))
    return attempts


def believed_pods(snapshot: ClusterSnapshot, book: Book, p: Plan, results: list[ActionResult],
                  grace: float) -> dict[str, list[dict[str, Any]]]:
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
                                   "Pending", False, a.pod.requests, (), snapshot.taken_at)
                    pods.append({**view.to_dict(), "restarts": 0, "ports": {},
                                 "containers_ready": f"0/{len(a.pod.spec.containers)}"})
            out[h] = pods
        elif h in p.book["host_failures"] and snapshot.taken_at - p.book["host_failures"][h] < grace:
            out[h] = [{**d, "phase": "Unknown", "ready": False} for d in book.assumed.get(h, [])]
    return out
