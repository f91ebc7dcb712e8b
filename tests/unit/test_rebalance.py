"""Rebalance, opt-in and bounded: maintenance windows (plan/rebalance.py), orc.yaml `rebalance:` validated at
load, the scheduler's spread measure and which moves improve it, the planner's surge-first moves
(plan/moves.py), and the real engine over simulated hosts (tests/harness) after a lost host returns empty."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from orchestrator.config import load_project
from orchestrator.controllers.book import Book
from orchestrator.controllers.cordon import mark
from orchestrator.errors import ConfigError
from orchestrator.observe.snapshot import ClusterSnapshot
from orchestrator.plan.planner import plan
from orchestrator.plan.rebalance import (
    DAYS,
    RebalanceConfig,
    Topology,
    candidates,
    improves,
    moved,
    parse_window,
    spread_reason,
)
from orchestrator.plan.types import CreatePod, DeletePod
from tests.harness.lab import T0, SimLab
from tests.unit.plan_fixtures import config, desired, host, rc_doc, running_pod

# --- windows ---


def at(text: str) -> datetime:
    """A UTC time from 'Sat 03:00' (a day of the week of 2026-11-30's week: Mon 30 Nov .. Sun 6 Dec)."""
    from datetime import timedelta

    day, hm = text.split()
    h, m = (int(x) for x in hm.split(":"))
    return datetime(2026, 11, 30, h, m, tzinfo=UTC) + timedelta(days=DAYS.index(day))


@pytest.mark.parametrize(("window", "open_", "closed"), [
    ("Sat 02:00-05:00", ["Sat 02:00", "Sat 04:59"], ["Sat 01:59", "Sat 05:00", "Sun 03:00", "Fri 03:00"]),
    ("02:00-05:00", ["Mon 02:00", "Sun 04:30"], ["Mon 05:00", "Tue 01:00"]),  # no days: every day
    ("Mon-Fri 09:00-17:00", ["Mon 09:00", "Wed 12:00", "Fri 16:59"], ["Sat 12:00", "Sun 12:00", "Mon 17:00"]),
    ("Fri-Mon 12:00-13:00", ["Fri 12:30", "Sun 12:30", "Mon 12:30"], ["Tue 12:30", "Thu 12:30"]),  # wraps
    ("Sat,Sun 00:00-24:00", ["Sat 00:00", "Sun 23:59"], ["Fri 23:59", "Mon 00:00"]),
    ("sat,Tue-Wed 10:00-11:00", ["Sat 10:00", "Tue 10:30", "Wed 10:59"], ["Thu 10:30"]),
    # an end at or before the start crosses midnight: open from the start day's evening into the next morning
    ("Fri 22:00-02:00", ["Fri 22:00", "Fri 23:59", "Sat 00:00", "Sat 01:59"],
     ["Fri 21:59", "Sat 02:00", "Sat 22:30", "Fri 01:00"]),
    ("Sun 23:00-01:00", ["Sun 23:30", "Mon 00:30"], ["Mon 23:30", "Sun 00:30"]),  # Sunday into Monday
])
def test_a_window_is_open_on_its_days_and_hours_and_may_cross_midnight(window: str, open_: list[str],
                                                                        closed: list[str]) -> None:
    w = parse_window(window)
    assert [t for t in open_ if not w.open_at(at(t))] == []
    assert [t for t in closed if w.open_at(at(t))] == []


@pytest.mark.parametrize(("text", "why"), [
    ("Sat", "is not a window: use [DAYS ]HH:MM-HH:MM"),
    ("Sat 2am-5am", "is not a window"),
    ("Sat02:00-05:00", "is not a window"),
    ("Caturday 02:00-05:00", "'Caturday' is not a day: use Mon, Tue, Wed, Thu, Fri, Sat, Sun"),
    ("Mon- 02:00-05:00", "is not a list of days"),
    ("Sat 25:00-05:00", "start '25:00' is not a time of day (00:00 to 23:59)"),
    ("Sat 02:00-05:60", "end '05:60' is not a time of day (00:00 to 23:59, or 24:00)"),
    ("Sat 24:00-05:00", "start '24:00' is not a time of day"),
    ("Sat 02:00-02:00", "the window is empty (its start is its end); for always, give no windows"),
])
def test_a_bad_window_says_what_is_wrong(text: str, why: str) -> None:
    with pytest.raises(ValueError) as e:
        parse_window(text)
    assert why in str(e.value), str(e.value)


def test_no_windows_is_always_and_a_window_is_read_in_the_given_time_zone() -> None:
    assert RebalanceConfig(True).open_at(T0) and RebalanceConfig(True).describe_windows() == "always"
    sat = at("Sat 03:00").timestamp()
    rc = RebalanceConfig(True, 1, (parse_window("Sat 02:00-05:00"),), tz=UTC)
    assert rc.open_at(sat) and not rc.open_at(sat + 3 * 3600)


# --- orc.yaml ---


def project(tmp_path: Path, text: str) -> Any:
    (tmp_path / "orc.yaml").write_text(text)
    return load_project(str(tmp_path / "orc.yaml"))


def test_rebalance_is_off_by_default_and_its_settings_reach_the_planner(tmp_path: Path) -> None:
    assert project(tmp_path, "cluster: c1\n").settings.rebalance.config() == RebalanceConfig()
    rc = project(tmp_path, "rebalance: {enabled: true, max_moves_per_pass: 3, windows: ['Sat 02:00-05:00']}\n"
                 ).settings.rebalance.config()
    assert (rc.enabled, rc.max_moves_per_pass, rc.describe_windows()) == (True, 3, "Sat 02:00-05:00")


def test_bad_rebalance_settings_are_refused_at_load_naming_the_file_and_every_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        project(tmp_path, "rebalance:\n  enabled: true\n  max_moves_per_pass: 0\n"
                "  windows: ['Sat 02:00-05:00', 'Sat 25:00-05:00', 'Someday 01:00-02:00']\n  every: 5\n")
    msg = str(e.value)
    f = tmp_path / "orc.yaml"
    assert f"{f}: rebalance.max_moves_per_pass: Input should be greater than or equal to 1" in msg, msg
    assert f"{f}: rebalance.windows: Value error, [1] start '25:00' is not a time of day" in msg, msg
    assert "[2] 'Someday' is not a day" in msg and "[0]" not in msg, msg
    assert f"{f}: rebalance.every: Extra inputs are not permitted" in msg, msg


# --- the spread measure ---


def test_a_move_improves_only_when_it_evens_the_spread_and_never_trades_rack_spread_for_host_spread() -> None:
    flat = Topology.of(["h1", "h2", "h3", "h4"], {}, ["rack"])
    counts = {"h1": 2, "h2": 1, "h3": 1}
    assert flat.keys == () and flat.spread(counts) == ((2, 1, 1, 0),)
    assert improves(flat.spread(counts), flat.spread(moved(counts, "h1", "h4")))
    assert not improves(flat.spread(counts), flat.spread(moved(counts, "h2", "h4")))  # the same spread
    assert candidates(counts, ["h1", "h2", "h3"], flat) == ["h1"]
    assert candidates({"h1": 1, "h2": 1, "h3": 1}, ["h1", "h2", "h3"], flat) == []  # 3 pods on 4 hosts: even
    assert spread_reason(counts, "h1", "h4") == "spread (h1 has 2 of 4, h4 none)"
    # two racks: r1 = h1, r2 = h2, h3, h4. h1 holds 2, r2 holds 2: moving from h1 to h4 evens the hosts but
    # crowds r2 (the scheduler weighs racks first): no move
    racks = Topology.of(["h1", "h2", "h3", "h4"], {"h1": {"rack": "r1"}, **{h: {"rack": "r2"} for h in ("h2", "h3", "h4")}},
                        ["rack"])
    assert racks.keys == ("rack",) and racks.spread(counts) == ((2, 2), (2, 1, 1, 0))
    assert not improves(racks.spread(counts), racks.spread(moved(counts, "h1", "h4")))
    assert candidates(counts, ["h1", "h2", "h3"], racks) == []
    # r2 crowded (h2: 2, h3: 1), r1 empty: from the most crowded host of the most crowded rack, into r1
    lopsided = {"h2": 2, "h3": 1}
    assert candidates(lopsided, ["h2", "h3"], racks)[0] == "h2"
    assert improves(racks.spread(lopsided), racks.spread(moved(lopsided, "h2", "h1")))


# --- the planner ---

REBALANCE = RebalanceConfig(True, 1)


def spread_cluster(*placement: tuple[str, str], hosts: tuple[str, ...] = ("h1", "h2", "h3", "h4"),
                   replicas: int = 4, extra: tuple[dict[str, Any], ...] = ()) -> tuple[Any, ClusterSnapshot]:
    d = desired(rc_doc("web", replicas), *extra)
    on: dict[str, list[Any]] = {h: [] for h in hosts}
    for name, h in placement:
        on[h] += running_pod(d, "rc/web", h, name=name, started=T0 - 300)[1]
    return d, ClusterSnapshot.build([host(h, containers=cs) for h, cs in on.items()], T0, cluster="c1")


CROWDED = (("web-aaaaa", "h1"), ("web-bbbbb", "h1"), ("web-ccccc", "h2"), ("web-ddddd", "h3"))


def test_a_steady_controller_on_a_crowded_host_gets_one_replacement_on_the_empty_host_first() -> None:
    d, snap = spread_cluster(*CROWDED)
    p = plan(d, snap, Book(), T0, config(rebalance=REBALANCE), seed=1)
    (made,) = [a for a in p.actions if isinstance(a, CreatePod)]
    assert made.host == "h4" and not [a for a in p.actions if isinstance(a, DeletePod)]
    (m,) = p.moves
    assert made.reason == f"rc/web: move pod {m.pod} from h1 to h4: spread (h1 has 2 of 4, h4 none)"
    assert m.pod in ("web-aaaaa", "web-bbbbb") and m.replacement == made.pod.name and m.state == "started"
    uid = next(pd.uid for pd in snap.pods if pd.name == m.pod)
    assert p.book["rebalance"] == {uid: m.to_dict()}
    # the next pass: the replacement runs and is ready there: the old pod goes, under the budgets
    _, replacement = running_pod(d, "rc/web", "h4", name=made.pod.name, uid=made.pod.uid, started=T0 - 30)
    snap2 = ClusterSnapshot.build([*[f for f in snap.hosts.values() if f.name != "h4"],
                                   host("h4", containers=replacement)], T0, cluster="c1")
    p2 = plan(d, snap2, Book(rebalance=p.book["rebalance"]), T0, config(rebalance=REBALANCE), seed=1)
    assert [(a.host, a.name) for a in p2.actions if isinstance(a, DeletePod)] == [("h1", m.pod)]
    assert not [a for a in p2.actions if isinstance(a, CreatePod)] and p2.moves[0].state == "finishing"


@pytest.mark.parametrize("why", ["disabled", "outside its window", "cordoned", "even", "budget"])
def test_no_move_when_disabled_outside_the_window_to_a_cordoned_host_when_even_or_a_budget_forbids(why: str) -> None:
    cfg = config(rebalance=REBALANCE)
    placement = CROWDED
    extra: tuple[dict[str, Any], ...] = ()
    if why == "disabled":
        cfg = config()
    elif why == "outside its window":
        day = DAYS[(datetime.fromtimestamp(T0).weekday() + 3) % 7]
        cfg = config(rebalance=RebalanceConfig(True, 1, (parse_window(f"{day} 00:00-24:00"),)))
    elif why == "cordoned":
        cfg = config(rebalance=REBALANCE, cordoned=frozenset({"h4"}))
    elif why == "even":
        placement = (("web-aaaaa", "h1"), ("web-bbbbb", "h2"), ("web-ccccc", "h3"), ("web-ddddd", "h4"))
    else:
        extra = ({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web"},
                  "spec": {"minAvailable": 5, "selector": {"matchLabels": {"app": "web"}}}},)
    d, snap = spread_cluster(*placement, extra=extra)
    p = plan(d, snap, Book(), T0, cfg, seed=1)
    assert p.actions == [] and p.moves == [] and "rebalance" not in str(p.pending)
    if why == "budget":
        (n,) = p.notices
        assert n.startswith("rc/web: no rebalance move of pod web-") and "from h1: even with its replacement " \
            "ready, the disruption budget pdb/web (minAvailable 5) allows no disruption now" in n, n


def test_a_move_whose_target_no_longer_improves_the_spread_is_dropped() -> None:
    # the book moves web-aaaaa from h1 to h4; meanwhile h4 got another pod of web: the move would crowd h4
    d, snap = spread_cluster(("web-aaaaa", "h1"), ("web-ccccc", "h2"), ("web-ddddd", "h4"), ("web-rrrrr", "h4"),
                             replicas=3)
    uid = next(pd.uid for pd in snap.pods if pd.name == "web-aaaaa")
    book = Book(rebalance={uid: {"owner": "rc/web", "pod": "web-aaaaa", "source": "h1", "target": "h4",
                                 "why": "spread", "replacement": "web-rrrrr", "since": T0 - 20}})
    p = plan(d, snap, book, T0, config(rebalance=REBALANCE), seed=1)
    (m,) = p.moves
    assert m.state == "dropped: moving to h4 no longer improves the spread" and p.book["rebalance"] == {}
    # the controller's own count removes the extra: from the host with the most of its pods
    assert [a.host for a in p.actions if isinstance(a, DeletePod)] == ["h4"]


# --- the real engine, pass after pass ---


def rebalancing_lab(tmp_path: Path, max_moves: int = 1, **rebalance: Any) -> SimLab:
    return SimLab(tmp_path, hosts=("h1", "h2", "h3", "h4"), grace_period=40.0,
                  settings={"rebalance": {"enabled": True, "max_moves_per_pass": max_moves, **rebalance}})


def lose_and_return_empty(lab: SimLab, replicas: int) -> str:
    lab.apply(rc_doc("web", replicas))
    lab.reconcile()
    down = lab.pods_of("rc/web")[0][0]
    lab.unreachable(down)
    for _ in range(6):  # past the grace period: its pods are replaced on the other hosts
        lab.reconcile()
    assert len(lab.pods_of("rc/web", reachable_only=True)) == replicas
    lab.wipe(down)
    lab.reachable(down)
    return down


def per_host(lab: SimLab) -> list[int]:
    from collections import Counter

    c = Counter(p[0] for p in lab.pods_of("rc/web"))
    return sorted((c.get(h, 0) for h in lab.docker), reverse=True)


@pytest.mark.parametrize(("replicas", "max_moves"), [(4, 1), (8, 2)])
def test_a_lost_host_that_returns_empty_gets_its_share_back_within_the_limit_never_below_replicas(
        tmp_path: Path, replicas: int, max_moves: int) -> None:
    lab = rebalancing_lab(tmp_path, max_moves)
    down = lose_and_return_empty(lab, replicas)
    assert per_host(lab)[-1] == 0  # the returned host is empty
    in_flight_max = 0
    for _ in range(10):
        r = lab.reconcile()
        made = [a for a in r.plan.actions if isinstance(a, CreatePod)]
        assert len(made) <= max_moves and all(a.host == down for a in made)
        in_flight_max = max(in_flight_max, len(lab.book().rebalance))
        assert len(lab.book().rebalance) <= max_moves
        assert len(lab.pods_of("rc/web")) >= replicas  # surge first: never fewer pods than replicas
        if not r.changed and not lab.book().rebalance:
            break
    assert per_host(lab) == [replicas // 4] * 4 and in_flight_max == max_moves
    assert not lab.reconcile().changed  # settled: no more moves
    lab.close()


def test_no_moves_when_rebalance_is_disabled_or_no_window_is_open(tmp_path: Path) -> None:
    day = DAYS[(datetime.fromtimestamp(T0).weekday() + 3) % 7]
    for i, settings in enumerate([{"enabled": False}, {"enabled": True, "windows": [f"{day} 00:00-02:00"]}]):
        root = tmp_path / str(i)
        root.mkdir()
        lab = SimLab(root, hosts=("h1", "h2", "h3", "h4"), grace_period=40.0, settings={"rebalance": settings})
        lose_and_return_empty(lab, 4)
        for _ in range(3):
            r = lab.reconcile()
            assert not [a for a in r.plan.actions if isinstance(a, CreatePod)] and r.plan.moves == []
        assert per_host(lab) == [2, 1, 1, 0]
        lab.close()


def test_a_move_under_way_ends_when_its_replacement_is_ready_and_reports_an_event(tmp_path: Path) -> None:
    from orchestrator.act.cluster_events import EVENTS

    lab = rebalancing_lab(tmp_path)
    down = lose_and_return_empty(lab, 4)
    start = lab.reconcile()
    (m,) = start.plan.moves
    assert m.target == down and m.state == "started"
    events = [r.value for r in lab.store.list(EVENTS) if r.value.get("reason") == "Rebalance"]
    assert [(e["object"], e["message"]) for e in events] == [("rc/web", m.line)]
    end = lab.reconcile()
    assert [(a.host, a.name) for a in end.plan.actions if isinstance(a, DeletePod)] == [(m.source, m.pod)]
    assert list(lab.book().rebalance) == [m.uid]  # kept until its old pod is seen gone
    assert not lab.reconcile().changed and lab.book().rebalance == {} and per_host(lab) == [1, 1, 1, 1]
    lab.close()


def test_a_cordoned_host_is_never_a_target(tmp_path: Path) -> None:
    lab = rebalancing_lab(tmp_path)
    down = lose_and_return_empty(lab, 4)
    mark(lab.store, down, lab.clock())
    for _ in range(3):
        r = lab.reconcile()
        assert all(a.host != down for a in r.plan.actions if isinstance(a, CreatePod))
    assert per_host(lab) == [2, 1, 1, 0]
    lab.close()
