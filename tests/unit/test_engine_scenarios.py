"""The real Engine, pass after pass, over simulated docker hosts (tests/harness): what a user would notice
on the hosts (containers), in `orc get` (the stored snapshot), and in each pass's results and round trips."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.plan.types import CreatePod, DeletePod
from tests.harness.lab import SimLab
from tests.unit.plan_fixtures import pod_doc, rc_doc

GRACE = 40.0


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[SimLab]:
    lab = SimLab(tmp_path, grace_period=GRACE)
    yield lab
    lab.close()


def four(tmp_path: Path) -> SimLab:
    return SimLab(tmp_path, hosts=("h1", "h2", "h3", "h4"), grace_period=GRACE)


def acts(result: Any) -> list[tuple[str, str]]:
    """(host, step) of every step of the pass's act batches."""
    return sorted((r.host, r.step) for r in result.results)


def creates(result: Any) -> list[CreatePod]:
    return [r.action for r in result.results if isinstance(r.action, CreatePod)]


def test_an_rc_converges_from_empty_in_one_pass(lab: SimLab) -> None:
    lab.apply(rc_doc("web", 3))
    r = lab.reconcile()
    assert not r.failed and not r.plan.pending
    pods = lab.pods_of("rc/web")
    assert sorted(h for h, *_ in pods) == ["h1", "h2", "h3"]  # spread, one per host
    for host, name, _, _ in pods:  # a solo pod: one container, no infra container
        (app,) = lab.containers(host, name)
        assert (app.name, app.running, app.image, app.network) == (f"orc_{name}_app", True, "nginx:1.25", "bridge")
        assert app.labels["orc.infra"] == "self" and app.labels["orc.containers"] == "app"
    # One probe and one act round trip per host; `orc get pods` lists them.
    assert r.round_trips == {"h1": 2, "h2": 2, "h3": 2}
    assert [(h, n) for h, n, _ in lab.stored_pods()] == [(h, n) for h, n, *_ in pods]
    assert lab.stored_hosts() == {"h1": "Ready", "h2": "Ready", "h3": "Ready"}


def test_the_pass_after_convergence_sends_no_act_batch(lab: SimLab) -> None:
    lab.apply(rc_doc("web", 3))
    lab.reconcile()
    before = {h: len(lab.batches(h)) for h in lab.docker}
    for _ in range(2):  # the first after creating probes fully, the next one lightly: both silent
        r = lab.reconcile()
        assert r.results == [] and r.plan.actions == [] and not r.changed
        assert r.round_trips == {"h1": 1, "h2": 1, "h3": 1}
    for h in lab.docker:
        new = lab.batches(h)[before[h]:]
        assert len(new) == 2 and all("containers" in names for names in new), new  # probes only
    assert [p for _, _, p in lab.stored_pods()] == ["Running"] * 3


def test_scale_up_and_down_converge_in_one_pass_each(lab: SimLab) -> None:
    for replicas in (3, 6, 1, 4):
        lab.apply(rc_doc("web", replicas))
        r = lab.reconcile()
        assert not r.failed
        per_host = Counter(h for h, *_ in lab.pods_of("rc/web"))
        assert sum(per_host.values()) == replicas
        assert max(per_host.values()) - min(per_host.get(h, 0) for h in lab.docker) <= 1  # still spread
        assert not lab.reconcile().changed
    lab.delete(rc_doc("web", 4))
    r = lab.reconcile()
    assert {type(a) for a in r.plan.actions} == {DeletePod} and not r.failed
    assert lab.pods() == [] and all(not h.containers for h in lab.docker.values())
    assert lab.stored_pods() == []


def test_a_killed_container_is_replaced(lab: SimLab) -> None:
    lab.apply(rc_doc("web", 3, sidecar=True))  # two containers: an infra container holds their namespace
    lab.reconcile()
    host, victim, uid, _ = lab.pods_of("rc/web")[0]
    lab.kill(host, victim)  # `docker rm -f orc_<pod>_app` behind orc's back
    r = lab.reconcile()
    assert [(a.host, a.uid) for a in r.plan.actions if isinstance(a, DeletePod)] == [(host, uid)]
    assert len(creates(r)) == 1 and not r.failed
    pods = lab.pods_of("rc/web")
    assert len(pods) == 3 and uid not in {p[2] for p in pods}
    assert not [c for c in lab.docker[host].containers if c.startswith(f"orc_{victim}")]  # its infra went too
    assert not lab.reconcile().changed


