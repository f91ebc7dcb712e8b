"""The probe's cache of inspected containers (pure): a light probe runs one `docker ps` per host and
`docker inspect`s only the containers that are new or changed since they were last inspected.

What `docker ps` can be trusted with: the id, and in its status text the state, the exit code ("Exited
(137) 5 minutes ago", "Restarting (1) ...") and the health ("Up 2 hours (healthy)", "(health: starting)",
"(unhealthy)"). Those make a container's key (`ps_key`); a container whose key differs from the cached one
is inspected again (it started, died, was restarted by docker into another state, changed health). Names,
images, labels, creation times, port bindings and mounts never change for one container id.

What `docker ps` says only coarsely: how long a container has been up or exited ("Up 5 minutes"): docker
rounds it (units.HumanDuration). A container docker restarted between two passes can be "running" and
"(healthy)" again, with the same key, but a new StartedAt and RestartCount (and, for an infra container, a
new network namespace). So the displayed duration is checked against the cached StartedAt (FinishedAt for
an exited one) at the host's own time (`date +%s` in the same step): a duration the cached times cannot
give (`consistent`) means the container started or stopped again since, and it is inspected again. A
restart is thus seen as long as a pass runs while the displayed duration is still in another bucket than
the old one (seconds, then minutes after a minute...): at once under `--watch` (the restart's docker events
wake a pass) and for cron passes at least a minute apart... A full probe (every `facts_ttl`) inspects
every container afresh, which bounds what a missed case could keep stale."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from orchestrator.observe.facts import ContainerInfo

Cache = Mapping[str, Mapping[str, Any]]  # container id -> {"key": its ps key, "info": ContainerInfo fields}
TOLERANCE = 2.0  # seconds between the step's `date` and docker's own clock reading, and rounding
_NUM = r"(\d+)"
_UNITS = [  # HumanDuration's texts -> (low, high) seconds of the durations that print so
    (re.compile(r"Less than a second$"), lambda n: (0, 1)),
    (re.compile(r"1 second$"), lambda n: (1, 2)),
    (re.compile(_NUM + r" seconds$"), lambda n: (n, n + 1)),
    (re.compile(r"About a minute$"), lambda n: (60, 120)),
    (re.compile(_NUM + r" minutes$"), lambda n: (n * 60, (n + 1) * 60)),
    (re.compile(r"About an hour$"), lambda n: (3600, 5400)),
    (re.compile(_NUM + r" hours$"), lambda n: ((n - 0.5) * 3600, (n + 0.5) * 3600)),
    (re.compile(_NUM + r" days$"), lambda n: ((n * 24 - 0.5) * 3600, ((n + 1) * 24 - 0.5) * 3600)),
    (re.compile(_NUM + r" weeks$"), lambda n: ((n * 168 - 0.5) * 3600, ((n + 1) * 168 - 0.5) * 3600)),
    (re.compile(_NUM + r" months$"), lambda n: ((n * 720 - 0.5) * 3600, ((n + 1) * 720 - 0.5) * 3600)),
    (re.compile(_NUM + r" years$"), lambda n: (n * 8760 * 3600, (n + 1) * 8760 * 3600)),
]
_UP = re.compile(r"^Up (.+?)(?: \((?:healthy|unhealthy|health: starting|Paused)\))?$")
_AGO = re.compile(r"^(?:Exited|Restarting) \(-?\d+\) (.+) ago$")


@dataclass(frozen=True)
class PsRow:
    """One line of the probe's `docker ps`: a container's id and status text (which says its state: "Up",
    "Exited", "Created", "Restarting", "Dead", "Removal In Progress"; `{{.State}}` is left out, as docker
    before 20.10 has no such field)."""

    id: str
    status: str

    @property
    def key(self) -> str:
        return ps_key(self.status)


def ps_key(status: str) -> str:
    """The status text less its durations: "Up (healthy)", "Up (Paused)", "Exited (0)", "Created". The
    probe's shell computes the same (probe.containers_step); a mismatch only costs an inspect."""
    if status.startswith("Up "):
        return "Up" + (" (" + status.rsplit("(", 1)[1] if status.endswith(")") and "(" in status else "")
    if status.startswith(("Exited ", "Restarting ")):
        return status.split(")", 1)[0] + ")"
    return status


