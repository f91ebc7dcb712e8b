"""Rebalance, opt-in and bounded: when to move pods (maintenance windows) and which move the scheduler's
spread asks for. Pure: no clock (the pass's `now` is given), no SSH, no numpy.

    rebalance:                       # orc.yaml
      enabled: true
      max_moves_per_pass: 1          # pods being moved at once, cluster-wide
      windows: ["Sat 02:00-05:00", "Mon-Fri 22:00-02:00"]   # local time; none: always

A window is `[DAYS ]HH:MM-HH:MM`: DAYS a day (`Sat`), a range (`Mon-Fri`, `Fri-Mon`) or a list of either
(`Sat,Sun`); none is every day. An end at or before the start crosses midnight: `Fri 22:00-02:00` is open
from Friday 22:00 to Saturday 02:00. `24:00` ends a window at midnight.

The spread is the scheduler's (SelectorSpreadScorer): a controller's pods counted per host and per domain of
each spread topology key (`scheduler.spread_topology_keys`, rack and zone by default) the eligible hosts
carry. A placement's spread is, per level (each key, then hosts), its domains' counts sorted from the most
crowded down; a move is taken only when no level gets worse and one gets strictly better (fewer pods in
the most crowded domains, lexicographically), so it never trades rack spread for host spread."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_WINDOW = re.compile(r"(?:(?P<days>\S+)\s+)?(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})")
WINDOW_FORMAT = "[DAYS ]HH:MM-HH:MM (DAYS: Sat, Mon-Fri or Sat,Sun; local time), e.g. \"Sat 02:00-05:00\""


@dataclass(frozen=True)
class Window:
    days: frozenset[int]  # 0 = Monday; the days a window STARTS on
    start: int  # minutes after midnight
    end: int  # minutes after midnight (1440: midnight); at or before `start`: the window crosses midnight
    text: str = ""

    def open_at(self, t: datetime) -> bool:
        minute, day = t.hour * 60 + t.minute, t.weekday()
        if self.start < self.end:
            return day in self.days and self.start <= minute < self.end
        return (day in self.days and minute >= self.start) or ((day - 1) % 7 in self.days and minute < self.end)


def _minutes(text: str, what: str, end: bool) -> int:
    h, m = (int(x) for x in text.split(":"))
    if end and (h, m) == (24, 0):
        return 24 * 60
    if not (0 <= h <= 23 and 0 <= m <= 59):
        raise ValueError(f"{what} {text!r} is not a time of day (00:00 to 23:59{', or 24:00' if end else ''})")
    return h * 60 + m


def _day(text: str) -> int:
    for i, d in enumerate(DAYS):
        if text.lower() == d.lower():
            return i
    raise ValueError(f"{text!r} is not a day: use {', '.join(DAYS)}")


def _days(text: str) -> frozenset[int]:
    out: set[int] = set()
    for part in text.split(","):
        first, sep, last = part.partition("-")
        if not first or (sep and not last):
            raise ValueError(f"{text!r} is not a list of days: use Sat, Mon-Fri or Sat,Sun")
        a = _day(first)
        b = _day(last) if sep else a
        out.update((a + i) % 7 for i in range((b - a) % 7 + 1))  # Fri-Mon wraps over the weekend
    return frozenset(out)


def parse_window(text: str) -> Window:
    """`[DAYS ]HH:MM-HH:MM` -> Window; ValueError saying what is wrong and the format."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a window: use {WINDOW_FORMAT}")
    m = _WINDOW.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"{text!r} is not a window: use {WINDOW_FORMAT}")
    days = _days(m["days"]) if m["days"] else frozenset(range(7))
    start = _minutes(m["start"], "start", end=False)
    end = _minutes(m["end"], "end", end=True)
    if start == end:
        raise ValueError(f"{text!r}: the window is empty (its start is its end); for always, give no windows")
    return Window(days, start, end, text.strip())


@dataclass(frozen=True)
class RebalanceConfig:
    enabled: bool = False
    max_moves_per_pass: int = 1  # moves under way at once (a move: replacement first, old pod once it is ready)
    windows: tuple[Window, ...] = ()  # none: always
    tz: tzinfo | None = None  # None: the controller's local time

    def open_at(self, now: float) -> bool:
        if not self.windows:
            return True
        t = datetime.fromtimestamp(now, self.tz) if self.tz is not None else datetime.fromtimestamp(now)
        return any(w.open_at(t) for w in self.windows)

    def describe_windows(self) -> str:
        return ", ".join(w.text for w in self.windows) if self.windows else "always"


# --- the scheduler's spread, counted ---

Spread = tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Topology:
    """The hosts a controller's pods may go to (`hosts`), every host's labels, and the spread topology keys
    some of those hosts carry (the scheduler ignores a key no host has)."""

    hosts: tuple[str, ...]
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    keys: tuple[str, ...] = ()

    @classmethod
    def of(cls, hosts: Iterable[str], labels: Mapping[str, Mapping[str, str]], keys: Iterable[str]) -> Topology:
        hosts = tuple(sorted(hosts))
        present = tuple(k for k in keys if any(k in labels.get(h, {}) for h in hosts))
        return cls(hosts, labels, present)

    def domain(self, host: str, key: str) -> str | None:
        return self.labels.get(host, {}).get(key)

    def spread(self, counts: Mapping[str, int]) -> Spread:
        levels = []
        for key in self.keys:
            domains = {v for h in self.hosts if (v := self.domain(h, key)) is not None}
            per: Counter[str] = Counter()
            for h, n in counts.items():
                v = self.domain(h, key)
                if v in domains:
                    per[v] += n
            levels.append(tuple(sorted((per[d] for d in domains), reverse=True)))
        levels.append(tuple(sorted((counts.get(h, 0) for h in self.hosts), reverse=True)))
        return tuple(levels)

    def crowding(self, host: str, counts: Mapping[str, int]) -> tuple[int, ...]:
        """How crowded a host is for this spread: its domains' counts (each key), then its own."""
        out = []
        for key in self.keys:
            v = self.domain(host, key)
            out.append(sum(n for h, n in counts.items() if v is not None and self.domain(h, key) == v))
        return (*out, counts.get(host, 0))


def improves(before: Spread, after: Spread) -> bool:
    """`after` is strictly better spread than `before`: no level worse, some level better."""
    return after != before and all(a <= b for a, b in zip(after, before, strict=True))


def moved(counts: Mapping[str, int], source: str, target: str) -> dict[str, int]:
    out = dict(counts)
    out[source] = out.get(source, 0) - 1
    out[target] = out.get(target, 0) + 1
    return out


def candidates(counts: Mapping[str, int], movable: Iterable[str], topology: Topology) -> list[str]:
    """Hosts a pod could leave to make the spread strictly better, the most crowded first (`movable`: hosts
    whose pods may move: ready, not cordoned)."""
    before = topology.spread(counts)
    sources = sorted((h for h in movable if counts.get(h, 0) > 0),
                     key=lambda h: (tuple(-x for x in topology.crowding(h, counts)), h))
    return [s for s in sources
            if any(improves(before, topology.spread(moved(counts, s, t))) for t in topology.hosts if t != s)]


def spread_reason(counts: Mapping[str, int], source: str, target: str) -> str:
    """`spread (lab1 has 3 of 4, lab3 none)`: the counts before the move."""
    total = sum(counts.values())
    there = counts.get(target, 0)
    return f"spread ({source} has {counts.get(source, 0)} of {total}, {target} {there or 'none'})"
