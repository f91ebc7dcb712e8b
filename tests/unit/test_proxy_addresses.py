"""Cluster IPs and node ports in the store: stable for a service's life, honoured when given, conflicts named,
released on deletion, and never handed out twice even to allocators racing on one store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestrator.config import ProxySettings
from orchestrator.errors import ConfigError
from orchestrator.model.load import parse_objects
from orchestrator.model.objects import Service
from orchestrator.proxy.addresses import AllocationError, ServiceAddress, allocate, current
from orchestrator.store import keys
from orchestrator.store.sqlite import SQLiteStore

SETTINGS = ProxySettings(service_cidr="10.233.0.0/29", node_port_range="30000-30002")


def svc(
    name: str, *ports: dict[str, Any], type_: str | None = None, cluster_ip: str | None = None
) -> Service:
    spec: dict[str, Any] = {"selector": {"app": name}, "ports": list(ports) or [{"port": 80}]}
    if type_:
        spec["type"] = type_
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
    [obj] = parse_objects([{"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}])
    assert isinstance(obj, Service)
    return obj


def services(*objs: Service) -> dict[str, Service]:
    return {s.name: s for s in objs}


@pytest.fixture
def store(tmp_path: Path):
    s = SQLiteStore(tmp_path / "orc.db")
    yield s
    s.close()


def test_first_free_addresses_skipping_the_network_and_first_host(store: SQLiteStore) -> None:
    got = allocate(store, services(svc("a"), svc("b")), SETTINGS)
    assert got == {"a": ServiceAddress("10.233.0.2"), "b": ServiceAddress("10.233.0.3")}
    assert store.get(keys.cluster_ip_key("10.233.0.2")).value == {"service": "a"}


def test_a_service_keeps_its_address_across_passes_and_others_coming_and_going(store: SQLiteStore) -> None:
    first = allocate(store, services(svc("a"), svc("b")), SETTINGS)
    allocate(store, services(svc("b")), SETTINGS)  # a deleted: its address is released
    again = allocate(store, services(svc("b"), svc("c")), SETTINGS)
    assert again["b"] == first["b"]
    assert again["c"].cluster_ip == "10.233.0.2"  # a's old address, free again
    assert current(store) == again


def test_given_cluster_ip_is_honoured_even_when_listed_after_automatic_ones(store: SQLiteStore) -> None:
    got = allocate(store, services(svc("a"), svc("b", cluster_ip="10.233.0.2")), SETTINGS)
    assert got["b"].cluster_ip == "10.233.0.2"
    assert got["a"].cluster_ip == "10.233.0.3"


def test_changing_spec_cluster_ip_moves_the_service_and_frees_the_old_one(store: SQLiteStore) -> None:
    allocate(store, services(svc("a")), SETTINGS)
    got = allocate(store, services(svc("a", cluster_ip="10.233.0.5")), SETTINGS)
    assert got["a"].cluster_ip == "10.233.0.5"
    assert [r.key for r in store.list(keys.CLUSTER_IP)] == [keys.cluster_ip_key("10.233.0.5")]


def test_cluster_ip_taken_or_out_of_range_names_the_service_and_keeps_the_others(store: SQLiteStore) -> None:
    allocate(store, services(svc("a")), SETTINGS)  # a: 10.233.0.2
    with pytest.raises(AllocationError) as e:
        allocate(
            store,
            services(svc("a"), svc("b", cluster_ip="10.233.0.2"), svc("c", cluster_ip="10.1.0.1"), svc("d")),
            SETTINGS,
        )
    assert e.value.errors == [
        'Service "b": spec.clusterIP 10.233.0.2 is already allocated to Service "a": pick another address '
        "or omit it",
        'Service "c": spec.clusterIP 10.1.0.1 is not in the service range 10.233.0.0/29 (orc.yaml '
        "proxy.service_cidr): pick an address in it or omit it",
    ]
    assert e.value.addresses == {"a": ServiceAddress("10.233.0.2"), "d": ServiceAddress("10.233.0.3")}
    assert isinstance(e.value, ConfigError)


def test_range_exhausted_is_an_error_naming_the_service(store: SQLiteStore) -> None:
    many = services(*(svc(f"s{i}") for i in range(5)))  # /29: hosts .1-.6, .1 kept back -> 5 addresses
    assert len(allocate(store, many, SETTINGS)) == 5
    with pytest.raises(AllocationError, match='Service "s5": no free cluster IP left in 10.233.0.0/29'):
        allocate(store, {**many, "s5": svc("s5")}, SETTINGS)


def test_node_ports_allocated_recorded_and_stable(store: SQLiteStore) -> None:
    web = svc("web", {"name": "http", "port": 80}, {"name": "https", "port": 443}, type_="NodePort")
    got = allocate(store, services(web), SETTINGS)
    assert got["web"].node_ports == {80: 30000, 443: 30001}
    assert store.get(keys.node_port_key(30001)).value == {"service": "web", "port": 443}
    assert allocate(store, services(svc("other", type_="NodePort"), web), SETTINGS)["web"] == got["web"]


def test_given_node_port_honoured_before_automatic_picks_of_other_services(store: SQLiteStore) -> None:
    a = svc("a", type_="NodePort")
    b = svc("b", {"port": 80, "nodePort": 30000}, type_="NodePort")
    got = allocate(store, services(a, b), SETTINGS)
    assert got["b"].node_ports == {80: 30000}
    assert got["a"].node_ports == {80: 30001}


def test_node_port_conflicts_and_range_named(store: SQLiteStore) -> None:
    allocate(store, services(svc("a", {"port": 80, "nodePort": 30001}, type_="NodePort")), SETTINGS)
    b = svc("b", {"port": 80, "nodePort": 30001}, type_="NodePort")
    c = svc("c", {"port": 80, "nodePort": 31000}, type_="NodePort")
    a = svc("a", {"port": 80, "nodePort": 30001}, type_="NodePort")
    with pytest.raises(AllocationError) as e:
        allocate(store, services(a, b, c), SETTINGS)
    assert e.value.errors == [
        'Service "b": spec.ports[0].nodePort 30001 is already allocated to Service "a": pick another or omit it',
        'Service "c": spec.ports[0].nodePort 31000 is outside the node port range 30000-30002 (orc.yaml '
        "proxy.node_port_range): pick one in it",
    ]
    assert set(e.value.addresses) == {"a"}


def test_node_ports_released_when_service_becomes_cluster_ip_or_is_deleted(store: SQLiteStore) -> None:
    allocate(store, services(svc("a", type_="NodePort"), svc("b", type_="NodePort")), SETTINGS)
    got = allocate(store, services(svc("a"), svc("b", type_="NodePort")), SETTINGS)
    assert got["a"].node_ports == {}
    allocate(store, services(svc("a")), SETTINGS)
    assert store.list(keys.NODE_PORT) == []
    assert [r.value["service"] for r in store.list(keys.CLUSTER_IP)] == ["a"]


def test_two_controllers_planning_from_one_empty_store_never_share_an_address(tmp_path: Path) -> None:
    # Both read the store empty and plan the same address: the create-only write lets one have it; the
    # other's claim fails (its service waits a pass) and its next plan, from what the first wrote, differs.
    from orchestrator.proxy.addresses import allocation_records, apply_ops, plan_allocation

    one, two = SQLiteStore(tmp_path / "orc.db"), SQLiteStore(tmp_path / "orc.db")
    try:
        p1 = plan_allocation(allocation_records(one), {"x": svc("x")}, SETTINGS)
        p2 = plan_allocation(allocation_records(two), {"y": svc("y")}, SETTINGS)
        assert p1.addresses["x"].cluster_ip == p2.addresses["y"].cluster_ip == "10.233.0.2"
        assert apply_ops(one, p1.ops) == []
        failed = apply_ops(two, p2.ops)
        assert [op.key for op, _ in failed] == ["_meta/cluster-ip/10.233.0.2"]
        assert "taken by another controller" in failed[0][1]
        again = plan_allocation(allocation_records(two), {"x": svc("x"), "y": svc("y")}, SETTINGS)
        assert again.addresses["x"].cluster_ip == "10.233.0.2"
        assert again.addresses["y"].cluster_ip == "10.233.0.3"
        assert [o.key for o in again.ops] == ["_meta/cluster-ip/10.233.0.3"]
    finally:
        one.close()
        two.close()


def test_planning_an_allocation_writes_nothing(tmp_path: Path) -> None:
    from orchestrator.proxy.addresses import allocation_records, plan_allocation

    with SQLiteStore(tmp_path / "orc.db") as store:
        before = store.list("").revision
        planned = plan_allocation(allocation_records(store), {"x": svc("x")}, SETTINGS)
        assert planned.ops and store.list("").revision == before
