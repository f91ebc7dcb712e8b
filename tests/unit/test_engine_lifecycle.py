"""Init containers, preStop hooks and startup probes through the real Engine, pass after pass, over the
simulated docker hosts (tests/harness): what the hosts run, what `orc get` reads, what each pass does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.cli.observed import read_snapshot
from orchestrator.plan.types import ContinuePod, RestartContainer
from tests.harness.lab import SimLab

IMAGE = "nginx:1.25"


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[SimLab]:
    lab = SimLab(tmp_path)
    yield lab
    lab.close()


def pod(name: str = "p", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"containers": [{"name": "app", "image": IMAGE}], **spec}}


INITS = [{"name": "a", "image": IMAGE}, {"name": "b", "image": IMAGE}]


def states(lab: SimLab, name: str = "p") -> dict[str, str]:
    ((host, *_),) = [p for p in lab.pods() if p[1] == name]
    return {c.name.removeprefix(f"orc_{name}").lstrip("_") or "infra": c.state for c in lab.containers(host, name)}


def stored(lab: SimLab, name: str = "p") -> Any:
    snap = read_snapshot(lab.store)
    assert snap is not None
    return snap.pod(name)


def test_init_containers_run_in_order_then_the_app_in_one_pass(lab: SimLab) -> None:
    lab.apply(pod(initContainers=INITS))
    r = lab.reconcile()
    assert not r.failed
    assert states(lab) == {"infra": "running", "a": "exited", "b": "exited", "app": "running"}
    lab.reconcile()
    p = stored(lab)
    assert p.phase == "Running" and [c.name for c in p.init_containers] == ["a", "b"]
    assert not lab.reconcile().changed  # converged: nothing more to start


def test_a_failing_init_container_holds_the_app_until_it_succeeds(lab: SimLab) -> None:
    lab.apply(pod(initContainers=INITS))
    lab.init_results("p", "a", 1, 1)
    lab.reconcile()
    assert states(lab) == {"infra": "running", "a": "restarting", "b": "created", "app": "created"}
    ((host, *_),) = lab.pods()
    lab.init_retried(host, "p", "a")  # docker's back-off: it fails again
    r = lab.reconcile()
    assert not [a for a in r.plan.actions if isinstance(a, ContinuePod)]  # docker retries it, not the loop
    assert stored(lab).phase == "Pending"
    assert stored(lab).init_containers[0].restarts == 1
    assert stored(lab).restarts == 1  # RESTARTS counts init containers' restarts, as kubectl's does
    lab.init_retried(host, "p", "a")  # now it succeeds
    r = lab.reconcile()
    assert [a.reason for a in r.plan.actions if isinstance(a, ContinuePod)] == ["init container b is next"]
    assert states(lab) == {"infra": "running", "a": "exited", "b": "exited", "app": "running"}


def test_a_slow_init_container_is_continued_by_a_later_pass(lab: SimLab) -> None:
    lab.apply(pod(initContainers=INITS))
    lab.init_results("p", "b", None)  # still running when the create step stops waiting
    lab.reconcile()
    assert states(lab)["b"] == "running" and states(lab)["app"] == "created"
    assert not [a for a in lab.reconcile().plan.actions if isinstance(a, ContinuePod)]
    ((host, *_),) = lab.pods()
    lab.init_retried(host, "p", "b")  # it ends (exit 0)
    r = lab.reconcile()
    assert [a.reason for a in r.plan.actions if isinstance(a, ContinuePod)] == ["init containers done"]
    assert states(lab)["app"] == "running"


def test_a_deleted_pod_runs_its_pre_stop_hook_first(lab: SimLab) -> None:
    hook = {"preStop": {"exec": {"command": ["sh", "-c", "echo bye"]}}}
    doc = pod(terminationGracePeriodSeconds=7, containers=[{"name": "app", "image": IMAGE, "lifecycle": hook}])
    lab.apply(doc)
    lab.reconcile()
    ((host, *_),) = lab.pods()
    app = lab.containers(host, "p")[-1]  # the app container (a solo pod's only one)
    lab.delete(doc)
    lab.reconcile()
    assert lab.docker[host].hooks_run == [("orc_p_app", ("sh", "-c", "echo bye"))]
    assert app.stop_grace == 7 and not lab.pods()


def test_parallel_stops_run_every_pods_hooks(lab: SimLab) -> None:
    hook = {"preStop": {"sleep": {"seconds": 2}}}
    docs = [pod(n, nodeName="h1", terminationGracePeriodSeconds=5,
                containers=[{"name": "app", "image": IMAGE, "lifecycle": hook}]) for n in ("p", "q")]
    lab.apply(*docs)
    lab.reconcile()
    apps = [lab.containers("h1", n)[-1] for n in ("p", "q")]
    for d in docs:
        lab.delete(d)
    lab.reconcile()
    assert "stop 2 pods" in lab.batches("h1")[-1]
    assert lab.docker["h1"].hooks_run == [("", ("sleep", "2")), ("", ("sleep", "2"))]
    assert [c.stop_grace for c in apps] == [5, 5] and not lab.pods()


def test_a_startup_probe_that_fails_restarts_the_container(lab: SimLab) -> None:
    startup = {"exec": {"command": ["true"]}, "periodSeconds": 1, "failureThreshold": 2}
    lab.apply(pod(containers=[{"name": "app", "image": IMAGE, "startupProbe": startup}]))
    lab.reconcile()
    lab.failing_health(IMAGE)
    lab.reconcile()  # sees it unhealthy
    r = lab.reconcile()
    restarts = [a for p in (lab.history[-2], r) for a in p.plan.actions if isinstance(a, RestartContainer)]
    assert restarts and restarts[0].reason == "startup probe failed"
    from orchestrator.act.cluster_events import EVENTS

    messages = [r.value["message"] for r in lab.store.list(EVENTS) if r.value["object"] == "pod/p"]
    assert "Startup probe failed: container app" in messages
    assert "Container app failed startup probe, will be restarted" in messages


def test_a_pod_deleted_while_it_initializes_is_not_started_further(lab: SimLab) -> None:
    doc = pod(initContainers=INITS, terminationGracePeriodSeconds=0)
    lab.apply(doc)
    lab.init_results("p", "a", None)  # still running
    lab.reconcile()
    ((host, *_),) = lab.pods()
    lab.init_retried(host, "p", "a")  # it ends: the next pass would start b
    lab.delete(doc)
    r = lab.reconcile()
    assert not [a for a in r.plan.actions if isinstance(a, ContinuePod)] and not lab.pods()
