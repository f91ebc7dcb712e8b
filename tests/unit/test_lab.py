from __future__ import annotations

import pytest

from orchestrator.errors import LabError
from orchestrator.lab import cluster, system
from orchestrator.lab.spec import LabSpec


def test_lab_needs_root_and_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(system.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(system, "which", lambda tool: None if tool in ("haproxy", "sshd") else "/usr/bin/" + tool)
    monkeypatch.setattr(system, "_is_static", lambda path: True)
    with pytest.raises(LabError) as e:
        system.check_prerequisites()
    msg = str(e.value)
    assert "needs root" in msg
    assert "apt-get install -y haproxy openssh-server" in msg


def test_names_and_addresses_of_two_labs_never_collide() -> None:
    a, b = LabSpec(hosts=3), LabSpec(hosts=3, name="tlab", subnet=1)
    ha, hb = a.lab_hosts(), b.lab_hosts()
    assert [h.name for h in ha] == ["lab1", "lab2", "lab3"]
    assert [h.address for h in hb] == ["10.99.1.11", "10.99.1.12", "10.99.1.13"]
    assert {h.netns for h in ha}.isdisjoint({h.netns for h in hb})
    assert a.bridge != b.bridge and len(b.bridge) <= 15 and all(len(h.veth) <= 15 for h in hb)
    assert len(str(hb[0].docker_sock)) < 100  # unix socket path limit


def test_host_named_rejects_other_labs_hosts() -> None:
    spec = LabSpec(name="tlab", subnet=1)
    assert spec.host_named("tlab2").address == "10.99.1.12"
    with pytest.raises(ValueError, match="not a host of lab"):
        spec.host_named("lab2")


@pytest.mark.parametrize("kw", [{"hosts": 0}, {"name": "Lab"}, {"name": "toolongname"}, {"subnet": 300}])
def test_bad_lab_specs_are_refused(kw: dict) -> None:
    with pytest.raises(ValueError):
        LabSpec(**kw)


def test_inventory_is_ansible_yaml_with_lab_paths() -> None:
    spec = LabSpec(hosts=2, name="tlab", subnet=1)
    doc = cluster.inventory_doc(spec, spec.lab_hosts())
    group = doc["all"]["children"]["tlab"]
    assert group["hosts"]["tlab2"]["ansible_host"] == "10.99.1.12"
    assert group["hosts"]["tlab2"]["labels"] == {"rack": "r2"}
    assert group["vars"]["ansible_ssh_private_key_file"] == str(spec.client_key)
    assert group["vars"]["orc_known_hosts_file"] == str(spec.known_hosts)
    # Lab hosts share one disk: each keeps its fencing state in its own folder.
    dirs = [group["hosts"][h.name]["orc_state_dir"] for h in spec.lab_hosts()]
    assert dirs == [str(h.state_dir) for h in spec.lab_hosts()] and len(set(dirs)) == 2