def test_a_killed_solo_pod_is_made_again(lab: SimLab) -> None:
    """A one-container pod has no infra container: its container removed behind orc's back, the pod is gone,
    and one create replaces it (nothing is left to delete)."""
    lab.apply(rc_doc("web", 3))
    lab.reconcile()
    host, victim, uid, _ = lab.pods_of("rc/web")[0]
    assert [c.name for c in lab.containers(host, victim)] == [f"orc_{victim}_app"]
    lab.kill(host, victim)
    r = lab.reconcile()
    assert not [a for a in r.plan.actions if isinstance(a, DeletePod)] and len(creates(r)) == 1 and not r.failed
    pods = lab.pods_of("rc/web")
    assert len(pods) == 3 and uid not in {p[2] for p in pods}
    assert not lab.reconcile().changed


def test_a_crashed_container_restarted_by_docker_is_kept_and_its_restarts_shown(lab: SimLab) -> None:
    lab.apply(rc_doc("web", 3))
    lab.reconcile()
    host, name, uid, _ = lab.pods_of("rc/web")[0]
    lab.crash(host, name)
    r = lab.reconcile()
    assert not r.changed and uid in {p[2] for p in lab.pods_of("rc/web")}
    (pod,) = [p for p in r.snapshot.pods if p.uid == uid]
    assert pod.restarts == 1 and pod.phase == "Running"


