"""Inventory connection vars merged over ~/.ssh/config, inventory winning (as in Ansible)."""

from __future__ import annotations

import getpass
from pathlib import Path

import paramiko
import pytest

from orchestrator.errors import ConfigError
from orchestrator.inventory.host import Host
from orchestrator.transport.ssh_config import load_ssh_config, parse_jump, resolve

CONFIG = """
Host web*
  HostName %h.internal
  User deploy
  Port 2200
  IdentityFile ~/.ssh/web_key
  IdentitiesOnly yes
  HostKeyAlias webfarm
  ProxyJump ops@bastion:2022

Host bastion
  HostName 192.0.2.10
  IdentityFile /keys/bastion

Host db
  ProxyJump jump1,jump2

Host jump2
  ProxyJump jump0
"""


def config(text: str = CONFIG) -> paramiko.SSHConfig:
    return paramiko.SSHConfig.from_text(text)


def test_ssh_config_fills_what_the_inventory_leaves_out() -> None:
    e = resolve(Host(name="web1", address="web1"), config())
    assert (e.hostname, e.port, e.user) == ("web1.internal", 2200, "deploy")
    assert e.key_files == (str(Path("~/.ssh/web_key").expanduser()),)
    assert e.identities_only and e.host_key_alias == "webfarm" and e.key_name == "webfarm"
    [jump] = e.jumps
    assert (jump.hostname, jump.port, jump.user, jump.key_files) == (
        "192.0.2.10",
        2022,
        "ops",
        ("/keys/bastion",),
    )


def test_inventory_values_win_over_ssh_config() -> None:
    host = Host(name="web1", address="web1", port=22, user="admin", key_file="/inv/key")
    e = resolve(host, config())
    assert (e.port, e.user) == (22, "admin")
    assert e.key_files[0] == "/inv/key"  # the inventory key is tried first, ssh_config's after


def test_lookup_is_by_ansible_host_not_inventory_name() -> None:
    e = resolve(Host(name="web1", address="10.1.1.1"), config())
    assert (e.hostname, e.port, e.jumps) == ("10.1.1.1", 22, ())
    assert e.user == getpass.getuser()


def test_jump_chains_are_flattened_in_connect_order() -> None:
    e = resolve(Host(name="db", address="db"), config())
    assert [j.hostname for j in e.jumps] == ["jump1", "jump0", "jump2"]


def test_a_proxy_jump_loop_is_reported() -> None:
    with pytest.raises(ConfigError, match="loop"):
        resolve(Host(name="a", address="a"), config("Host a\n  ProxyJump a\n"))


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("bastion", ("bastion", None, None)),
        ("ops@bastion:2022", ("bastion", "ops", 2022)),
        ("[2001:db8::1]:22", ("2001:db8::1", None, 22)),
        ("ssh://me@h", ("h", "me", None)),
    ],
)
def test_parse_jump(spec: str, expected: tuple[object, ...]) -> None:
    assert parse_jump(spec) == expected


def test_parse_jump_rejects_a_bad_port() -> None:
    with pytest.raises(ConfigError, match="not a number"):
        parse_jump("h:ssh")


def test_load_ssh_config_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ssh.ssh_config"):
        load_ssh_config(str(tmp_path / "nope"))
    f = tmp_path / "config"
    f.write_text("Host x\n  Port 2\n")
    assert load_ssh_config(str(f)).lookup("x")["port"] == "2"
