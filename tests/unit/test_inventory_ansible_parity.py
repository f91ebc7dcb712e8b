"""orc reads each fixture inventory exactly as ansible-core 2.19 does (outputs recorded in the fixtures)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.inventory.ansible_json import dump_json, to_ansible_list, to_graph
from orchestrator.inventory.loader import load_inventory

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "inventory"

SOURCES = {
    "ini_groups": "ini_groups.ini",
    "yaml_nested": "yaml_nested.yaml",
    "depth_priority": "depth_priority.yaml",
    "site": "site",
    "beside": "beside/hosts.yml",
    "vagrant": "vagrant.yaml",
}


def _expected(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.expected.json").read_text())


def _ours(name: str) -> dict:
    """Our --list output as JSON data (YAML dates become ISO strings there, as in Ansible's output)."""
    return json.loads(dump_json(to_ansible_list(load_inventory(FIXTURES / SOURCES[name]))))


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_hostvars_match_ansible(name: str) -> None:
    ours = _ours(name)
    assert ours["_meta"]["hostvars"] == _expected(name)["_meta"]["hostvars"]


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_groups_match_ansible(name: str) -> None:
    ours = _ours(name)
    theirs = _expected(name)
    assert {k: v for k, v in ours.items() if k != "_meta"} == {
        k: v for k, v in theirs.items() if k != "_meta"
    }


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_list_output_is_byte_identical(name: str) -> None:
    text = dump_json(to_ansible_list(load_inventory(FIXTURES / SOURCES[name])))
    assert text + "\n" == (FIXTURES / f"{name}.expected.json").read_text()


def _pattern_cases() -> list[tuple[str, str, list[str]]]:
    data = json.loads((FIXTURES / "patterns.expected.json").read_text())
    return [(src, pattern, hosts) for src, cases in data.items() for pattern, hosts in cases.items()]


@pytest.mark.parametrize(("source", "pattern", "hosts"), _pattern_cases())
def test_select_matches_ansible_list_hosts(source: str, pattern: str, hosts: list[str]) -> None:
    inv = load_inventory(FIXTURES / source)
    assert [h.name for h in inv.select(pattern)] == hosts


def test_graph_matches_ansible() -> None:
    inv = load_inventory(FIXTURES / "ini_groups.ini")
    assert to_graph(inv) + "\n" == (FIXTURES / "ini_groups.graph.txt").read_text()


def test_graph_with_vars_matches_ansible() -> None:
    inv = load_inventory(FIXTURES / "site")
    assert to_graph(inv, with_vars=True) + "\n" == (FIXTURES / "site.graph-vars.txt").read_text()


def test_hosts_come_in_ansible_order() -> None:
    inv = load_inventory(FIXTURES / "ini_groups.ini")
    expected = json.loads((FIXTURES / "patterns.expected.json").read_text())["ini_groups.ini"]["all"]
    assert inv.host_names() == expected
    assert [h.name for h in inv.hosts()] == expected
