"""`orc lab up` then `orc lab down` leaves nothing behind: namespaces, daemons, bridge, iptables rule,
mounts, files and the inventory it wrote."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from orchestrator.lab import network, system
from orchestrator.lab.spec import LabSpec
from tests.e2e.conftest import _missing
from tests.e2e.helpers import orc

pytestmark = pytest.mark.e2e


def _our_processes(spec: LabSpec) -> list[int]:
    return [p for p in system.pids_matching(str(spec.run_dir) + "/") + system.pids_matching(str(spec.data_dir) + "/")
            if system.pid_alive(p)]


def test_lab_down_leaves_nothing(tmp_path: Path) -> None:
    why = _missing()
    if why:
        pytest.skip(why)
    spec = LabSpec(hosts=2, name="tdown", subnet=2)
    (tmp_path / "orc.yaml").write_text("inventory: inventory/tdown.yaml\n")
    try:
        up = orc("lab", "--name", "tdown", "up", "--hosts", "2", "--subnet", "2", cwd=tmp_path)
        assert up.returncode == 0, up.stderr
        assert "tdown1" in up.stdout and "Running" in up.stdout
        inventory = tmp_path / "inventory" / "tdown.yaml"
        assert inventory.is_file()
        assert sorted(network.our_netns(spec)) == ["ortdown1", "ortdown2"]
        assert len(_our_processes(spec)) >= 4  # 2 x (sshd, dockerd, containerd)
    finally:
        down = orc("lab", "--name", "tdown", "down", cwd=tmp_path)
    assert down.returncode == 0, down.stderr
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "ortdown" not in netns
    assert _our_processes(spec) == []
    assert not system.ok(["ip", "link", "show", spec.bridge])
    assert not system.ok(["iptables", "-C", *network.forward_rule(spec)])
    assert system.mounts_under(spec.data_dir) == [] and system.mounts_under(spec.run_dir) == []
    assert not spec.data_dir.exists() and not spec.run_dir.exists()
    assert not inventory.exists()
    assert not list(Path("/tmp").glob("containerd.*.stacks.log"))  # nothing of the lab's outside its folders

