"""The whole pass as one pure plan, and the executor acting on exactly it: new pods are endpoints in the
plan that creates them, proxies change in the same round trip, pods that served are drained before they
are deleted, and a failure fails only what depends on it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from orchestrator.act.executor import Runtime, execute
from orchestrator.commands.pod import create_pod
from orchestrator.controllers.book import Book
from orchestrator.inventory.host import Host
from orchestrator.observe.snapshot import ClusterSnapshot
from orchestrator.plan.pass_plan import PassConfig, PassInputs, plan_pass
from orchestrator.plan.types import (
    DRAIN,
    FIRST,
    CopyImage,
    CreatePod,
    DeletePod,
    UpdateHostsFile,
    UpdateProxy,
)
from orchestrator.proxy.addresses import StoreOp
from orchestrator.proxy.state import STEP_NAME
from orchestrator.secrets import SecretSource
from orchestrator.transport.base import StepResult
from orchestrator.transport.fake import FakeTransport
from tests.unit.plan_fixtures import T0, config, containers_for, desired, host, running_pod

HOSTS = [Host(name=f"h{i}", address=f"127.0.0.{10 + i}", vars={"haproxy_mode": "master-worker",
                                                               "haproxy_config": f"/tmp/h{i}/haproxy.cfg"})
         for i in (1, 2)]


def web(replicas: int, probe: bool = False, secret: bool = False) -> dict[str, Any]:
    c: dict[str, Any] = {"name": "app", "image": "local/app:1", "ports": [{"name": "http", "containerPort": 80}]}
    if probe:
        c["readinessProbe"] = {"httpGet": {"path": "/", "port": "http"}}
    if secret:
        c["env"] = [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}]
    return {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "template": {"metadata": {"labels": {"app": "web"}},
                                                         "spec": {"containers": [c]}}}}


SVC = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
       "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]}}


def facts(name: str, containers: list = (), images: tuple[str, ...] = ("local/app:1", "local/busybox:1")):  # type: ignore[assignment]
    f = host(name, containers=containers, images=images)
    addr = next(h.address for h in HOSTS if h.name == name)
    return dataclasses.replace(f, address=addr, bind_address=addr,
                               extra={STEP_NAME: StepResult(STEP_NAME, 0, "")})


def inputs(d, hosts, book: Book | None = None, secrets: SecretSource | None = None) -> PassInputs:  # type: ignore[no-untyped-def]
    return PassInputs(d, ClusterSnapshot.build(hosts, T0, cluster="c1"), book or Book(), HOSTS, (),
                      secrets or SecretSource({}), "local/busybox:1")


CONFIG = PassConfig(config())


def test_new_pods_are_served_by_every_proxy_in_the_plan_that_creates_them() -> None:
    p = plan_pass(inputs(desired(web(2), SVC), [facts("h1"), facts("h2")]), CONFIG, T0, seed=1)
    creates = [a for a in p.actions if isinstance(a, CreatePod)]
    assert len(creates) == 2
    eps = p.endpoints["web"]
    assert sorted((e.pod, e.address, e.port) for e in eps) == sorted(
        (a.pod.name, next(h.address for h in HOSTS if h.name == a.host), 20000) for a in creates)
    for a in creates:  # published where the endpoints say, on the cluster address only
        assert [b.publish() for b in a.pod.ports] == [f"{next(h.address for h in HOSTS if h.name == a.host)}:20000:80/tcp"]
    proxies = [a for a in p.actions if isinstance(a, UpdateProxy)]
    assert sorted(a.host for a in proxies) == ["h1", "h2"]
    for a in proxies:
        for e in eps:
            assert f"server {e.pod} {e.address}:20000 check" in a.config
    assert {o.op for o in p.store_ops} == {"claim"} and len(p.store_ops) == 2  # a cluster IP and a node port
    # one round trip per host: hosts file, then the proxy, then the pods
    for actions in p.by_host(FIRST).values():
        assert [type(a) for a in actions][:2] == [UpdateHostsFile, UpdateProxy]
        assert all(isinstance(a, CreatePod) for a in actions[2:])


def test_a_pod_with_a_readiness_probe_joins_only_once_docker_says_it_is_healthy() -> None:
    p = plan_pass(inputs(desired(web(2, probe=True), SVC), [facts("h1"), facts("h2")]), CONFIG, T0, seed=1)
    assert p.endpoints["web"] == []


def test_pods_that_served_are_deleted_only_after_the_proxies_dropped_them() -> None:
    d = desired(web(1), SVC)
    run1, c1 = running_pod(d, "rc/web", "h1", name="web-aaaaa", started=T0 - 100)
    run2, c2 = running_pod(d, "rc/web", "h2", name="web-bbbbb", started=T0 - 50)
    book = Book(endpoints={"web": ["web-aaaaa@127.0.0.11:20000", "web-bbbbb@127.0.0.12:20000"]})
    p = plan_pass(inputs(d, [facts("h1", c1), facts("h2", c2)], book), CONFIG, T0, seed=1)
    (gone,) = [a for a in p.actions if isinstance(a, DeletePod)]
    assert gone.uid in p.drain and p.phase(gone) == DRAIN
    assert [e.pod for e in p.endpoints["web"]] == [n for n in ("web-aaaaa", "web-bbbbb") if n != gone.name]
    assert all(gone.name not in a.config for a in p.actions if isinstance(a, UpdateProxy))

    fake = FakeTransport()
    slept: list[float] = []
    results = execute(p, HOSTS, fake, Runtime("local/busybox:1", cluster="c1"), drain_seconds=2.0, sleep=slept.append)
    assert all(r.ok for r in results)
    names = [(b.host, b.names) for b in fake.batches]
    proxy_batches = [i for i, (_, n) in enumerate(names) if "proxy" in n]
    delete_batch = next(i for i, (_, n) in enumerate(names) if any(x.startswith("delete pod/") for x in n))
    assert len(proxy_batches) == 2 and max(proxy_batches) < delete_batch  # every proxy first
    assert slept == [2.0]


def test_a_pod_whose_secret_is_missing_waits_and_a_broken_secret_file_fails_the_pass(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("kind: Secret\nmetadata: {name: x}\ndata: {k: '%%%'}\n")
    source = SecretSource.load(tmp_path, strict=False)
    p = plan_pass(inputs(desired(web(1, secret=True)), [facts("h1")], secrets=source), CONFIG, T0, seed=1)
    assert not [a for a in p.actions if isinstance(a, CreatePod)]
    (why,) = p.pending.values()
    assert why.startswith('CreateContainerConfigError: secret "db" not found') and "bad.yaml" in why and "%%%" not in why
    assert any("bad.yaml" in e for e in p.errors)


def test_images_a_host_lacks_are_copied_from_a_host_that_has_them() -> None:
    p = plan_pass(inputs(desired(web(2)), [facts("h1"), facts("h2", images=("local/busybox:1",))]), CONFIG, T0,
                  seed=1)
    copies = [a for a in p.actions if isinstance(a, CopyImage)]
    assert [(c.host, c.image, c.source) for c in copies] == [("h2", "local/app:1", "h1")]


def test_a_failed_image_copy_fails_only_the_creates_that_need_it() -> None:
    p = plan_pass(inputs(desired(web(2)), [facts("h1"), facts("h2", images=("local/busybox:1",))]), CONFIG, T0,
                  seed=1)

    def push(transport, image, targets, source):  # type: ignore[no-untyped-def]
        raise RuntimeError(f"docker save {image} failed on {source.name}: no space left")

    fake = FakeTransport()
    results = execute(p, HOSTS, fake, Runtime("local/busybox:1", cluster="c1"), push=push)
    by = {(r.host, type(r.action).__name__): r for r in results}
    assert not by[("h2", "CopyImage")].ok and "no space left" in by[("h2", "CopyImage")].error
    assert not by[("h2", "CreatePod")].ok and "could not be copied" in by[("h2", "CreatePod")].error
    assert by[("h1", "CreatePod")].ok
    sent = {b.host: b.names for b in fake.batches}
    assert any(n.startswith("create pod/") for n in sent["h1"])
    assert not any(n.startswith("create pod/") for n in sent.get("h2", ()))


def test_a_lost_address_race_skips_the_proxies_built_on_it_and_nothing_else(tmp_path: Path) -> None:
    from orchestrator.store.sqlite import SQLiteStore

    p = plan_pass(inputs(desired(web(1), SVC), [facts("h1"), facts("h2")]), CONFIG, T0, seed=1)
    with SQLiteStore(tmp_path / "s.db") as store:
        claim = next(o for o in p.store_ops if "cluster-ip" in o.key)
        store.put(claim.key, {"service": "other"})  # another controller got there first
        fake = FakeTransport()
        results = execute(p, HOSTS, fake, Runtime("local/busybox:1", cluster="c1"), store=store)
    failed = [r for r in results if not r.ok]
    assert {type(r.action) for r in failed} == {StoreOp, UpdateProxy, UpdateHostsFile}
    assert any(isinstance(r.action, CreatePod) and r.ok for r in results)
    assert all("proxy" not in b.names for b in fake.batches)


def test_the_executor_sends_exactly_the_plan() -> None:
    p = plan_pass(inputs(desired(web(2), SVC), [facts("h1"), facts("h2")]), CONFIG, T0, seed=1)
    fake = FakeTransport()
    execute(p, HOSTS, fake, Runtime("local/busybox:1", cluster="c1"))
    sent = sorted((b.host, n) for b in fake.batches for n in b.names)
    planned: list[tuple[str, str]] = []
    for h, actions in p.by_host().items():
        for a in actions:
            from orchestrator.act.executor import render

            planned += [(h, c.name) for c in render(a, Runtime("local/busybox:1", cluster="c1"), {x.name: x for x in HOSTS})]
    assert sent == sorted(planned)


def test_a_host_that_left_the_inventory_hands_its_pods_over_before_they_stop() -> None:
    d = desired(web(1), SVC)
    old, cs = running_pod(d, "rc/web", "h2", name="web-old00", started=T0 - 100)
    book = Book(endpoints={"web": ["web-old00@127.0.0.12:20000"]})
    leaving = PassConfig(config(leaving=frozenset({"h2"})))
    # first pass: a replacement elsewhere, not served yet; the old pod keeps serving
    p = plan_pass(inputs(d, [facts("h1"), facts("h2", cs)], book), leaving, T0, seed=1)
    (new,) = [a for a in p.actions if isinstance(a, CreatePod)]
    assert new.host == "h1" and not [a for a in p.actions if isinstance(a, DeletePod)]
    assert new.pod.uid in p.hold_back and [e.pod for e in p.endpoints["web"]] == ["web-old00"]
    assert "handover" in " ".join(p.pending)
    # next pass: the replacement is ready: it is served, and the old pod is drained, then deleted
    p2 = plan_pass(inputs(d, [facts("h1", containers_for(new.pod)), facts("h2", cs)], book), leaving, T0 + 5,
                   seed=2)
    (gone,) = [a for a in p2.actions if isinstance(a, DeletePod)]
    assert gone.name == "web-old00" and gone.uid in p2.drain
    assert [e.pod for e in p2.endpoints["web"]] == [new.pod.name]
    assert not [a for a in p2.actions if isinstance(a, CreatePod)]


def test_failed_creations_back_off_from_10s_doubling_to_5_minutes_then_slow_start() -> None:
    from orchestrator.controllers.book import next_backoff

    b = next_backoff({}, {"rc/web": (3, 3)}, T0)
    assert b == {"rc/web": {"delay": 10.0, "until": T0 + 10}}
    delays = []
    for i in range(8):
        b = next_backoff(b, {"rc/web": (1, 1)}, T0 + i)
        delays.append(b["rc/web"]["delay"])
    assert delays == [20, 40, 80, 160, 300, 300, 300, 300]
    assert next_backoff(b, {}, T0) == b  # a pass that tried nothing keeps waiting
    assert next_backoff(b, {"rc/web": (2, 0)}, T0) == {}  # success clears it

    d = desired(web(3))
    waiting = Book(backoff={"rc/web": {"delay": 20.0, "until": T0 + 15}}, slow_start={"rc/web": 1})
    p = plan_pass(inputs(d, [facts("h1")], waiting), CONFIG, T0, seed=1)
    assert not [a for a in p.actions if isinstance(a, CreatePod)]
    assert "next try in 15s (back-off 20s" in p.pending["rc/web"]
    later = plan_pass(inputs(d, [facts("h1")], waiting), CONFIG, T0 + 16, seed=1)
    assert len([a for a in later.actions if isinstance(a, CreatePod)]) == 1  # then slow start: one try


def test_dns_policy_default_pods_resolve_as_their_node_does_and_cluster_first_ones_see_service_names() -> None:
    first = plan_pass(inputs(desired(web(1), SVC), [facts("h1"), facts("h2")]), CONFIG, T0, seed=1)
    [c] = [a for a in first.actions if isinstance(a, CreatePod)]
    assert c.pod.hosts_file and f"{c.pod.hosts_file}:/etc/hosts:ro" in create_pod(c.pod, "i", cluster="c1").render()
    rc = web(1)
    rc["spec"]["template"]["spec"]["dnsPolicy"] = "Default"
    p = plan_pass(inputs(desired(rc, SVC), [facts("h1"), facts("h2")]), CONFIG, T0, seed=1)
    [c] = [a for a in p.actions if isinstance(a, CreatePod)]
    assert c.pod.hosts_file is None and "/etc/hosts" not in create_pod(c.pod, "i", cluster="c1").render()
    assert c.pod.env  # service environment variables still come (enableServiceLinks governs those)