def duration_range(text: str) -> tuple[float, float] | None:
    """Seconds a HumanDuration text can stand for, low (inclusive) to high (exclusive); None: not one."""
    for pattern, span in _UNITS:
        m = pattern.fullmatch(text)
        if m:
            lo, hi = span(int(m.group(1)) if m.groups() else 0)
            return float(lo), float(hi)
    return None


def consistent(row: PsRow, cached: ContainerInfo, host_now: float | None) -> bool:
    """Whether `row`'s displayed duration fits the cached container's times (see the module's text). Without
    the host's time, or a duration to read, only the key is compared."""
    from orchestrator.observe.snapshot import _ts

    if host_now is None:
        return True
    up, ago = _UP.match(row.status), _AGO.match(row.status)
    since = _ts(cached.started_at) if up else _ts(cached.finished_at) if ago else None
    m = up or ago
    if m is None or since is None:
        return m is None  # a duration shown, but no time cached to check it against: inspect
    span = duration_range(m.group(1))
    if span is None:
        return False
    age = host_now - since
    return span[0] - TOLERANCE <= age < span[1] + TOLERANCE


def parse_ps(text: str) -> tuple[float | None, list[PsRow]]:
    """The light step's `now=SECONDS` line and its `ps ID STATUS...` lines."""
    now: float | None = None
    rows = []
    for line in text.split("\n"):
        if line.startswith("now="):
            try:
                now = float(line[4:].strip())
            except ValueError:
                now = None
        elif line.startswith("ps "):
            cid, _, status = line[3:].rstrip("\r").partition(" ")
            if cid:
                rows.append(PsRow(cid, status))
    return now, rows


@dataclass(frozen=True)
class Merged:
    containers: tuple[ContainerInfo, ...]  # as docker ps lists them (newest first)
    missing: tuple[str, ...]  # ids docker ps listed that neither the step inspected nor the cache holds validly
    cache: dict[str, dict[str, Any]]  # the new cache: id -> {"key": ps key, "info": ContainerInfo fields}


def merge(rows: Sequence[PsRow], inspected: Sequence[ContainerInfo], cache: Mapping[str, Mapping[str, Any]],
          host_now: float | None) -> Merged:
    """Each listed container from this step's inspect output, else from the cache when its key is the same
    and its displayed duration fits its cached times; the rest are `missing` (inspect them now). Containers
    no longer listed leave the cache."""
    fresh = {c.id: c for c in inspected}
    out: list[ContainerInfo] = []
    missing: list[str] = []
    new_cache: dict[str, dict[str, Any]] = {}
    for row in rows:
        c = fresh.get(row.id)
        if c is None:
            entry = cache.get(row.id)
            old = info_from_dict(entry["info"]) if entry and entry.get("key") == row.key else None
            if old is not None and consistent(row, old, host_now):
                c = old
        if c is None:
            missing.append(row.id)
            continue
        out.append(c)
        new_cache[row.id] = {"key": row.key, "info": info_to_dict(c)} if c is fresh.get(row.id) else dict(cache[row.id])
    return Merged(tuple(out), tuple(missing), new_cache)


def known_keys(cache: Mapping[str, Mapping[str, Any]]) -> str:
    """The cache as the light step's shell matches it: `|ID KEY|` for every entry."""
    return "".join(f"|{cid} {e['key']}|" for cid, e in sorted(cache.items()) if _safe(cid) and "key" in e)


def _safe(cid: str) -> bool:
    return bool(re.fullmatch(r"[0-9a-f]{12,64}", cid))


def info_to_dict(c: ContainerInfo) -> dict[str, Any]:
    return asdict(c)


def info_from_dict(d: Mapping[str, Any]) -> ContainerInfo | None:
    try:
        return ContainerInfo(**{**d, "labels": dict(d["labels"]), "ports": {k: int(v) for k, v in d["ports"].items()}})
    except (TypeError, KeyError, ValueError, AttributeError):
        return None
