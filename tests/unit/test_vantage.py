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
