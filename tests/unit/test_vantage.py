"""Multi-vantage failure detection: the peers' check (run for real in a local shell), the verdicts, and the
planner's rules over them on the engine harness: a host only the controller cannot reach keeps its pods; a
host nobody reaches is replaced after the grace period; when most hosts fail at once nothing is replaced."""

from __future__ import annotations

import socket
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.observe.vantage import (
    DOWN,
    PARTITION,
    UNCHECKED,
    check_step,
    parse_check,
    peers_for,
    verdict,
)
from orchestrator.plan.types import CreatePod
from orchestrator.transport.script import build_script, parse_output
from tests.harness.lab import SimLab
from tests.unit.plan_fixtures import rc_doc

GRACE = 40.0


def test_the_peer_check_connects_for_real_and_tells_open_from_closed_ports(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    with socket.socket() as listening, socket.socket() as closed:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        closed.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        step = check_step([("up", "127.0.0.1", listening.getsockname()[1]),
                           ("gone", "127.0.0.1", closed.getsockname()[1]),
                           (f"odd; $(touch {canary})", "127.0.0.1", closed.getsockname()[1])])
        script = build_script([step])
        done = subprocess.run(["sh", "-s"], input=script.text.encode(), capture_output=True, timeout=30)
    result = parse_output(script, "local", done.stdout, done.stderr)
    assert parse_check(result["peer-check"]) == {"up": "ok", "gone": "fail"}  # the odd name is quoted, not run
    assert not canary.exists()


def test_verdicts_and_peers() -> None:
    assert verdict(["fail", "ok"]) == PARTITION and verdict(["fail", "fail"]) == DOWN
    assert verdict(["unknown"]) == UNCHECKED and verdict([]) == UNCHECKED
    assert len(peers_for("h9", ["h1", "h2", "h3", "h4"])) == 3 and peers_for("h9", []) == []
    assert set(peers_for("h1", ["h2"])) == {"h2"}


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[SimLab]:
    lab = SimLab(tmp_path, hosts=("h1", "h2", "h3", "h4"), grace_period=GRACE)
    lab.apply(rc_doc("web", 4))
    lab.reconcile_until_quiet(limit=3)
    yield lab
    lab.close()


def per_host(lab: SimLab) -> Counter[str]:
    return Counter(h for h, *_ in lab.pods_of("rc/web"))


def test_a_host_only_the_controller_cannot_reach_keeps_its_pods_and_nothing_is_replaced(lab: SimLab) -> None:
    before = per_host(lab)
    lab.partition("h2")
    results = [lab.reconcile(advance=GRACE) for _ in range(3)]  # well past the grace period
    assert all(not [a for a in r.plan.actions if isinstance(a, CreatePod)] for r in results)
    assert per_host(lab) == before
    assert results[0].snapshot.hosts["h2"].verdict == PARTITION
    (notice,) = [n for n in results[0].new_notices if "h2" in n]
    assert "unreachable from this controller only" in notice and "path to it is at fault" in notice
    assert results[1].new_notices == []  # said once


def test_a_host_nobody_reaches_is_replaced_after_the_grace_period(lab: SimLab) -> None:
    lab.unreachable("h2")
    first = lab.reconcile(advance=GRACE + 1)
    assert first.snapshot.hosts["h2"].verdict == DOWN and not first.plan.notices
    assert not [a for a in first.plan.actions if isinstance(a, CreatePod)]  # within the grace: counted
    r = lab.reconcile()
    assert [a.host for a in r.plan.actions if isinstance(a, CreatePod)] != [] and "h2" not in {
        a.host for a in r.plan.actions if isinstance(a, CreatePod)}
    assert sum(n for h, n in per_host(lab).items() if h != "h2") == 4


def test_when_most_hosts_fail_at_once_nothing_is_replaced_and_the_pass_says_why(lab: SimLab) -> None:
    before = per_host(lab)
    for h in ("h1", "h2", "h3"):
        lab.unreachable(h)
    lab.reconcile(advance=GRACE + 1)
    r = lab.reconcile(advance=GRACE)
    assert not [a for a in r.plan.actions if isinstance(a, CreatePod)] and per_host(lab) == before
    assert any("full disruption: 3 of 4 hosts fail at once" in n for n in r.plan.notices)


def test_under_watch_a_host_nobody_reaches_is_replaced_after_the_short_watch_grace(lab: SimLab) -> None:
    lab.engine.watching()  # orc.yaml watch_grace_period: its default, 5 s
    lab.unreachable("h2")
    first = lab.reconcile(advance=4)  # the first failure, then 4 s pass
    assert first.snapshot.hosts["h2"].verdict == DOWN
    within = lab.reconcile(advance=2)
    assert not [a for a in within.plan.actions if isinstance(a, CreatePod)]  # 4 s in, within the 5 s: counted
    r = lab.reconcile()
    created = {a.host for a in r.plan.actions if isinstance(a, CreatePod)}
    assert created and "h2" not in created  # 6 s after the first failure, not the 40 s of grace_period
    assert sum(n for h, n in per_host(lab).items() if h != "h2") == 4


def test_under_watch_a_host_only_the_controller_cannot_reach_still_keeps_its_pods(lab: SimLab) -> None:
    lab.engine.watching()
    before = per_host(lab)
    lab.partition("h2")
    results = [lab.reconcile(advance=10) for _ in range(3)]  # past the watch grace: a partition is not down
    assert all(not [a for a in r.plan.actions if isinstance(a, CreatePod)] for r in results)
    assert per_host(lab) == before


def test_hosts_a_watch_pass_leaves_unasked_are_still_asked_about_a_failed_one(lab: SimLab) -> None:
    """--watch asks nothing of hosts whose event streams are up and silent; they are peers all the same (a
    cut host among quiet ones was left "unchecked", so it waited out grace_period, not watch_grace_period)."""
    quiet = {h: f for h, f in lab.reconcile().snapshot.hosts.items() if h != "h2"}
    lab.unreachable("h2")
    r = lab.engine.run_pass(unchanged=quiet)
    assert r.snapshot.hosts["h2"].verdict == DOWN and set(r.snapshot.hosts["h2"].peers) <= set(quiet)
    assert r.snapshot.hosts["h2"].peers


def test_under_watch_a_host_fails_since_it_was_last_heard_from(lab: SimLab) -> None:
    """As Kubernetes counts its node grace period from the node's last heartbeat: a host the watch last
    heard 8 s ago, now down, is replaced in the first pass that finds it down (watch grace 5 s)."""
    lab.engine.watching()
    lab.unreachable("h2")
    now = lab.clock()
    r = lab.engine.run_pass(heard={"h1": now, "h2": now - 8, "h3": now, "h4": now})
    created = {a.host for a in r.plan.actions if isinstance(a, CreatePod)}
    assert r.snapshot.hosts["h2"].verdict == DOWN and created and "h2" not in created
    assert any("host h2 lost (failing for 8s)" in w for w in r.plan.warnings)


def test_a_host_heard_from_just_now_still_gets_its_grace(lab: SimLab) -> None:
    lab.engine.watching()
    lab.unreachable("h2")
    now = lab.clock()
    r = lab.engine.run_pass(heard={"h2": now - 1})
    assert not [a for a in r.plan.actions if isinstance(a, CreatePod)]  # 1 s: within the 5 s
