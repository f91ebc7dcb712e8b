"""The planner's rebalance step (plan/rebalance.py says when and by what measure). Pure.

A move is made surge-first, as a drain's handover: its replacement is created on the target host the
scheduler chooses (with the moving pod left out of the count), and the old pod is deleted only once the
replacement is ready and every pod of the controller is available, through the same PodDisruptionBudget
check a drain's eviction passes (plan/disruption.py), after the proxies dropped it. Only steady controllers
move (no rollout under way, as many pods as replicas, all available and seen, none leaving, no back-off),
only while rebalance is enabled and a window is open, and at most `max_moves_per_pass` pods are being moved
at once. Moves under way are kept in the book (`rebalance`: old pod uid -> move) so the next pass (cron)
finishes them, also after the window closed; one whose target no longer improves the spread, whose
replacement is gone, or whose controller changed is dropped (the controller's own count then removes an
extra pod, if any)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from orchestrator.controllers.book import Book
from orchestrator.controllers.desired import DesiredState
from orchestrator.controllers.placement import node_info, placed_pod, pod_request
from orchestrator.model.helpers import spec_hash
from orchestrator.observe.snapshot import ClusterSnapshot
from orchestrator.plan.disruption import BUDGET_VIOLATION, Disruptions
from orchestrator.plan.rebalance import Topology, candidates, improves, moved, spread_reason
from orchestrator.plan.rollout import strategy_of
from orchestrator.plan.types import DeletePod, Plan
from orchestrator.plan.views import PodView

if TYPE_CHECKING:
    from orchestrator.plan.planner import PlannerConfig

MOVE_DEADLINE = 600.0  # seconds a move's replacement has to become ready (progressDeadlineSeconds' default)


@dataclass(frozen=True)
class Move:
    owner: str  # "deploy/web"
    pod: str  # the pod that moves
    uid: str
    source: str
    target: str
    why: str  # "spread (lab1 has 2 of 4, lab4 none)"
    replacement: str  # the new pod's name
    since: float = 0.0
    state: str = "started"  # started | waiting | finishing | refused | dropped

    @property
    def line(self) -> str:
        return f"move pod {self.pod} from {self.source} to {self.target}: {self.why}"

    def describe(self) -> str:
        """What `orc plan` and `orc reconcile -v` print about it."""
        return {
            "started": f"{self.owner}: {self.line}; its replacement {self.replacement} is created there first",
            "waiting": f"{self.owner}: {self.line}; waiting for {self.replacement} to be ready there",
            "finishing": f"{self.owner}: {self.line}; {self.replacement} is ready: {self.pod} is deleted",
        }.get(self.state, f"{self.owner}: {self.line}: {self.state}")

    def to_dict(self) -> dict[str, Any]:
        return {"owner": self.owner, "pod": self.pod, "source": self.source, "target": self.target,
                "why": self.why, "replacement": self.replacement, "since": self.since}

    @classmethod
    def from_dict(cls, uid: str, d: Mapping[str, Any]) -> Move:
        return cls(str(d.get("owner") or ""), str(d.get("pod") or ""), uid, str(d.get("source") or ""),
                   str(d.get("target") or ""), str(d.get("why") or ""), str(d.get("replacement") or ""),
                   float(d.get("since") or 0.0))


@dataclass
class MovePlan:
    moving: dict[str, Move] = field(default_factory=dict)  # old pod uid -> its move: out of its controller's count
    create: dict[str, list[Move]] = field(default_factory=dict)  # owner -> moves whose replacement is made now
    shown: list[Move] = field(default_factory=list)  # every move of this pass, with its state, for people

    def uids(self, owner: str) -> set[str]:
        return {u for u, m in self.moving.items() if m.owner == owner}

    def book(self, created: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The moves to keep for the next pass: those under way, and the new ones whose replacement this plan
        creates (`created`: names of the pods it creates)."""
        made = set(created)
        new = {m.uid for ms in self.create.values() for m in ms}
        return {u: m.to_dict() for u, m in sorted(self.moving.items()) if u not in new or m.replacement in made}


