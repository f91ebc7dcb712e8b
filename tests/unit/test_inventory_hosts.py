"""Hosts built from inventory vars: connection settings, labels, capacity; select() with host patterns."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from orchestrator.errors import ConfigError
from orchestrator.inventory.host_factory import ansible_boolean
from orchestrator.inventory.loader import load_inventory


def inventory(tmp_path: Path, text: str, name: str = "inv.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return load_inventory(path)


def test_connection_vars_make_the_host(tmp_path: Path) -> None:
    inv = inventory(
        tmp_path,
        """
web:
  hosts:
    w1:
      ansible_host: 192.0.2.10
      ansible_port: "2222"
      ansible_user: deploy
      ansible_ssh_private_key_file: ~/.ssh/id_w1
      ansible_become: "Yes"
      orc_known_hosts_file: ~/kh
      labels: {rack: r1, ssd: "true"}
      cpu: 4
      memory: 16Gi
      ephemeral_storage: 100Gi
      gpus: 2
    w2:
      ansible_private_key_file: /keys/w2
""",
    )
    w1 = inv.host("w1")
    assert (w1.address, w1.port, w1.user, w1.become) == ("192.0.2.10", 2222, "deploy", True)
    assert w1.key_file == os.path.expanduser("~/.ssh/id_w1")
    assert w1.known_hosts_file == os.path.expanduser("~/kh")
    assert w1.labels == {"rack": "r1", "ssd": "true"}
    assert w1.capacity == {"cpu": "4", "memory": "16Gi", "ephemeral-storage": "100Gi", "nvidia.com/gpu": "2"}
    assert w1.groups == ("web",)
    assert w1.vars["cpu"] == 4
    w2 = inv.host("w2")
    assert (w2.address, w2.port, w2.user, w2.become, w2.key_file) == ("w2", None, None, False, "/keys/w2")
    assert w2.labels == {} and w2.capacity == {}


def test_ini_hosts_get_the_same_fields(tmp_path: Path) -> None:
    inv = inventory(
        tmp_path,
        "[db]\nd1:2200 ansible_host=10.1.1.1 ansible_become=true labels=\"{'rack': 'r2'}\" ephemeral-storage=1Ti\n",
        "inv.ini",
    )
    d1 = inv.host("d1")
    assert (d1.address, d1.port, d1.become, d1.labels) == ("10.1.1.1", 2200, True, {"rack": "r2"})
    assert d1.capacity == {"ephemeral-storage": "1Ti"}


@pytest.mark.parametrize("word", [True, 1, "yes", "on", "TRUE", " y ", "t", "1"])
def test_ansible_true_words(word: object) -> None:
    assert ansible_boolean(word) is True


@pytest.mark.parametrize("word", [False, 0, "no", "off", "False", "n", "f", "0"])
def test_ansible_false_words(word: object) -> None:
    assert ansible_boolean(word) is False


@pytest.mark.parametrize(
    ("var_yaml", "message"),
    [
        ("ansible_become: maybe", r"ansible_become: 'maybe' is not a boolean"),
        ("ansible_port: ssh", r"ansible_port: must be a port number, got 'ssh'"),
        ("ansible_port: 70000", r"ansible_port: port 70000 is out of range"),
        ("labels: [a, b]", r"labels: must be a mapping"),
        ("labels: {rack: 1}", r"labels.rack: value must be a string, got int 1; quote it"),
        ("labels: {1: a}", r"labels: key 1 must be a non-empty string"),
        ("cpu: [1]", r"cpu: must be a quantity"),
        ("ansible_host: {a: b}", r"ansible_host: must be a string"),
    ],
)
def test_bad_host_vars_name_host_file_and_var(tmp_path: Path, var_yaml: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        inventory(tmp_path, f"web:\n  hosts:\n    w1:\n      {var_yaml}\n")
    text = str(err.value)
    assert text.startswith(f'inventory host "w1" ({tmp_path / "inv.yaml"}:3): ')
    assert re.search(message, text), text


def test_internal_vars_are_not_host_vars(tmp_path: Path) -> None:
    inv = inventory(
        tmp_path, "web:\n  hosts:\n    w1:\n      inventory_hostname: x\n      groups: y\n      a: 1\n"
    )
    assert inv.host("w1").vars == {"a": 1}


def test_group_names_exclude_all_but_list_ungrouped(tmp_path: Path) -> None:
    inv = inventory(
        tmp_path,
        "all:\n  hosts:\n    lone:\n  children:\n    a:\n      children:\n        b:\n          hosts: x\n",
    )
    assert inv.host("lone").groups == ("ungrouped",)
    assert inv.host("x").groups == ("a", "b")


SELECT_INV = """
web:
  hosts:
    web1:
    web2:
    web3:
db:
  hosts:
    db1:
    web3:
prod:
  children:
    web:
    db:
"""


@pytest.mark.parametrize(
    ("pattern", "names"),
    [
        ("all", ["web1", "web2", "web3", "db1"]),
        ("web", ["web1", "web2", "web3"]),
        ("web:db", ["web1", "web2", "web3", "db1"]),
        ("web,db", ["web1", "web2", "web3", "db1"]),
        ("web:&db", ["web3"]),
        ("prod:!db", ["web1", "web2"]),
        ("!db:prod", ["web1", "web2"]),
        ("web[1:]", ["web2", "web3"]),
        ("web[-1]", ["web3"]),
        ("*1", ["web1", "db1"]),
        ("~web[12]", ["web1", "web2"]),
        ("db1:web1", ["db1", "web1"]),
        ("nosuch", []),
    ],
)
def test_select_host_patterns(tmp_path: Path, pattern: str, names: list[str]) -> None:
    inv = inventory(tmp_path, SELECT_INV)
    assert [h.name for h in inv.select(pattern)] == names


def test_select_strict_names_the_unknown_term(tmp_path: Path) -> None:
    inv = inventory(tmp_path, SELECT_INV)
    with pytest.raises(ConfigError, match="'webz' matches no group and no host"):
        inv.select("web:webz", strict=True)
    assert inv.select("web:!nosuch", strict=False)


def test_select_subscript_out_of_range_is_an_error(tmp_path: Path) -> None:
    inv = inventory(tmp_path, SELECT_INV)
    with pytest.raises(ConfigError, match="no hosts match the subscript"):
        inv.select("web[7]")


def test_group_host_names_include_children(tmp_path: Path) -> None:
    inv = inventory(tmp_path, SELECT_INV)
    assert inv.group_host_names("prod") == ["web1", "web2", "web3", "db1"]
    with pytest.raises(ConfigError, match="group 'nope' is not in the inventory"):
        inv.group_host_names("nope")
