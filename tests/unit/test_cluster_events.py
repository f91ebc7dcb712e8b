"""Events you can read later: every decision and failure of a pass is an event in the store, about the object
it concerns, shown by `orc get events` and `describe`'s Events; a condition that persists is counted, not
repeated; old events are dropped. Passes run on the engine harness (tests/harness)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.act.cluster_events import EVENTS, KEEP_COUNT, KEEP_SECONDS, ClusterEvent, writes
from tests.harness.lab import SimLab
from tests.unit.cli_support import orc
from tests.unit.plan_fixtures import rc_doc

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimLab]:
    lab = SimLab(tmp_path, grace_period=40.0, start=time.time() - 600)  # events of the last hour are shown
    monkeypatch.chdir(tmp_path)  # `orc get events` reads this project's store
    monkeypatch.delenv("ORC_CONFIG", raising=False)
    yield lab
    lab.close()


def stored(lab: SimLab) -> list[dict]:
    return [r.value for r in lab.store.list(EVENTS)]


def reasons(lab: SimLab, obj: str) -> list[str]:
    return sorted(e["reason"] for e in stored(lab) if e["object"] == obj)


def test_creations_scheduling_and_liveness_restarts_are_events(lab: SimLab) -> None:
    lab.apply(rc_doc("web", 2, liveness=True))
    lab.reconcile()
    pods = [name for _, name, _, _ in lab.pods_of("rc/web")]
    assert reasons(lab, "rc/web") == ["SuccessfulCreate", "SuccessfulCreate"]
    assert reasons(lab, f"pod/{pods[0]}") == ["Scheduled", "Started"]
    lab.failing_health("nginx:1.25")
    restarted = False
    for _ in range(3):
        r = lab.reconcile()
        restarted = restarted or any(res.action is not None and res.action.verb == "restart" for res in r.results)
    assert restarted
    assert "Unhealthy" in reasons(lab, f"pod/{pods[0]}") and "Killing" in reasons(lab, f"pod/{pods[0]}")

    table = orc("get", "events")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert any("Warning" in x and "Unhealthy" in x and f"pod/{pods[0]}" in x and "Liveness probe failed" in x
               for x in lines)
    assert any("SuccessfulCreate" in x and "replicationcontroller/web" in x for x in lines)
    doc = json.loads(orc("get", "events", "-o", "json").stdout)
    unhealthy = next(i for i in doc["items"] if i["reason"] == "Unhealthy")
    assert unhealthy["involvedObject"]["kind"] == "Pod" and unhealthy["involvedObject"]["name"] in pods
    assert unhealthy["type"] == "Warning" and unhealthy["lastTimestamp"].endswith("Z")
    only = orc("get", "events", "--field-selector", "reason=Unhealthy", "-o", "name").stdout.split()
    assert only and all(x.startswith("event/") for x in only)

    described = orc("describe", "rc", "web").stdout
    assert "Events:" in described and "SuccessfulCreate" in described and "Created pod:" in described
    assert "Liveness probe failed" in orc("describe", "pod", pods[0]).stdout


def test_a_pod_that_cannot_be_scheduled_is_a_warning_counted_not_repeated(lab: SimLab) -> None:
    lab.apply(rc_doc("big", 1, memory="64Gi"))
    lab.reconcile(advance=10)
    (event,) = [e for e in stored(lab) if e["object"] == "rc/big"]
    assert event["reason"] == "FailedScheduling" and event["type"] == "Warning"
    assert "insufficient memory" in event["message"]
    revision = lab.store.list("").revision
    lab.reconcile(advance=10)  # the same condition within a minute: nothing written for it
    assert [e["count"] for e in stored(lab) if e["object"] == "rc/big"] == [1]
    assert all(r.revision <= revision for r in lab.store.list(EVENTS))
    for _ in range(6):
        lab.reconcile(advance=10)
    (event,) = [e for e in stored(lab) if e["object"] == "rc/big"]
    assert event["count"] == 2 and event["lastTimestamp"] > event["firstTimestamp"]
    assert "(x2 over" in orc("describe", "rc", "big").stdout


def test_unreachable_and_lost_hosts_are_events_and_json_lines(lab: SimLab) -> None:
    lab.apply(rc_doc("web", 3))
    lab.reconcile()
    lab.unreachable("h2")
    lab.reconcile(advance=10)
    assert reasons(lab, "node/h2") == ["HostUnreachable"]
    for _ in range(5):
        lab.reconcile(advance=10)
    assert "HostLost" in reasons(lab, "node/h2")
    lines = [e for e in lab.events.records if e["event"] == "unreachable" and e["host"] == "h2"]
    assert lines and lines[-1]["reason"] == "timeout"
    objects = [e for e in lab.events.records if e["event"] == "object" and e["object"] == "node/h2"]
    assert {e["reason"] for e in objects} == {"HostUnreachable", "HostLost", "PodsReplaced"}
    assert "PodsReplaced" in reasons(lab, "node/h2")
    assert reasons(lab, "rc/web").count("SuccessfulCreate") == 4  # three, then the replacement


def test_events_are_bounded_in_time_and_count() -> None:
    e = ClusterEvent("pod/a", "Normal", "Started", "x")
    puts, deletes = writes({}, [e], 1000.0)
    assert puts[e.key]["count"] == 1 and deletes == []
    old = {"_meta/events/pod/b/Started.1": {"lastTimestamp": 1000.0 - KEEP_SECONDS - 1}}
    puts, deletes = writes(old, [e], 1000.0)
    assert deletes == ["_meta/events/pod/b/Started.1"]
    many = {f"_meta/events/pod/p{i}/Started.1": {"lastTimestamp": 500.0 + i} for i in range(KEEP_COUNT)}
    puts, deletes = writes(many, [e], 1000.0)
    assert deletes == ["_meta/events/pod/p0/Started.1"] and e.key in puts  # the oldest makes room