def eligible_hosts(w: Any, snapshot: ClusterSnapshot, ready: set[str], config: PlannerConfig) -> list[str]:
    """Hosts the controller's pods may go to, as far as the spread counts: ready, not cordoned or leaving, its
    node selector matching and its NoSchedule / NoExecute taints tolerated (the scheduler decides the rest)."""
    from orchestrator.scheduler.types import Taint

    req = pod_request("rebalance", None, {}, w.template.spec)
    out = []
    for h in sorted(ready):
        f = snapshot.hosts[h]
        if h in config.cordoned or h in config.leaving:
            continue
        if any(f.labels.get(k) != v for k, v in req.node_selector.items()):
            continue
        taints = [Taint(k, v, e) for k, v, e in f.taints if e in ("NoSchedule", "NoExecute")]  # type: ignore[arg-type]
        if any(not any(t.tolerates(x) for t in req.tolerations) for x in taints):
            continue
        out.append(h)
    return out


def plan_moves(desired: DesiredState, snapshot: ClusterSnapshot, book: Book, counted: list[PodView],
               ready: set[str], config: PlannerConfig, available: Callable[[PodView], bool],
               disruptions: Disruptions, deleting: set[str], now: float, rng: random.Random,
               new_name: Callable[[str], str], out: Plan) -> MovePlan:
    """This pass's moves: those under way continued (or dropped), new ones started. Deletes of old pods whose
    replacements are ready go into `out` (their uids into `deleting`); the planner leaves `moving` pods out of
    their controllers' counts and creates `create`'s replacements on their targets."""
    rc = config.rebalance
    mp = MovePlan()
    if not rc.enabled:
        return mp
    by_owner: dict[str, list[PodView]] = {}
    for p in counted:
        if p.owner:
            by_owner.setdefault(p.owner, []).append(p)
    keys = config.scheduler.spread_topology_keys
    labels = {h: dict(f.labels) for h, f in snapshot.hosts.items()}

    def topology(w: Any) -> Topology:
        return Topology.of(eligible_hosts(w, snapshot, ready, config), labels, keys)

    # moves under way
    booked = sorted((Move.from_dict(u, d) for u, d in book.rebalance.items()), key=lambda m: (m.owner, m.uid))
    for m in booked:
        w = desired.workloads.get(m.owner)
        pods = by_owner.get(m.owner, [])
        old = next((v for v in pods if v.uid == m.uid and v.seen), None)
        if w is None or old is None:
            continue  # moved (its old pod is gone), or its controller is
        others = [v for v in pods if v.uid != m.uid]
        rep = next((v for v in others if v.name == m.replacement and v.host == m.target), None)
        why = _drop_reason(m, w, others, rep, ready, config, topology(w))
        if not why and rep is not None and not available(rep) and now - m.since > MOVE_DEADLINE:
            why = f"its replacement {m.replacement} was not ready within {MOVE_DEADLINE:.0f}s"
        if why:
            mp.shown.append(replace(m, state=f"dropped: {why}"))
            continue
        assert rep is not None
        if rep.seen and available(rep) and sum(1 for v in others if available(v)) >= w.replicas:
            budget = disruptions.evict(old)
            if budget is not None:
                out.refused_evictions[old.name] = f"{BUDGET_VIOLATION} ({budget.why()})"
                out.pending[f"{m.owner}: rebalance"] = f"{m.line}: {old.name} keeps running: {budget.why()}"
                m = replace(m, state="refused")
            else:
                deleting.add(old.uid)
                out.actions.append(DeletePod(old.host, old.name, old.uid, f"{m.owner}: {m.line} (its replacement "
                                             f"{m.replacement} is ready there)", old.grace))
                m = replace(m, state="finishing")
        else:
            m = replace(m, state="waiting")
        mp.moving[m.uid] = m
        mp.shown.append(m)

    # new moves
    room = rc.max_moves_per_pass - len(mp.moving)
    if room <= 0 or not rc.open_at(now):
        return mp
    extra: list[tuple[str, Any]] = []  # (host, PlacedPod) of the replacements planned so far this pass
    for key, w in sorted(desired.workloads.items()):
        if room <= 0:
            break
        pods = by_owner.get(key, [])
        if not _steady(key, w, pods, book, mp, config, available):
            continue
        topo = topology(w)
        counts = Counter(v.host for v in pods)
        gone: set[str] = set()
        while room > 0:
            sources = candidates(counts, [h for h in topo.hosts if h in counts], topo)
            if not sources:
                break
            source = sources[0]
            v = max((p for p in pods if p.host == source and p.uid not in gone),
                    key=lambda p: (p.started_at or 0.0, p.name))  # the newest: the least uptime lost
            refusing = disruptions.after_surge(v)
            if refusing is not None:
                out.notices.append(f"{key}: no rebalance move of pod {v.name} from {source}: even with its "
                                   f"replacement ready, {refusing.why()}")
                break
            target = _scheduler_target(w, key, v, snapshot, counted, deleting | gone | set(mp.moving), extra,
                                       config, rng)
            before = topo.spread(counts)
            if target is None or target == source or not improves(before, topo.spread(moved(counts, source, target))):
                where = "no host" if target is None else target
                out.notices.append(f"{key}: the spread could be better but the scheduler would place a pod leaving "
                                   f"{source} on {where}: no rebalance move")
                break
            m = Move(key, v.name, v.uid, source, target, spread_reason(counts, source, target), new_name(w.name),
                     now)
            mp.moving[v.uid] = m
            mp.create.setdefault(key, []).append(m)
            mp.shown.append(m)
            gone.add(v.uid)
            extra.append((target, placed_pod(m.replacement, key, dict(w.template.labels), v.requests, v.host_ports)))
            counts = Counter(moved(counts, source, target))
            room -= 1
    return mp


