"""`orc what-if` answers what the real failure then produces: the same scenario run for real on the engine
harness (tests/harness: the real Engine over simulated docker hosts) ends with the same pods per controller
and the same ones pending."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from orchestrator.cli.main import cli
from tests.harness.lab import SimLab
from tests.unit.plan_fixtures import pod_doc, rc_doc

GRACE = 40.0
RACKS = {"h1": "r1", "h2": "r2", "h3": "r3", "h4": "r1"}


def spread(name: str, replicas: int, cpu: str) -> dict[str, Any]:
    doc = rc_doc(name, replicas, cpu=cpu)
    doc["spec"]["template"]["spec"]["topologySpreadConstraints"] = [
        {"maxSkew": 1, "topologyKey": "rack", "whenUnsatisfiable": "DoNotSchedule",
         "labelSelector": {"matchLabels": {"app": name}}}]
    return doc


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[SimLab]:
    lab = SimLab(tmp_path, hosts=tuple(RACKS), cpus=4, grace_period=GRACE,
                 host_vars={h: {"labels": {"rack": r}} for h, r in RACKS.items()})
    lab.apply(spread("web", 3, "1"), rc_doc("big", 2, cpu="2500m"), pod_doc("db"))
    lab.reconcile_until_quiet(limit=4)
    yield lab
    lab.close()


def what_if(lab: SimLab, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(lab.root / "orc.yaml"), "what-if", *args])


def counts(lab: SimLab) -> dict[str, int]:
    return dict(Counter(owner or f"pod/{name}" for _, name, _, owner in lab.pods(reachable_only=True)))


def test_what_if_a_rack_is_lost_matches_what_losing_it_then_does(lab: SimLab) -> None:
    before = {h: list(d.containers) for h, d in lab.docker.items()}
    r = what_if(lab, "--lose", "rack=r1", "-o", "json")
    answer = json.loads(r.stdout)
    assert answer["lost"] == ["h1", "h4"] and {h: list(d.containers) for h, d in lab.docker.items()} == before
    predicted = {o["object"]: o["running"] for o in answer["objects"]}
    short = {o["object"] for o in answer["objects"] if not o["ok"]}
    # the real thing: both hosts of rack r1 stop answering for longer than the grace period
    for h in ("h1", "h4"):
        lab.unreachable(h)
    lab.reconcile(advance=GRACE + 1)
    real = lab.reconcile()
    assert counts(lab) | {k: 0 for k in predicted if k not in counts(lab)} == predicted
    assert short  # the scenario is a tight one: someone is short, and it is the same one for real
    assert {k.split(":")[0] for k in real.plan.pending if not k.endswith(": handover")} == short
    assert r.exit_code == 1


def test_what_if_reports_the_scheduler_reasons_and_fails_when_a_controller_would_be_short(lab: SimLab) -> None:
    r = what_if(lab, "--scale", "rc/big=5")  # 5 x 2.5 cpu on four 4-cpu hosts already holding web and big
    assert r.exit_code == 1, r.output
    assert "What if: scale rc/big=5" in r.stdout
    line = next(x for x in r.stdout.splitlines() if x.startswith("rc/big"))
    assert line.split()[1:3] == ["5", "4"]
    assert "pending: rc/big: pod big-" in r.stdout and "0/4 hosts are available: 4 insufficient cpu" in r.stdout
    assert what_if(lab, "--scale", "rc/big=2").exit_code == 0


def test_an_added_host_makes_room_and_a_drain_moves_controllers_but_not_bare_pods(lab: SimLab) -> None:
    assert what_if(lab, "--scale", "rc/big=5").exit_code == 1
    ok = what_if(lab, "--scale", "rc/big=5", "--add-host", "name=h5,cpu=8,memory=16Gi,labels=rack=r4", "-o", "json")
    answer = json.loads(ok.stdout)
    assert ok.exit_code == 0, ok.stdout
    big = next(o for o in answer["objects"] if o["object"] == "rc/big")
    assert big["running"] == 5 and big["where"].get("h5", 0) >= 1
    db_host = next(h for h, name, _, owner in lab.pods() if name == "db")
    drained = json.loads(what_if(lab, "--drain", db_host, "-o", "json").stdout)
    db = next(o for o in drained["objects"] if o["object"] == "pod/db")
    assert db["running"] == 0 and "a bare pod is not moved" in db["pending"][0]
    assert all(o["ok"] for o in drained["objects"] if o["object"] != "pod/db")
    assert all(db_host not in o["where"] for o in drained["objects"] if o["object"] != "pod/db")


def test_each_failure_domain_in_turn_and_clear_errors_for_a_wrong_scenario(lab: SimLab) -> None:
    r = what_if(lab, "--each", "rack")
    lines = r.stdout.splitlines()
    assert [x.split(" (")[0] for x in lines if x.startswith("lose ")] == ["lose rack=r1", "lose rack=r2", "lose rack=r3"]
    bad = what_if(lab, "--lose", "nosuchhost", "--scale", "rc/nope=2")
    assert bad.exit_code == 1
    assert "no host is named 'nosuchhost'" in bad.stderr and "--scale rc/nope: no such controller" in bad.stderr


def test_without_a_snapshot_it_says_to_reconcile_first(tmp_path: Path) -> None:
    lab = SimLab(tmp_path)
    try:
        r = what_if(lab, "--lose", "h1")
        assert r.exit_code == 1 and "run `orc reconcile` once" in (r.stderr + str(r.exception))
    finally:
        lab.close()