def test_a_lost_host_is_replaced_after_the_grace_period_and_cleaned_when_it_returns(tmp_path: Path) -> None:
    lab = four(tmp_path)
    lab.apply(rc_doc("web", 3))
    lab.reconcile()
    down, _, stale_uid, _ = lab.pods_of("rc/web")[0]
    lab.unreachable(down)
    replaced_at = None
    for i in range(int(GRACE // lab.step) + 2):
        r = lab.reconcile()
        assert down not in r.round_trips or r.round_trips[down] == 0
        assert lab.stored_hosts()[down] == "Unreachable"
        if creates(r):
            replaced_at = i
            break
        # Within the grace period its pod still counts: nothing is created, `orc get` shows it Unknown.
        assert r.plan.actions == [] and (down, lab.pods_of("rc/web")[0][1], "Unknown") in lab.stored_pods()
    assert replaced_at == int(GRACE // lab.step)  # the first pass once it has failed for the grace period
    (new,) = creates(r)
    assert new.host != down and stale_uid in r.plan.book["evicted"]
    assert len(lab.pods_of("rc/web", reachable_only=True)) == 3
    assert not lab.reconcile().changed
    lab.reachable(down)  # back with its old container: removed, by uid, never counted beside its replacement
    back = lab.reconcile()
    assert [(a.host, a.uid) for a in back.plan.actions] == [(down, stale_uid)]
    assert isinstance(back.plan.actions[0], DeletePod)
    assert len(lab.pods_of("rc/web")) == 3 and lab.stored_hosts()[down] == "Ready"
    assert not lab.reconcile().changed and lab.book().evicted == {}
    lab.close()


def test_a_host_whose_docker_died_is_treated_as_lost_and_cleaned_when_docker_returns(tmp_path: Path) -> None:
    lab = four(tmp_path)
    lab.apply(rc_doc("web", 3))
    lab.reconcile()
    sick, _, stale_uid, _ = lab.pods_of("rc/web")[0]
    lab.docker_dies(sick)
    r = lab.reconcile()
    assert r.unreachable == [sick] and lab.stored_hosts()[sick] == "NotReady"
    assert r.round_trips[sick] == 1 and r.results == []  # probed, never asked to act
    while not creates(r):
        r = lab.reconcile()
    assert all(a.host != sick for a in r.plan.actions)
    lab.docker_returns(sick)
    back = lab.reconcile()
    assert [(a.host, a.uid) for a in back.plan.actions if isinstance(a, DeletePod)] == [(sick, stale_uid)]
    assert len(lab.pods_of("rc/web")) == 3 and not lab.reconcile().changed
    lab.close()


def test_failed_creations_slow_down_then_speed_up_again(lab: SimLab) -> None:
    lab.fail_next_run("nginx:1.25", times=9)
    lab.apply(rc_doc("web", 8))
    tried = []
    for _ in range(6):
        r = lab.reconcile(advance=301)  # past the longest crash-loop back-off (5 min) each time
        tried.append((len(creates(r)), len([x for x in r.failed if isinstance(x.action, CreatePod)])))
    # 8 tried and failed; then one at a time while they fail; then doubling batches: 1, 2, 4 ...
    assert tried == [(8, 8), (1, 1), (1, 0), (2, 0), (4, 0), (1, 0)]
    assert len(lab.pods_of("rc/web")) == 8
    # A failed create left nothing behind: one container per (solo) pod.
    assert sum(len(h.containers) for h in lab.docker.values()) == 8
    failed = [x for p in lab.history[:2] for x in p.failed]
    assert all("exec format error" in x.error and "container app" in x.error for x in failed)
    assert "slow start" in lab.history[1].plan.pending["rc/web"]


def test_a_bare_pod_is_recreated_on_its_host(lab: SimLab) -> None:
    lab.apply(pod_doc("db"))
    lab.reconcile()
    ((host, _, uid, _),) = lab.pods()
    lab.kill(host, "db")  # its one container: the (solo) pod is gone
    r = lab.reconcile()
    assert [(type(a).__name__, a.host) for a in r.plan.actions] == [("CreatePod", host)]
    ((again, _, new_uid, _),) = lab.pods()
    assert again == host and new_uid != uid
    lab.wipe(host)  # the host comes back empty: the pod is made again there, nowhere else
    r = lab.reconcile()
    assert [(type(a).__name__, a.host) for a in r.plan.actions] == [("CreatePod", host)]
    assert [p[0] for p in lab.pods()] == [host] and not lab.reconcile().changed


def test_a_bare_pod_waits_for_its_lost_host_and_is_kept_when_it_returns(lab: SimLab) -> None:
    lab.apply(pod_doc("db"))
    lab.reconcile()
    ((host, _, uid, _),) = lab.pods()
    lab.unreachable(host)
    for _ in range(int(GRACE // lab.step) + 1):
        r = lab.reconcile()
        assert r.plan.actions == []
    assert "was lost" in r.plan.pending["pod/db"]
    lab.reachable(host)
    back = lab.reconcile()
    assert back.plan.actions == [] and not back.plan.pending
    assert lab.pods() == [(host, "db", uid, None)]


def svc_docs(replicas: int) -> list[dict[str, Any]]:
    rc = rc_doc("web", replicas)
    rc["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 80}]
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 80}]}}
    return [rc, svc]


def backends(lab: SimLab, host: str) -> set[str]:
    """`server` lines of the HAProxy config the host runs (read at its last start or reload)."""
    text = (lab.docker[host].haproxy_loaded or b"").decode()
    return {line.split()[2] for line in text.splitlines() if line.strip().startswith("server ")}


def published(lab: SimLab) -> set[str]:
    """address:port of every pod's published container port 80."""
    addr = {h.name: h.address for h in lab.hosts}
    return {f"{addr[h]}:{c.ports['80/tcp'][0][1]}" for h, name, _, _ in lab.pods_of("rc/web")
            for c in lab.containers(h, name) if "80/tcp" in c.ports}


def test_services_reach_their_pods_and_a_settled_cluster_is_silent(lab: SimLab) -> None:
    lab.apply(*svc_docs(3))
    lab.reconcile_until_quiet(limit=3)
    for h in lab.docker:
        assert backends(lab, h) == published(lab) and len(published(lab)) == 3
        assert lab.docker[h].haproxy_pid("/run/haproxy.pid") is not None
    hosts_file = lab.docker["h1"].files["/var/lib/orc/harness/hosts"].decode()  # the cluster's own
    assert hosts_file.splitlines()[0] == "# orc cluster=harness" and hosts_file.splitlines()[2].endswith(" web")
    (app,) = [c for c in lab.containers(*lab.pods_of("rc/web")[0][:2]) if c.name.endswith("_app")]
    assert app.env["WEB_SERVICE_PORT"] == "80" and "/var/lib/orc/harness/hosts:/etc/hosts:ro" in app.mounts


def test_one_pass_puts_new_pods_behind_every_proxy(lab: SimLab) -> None:
    lab.apply(*svc_docs(3))
    lab.reconcile()
    assert all(backends(lab, h) == published(lab) for h in lab.docker)
    assert not lab.reconcile().changed


def test_a_controller_killed_mid_pass_twenty_times_leaves_exactly_what_is_desired_after_one_full_pass(
        lab: SimLab) -> None:
    rnd = random.Random(5)
    for i in range(20):
        replicas = rnd.choice([1, 3, 6])
        lab.apply(rc_doc("web", replicas), pod_doc("db"))
        lab.reconcile_killed({h: rnd.randrange(0, 4) for h in lab.docker}, half=rnd.random() < 0.5)
        r = lab.reconcile()
        assert not r.failed, (i, r.failed)
        assert len(lab.pods_of("rc/web")) == replicas, i
        names = Counter(p[1] for p in lab.pods())
        assert names["db"] == 1 and max(names.values()) == 1, names
        assert all(c.labels.get("orc.pod-uid") for h in lab.docker.values() for c in h.containers.values())


def test_a_bare_pod_created_by_a_killed_pass_then_out_of_sight_runs_once_when_its_host_returns(
        tmp_path: Path) -> None:
    lab = SimLab(tmp_path, hosts=("h1", "h2"), grace_period=GRACE)
    lab.apply(pod_doc("db"))
    lab.reconcile_killed({"h1": 1, "h2": 1})  # created, but the controller died after it
    ((first, _, _, _),) = lab.pods()
    assert lab.book().bindings == {}
    lab.unreachable(first)
    again = lab.reconcile()  # the book knows nothing of it: scheduled again on the other host
    assert [a.host for a in again.plan.actions] == [h for h in lab.docker if h != first]
    lab.reachable(first)
    back = lab.reconcile()
    (dup,) = back.plan.actions
    assert isinstance(dup, DeletePod) and dup.name == "db" and "duplicate" in dup.reason
    assert [p[1] for p in lab.pods()] == ["db"]
    assert not lab.reconcile().changed
    lab.close()


def test_an_image_only_one_host_has_is_copied_to_the_hosts_that_run_its_pods(lab: SimLab) -> None:
    lab.docker["h1"].images.add("local/app:1")  # built there; no registry has it
    lab.apply(rc_doc("web", 3, image="local/app:1"))
    r = lab.reconcile()
    copies = sorted((x.host, x.step, x.ok) for x in r.results if x.step.startswith("copy image"))
    assert copies == [(h, "copy image local/app:1 from h1", True) for h in ("h2", "h3")]
    assert not r.failed and sorted(h for h, *_ in lab.pods_of("rc/web")) == ["h1", "h2", "h3"]
    assert all("local/app:1" in h.images for h in lab.docker.values())
    assert not lab.reconcile().changed


def test_a_failing_image_source_fails_only_the_pods_that_need_it(lab: SimLab) -> None:
    lab.docker["h1"].images.add("local/app:1")
    lab.image_source_fails("h1")
    lab.apply(rc_doc("app", 3, image="local/app:1"), rc_doc("web", 3))
    r = lab.reconcile()
    assert len(lab.pods_of("rc/web")) == 3  # the other controller's pods are all made
    assert [h for h, *_ in lab.pods_of("rc/app")] == ["h1"]  # only where the image already was
    failed = {(x.host, x.step.split(" ")[0]) for x in r.failed}
    assert failed and {h for h, _ in failed} == {"h2", "h3"}
    assert all("no space left on device" in x.error for x in r.failed), r.failed


def _inspected(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the containers the simulated hosts `docker inspect` from now on."""
    from tests.harness.docker import Container

    seen: list[str] = []
    real = Container.inspect

    def spy(self: Container, now: float) -> dict[str, Any]:
        seen.append(self.name)
        return real(self, now)

    monkeypatch.setattr(Container, "inspect", spy)
    return seen


def test_a_no_op_pass_inspects_no_container_and_a_restart_by_docker_is_still_seen(
        lab: SimLab, monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe's container cache (observe/container_cache.py): one `docker ps` per host and no inspect
    on a pass where nothing changed; a container docker restarted behind our back (still running, same
    health) is inspected again, by its uptime, and its restart counted."""
    lab.apply(rc_doc("web", 3))
    lab.reconcile()
    lab.reconcile()  # the hosts that were acted on are probed fully once (their cache is made there)
    seen = _inspected(monkeypatch)
    for _ in range(3):  # within facts_ttl (a full probe inspects every container afresh)
        r = lab.reconcile(advance=30)
        assert not r.changed and seen == [] and r.round_trips == {"h1": 1, "h2": 1, "h3": 1}
    host, name, uid, _ = lab.pods_of("rc/web")[0]
    lab.crash(host, name)
    r = lab.reconcile()
    (pod,) = [p for p in r.snapshot.pods if p.uid == uid]
    assert pod.restarts == 1 and pod.phase == "Running" and seen == [f"orc_{name}_app"]
    assert r.round_trips[host] == 2 and sum(r.round_trips.values()) == 4  # one inspect more, on that host only