def _drop_reason(m: Move, w: Any, others: list[PodView], rep: PodView | None, ready: set[str],
                 config: PlannerConfig, topo: Topology) -> str:
    if rep is None:
        return f"its replacement {m.replacement} is not running on {m.target}"
    if m.source in config.leaving:
        return f"{m.source} is being drained"
    if m.target not in ready or m.target in config.cordoned or m.target in config.leaving:
        return f"{m.target} is no longer a host to move to"
    if strategy_of(w) is not None and any(v.spec_hash != spec_hash(w.template) for v in others):
        return "a rollout started"
    if len(others) != w.replicas:
        return f"{m.owner} now wants {w.replicas} replicas"
    now = Counter(v.host for v in others)
    if not improves(topo.spread(moved(now, m.target, m.source)), topo.spread(now)):
        return f"moving to {m.target} no longer improves the spread"
    return ""


def _steady(key: str, w: Any, pods: list[PodView], book: Book, mp: MovePlan, config: PlannerConfig,
            available: Callable[[PodView], bool]) -> bool:
    """No rollout under way, as many pods as replicas, all seen and available, none leaving, no back-off, no
    move of its own under way."""
    if w.replicas < 2 or len(pods) != w.replicas or key in book.backoff or key in book.slow_start:
        return False
    if any(m.owner == key for m in mp.moving.values()):
        return False
    if any(not v.seen or v.host in config.leaving or not available(v) for v in pods):
        return False
    return strategy_of(w) is None or all(v.spec_hash == spec_hash(w.template) for v in pods)


def _scheduler_target(w: Any, key: str, v: PodView, snapshot: ClusterSnapshot, counted: list[PodView],
                      leaving: set[str], extra: list[tuple[str, Any]], config: PlannerConfig,
                      rng: random.Random) -> str | None:
    """Where the scheduler would place a pod of `w` with `v` gone (and the pods in `leaving`): the target."""
    from orchestrator.scheduler import schedule  # numpy: only when a move may improve the spread

    placed: dict[str, list[Any]] = {}
    for p in counted:
        if p.uid != v.uid and p.uid not in leaving:
            placed.setdefault(p.host, []).append(
                placed_pod(p.name, p.owner, p.labels, p.requests, p.host_ports, p.gpu_devices))
    for h, pp in extra:
        placed.setdefault(h, []).append(pp)
    for _, fp in snapshot.foreign:
        placed.setdefault(fp.host, []).append(placed_pod(fp.name, None, {}, fp.requests, fp.host_ports, fp.gpu_devices))
    nodes = [node_info(f, placed.get(h, []), cordoned=h in config.cordoned or h in config.leaving)
             for h, f in sorted(snapshot.hosts.items())]
    req = pod_request(f"{w.name}-rebalance", key, dict(w.template.labels), w.template.spec)
    result = schedule([req], nodes, config.scheduler, seed=rng.getrandbits(32))
    return result.placements[0].node if result.placements else None
