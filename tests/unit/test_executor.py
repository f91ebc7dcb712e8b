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
    results = execute(plan, HOSTS, t, Runtime("pause:3.9"))
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
    results = {r.host: r for r in execute(plan, HOSTS, t, Runtime("pause:3.9"))}
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
