"""`orc -i SRC inventory --list/--host/--graph`, through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.cli.main import cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "inventory"


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]  # click < 8.2
    except TypeError:
        return CliRunner()  # click >= 8.2 keeps stderr apart by itself


def run(*args: str) -> tuple[int, str, str]:
    result = _runner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(("source", "expected"), [("ini_groups.ini", "ini_groups"), ("site", "site")])
def test_list_prints_what_ansible_inventory_prints(source: str, expected: str) -> None:
    code, out, _ = run("-i", str(FIXTURES / source), "inventory", "--list")
    assert code == 0
    assert out == (FIXTURES / f"{expected}.expected.json").read_text()


def test_host_prints_that_hosts_vars() -> None:
    code, out, _ = run("-i", str(FIXTURES / "ini_groups.ini"), "inventory", "--host", "web04.example.com")
    assert code == 0
    assert out == (FIXTURES / "ini_groups.host-web04.json").read_text()


def test_graph_prints_the_group_tree() -> None:
    code, out, _ = run("-i", str(FIXTURES / "ini_groups.ini"), "inventory", "--graph")
    assert code == 0
    assert out == (FIXTURES / "ini_groups.graph.txt").read_text()


def test_graph_of_one_group_with_vars() -> None:
    code, out, _ = run("-i", str(FIXTURES / "site"), "inventory", "--graph", "--vars")
    assert out == (FIXTURES / "site.graph-vars.txt").read_text()
    code, out, _ = run("-i", str(FIXTURES / "ini_groups.ini"), "inventory", "--graph", "db")
    assert code == 0
    assert out.splitlines() == [
        "@db:",
        "  |--db-a.example.com",
        "  |--db-b.example.com",
        "  |--db-c.example.com",
        "  |--db-z.example.com",
    ]


@pytest.mark.parametrize(
    "args",
    [(), ("--list", "--graph"), ("--list", "--host", "x"), ("--list", "web"), ("--list", "--vars")],
)
def test_exactly_one_action_is_a_usage_error(args: tuple[str, ...]) -> None:
    code, _, err = run("-i", str(FIXTURES / "ini_groups.ini"), "inventory", *args)
    assert code == 2
    assert "Usage" in err or "Error" in err


def test_unknown_host_and_group_are_errors() -> None:
    from orchestrator.errors import ConfigError

    runner = CliRunner()
    result = runner.invoke(cli, ["-i", str(FIXTURES / "ini_groups.ini"), "inventory", "--host", "nosuch"])
    assert isinstance(result.exception, ConfigError)
    assert "--host nosuch: matches 0 hosts" in str(result.exception)
    result = runner.invoke(cli, ["-i", str(FIXTURES / "ini_groups.ini"), "inventory", "--graph", "nosuch"])
    assert isinstance(result.exception, ConfigError)
    assert "no such group" in str(result.exception)


def test_warnings_go_to_stderr_not_into_the_json(tmp_path: Path) -> None:
    src = tmp_path / "inv.yaml"
    src.write_text("web:\n  hosts: {w1: {a: 1}}\n  hostz: {}\n")
    code, out, err = run("-i", str(src), "inventory", "--list")
    assert code == 0
    assert json.loads(out)["_meta"]["hostvars"] == {"w1": {"a": 1}}
    assert "[WARNING]:" in err and "hostz" in err


def test_inventory_comes_from_orc_yaml_without_i(tmp_path: Path) -> None:
    (tmp_path / "orc.yaml").write_text("inventory: hosts.ini\n")
    (tmp_path / "hosts.ini").write_text("[web]\nw1 x=1\n")
    code, out, _ = run("--config", str(tmp_path / "orc.yaml"), "inventory", "--host", "w1")
    assert code == 0
    assert json.loads(out) == {"x": 1}
