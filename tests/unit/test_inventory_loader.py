"""Loading inventories: INI and YAML rules, file detection, folders, vars files, and errors with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import ConfigError
from orchestrator.inventory.ini_source import parse_value
from orchestrator.inventory.loader import load_inventory


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("8080", 8080),
        ("0x10", 16),
        ("1.5", 1.5),
        ("True", True),
        ("None", None),
        ("yes", "yes"),
        ("'8080'", "8080"),
        ("[1, 'a']", [1, "a"]),
        ("(1, 2)", [1, 2]),
        ("{'k': (1,)}", {"k": [1]}),
        ("1j", "1j"),
        ("...", "..."),
        ("0777", "0777"),
        ("a b", "a b"),
        ("23 # note", 23),
    ],
)
def test_ini_values_are_typed_as_ansible_types_them(text: str, value: object) -> None:
    assert parse_value(text) == value
    assert type(parse_value(text)) is type(value)


def test_ini_group_vars_host_vars_and_quoting(tmp_path: Path) -> None:
    # shell quotes go first, so only quotes inside quotes keep a number a string (as in ansible-core)
    src = write(
        tmp_path / "hosts",
        "[web]\nw1 note=\"two words\" port='80' p2=\"'80'\" on=yes\n[web:vars]\nmsg = hello world\nflag=False\n",
    )
    h = load_inventory(src).host("w1")
    assert h.vars == {
        "note": "two words",
        "port": 80,
        "p2": "80",
        "on": "yes",
        "msg": "hello world",
        "flag": False,
    }


def test_ini_children_may_come_before_their_group(tmp_path: Path) -> None:
    src = write(tmp_path / "inv.ini", "[top:children]\nmid\n[mid:children]\nleaf\n[leaf]\nh1\n")
    inv = load_inventory(src)
    assert inv.groups["top"].children == ("mid",)
    assert inv.groups["mid"].children == ("leaf",)
    assert inv.host("h1").groups == ("leaf", "mid", "top")
    assert inv.groups["all"].children == ("ungrouped", "top")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("[web]\nh1\n[db:children]\nnosuch\n", 4, "includes group 'nosuch', which is not defined"),
        ("[web]\nh1\n[ghost:vars]\nx=1\n", 3, "[ghost:vars] is for group 'ghost'"),
        ("[web]\nh1 novalue\n", 2, "expected key=value"),
        ("[web:hostz]\nh1\n", 1, "unknown type 'hostz'"),
        ("[web]\nh1\n[web:vars]\njustaword\n", 4, "expected key=value"),
        ("[web]\nh1\n[ bad ]\n", 3, "invalid section"),
        ("[web]\nweb[01:3]\n", 2, "same width"),
        ("[a:children]\nb\n[b:children]\na\n", 4, "creates a loop"),
        ("[web]\nh1:\n", 2, "reserved for a port"),
        ("[web]\nh1 x='unclosed\n", 2, "cannot split"),
    ],
)
def test_ini_errors_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    src = write(tmp_path / "bad.ini", text)
    with pytest.raises(ConfigError) as err:
        load_inventory(src)
    assert f"{src}:{line}:" in str(err.value)
    assert message in str(err.value)


def test_yaml_errors_name_file_and_line(tmp_path: Path) -> None:
    src = write(tmp_path / "inv.yaml", "web:\n  hosts:\n    h1:\n      x: [1, 2\n")
    with pytest.raises(ConfigError, match=rf"{src}:\d+: not valid YAML"):
        load_inventory(src)


def test_yaml_structure_errors_point_at_the_key(tmp_path: Path) -> None:
    src = write(tmp_path / "inv.yml", "web:\n  hosts:\n    h1:\n    h2: [not, a, mapping]\n")
    with pytest.raises(ConfigError) as err:
        load_inventory(src)
    assert f"{src}:4:" in str(err.value)
    assert "host 'h2' in group 'web'" in str(err.value)


def test_yaml_numeric_host_name_must_be_quoted(tmp_path: Path) -> None:
    src = write(tmp_path / "inv.yaml", "web:\n  hosts:\n    10: {}\n")
    with pytest.raises(ConfigError, match="must be a string; quote"):
        load_inventory(src)


def test_yaml_unknown_keys_and_non_mapping_groups_are_warnings(tmp_path: Path) -> None:
    src = write(tmp_path / "inv.yaml", "web:\n  hosts: {h1: }\n  hostz: {h2: }\nnotagroup: [1, 2]\n")
    inv = load_inventory(src)
    assert inv.host_names() == ["h1"]
    assert any("unexpected key 'hostz'" in w and f"{src}:3" in w for w in inv.warnings)
    assert any("skipping 'notagroup'" in w for w in inv.warnings)


def test_yaml_plugin_config_is_refused(tmp_path: Path) -> None:
    src = write(tmp_path / "aws_ec2.yml", "plugin: amazon.aws.aws_ec2\nregions: [eu-west-1]\n")
    with pytest.raises(ConfigError, match="plugin configs"):
        load_inventory(src)


def test_vault_values_are_refused(tmp_path: Path) -> None:
    src = write(
        tmp_path / "inv.yaml", "web:\n  hosts:\n    h1:\n      pw: !vault |\n        $ANSIBLE_VAULT;1.1\n"
    )
    with pytest.raises(ConfigError, match=r"inv.yaml:4: .*vault"):
        load_inventory(src)


def test_unsafe_tag_is_a_plain_string(tmp_path: Path) -> None:
    src = write(tmp_path / "inv.yaml", "web:\n  hosts:\n    h1:\n      tpl: !unsafe '{{ x }}'\n")
    assert load_inventory(src).host("h1").vars["tpl"] == "{{ x }}"


def test_file_without_extension_falls_back_from_yaml_to_ini(tmp_path: Path) -> None:
    src = write(tmp_path / "hosts", "h1\nh2 ansible_port=2200\n")
    inv = load_inventory(src)
    assert inv.host_names() == ["h1", "h2"]
    assert inv.host("h2").port == 2200


def test_yml_file_that_is_ini_still_loads(tmp_path: Path) -> None:
    src = write(tmp_path / "hosts.yml", "[web]\nw1\n")
    assert load_inventory(src).host("w1").groups == ("web",)


def test_failed_yaml_attempt_leaves_nothing_behind(tmp_path: Path) -> None:
    # Valid YAML whose second group is broken: the INI fallback must not see web's host from YAML.
    src = write(tmp_path / "hosts", "web:\n  hosts: {w1: }\ndb:\n  hosts: [d1]\n")
    with pytest.raises(ConfigError, match="'hosts' must be a mapping"):
        load_inventory(src)


def test_folder_reads_files_in_order_and_skips_what_ansible_skips(tmp_path: Path) -> None:
    write(tmp_path / "b.ini", "[web]\nw2\n")
    write(tmp_path / "a.yaml", "web:\n  hosts: {w1: }\n")
    write(tmp_path / "sub" / "c.ini", "[db]\nd1\n")
    for skipped in ("x.retry", "x.orig", "x~", "x.txt", "x.md", ".hidden", "x.cfg", "x.bak"):
        write(tmp_path / skipped, "[broken")
    write(tmp_path / "group_vars" / "web.yml", "v: 1\n")
    inv = load_inventory(tmp_path)
    assert inv.groups["web"].hosts == ("w1", "w2")
    assert inv.host_names() == ["w1", "w2", "d1"]
    assert inv.host("w2").vars == {"v": 1}


def test_unreadable_file_in_folder_is_an_error_not_a_silent_skip(tmp_path: Path) -> None:
    write(tmp_path / "good.ini", "[web]\nw1\n")
    write(tmp_path / "bad.ini", "[web\n")
    with pytest.raises(ConfigError, match="bad.ini:1"):
        load_inventory(tmp_path)


def test_group_vars_dir_files_merge_in_sorted_order(tmp_path: Path) -> None:
    write(tmp_path / "hosts.ini", "[db]\nd1\n")
    write(tmp_path / "group_vars" / "db" / "b.yml", "x: from-b\ny: b\n")
    write(tmp_path / "group_vars" / "db" / "a.yaml", "x: from-a\nz: a\n")
    write(tmp_path / "group_vars" / "db" / "nested" / "c.json", '{"z": "from-c"}')
    assert load_inventory(tmp_path / "hosts.ini").host("d1").vars == {"x": "from-b", "y": "b", "z": "from-c"}


def test_vars_file_must_be_a_mapping(tmp_path: Path) -> None:
    write(tmp_path / "hosts.ini", "[db]\nd1\n")
    bad = write(tmp_path / "host_vars" / "d1.yml", "- a\n- b\n")
    with pytest.raises(ConfigError, match=f"{bad}: a vars file must be a mapping"):
        load_inventory(tmp_path / "hosts.ini")


def test_precedence_all_layers(tmp_path: Path) -> None:
    write(
        tmp_path / "hosts.ini",
        "[web]\nw1 v=host-inline\nw2\n[web:vars]\nv=web-inline\nonly_web_inline=1\n[all:vars]\nv=all-inline\n",
    )
    write(tmp_path / "group_vars" / "all.yml", "v: group_vars-all\nonly_web_inline: 2\n")
    write(tmp_path / "group_vars" / "web.yml", "v: group_vars-web\n")
    write(tmp_path / "host_vars" / "w1.yml", "v: host_vars-w1\n")
    inv = load_inventory(tmp_path)
    assert inv.host("w1").vars["v"] == "host_vars-w1"
    assert inv.host("w2").vars["v"] == "group_vars-web"
    # group_vars/all beats a group's vars written in the inventory file, as in Ansible
    assert inv.host("w2").vars["only_web_inline"] == 2


def test_dict_vars_replace_rather_than_merge(tmp_path: Path) -> None:
    src = write(
        tmp_path / "inv.yaml",
        "all:\n  vars:\n    labels: {zone: a}\n  hosts:\n    h1:\n      labels: {rack: r1}\n",
    )
    assert load_inventory(src).host("h1").labels == {"rack": "r1"}


def test_host_port_from_pattern_only_where_first_seen(tmp_path: Path) -> None:
    src = write(tmp_path / "inv.ini", "[a]\nh1:2201\n[b]\nh1:2202\n")
    assert load_inventory(src).host("h1").port == 2201


def test_host_list_source() -> None:
    inv = load_inventory("web1,10.0.0.5:2222,")
    assert inv.host_names() == ["web1", "10.0.0.5"]
    assert inv.host("10.0.0.5").port == 2222
    assert inv.groups["ungrouped"].hosts == ("web1", "10.0.0.5")


def test_missing_source_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found: give an inventory file or folder with -i"):
        load_inventory(tmp_path / "nope.yaml")


def test_empty_file_is_an_empty_inventory(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path / "hosts", ""))
    assert inv.hosts() == []
    assert set(inv.groups) == {"all", "ungrouped"}


def test_host_named_like_a_group_warns_and_its_vars_go_to_the_group(tmp_path: Path) -> None:
    src = write(tmp_path / "inv.ini", "[web]\nweb x=1\nw2\n")
    inv = load_inventory(src)
    assert inv.groups["web"].vars == {"x": 1}
    assert inv.host("w2").vars == {"x": 1}
    assert any("'web' is both a group and a host" in w for w in inv.warnings)
