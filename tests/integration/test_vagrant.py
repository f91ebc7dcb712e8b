"""The Vagrant test cluster: the Vagrantfile is valid, and the inventory it writes is one orc reads."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from orchestrator.inventory.ansible_json import to_ansible_list
from orchestrator.inventory.loader import load_inventory

ROOT = Path(__file__).resolve().parents[2]
VAGRANT_DIR = ROOT / "vagrant"
FIXTURES = ROOT / "tests" / "fixtures" / "inventory"
# The checked-in example was made with: ruby vagrant/inventory.rb 3 libvirt /home/user/orc/vagrant
EXAMPLE_ARGS = ["3", "libvirt", "/home/user/orc/vagrant"]

pytestmark = pytest.mark.integration

needs_vagrant = pytest.mark.skipif(
    shutil.which("vagrant") is None, reason="vagrant is not installed (apt-get install vagrant)"
)
needs_ruby = pytest.mark.skipif(
    shutil.which("ruby") is None, reason="ruby is not installed (comes with vagrant)"
)


def _vagrant(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "VAGRANT_DOTFILE_PATH": str(tmp_path / "dot"),  # keep vagrant/.vagrant out of the checkout
        "VAGRANT_CHECKPOINT_DISABLE": "1",
        **env,
    }
    return subprocess.run(
        ["vagrant", *args], cwd=VAGRANT_DIR, env=full_env, capture_output=True, text=True, timeout=120
    )


@needs_vagrant
def test_vagrantfile_validates(tmp_path: Path) -> None:
    r = _vagrant(tmp_path, "validate", "--ignore-provider")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "validated successfully" in r.stdout
    for i in (1, 2, 3):
        assert f"orc-{i}" in r.stdout  # three machines by default


@needs_vagrant
def test_vagrantfile_validates_without_plugins(tmp_path: Path) -> None:
    """As on a machine without vagrant-libvirt: the libvirt provider block must be guarded."""
    r = _vagrant(tmp_path, "validate", "--ignore-provider", VAGRANT_NO_PLUGINS="1", ORC_VAGRANT_HOSTS="5")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "orc-5" in r.stdout


@needs_vagrant
def test_vagrantfile_rejects_a_bad_host_count(tmp_path: Path) -> None:
    r = _vagrant(tmp_path, "validate", "--ignore-provider", ORC_VAGRANT_HOSTS="many")
    assert r.returncode != 0
    assert "ORC_VAGRANT_HOSTS" in r.stdout + r.stderr


def _render(*args: str) -> str:
    r = subprocess.run(
        ["ruby", str(VAGRANT_DIR / "inventory.rb"), *args], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


@needs_ruby
def test_inventory_rb_writes_exactly_the_checked_in_example() -> None:
    assert _render(*EXAMPLE_ARGS) == (FIXTURES / "vagrant.yaml").read_text()


@needs_ruby
def test_inventory_for_five_virtualbox_hosts_loads(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(_render("5", "virtualbox", str(tmp_path), "10.77.0"))
    hosts = load_inventory(path).hosts()
    assert [h.name for h in hosts] == [f"orc-{i}" for i in range(1, 6)]
    assert [h.address for h in hosts] == [f"10.77.0.{10 + i}" for i in range(1, 6)]
    assert [h.labels["rack"] for h in hosts] == ["r1", "r2", "r1", "r2", "r1"]
    assert hosts[4].key_file == str(tmp_path / ".vagrant/machines/orc-5/virtualbox/private_key")


def test_example_inventory_gives_connectable_hosts() -> None:
    inv = load_inventory(FIXTURES / "vagrant.yaml")
    hosts = inv.hosts()
    assert [(h.name, h.address) for h in hosts] == [
        ("orc-1", "192.168.56.11"),
        ("orc-2", "192.168.56.12"),
        ("orc-3", "192.168.56.13"),
    ]
    for h in hosts:
        assert h.user == "vagrant"
        assert h.become is True
        assert h.port is None
        assert h.key_file == f"/home/user/orc/vagrant/.vagrant/machines/{h.name}/libvirt/private_key"
        assert h.known_hosts_file == "/home/user/orc/vagrant/known_hosts"
        assert h.groups == ("vagrant",)
    assert {h.name: h.labels for h in hosts}["orc-2"] == {"rack": "r2", "provider": "libvirt"}


def test_example_inventory_reads_as_ansible_reads_it() -> None:
    expected = json.loads((FIXTURES / "vagrant.expected.json").read_text())
    assert to_ansible_list(load_inventory(FIXTURES / "vagrant.yaml")) == expected
