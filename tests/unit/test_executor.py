"""The executor over the fake transport: one batch per host with work, per-action results, failures
isolated to their action or host."""

from __future__ import annotations

from orchestrator.act.events import EventLog, human
from orchestrator.act.executor import Runtime, execute
from orchestrator.inventory.host import Host
from orchestrator.model.pod import PodSpec
from orchestrator.plan.types import CreatePod, DeletePod, Plan, PodRun, RestartContainer
from orchestrator.transport.fake import FakeTransport

HOSTS = [Host(name=n, address=n) for n in ("a", "b", "c")]
SPEC = PodSpec.model_validate({"containers": [{"name": "app", "image": "img:1"}]})


def _run(name: str) -> PodRun:
    return PodRun(name=name, uid=f"uid-{name}", owner="rc/web", labels={"app": "web"}, spec=SPEC, spec_hash="h")


def test_one_batch_per_host_with_work_and_results_per_action() -> None:
    t = FakeTransport()
    t.reply("b", "delete pod/web-2", exit_code=1, stderr="Error: No such container")
    plan = Plan(actions=[CreatePod("a", _run("web-1"), "r"), DeletePod("b", "web-2", "uid-2", "r"),
                         RestartContainer("b", "web-3", "orc_web-3_app", "liveness probe failed")])
    results = execute(plan, HOSTS, t, Runtime("pause:3.9", cluster="c1"))
    assert sorted(b.host for b in t.batches) == ["a", "b"]  # c had no work: no round trip
    assert [b.names for b in t.batches_for("b")] == [("delete pod/web-2", "restart pod/web-3 orc_web-3_app")]
    by_target = {r.action.target: r for r in results if r.action}
    assert by_target["pod/web-1"].ok
    assert not by_target["pod/web-2"].ok and by_target["pod/web-2"].error == "Error: No such container"
    assert by_target["pod/web-3 container orc_web-3_app"].ok  # a failed step never stops the others


def test_an_unreachable_host_fails_its_actions_only() -> None:
    t = FakeTransport()
    t.set_unreachable("a", "refused")
    plan = Plan(actions=[CreatePod("a", _run("web-1"), "r"), CreatePod("b", _run("web-2"), "r")])
    results = {r.host: r for r in execute(plan, HOSTS, t, Runtime("pause:3.9", cluster="c1"))}
    assert not results["a"].ok and "refused" in results["a"].error
    assert results["b"].ok


def test_event_lines_for_people_and_machines(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = (tmp_path / "events.jsonl").open("w")
    log = EventLog(out)
    ev = log.emit("action", host="a", verb="create", target="pod/web-1", reason="rc/web: 2/3 replicas", ok=True,
                  error="")
    out.close()
    assert human(ev) == "a: created pod/web-1 (rc/web: 2/3 replicas)"
    failed = {**ev, "ok": False, "error": "no space left"}
    assert human(failed) == "a: FAILED to create pod/web-1: no space left"
    assert '"target": "pod/web-1"' in (tmp_path / "events.jsonl").read_text()


def test_graceful_deletes_on_one_host_stop_in_parallel_in_one_batch_with_time_for_the_longest_grace() -> None:
    """Five pods at 30 s: one parallel stop step first (its time allowance is the longest grace, not the
    sum), then each delete (which adds no time); the stop step is no result of its own when it succeeds."""
    from orchestrator.transport.script import time_limit

    t = FakeTransport()
    deletes = [DeletePod("a", f"web-{i}", f"uid-{i}", "rc/web: 6/1 replicas", 30) for i in range(5)]
    plan = Plan(actions=[*deletes, DeletePod("b", "web-9", "uid-9", "r", 2)])
    results = execute(plan, HOSTS, t, Runtime("pause:3.9", cluster="c1"))
    (batch,) = t.batches_for("a")
    assert batch.names == ("stop 5 pods", *(f"delete pod/web-{i}" for i in range(5)))
    assert [s.allowance for s in batch.steps] == [40, 0, 0, 0, 0, 0]
    assert time_limit(120, batch.steps) == 160  # today's 120 s command timeout + the longest grace + margin
    assert [r.step for r in results if r.host == "a"] == [f"delete pod/web-{i}" for i in range(5)]
    assert all(r.ok for r in results)
    (single,) = t.batches_for("b")  # one graceful delete needs no separate stop step
    assert single.names == ("delete pod/web-9",) and time_limit(120, single.steps) == 132


def test_a_failed_parallel_stop_is_reported() -> None:
    t = FakeTransport()
    t.reply("a", "stop 2 pods", exit_code=255, stderr="sh: killed")
    plan = Plan(actions=[DeletePod("a", f"web-{i}", f"uid-{i}", "r") for i in range(2)])
    results = execute(plan, HOSTS, t, Runtime("pause:3.9", cluster="c1"))
    assert [(r.step, r.ok, r.action is None) for r in results] == [
        ("stop 2 pods", False, True), ("delete pod/web-0", True, False), ("delete pod/web-1", True, False)]


def test_liveness_restart_carries_the_pods_grace() -> None:
    t = FakeTransport()
    execute(Plan(actions=[RestartContainer("a", "web-3", "orc_web-3_app", "liveness probe failed", 7)]), HOSTS, t,
            Runtime("pause:3.9", cluster="c1"))
    assert t.commands_for("a") == ["docker restart -t 7 -- orc_web-3_app"]


def test_a_hosts_pod_creations_run_concurrently_in_its_one_batch_and_are_reported_each() -> None:
    """Creates are `concurrent` steps (run at once by the batch script); a delete before them is not, so it
    ends before they start (a host port it frees may be reused), and each create keeps its own result."""
    t = FakeTransport()
    t.reply("a", "create pod/web-2", exit_code=1, stderr="port is already allocated")
    plan = Plan(actions=[DeletePod("a", "old", "uid-old", "r", grace=0), CreatePod("a", _run("web-1"), "r"),
                         CreatePod("a", _run("web-2"), "r"), CreatePod("a", _run("web-3"), "r")])
    results = execute(plan, HOSTS, t, Runtime("pause:3.9", cluster="c1"))
    (batch,) = t.batches_for("a")
    assert [(s.name, s.concurrent) for s in batch.steps] == [
        ("delete pod/old", False), ("create pod/web-1", True), ("create pod/web-2", True), ("create pod/web-3", True)]
    assert [(r.action.target, r.ok) for r in results if r.action] == [
        ("pod/old", True), ("pod/web-1", True), ("pod/web-2", False), ("pod/web-3", True)]
