"""Which hosts take no new pods (cordoned) and which are drained: their running pods stay (cordoned) or are
handed over elsewhere (drained), the scheduler places nothing there.

Two sources, either enough: the inventory (`orc_cordoned: true`, which only the inventory can undo) and the
store (`_meta/cordon/<host>`: {"at": unix seconds, "drain": bool}, written by `orc cordon`, `orc drain`,
removed by `orc uncordon`), so cron passes and `--watch` respect what a command recorded."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from orchestrator.inventory.host import Host
from orchestrator.store import keys


@dataclass(frozen=True)
class HostMark:
    """A host's cordon as the store records it."""

    host: str
    at: float
    drain: bool = False
    grace: int | None = None  # `orc drain --grace-period`: seconds each evicted pod gets instead of its own


def cordoned_hosts(hosts: Iterable[Host], recorded: Iterable[str] = ()) -> frozenset[str]:
    """The planner's cordon set, from both sources: hosts the inventory cordons (`orc_cordoned: true`) and
    `recorded`, hosts cordoned by a command and kept in the store."""
    return frozenset(h.name for h in hosts if h.cordoned) | frozenset(recorded)


def read_marks(store: Any) -> dict[str, HostMark]:
    """Host -> its recorded cordon (absent: none recorded)."""
    out = {}
    for r in store.list(keys.CORDON):
        host = r.key[len(keys.CORDON):]
        value = r.value if isinstance(r.value, dict) else {}
        grace = value.get("grace")
        out[host] = HostMark(host, float(value.get("at", 0) or 0), bool(value.get("drain")),
                             grace if isinstance(grace, int) and not isinstance(grace, bool) else None)
    return out


def draining(marks: dict[str, HostMark]) -> frozenset[str]:
    """Hosts a drain was asked of: their controllers' pods are handed over (PlannerConfig.leaving)."""
    return frozenset(h for h, m in marks.items() if m.drain)


def drain_grace(marks: dict[str, HostMark]) -> tuple[tuple[str, int], ...]:
    """(host, seconds) for drained hosts whose drain gives evicted pods a grace period of its own."""
    return tuple(sorted((h, m.grace) for h, m in marks.items() if m.drain and m.grace is not None))


def mark(store: Any, host: str, now: float, drain: bool = False, grace: int | None = None) -> tuple[bool, bool]:
    """Record `host` cordoned (and, with `drain`, drained, its evicted pods given `grace` seconds when set).
    (was it cordoned in the store before, did this write anything)."""
    rec = store.get(keys.cordon_key(host))
    before = rec is not None
    value: dict[str, Any] = {"at": float(rec.value.get("at", now)) if before else now,
             "drain": drain or bool(before and rec.value.get("drain"))}
    if value["drain"]:
        kept = rec.value.get("grace") if before else None
        if (grace if drain else kept) is not None:
            value["grace"] = grace if drain else kept
    if before and rec.value == value:
        return True, False
    store.put(keys.cordon_key(host), value)
    return before, True


def unmark(store: Any, host: str) -> bool:
    """Forget `host`'s recorded cordon (and drain): whether there was one."""
    return bool(store.delete(keys.cordon_key(host)))
