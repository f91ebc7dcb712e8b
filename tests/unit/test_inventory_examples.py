"""The user-facing examples in inventory/ load, and the INI and YAML ones describe the same cluster."""

from __future__ import annotations

from pathlib import Path

from orchestrator.inventory.ansible_json import to_ansible_list
from orchestrator.inventory.loader import load_inventory

INVENTORY = Path(__file__).resolve().parents[2] / "inventory"


def test_ini_and_yaml_examples_are_the_same_cluster() -> None:
    ini = load_inventory(INVENTORY / "example.ini")
    yaml = load_inventory(INVENTORY / "example.yaml")
    assert to_ansible_list(ini) == to_ansible_list(yaml)
    assert ini.hosts() == yaml.hosts()


def test_example_hosts_carry_connection_labels_and_capacity() -> None:
    inv = load_inventory(INVENTORY / "example.yaml")
    assert [h.name for h in inv.select("proxy")] == ["web01", "web02", "web03"]
    db02 = inv.host("db02")
    assert (db02.address, db02.port, db02.user, db02.become) == ("192.0.2.22", 2222, "deploy", True)
    assert db02.labels == {"tier": "be", "rack": "r2", "ssd": "true"}
    assert db02.capacity == {"memory": "64Gi"}
    assert inv.host("gpu01").capacity == {"nvidia.com/gpu": "2"}
    assert {h.labels["rack"] for h in inv.hosts()} == {"r1", "r2"}
