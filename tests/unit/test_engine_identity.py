"""Nothing is destroyed without a positive decision (the real Engine over simulated hosts, tests/harness):
a second project on the same hosts, a lost store, a deleted object's tombstone, orphans and adoption."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.plan.types import DeletePod
from orchestrator.store.keys import tombstone_key
from tests.harness.lab import SimLab
from tests.unit.plan_fixtures import pod_doc, rc_doc


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[SimLab]:
    (tmp_path / "one").mkdir()
    lab = SimLab(tmp_path / "one")
    yield lab
    lab.close()


def uids(lab: SimLab, owner: str | None, cluster: str = "harness") -> set[str]:
    return {uid for _, _, uid, _ in lab.pods_of(owner, cluster=cluster)}


def test_a_second_project_on_the_same_hosts_neither_deletes_counts_nor_proxies_the_others_pods(
        lab: SimLab, tmp_path: Path) -> None:
    lab.apply(rc_doc("web", 4), pod_doc("db"))
    lab.reconcile()
    first = uids(lab, "rc/web") | uids(lab, None)
    assert len(first) == 5
    (tmp_path / "two").mkdir()
    other = SimLab.beside(lab, tmp_path / "two", "other")
    try:
        other.apply(rc_doc("web", 2))  # the same controller name, another cluster
        r = other.reconcile()
        assert not r.failed and not [a for a in r.plan.actions if isinstance(a, DeletePod)]
        assert len(uids(other, "rc/web", "other")) == 2  # its own two: the first project's 4 are not counted
        assert uids(lab, "rc/web") | uids(lab, None) == first  # nothing of the first touched
        (notice,) = r.new_notices
        assert "5 pod(s) of another cluster (harness)" in notice and "not counted, adopted, proxied or removed" in notice
        again = other.reconcile()
        assert not again.changed and again.new_notices == [] and again.plan.notices == [notice]  # said once
        assert {e["pod"] for eps in again.plan.endpoints.values() for e in map(vars, eps)} <= {
            p for _, p, _, _ in other.pods(cluster="other")}
        # and the first project, pass after pass, keeps its own and leaves the other's alone
        r1 = lab.reconcile()
        assert not r1.changed and uids(lab, "rc/web") | uids(lab, None) == first
        assert len(uids(other, "rc/web", "other")) == 2
        other.delete(rc_doc("web", 2))
        other.reconcile()
        assert uids(other, "rc/web", "other") == set() and uids(lab, "rc/web") | uids(lab, None) == first
    finally:
        other.close()


def test_a_lost_store_deletes_nothing_reports_orphans_once_and_reapplying_adopts_them(lab: SimLab) -> None:
    lab.apply(rc_doc("web", 3), pod_doc("db"))
    lab.reconcile()
    running = {(h, uid) for h, _, uid, _ in lab.pods()}
    lab.lose_store()
    r = lab.reconcile()
    assert not r.failed and not [a for a in r.plan.actions if isinstance(a, DeletePod)]
    assert {(h, uid) for h, _, uid, _ in lab.pods()} == running
    assert len(r.new_notices) == 2
    assert any("3 orphan pod(s) of rc/web" in n and "apply rc/web again to adopt" in n for n in r.new_notices)
    assert any("orphan bare pod(s) the store does not know (db)" in n for n in r.new_notices)
    assert lab.reconcile().new_notices == []  # reported once, not every pass
    lab.apply(rc_doc("web", 3), pod_doc("db"))  # the manifests again: the pods are adopted, none restarted
    adopted = lab.reconcile()
    assert adopted.plan.actions == [] and adopted.plan.notices == []
    assert {(h, uid) for h, _, uid, _ in lab.pods()} == running


def test_orphans_are_removed_only_with_reap_orphans(lab: SimLab) -> None:
    lab.apply(rc_doc("web", 2))
    lab.reconcile()
    lab.lose_store()
    assert len(lab.pods()) == 2
    r = lab.reconcile(lab.new_engine(reap_orphans=True))
    assert sorted(a.reason for a in r.plan.actions if isinstance(a, DeletePod)) == [
        "orphan: its owner rc/web is unknown to the store (--reap-orphans)"] * 2
    assert lab.pods() == []


def test_a_deleted_object_leaves_a_tombstone_until_its_pods_are_gone(lab: SimLab) -> None:
    lab.apply(rc_doc("web", 3))
    lab.reconcile()
    lab.delete(rc_doc("web", 3))
    assert lab.store.get(tombstone_key("rc/web")) is not None
    lab.unreachable("h1")  # one of its pods cannot be stopped yet
    r = lab.reconcile()
    assert {a.host for a in r.plan.actions if isinstance(a, DeletePod)} == {"h2", "h3"}
    assert lab.store.get(tombstone_key("rc/web")) is not None  # the pod on h1 is still to go
    lab.reachable("h1")
    r = lab.reconcile()
    assert [a.host for a in r.plan.actions if isinstance(a, DeletePod)] == ["h1"]
    assert lab.pods() == [] and lab.store.get(tombstone_key("rc/web")) is None
    assert not lab.reconcile().changed


def test_applying_a_deleted_object_again_clears_its_tombstone(lab: SimLab) -> None:
    lab.apply(rc_doc("web", 1))
    lab.reconcile()
    lab.delete(rc_doc("web", 1))
    lab.apply(rc_doc("web", 1))  # before any pass: the decision to delete is withdrawn
    assert lab.store.get(tombstone_key("rc/web")) is None
    r = lab.reconcile()
    assert r.plan.actions == [] and len(lab.pods()) == 1


def _web(replicas: int, name: str = "web") -> list[dict]:
    rc = rc_doc(name, replicas)
    rc["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 80}]
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
           "spec": {"type": "NodePort", "selector": {"app": name}, "ports": [{"port": 80, "targetPort": 80}]}}
    return [rc, svc]


def _own_haproxy(hosts: tuple[str, ...]) -> dict[str, dict[str, str]]:
    return {h: {"haproxy_config": "/run/two/haproxy.cfg", "haproxy_pidfile": "/run/two/haproxy.pid",
                "haproxy_socket": "/run/two/admin.sock"} for h in hosts}


def test_a_second_cluster_never_takes_the_first_ones_haproxy_config_addresses_or_hosts_file(
        lab: SimLab, tmp_path: Path) -> None:
    lab.apply(*_web(2))
    lab.reconcile_until_quiet(limit=3)
    first = {h: dict(d.files) for h, d in lab.docker.items()}
    first_lo = {h: dict(d.addresses) for h, d in lab.docker.items()}
    assert all(v.startswith(b"# orc cluster=harness") for d in first.values() for k, v in d.items()
               if k.endswith(("haproxy.cfg", "/hosts")))

    (tmp_path / "two").mkdir()
    same = SimLab.beside(lab, tmp_path / "two", "two")  # the same HAProxy paths and service range
    try:
        same.apply(*_web(1, "api"))
        r = same.reconcile()
        refused = [e for e in r.errors if "the HAProxy config /etc/haproxy/haproxy.cfg is cluster harness's" in e]
        assert sorted(e.split(":")[0] for e in refused) == ["h1", "h2", "h3"], r.errors
        assert "haproxy_config, haproxy_pidfile, haproxy_socket" in refused[0]
        assert {h: d.files.get("/etc/haproxy/haproxy.cfg") for h, d in lab.docker.items()} == {
            h: f.get("/etc/haproxy/haproxy.cfg") for h, f in first.items()}  # the first cluster's config, byte for byte
        assert all(d.files.get("/var/lib/orc/two/hosts", b"").startswith(b"# orc cluster=two")
                   for d in lab.docker.values())  # its own hosts file, beside the first one's
    finally:
        same.close()

    (tmp_path / "three").mkdir()
    own = SimLab.beside(lab, tmp_path / "three", "three", host_vars=_own_haproxy(tuple(lab.docker)))
    try:
        own.apply(*_web(1, "api"))
        r = own.reconcile()  # its own HAProxy, but the service range of the first: the address is taken
        clash = [e for e in r.errors if "its address 10.233.0.2 is already on lo with the label lo:orc-" in e]
        assert len(clash) == 3 and "own proxy.service_cidr" in clash[0], r.errors
        assert {h: dict(d.addresses) for h, d in lab.docker.items()} == first_lo  # no address taken over
    finally:
        own.close()
    assert not lab.reconcile().changed  # the first cluster never noticed


def test_two_clusters_with_their_own_haproxy_and_service_range_both_serve(lab: SimLab, tmp_path: Path) -> None:
    lab.apply(*_web(2))
    lab.reconcile_until_quiet(limit=3)
    before = {h: d.files["/etc/haproxy/haproxy.cfg"] for h, d in lab.docker.items()}
    (tmp_path / "two").mkdir()
    two = SimLab.beside(lab, tmp_path / "two", "two", host_vars=_own_haproxy(tuple(lab.docker)),
                        settings={"proxy": {"service_cidr": "10.234.0.0/24", "node_port_range": "31000-31999"}})
    try:
        two.apply(*_web(1, "api"))
        r = two.reconcile()
        assert not r.errors and not r.failed
        for h, d in lab.docker.items():
            text = d.files["/run/two/haproxy.cfg"].decode()
            assert text.startswith("# orc cluster=two node-ports=31") and " be-api-80" in text
            assert d.files["/etc/haproxy/haproxy.cfg"] == before[h]
            assert sorted(set(d.addresses.values())) == sorted({"lo:orc-49f75646", "lo:orc-" + _h("two")})
        assert not two.reconcile().changed and not lab.reconcile().changed
    finally:
        two.close()


def _h(name: str) -> str:
    import hashlib

    return hashlib.sha256(name.encode()).hexdigest()[:8]


def test_a_node_port_another_program_listens_on_is_not_taken_but_our_own_listener_is_ours() -> None:
    from orchestrator.model.load import parse_objects
    from orchestrator.plan.services import _servable
    from orchestrator.proxy.addresses import ServiceAddress
    from orchestrator.proxy.state import ProxyState

    (svc,) = parse_objects([_web(1)[1]])
    addresses = {"web": ServiceAddress("10.233.0.2", {80: 30080})}
    theirs = ProxyState(listening=frozenset({22, 30080}))
    here, clashes = _servable({"web": svc}, addresses, theirs)
    assert here == {} and len(clashes) == 1
    assert "svc/web: node port 30080 is in use on this host by another program" in clashes[0]
    ours = ProxyState(listening=frozenset({22, 30080}), owned_ports=frozenset({30080}))  # our config's mark
    assert _servable({"web": svc}, addresses, ours) == ({"web": svc}, [])


def test_a_lost_store_leaves_the_proxies_serving_and_the_services_come_back_with_the_manifests(lab: SimLab) -> None:
    lab.apply(*_web(2))
    lab.reconcile_until_quiet(limit=3)
    live = {h: d.files["/etc/haproxy/haproxy.cfg"] for h, d in lab.docker.items()}
    assert all(b" services=web" in v.split(b"\n")[0] for v in live.values())
    lab.lose_store()
    r = lab.reconcile()
    assert not r.failed and r.results == []  # nothing stopped, no proxy touched
    assert {h: d.files["/etc/haproxy/haproxy.cfg"] for h, d in lab.docker.items()} == live
    assert any("HAProxy on h1, h2, h3 serves svc/web, unknown to the store" in n for n in r.new_notices)
    lab.apply(*_web(2))
    again = lab.reconcile()
    assert not [a for a in again.plan.actions if isinstance(a, DeletePod)] and again.plan.notices == []
    assert all(b" services=web" in d.files["/etc/haproxy/haproxy.cfg"].split(b"\n")[0] for d in lab.docker.values())


def test_a_deleted_service_leaves_the_proxies_of_a_host_away_when_it_is_back(lab: SimLab) -> None:
    lab.apply(*_web(2))
    lab.reconcile_until_quiet(limit=3)
    lab.delete(_web(2)[1])
    lab.unreachable("h3")
    lab.reconcile()
    assert lab.store.get(tombstone_key("svc/web")) is not None  # h3's proxy still serves it
    assert b"services=web" in lab.docker["h3"].files["/etc/haproxy/haproxy.cfg"].split(b"\n")[0]
    lab.reachable("h3")
    r = lab.reconcile()
    assert not r.plan.notices  # not an orphan: its tombstone says it was deleted
    assert all(b"services=" not in d.files["/etc/haproxy/haproxy.cfg"].split(b"\n")[0] for d in lab.docker.values())
    lab.reconcile()
    assert lab.store.get(tombstone_key("svc/web")) is None
