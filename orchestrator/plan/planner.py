"""plan(desired, snapshot, book, now, config) -> Plan. Pure: no SSH, no clock, seeded randomness only.

The passes, in order (level-triggered, as Kubernetes' controllers):
 1. host health: a host failing probes for longer than the grace period is lost; its pods no longer count
    and are remembered as evicted, so that when it comes back they are removed, never left as duplicates;
 2. what counts: pods seen on ready hosts (incomplete, failed and evicted ones are removed instead), plus
    pods assumed on hosts we cannot see but have not yet given up (the expectations that keep a lagging
    view from creating twice); duplicates of one pod name keep one instance;
 3. controllers: each replication controller creates what is missing and deletes extras (unready first,
    then on the host with most of its pods, then the newest); pods whose controller is gone are deleted;
    after failed creations a controller creates in doubling batches (1, 2, 4, ...), Kubernetes' slow start,
    so a bad image or a full disk costs one attempt per pass, not one per missing pod;
    a controller's pods on a leaving host (one that left the inventory, or one `orc drain` drains) are
    replaced elsewhere first and evicted once the replacements are ready, each only while the
    PodDisruptionBudgets that pick it allow (plan/disruption.py), which a rolling update's removal of an
    old ready pod honours too;
    with orc.yaml `rebalance:` on and a window open, steady controllers' pods are moved to restore the
    scheduler's spread, replacement first, old pod once it is ready and the budgets allow (plan/moves.py);
 4. bare pods: scheduled once and bound; recreated on their host if they vanish from it; a changed spec
    replaces the pod on the same host; a pod no longer desired is deleted;
 5. placement: all new pods in one scheduler batch, so each placement is accounted before the next.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace

from orchestrator.controllers.book import Book
from orchestrator.controllers.desired import DesiredState
from orchestrator.controllers.placement import node_info, placed_pod, pod_request, requests_of
from orchestrator.model.helpers import spec_hash
from orchestrator.model.pod import PodSpec
from orchestrator.observe.snapshot import ClusterSnapshot
from orchestrator.plan.disruption import BUDGET_VIOLATION, Disruptions
from orchestrator.plan.moves import plan_moves
from orchestrator.plan.ports import assign_ports, needs_ports, taken_ports
from orchestrator.plan.rebalance import RebalanceConfig
from orchestrator.plan.rollout import status, step, strategy_of
from orchestrator.plan.types import (
    ContinuePod,
    CreatePod,
    DeletePod,
    Plan,
    PodRun,
    RemoveOrphan,
    RestartContainer,
)
from orchestrator.plan.views import PodView
from orchestrator.scheduler import SchedulerConfig

SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' generateName alphabet: no vowels, no 0/1/3


@dataclass(frozen=True)
class PlannerConfig:
    grace_period: float = 40.0
    # a host no peer reaches either (verdict "down") is lost after this instead (--watch), when set
    down_grace_period: float | None = None
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    reap_orphans: bool = False
    cordoned: frozenset[str] = frozenset()
    # Hosts that left the inventory but still run pods of ours: cordoned, and drained by handover (each
    # controller's pods there are replaced elsewhere first, and stopped once the replacements are ready).
    leaving: frozenset[str] = frozenset()
    # Of those, the hosts still in the inventory that `orc drain` drains (the same handover; other words).
    drained: frozenset[str] = frozenset()
    drain_grace: tuple[tuple[str, int], ...] = ()  # (host, seconds): `orc drain --grace-period` for its pods
    pod_ports: range = range(20000, 30000)  # where pods' container ports are published on their hosts
    disruption_threshold: float = 0.5  # more than this share of hosts failing at once: nothing is replaced
    rebalance: RebalanceConfig = field(default_factory=RebalanceConfig)  # orc.yaml `rebalance:` (plan/moves.py)

    def grace_for(self, verdict: str) -> float:
        """Seconds a failing host with this multi-vantage verdict is waited for before it is lost."""
        if verdict == "down" and self.down_grace_period is not None:
            return self.down_grace_period
        return self.grace_period


@dataclass
class _Pending:
    name: str
    owner: str | None
    labels: dict[str, str]
    spec: PodSpec
    spec_hash: str
    reason: str
    node_name: str | None = None  # pinned (bare pod bound to its host)


def plan(desired: DesiredState, snapshot: ClusterSnapshot, book: Book, now: float,
         config: PlannerConfig | None = None, seed: int | None = None) -> Plan:
    config = config or PlannerConfig()
    rng = random.Random(int(now * 1000) if seed is None else seed)
    out = Plan()

    # 1. host health
    ready = {h for h, f in snapshot.hosts.items() if f.ready}
    # A host its peers reach is not failing: only the controller's path to it is (observe/vantage.py).
    partitioned = {h for h, f in snapshot.hosts.items() if not f.ready and f.verdict == "partition"}
    failures = {h: book.host_failures.get(h, now) for h, f in snapshot.hosts.items()
                if not f.ready and h not in partitioned}
    lost = {h for h, since in failures.items() if now - since >= config.grace_for(snapshot.hosts[h].verdict)}
    for h in sorted(partitioned):
        f = snapshot.hosts[h]
        out.notices.append(f"host {h} is unreachable from this controller only (reached by "
                           f"{', '.join(p for p, a in f.peers.items() if a == 'ok')}): its pods are kept and "
                           "nothing is replaced; the controller's path to it is at fault")
    if lost and len(failures) > config.disruption_threshold * len(snapshot.hosts):
        out.notices.append(f"full disruption: {len(failures)} of {len(snapshot.hosts)} hosts fail at once "
                            f"(more than {config.disruption_threshold:.0%}): no pod is replaced, as the "
                            "controller's own network is the likelier cause (orc.yaml disruption_threshold)")
        lost = set()
    unknown = (set(failures) | partitioned) - lost
    # Only controllers' pods are replaced (and so evicted); a bare pod waits for its host and is kept as it
    # is when the host comes back.
    replaced = {h: [d for d in book.assumed.get(h, []) if d.get("owner")] for h in lost}
    for h in sorted(lost):
        if replaced[h]:
            out.warnings.append(f"host {h} lost (failing for {now - failures[h]:.0f}s): "
                                f"{len(replaced[h])} pods replaced elsewhere")
    evicted = dict(book.evicted)
    for h in lost:
        for d in replaced[h]:
            evicted[d["uid"]] = h

    # 2. what counts
    seen = [PodView.of(p) for p in snapshot.pods if p.host in ready]
    counted: list[PodView] = []
    for v in seen:
        if v.uid in evicted:
            out.actions.append(DeletePod(v.host, v.name, v.uid, "its host was lost and the pod replaced", v.grace))
        elif v.phase == "Incomplete":
            out.actions.append(DeletePod(v.host, v.name, v.uid, "incomplete (a container is missing)", v.grace))
        elif v.phase == "SandboxChanged":
            out.actions.append(DeletePod(v.host, v.name, v.uid, "its infra container restarted: the pod lost "
                                         "its network namespace", v.grace))
        elif v.phase == "Failed" and v.owner:
            out.actions.append(DeletePod(v.host, v.name, v.uid, "failed", v.grace))
        else:
            counted.append(v)
    counted += [PodView.from_dict(d) for h in sorted(unknown) for d in book.assumed.get(h, [])]
    counted = _dedupe(counted, out)
    # a pod still labelled with the key an older orc stored its controller under counts as that controller's
    counted = [replace(v, owner=desired.owner_of(v.owner, v.uid)) for v in counted]
    for p in snapshot.pods:
        if p.host in ready and p.complete:
            for c in p.unhealthy:
                why = "startup probe failed" if p.startup_failed(c) else "liveness probe failed"
                out.actions.append(RestartContainer(p.host, p.name, c.name, why, p.grace))
            nxt = p.init_next
            if nxt is not None and p.uid not in evicted:
                out.actions.append(ContinuePod(p.host, p.name, p.uid, p.init_expected, p.expected,
                                               f"init container {nxt} is next" if nxt else "init containers done"))
    for host, c in snapshot.orphans:
        if config.reap_orphans:
            out.actions.append(RemoveOrphan(host, c.name))
        else:
            out.notices.append(f"orphan container {c.name} on {host} (labelled as ours, no pod): "
                                "`orc reconcile --reap-orphans` removes it")

    pending: list[_Pending] = []
    deleting: set[str] = set()
    taken_names = {v.name for v in counted} | {v.name for v in seen}

    # Since when each pod is ready (for minReadySeconds): its last container start when it has no readiness
    # check (docker then calls it ready at once), else the first pass that saw it ready.
    ready_since = {v.uid: (v.ready_at or book.ready_since.get(v.uid) or now) for v in counted if v.ready}

    def available(v: PodView) -> bool:
        w = desired.workloads.get(v.owner or "")
        min_ready = (w.spec.min_ready_seconds or 0) if w is not None else 0
        return v.ready and now - ready_since.get(v.uid, now) >= min_ready

    # PodDisruptionBudgets: a drain's evictions and a rolling update's removals spend them (plan/disruption.py)
    disruptions = Disruptions.of(desired.budgets, counted, desired.workloads)

    # 3. replication controllers (rebalance moves first: their old pods are out of their controllers' counts)
    moves = plan_moves(desired, snapshot, book, counted, ready, config, available, disruptions, deleting, now, rng,
                       lambda base: _new_name(base, taken_names, rng), out)
    by_owner: dict[str, list[PodView]] = defaultdict(list)
    for v in counted:
        if v.owner:
            by_owner[v.owner].append(v)
    rollouts: dict[str, dict] = {}  # rolling controller -> its status, as this pass sees it
    hold: set[str] = set()  # controllers whose new pods are not served until their leaving pods are gone
    for key, w in sorted(desired.workloads.items()):
        moving = moves.uids(key)
        mine = [v for v in by_owner.get(key, []) if v.host not in config.leaving and v.uid not in moving]
        going = [v for v in by_owner.get(key, []) if v.host in config.leaving]
        if going:
            ready_here = sum(1 for v in mine if v.ready)
            where = ", ".join(sorted({v.host for v in going}))
            left = ("being drained" if all(v.host in config.drained for v in going) else
                    "that left the inventory" if not any(v.host in config.drained for v in going) else
                    "being drained or that left the inventory")
            if ready_here >= w.replicas:
                refused = []
                for v in going:
                    if not v.seen:
                        continue
                    budget = disruptions.evict(v)
                    if budget is not None:
                        refused.append(v)
                        out.refused_evictions[v.name] = f"{BUDGET_VIOLATION} ({budget.why()})"
                        continue
                    deleting.add(v.uid)
                    gone = "is drained" if v.host in config.drained else "left the inventory"
                    grace = dict(config.drain_grace).get(v.host, v.grace)
                    out.actions.append(DeletePod(v.host, v.name, v.uid, f"{key}: its host {gone} and a ready "
                                                 "replacement runs elsewhere", grace))
                if refused:
                    out.pending[f"{key}: handover"] = (
                        f"{len(refused)} pods on hosts {left} ({where}) keep running: "
                        + "; ".join(f"{v.name}: {out.refused_evictions[v.name]}" for v in refused))
            else:
                hold.add(key)
                out.pending[f"{key}: handover"] = (
                    f"{len(going)} pods on hosts {left} ({where}) "
                    f"keep serving until {w.replicas} pods are ready elsewhere ({ready_here} now)")
        template_hash = spec_hash(w.template)
        strategy = strategy_of(w)
        new = [v for v in mine if v.spec_hash == template_hash]
        if strategy is not None:
            rollouts[key] = status(w, strategy, template_hash, mine, available, book.rollouts.get(key, {}), now,
                                   desired.revision)
        old = [v for v in mine if v.spec_hash != template_hash] if strategy is not None else []
        if old and strategy is not None and not strategy.paused:
            st = step(strategy, w.replicas, new, old, available, _victims)
            diff = st.create
            why = f"{key}: rollout, {len(new)}/{w.replicas} updated"
            out.pending[f"{key}: rollout"] = st.waiting
            held = []
            for v in list(st.delete):
                if v in old and (budget := disruptions.remove(v)) is not None:
                    st.delete.remove(v)
                    held.append(f"{v.name}: {budget.why()}")
            if held:
                out.pending[f"{key}: rollout"] = st.waiting + "; old pods kept: " + "; ".join(held)
            for v in st.delete:
                deleting.add(v.uid)
                reason = (f"{key}: extra ({len(new)}/{w.replicas} updated)" if v in new else
                          f"{key}: replaced by the new template ({strategy.type})")
                out.actions.append(DeletePod(v.host, v.name, v.uid, reason, v.grace))
        else:
            if old:
                # a steady state, not work left: a notice (printed once), so `reconcile --wait` converges
                out.notices.append(f"{key}: rollout paused: {len(old)} of {len(mine)} pods run an older "
                                   "template (`paused: false` resumes it)")
            diff = w.replicas - len(mine)
            why = f"{key}: {len(mine)}/{w.replicas} replicas"
            if diff < 0:
                for v in _victims(mine, -diff):
                    deleting.add(v.uid)
                    out.actions.append(DeletePod(v.host, v.name, v.uid, why, v.grace))
        wait = book.backoff.get(key)
        if diff > 0 and wait is not None and now < wait["until"]:
            out.pending[key] = (f"{diff} missing pods wait: creations failed; next try in "
                                f"{wait['until'] - now:.0f}s (back-off {wait['delay']:.0f}s, doubling to 5m)")
            diff = 0
        if diff > 0:
            batch = book.slow_start.get(key)
            if batch is not None and diff > batch:
                out.pending[key] = (f"{diff - batch} of {diff} missing pods wait: creations failed before, "
                                    f"so this pass tries {batch} (slow start)")
                diff = batch
            pins = moves.create.get(key, [])  # a move's replacement goes where the scheduler said it improves
            for i in range(diff):
                m = pins[i] if i < len(pins) else None
                name = m.replacement if m else _new_name(w.name, taken_names, rng)
                pending.append(_Pending(name, key, dict(w.template.labels), w.template.spec, template_hash,
                                        f"{key}: {m.line}" if m else why, m.target if m else None))
    orphaned: dict[str, list[PodView]] = defaultdict(list)  # owner unknown to the store -> its pods
    for owner, pods in sorted(by_owner.items()):
        if owner in desired.workloads:
            continue
        if owner in desired.tombstones:
            why = f"{owner} was deleted"
        elif config.reap_orphans:
            why = f"orphan: its owner {owner} is unknown to the store (--reap-orphans)"
        else:
            orphaned[owner] += pods
            continue
        for v in pods:
            if v.seen:
                deleting.add(v.uid)
                out.actions.append(DeletePod(v.host, v.name, v.uid, why, v.grace))

    # 4. bare pods
    bindings = {n: h for n, h in book.bindings.items() if n in desired.pods}
    bare = {v.name: v for v in counted if not v.owner}
    for name, pod in sorted(desired.pods.items()):
        want = spec_hash(pod.spec)
        seen_pod = bare.get(name)
        bound = bindings.get(name)
        if seen_pod is not None:
            v = seen_pod
            bindings[name] = v.host
            if v.seen and v.spec_hash != want:
                deleting.add(v.uid)
                out.actions.append(DeletePod(v.host, v.name, v.uid, "spec changed: replaced on the same host", v.grace))
                pending.append(_Pending(name, None, dict(pod.labels), pod.spec, want, "spec changed", v.host))
        elif bound in lost:
            out.pending[f"pod/{name}"] = f"its host {bound} was lost (a bare pod is not rescheduled)"
        elif bound in unknown:
            pass  # its host cannot be seen yet: wait
        elif (wait := book.backoff.get(f"pod/{name}")) is not None and now < wait["until"]:
            out.pending[f"pod/{name}"] = (f"its creation failed; next try in {wait['until'] - now:.0f}s "
                                          f"(back-off {wait['delay']:.0f}s, doubling to 5m)")
        else:
            pin = bound if bound in ready else pod.spec.node_name
            pending.append(_Pending(name, None, dict(pod.labels), pod.spec, want, "not running", pin))
    for name, v in sorted(bare.items()):
        if name in desired.pods or not v.seen:
            continue
        if f"pod/{name}" in desired.tombstones:
            why = "pod was deleted"
        elif config.reap_orphans:
            why = "orphan: a pod the store does not know (--reap-orphans)"
        else:
            orphaned["pod"].append(v)
            continue
        deleting.add(v.uid)
        out.actions.append(DeletePod(v.host, v.name, v.uid, why, v.grace))
    out.notices += _orphan_notices(orphaned) + _foreign_notices(snapshot)

    # 5. placement
    if pending:
        _place(pending, snapshot, ready, counted, deleting, config, rng, out, bindings)
    out.moves = moves.shown
    out.hold_back = frozenset(a.pod.uid for a in out.actions if isinstance(a, CreatePod) and a.pod.owner in hold)

    # Tombstones whose pods are all gone once this plan's deletes succeed (none on a host we cannot see).
    out.book_tombstones = {
        t: sorted({v.uid for v in counted + seen if (v.owner or f"pod/{v.name}") == t})
        for t in sorted(desired.tombstones) if not t.startswith("svc/")  # a service's: see pass_plan
        and not any((v.owner or f"pod/{v.name}") == t and (not v.seen or v.uid not in deleting) for v in counted)
        and not any((desired.owner_of(d.get("owner"), str(d.get("uid"))) or f"pod/{d.get('name')}") == t
                    for h in snapshot.hosts if h not in ready for d in book.assumed.get(h, []))}
    out.book = {
        "host_failures": failures,
        "evicted": {u: h for u, h in evicted.items() if h not in ready or any(v.uid == u for v in seen)},
        "bindings": bindings,
        "ready_since": ready_since,
        "rollouts": rollouts,
        "rebalance": moves.book(a.pod.name for a in out.actions if isinstance(a, CreatePod)),
        "budgets": {b.name: b.status() for b in Disruptions.of(desired.budgets, counted, desired.workloads).budgets},
    }
    return out


def _hosts(views: list[PodView]) -> str:
    names = sorted({v.host for v in views})
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _orphan_notices(orphaned: dict[str, list[PodView]]) -> list[str]:
    """One line per unknown owner, stable from pass to pass (so it is printed once, when it appears)."""
    out = []
    for owner, pods in sorted(orphaned.items()):
        if owner == "pod":
            names = ", ".join(sorted(v.name for v in pods))
            out.append(f"{len(pods)} orphan bare pod(s) the store does not know ({names}) on {_hosts(pods)}: left "
                       "running; apply them again to adopt them, or `orc reconcile --reap-orphans` removes them")
        else:
            out.append(f"{len(pods)} orphan pod(s) of {owner}, an owner the store does not know, on {_hosts(pods)}: "
                       f"left running; apply {owner} again to adopt them, or `orc reconcile --reap-orphans` "
                       "removes them")
    return out


def _foreign_notices(snapshot: ClusterSnapshot) -> list[str]:
    out = []
    for cluster, hosts in sorted(snapshot.foreign_summary().items()):
        n = sum(hosts.values())
        names = sorted(hosts)
        where = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        whose = (f"of another cluster ({cluster})" if cluster else
                 "without a cluster label (made by an older orc, or by hand)")
        out.append(f"{n} pod(s) {whose} on {where}: not counted, adopted, proxied or removed by this cluster "
                   f"({snapshot.cluster})")
    return out


def _dedupe(views: list[PodView], out: Plan) -> list[PodView]:
    """One instance per pod name: keep the one seen, ready, oldest; delete the others we can reach."""
    groups: dict[str, list[PodView]] = defaultdict(list)
    for v in views:
        groups[v.name].append(v)
    keep = []
    for name, vs in groups.items():
        vs.sort(key=lambda v: (not v.seen, not v.ready, v.started_at or float("inf"), v.uid))
        keep.append(vs[0])
        for extra in vs[1:]:
            if extra.seen:
                out.actions.append(DeletePod(extra.host, name, extra.uid, f"duplicate of {name} on {vs[0].host}", extra.grace))
    return keep


def _victims(pods: list[PodView], n: int) -> list[PodView]:
    """Which extras to delete: reachable ones only; unready first, then from the host running most of the
    controller's pods, then the newest."""
    per_host = Counter(v.host for v in pods)
    candidates = [v for v in pods if v.seen]
    candidates.sort(key=lambda v: (v.ready, -per_host[v.host], -(v.started_at or 0), v.name))
    return candidates[:n]


def _new_name(base: str, taken: set[str], rng: random.Random) -> str:
    while True:
        name = f"{base}-{''.join(rng.choice(SUFFIX_ALPHABET) for _ in range(5))}"
        if name not in taken:
            taken.add(name)
            return name


def _place(pending: list[_Pending], snapshot: ClusterSnapshot, ready: set[str], counted: list[PodView],
           deleting: set[str], config: PlannerConfig, rng: random.Random, out: Plan,
           bindings: dict[str, str]) -> None:
    placed: dict[str, list] = defaultdict(list)
    for v in counted:
        if v.uid not in deleting:
            placed[v.host].append(placed_pod(v.name, v.owner, v.labels, v.requests, v.host_ports, v.gpu_devices))
    for _, fp in snapshot.foreign:  # another cluster's pods take their host's resources, ports and GPUs (their
        # labels are theirs: no affinity or spread of ours counts them)
        placed[fp.host].append(placed_pod(fp.name, None, {}, fp.requests, fp.host_ports, fp.gpu_devices))
    nodes = [node_info(f, placed.get(h, []), cordoned=h in config.cordoned or h in config.leaving)
             for h, f in sorted(snapshot.hosts.items())]
    requests = []
    for p in pending:
        req = pod_request(p.name, p.owner, p.labels, p.spec)
        if p.node_name and p.node_name != req.node_name:
            req = type(req)(**{**req.__dict__, "node_name": p.node_name})
        requests.append(req)
    from orchestrator.scheduler import schedule  # numpy: only in a pass that places something

    result = schedule(requests, nodes, config.scheduler, seed=rng.getrandbits(32))
    by_name = {p.name: p for p in pending}
    taken = {h: taken_ports(f) for h, f in snapshot.hosts.items()}
    for pl in result.placements:
        p = by_name[pl.pod.name]
        key = f"pod/{p.name}" if p.owner is None else f"{p.owner}: pod {p.name}"
        address = snapshot.hosts[pl.node].bind_address
        if needs_ports(p.spec) and not address:
            out.pending[key] = (f"host {pl.node} has no cluster address to publish the pod's ports on: set "
                                "orc_bind_address for it in the inventory (or an IP as ansible_host)")
            continue
        ports = assign_ports(p.spec, address, taken[pl.node], config.pod_ports)
        if ports is None:
            out.pending[key] = (f"host {pl.node} has no free port left in the pod port range "
                                f"{config.pod_ports.start}-{config.pod_ports.stop - 1} (orc.yaml pod_port_range)")
            continue
        run = PodRun(name=p.name, uid=str(uuid.UUID(int=rng.getrandbits(128), version=4)), owner=p.owner,
                     labels=p.labels, spec=p.spec, spec_hash=p.spec_hash, requests=requests_of(p.spec),
                     gpu_devices=tuple(pl.gpu_devices), ports=ports)
        out.actions.append(CreatePod(pl.node, run, p.reason))
        if p.owner is None:
            bindings[p.name] = pl.node
    for u in result.unschedulable:
        p = by_name[u.pod.name]
        key = f"pod/{p.name}" if p.owner is None else f"{p.owner}: pod {p.name}"
        out.pending[key] = u.message
