"""`orc hosts` and the lab, end to end: real sshd, dockerd and namespaces."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from orchestrator.config import SSHSettings
from orchestrator.errors import EXIT_PARTIAL
from orchestrator.inventory.loader import load_inventory
from orchestrator.lab import cluster, daemons
from tests.e2e.helpers import orc, orc_json

pytestmark = pytest.mark.e2e


def test_hosts_shows_every_lab_host_ready_with_real_figures(lab, clean_env: Path) -> None:
    facts = orc_json("hosts", cwd=lab.workdir)
    assert [f["name"] for f in facts] == [h.name for h in lab.spec.lab_hosts()]
    for f in facts:
        assert f["status"] == "Ready", f
        assert f["hostname"] == f["name"]  # each lab host has its own UTS namespace
        assert f["cpus"] >= 1 and f["memory_bytes"] > 2**27 and f["disk_free_bytes"] > 0
        assert f["docker_version"] and f["arch"]
        assert f["capacity"]["cpu"] == "2" and f["capacity"]["memory"] == "4Gi"  # inventory overrides
        assert "local/busybox:1" in f["images"]
        labels = f["labels"]
        assert labels["kubernetes.io/hostname"] == f["name"]
        assert labels["rack"] in {"r1", "r2", "r3"}
        assert labels["orc.io/gpu-count"] == "0"
        assert labels["orc.io/disk"] in {"ssd", "hdd"}
    table = orc("hosts", cwd=lab.workdir)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split()[:3] == ["NAME", "STATUS", "ADDRESS"]
    assert table.stdout.count("Ready") == 3


def test_probe_lists_managed_containers(lab, clean_env: Path) -> None:
    h = lab.host(1)
    daemons.docker(h, "run", "-d", "--name", "orc-e2e-probe", "--label", "orc.managed=true",
                   "--label", "orc.pod=probe-pod", "--label", "orc.label.app=web", "-p", "80",
                   "local/busybox:1", "httpd", "-f", "-p", "80", "-h", "/www")
    try:
        facts = {f["name"]: f for f in orc_json("hosts", cwd=lab.workdir)}
        (c,) = facts[lab.host(1).name]["containers"]
        assert c["name"] == "orc-e2e-probe" and c["state"] == "running"
        assert c["labels"]["orc.label.app"] == "web"
        assert int(c["ports"]["80/tcp"]) > 0
        assert facts[lab.host(1).name]["pods"] == ["probe-pod"]
        assert facts[lab.host(2).name]["containers"] == []
    finally:
        daemons.docker(h, "rm", "-f", "orc-e2e-probe", check=False)


def test_stopped_host_is_unreachable_with_reason_and_others_are_probed(lab, clean_env: Path) -> None:
    h = lab.host(2)
    cluster.stop_host(lab.spec, h)
    try:
        start = time.monotonic()
        cp = orc("hosts", "-o", "json", cwd=lab.workdir)
        elapsed = time.monotonic() - start
        assert cp.returncode == EXIT_PARTIAL, cp.stderr
        facts = {f["name"]: f for f in yaml.safe_load(cp.stdout)}
        assert facts[lab.host(2).name]["status"] == "Unreachable"
        assert facts[lab.host(2).name]["reason"] == "refused"
        assert "sshd" in facts[lab.host(2).name]["error"]
        assert facts[lab.host(1).name]["status"] == facts[lab.host(3).name]["status"] == "Ready"
        assert elapsed < 3 + 5  # connect timeout 3 s plus interpreter start, not a pile of retries
        table = orc("hosts", cwd=lab.workdir)
        assert "Unreachable" in table.stdout and "refused" in table.stdout
    finally:
        cluster.start_host(lab.spec, h)
    assert orc("hosts", cwd=lab.workdir).returncode == 0


def _write_project(tmp: Path, lab, known_hosts: str, policy: str) -> Path:  # type: ignore[no-untyped-def]
    """A project whose inventory is the lab's but with a known_hosts file of the test's making."""
    inv = yaml.safe_load(lab.inventory.read_text())
    group = inv["all"]["children"][lab.spec.name]
    group["vars"].pop("orc_known_hosts_file")
    (tmp / "inventory").mkdir(exist_ok=True)
    (tmp / "inventory" / "hosts.yaml").write_text(yaml.safe_dump(inv))
    (tmp / "known_hosts").write_text(known_hosts)
    (tmp / "orc.yaml").write_text(yaml.safe_dump({
        "inventory": "inventory/hosts.yaml",
        "ssh": {"host_key_policy": policy, "known_hosts": "known_hosts", "connect_timeout": 3}}))
    return tmp


def _lab_known_hosts(lab) -> list[str]:  # type: ignore[no-untyped-def]
    return lab.spec.known_hosts.read_text().splitlines(keepends=True)


def test_unknown_host_key_is_refused_under_strict(lab, clean_env: Path, tmp_path: Path) -> None:
    lines = _lab_known_hosts(lab)
    proj = _write_project(tmp_path, lab, "".join(lines[:2]), "strict")  # tlab3's key missing
    cp = orc("hosts", "-o", "json", cwd=proj)
    assert cp.returncode == EXIT_PARTIAL, cp.stderr
    facts = {f["name"]: f for f in yaml.safe_load(cp.stdout)}
    assert facts[lab.host(3).name]["status"] == "Unreachable" and facts[lab.host(3).name]["reason"] == "hostkey"
    assert facts[lab.host(1).name]["status"] == "Ready"
    assert (tmp_path / "known_hosts").read_text() == "".join(lines[:2])  # nothing learned


def test_accept_new_learns_an_unknown_key_but_never_a_changed_one(lab, clean_env: Path, tmp_path: Path) -> None:
    lines = _lab_known_hosts(lab)
    proj = _write_project(tmp_path, lab, "".join(lines[:2]), "accept-new")
    assert orc("hosts", cwd=proj).returncode == 0
    learned = (tmp_path / "known_hosts").read_text()
    assert learned.startswith("".join(lines[:2]))  # append-only
    assert lab.host(3).address in learned.splitlines()[-1]
    # The learned key now verifies under strict.
    (tmp_path / "orc.yaml").write_text((tmp_path / "orc.yaml").read_text().replace("accept-new", "strict"))
    assert orc("hosts", cwd=proj).returncode == 0

    # A changed key (tlab3 presents another key than the one on file) is refused even with accept-new.
    other_key = lab.spec.host(1).host_key.with_suffix(".pub").read_text().split()
    wrong = "".join(lines[:2]) + f"{lab.host(3).address} {other_key[0]} {other_key[1]}\n"
    (tmp_path / "p2").mkdir()
    proj2 = _write_project(tmp_path / "p2", lab, wrong, "accept-new")
    cp = orc("hosts", "-o", "json", cwd=proj2)
    assert cp.returncode == EXIT_PARTIAL
    facts = {f["name"]: f for f in yaml.safe_load(cp.stdout)}
    assert facts[lab.host(3).name]["reason"] == "hostkey"
    assert "changed" in facts[lab.host(3).name]["error"].lower() or "mismatch" in facts[lab.host(3).name]["error"].lower()
    assert (tmp_path / "p2" / "known_hosts").read_text() == wrong


def test_twenty_step_batch_is_one_exec_channel_on_a_lab_host(lab, clean_env: Path) -> None:
    from orchestrator.commands.base import cmd
    from orchestrator.transport.ssh import SSHTransport

    host = next(h for h in load_inventory(lab.inventory).hosts() if h.name == lab.host(1).name)
    t = SSHTransport(SSHSettings())
    try:
        steps = [cmd(f"s{i}", "sh", "-c", f"echo out{i}; echo err{i} >&2; exit {i % 3}") for i in range(20)]
        result = t.run_batch(host, steps)
        assert t.counters.exec_channels == 1 and t.counters.connects == 1
        for i, s in enumerate(result.steps):
            assert (s.exit_code, s.stdout, s.stderr) == (i % 3, f"out{i}\n", f"err{i}\n")
        t.run_batch(host, steps[:1])
        assert t.counters.exec_channels == 2 and t.counters.connects == 1  # connection reused
    finally:
        t.close()


def test_lab_up_again_is_a_no_op(lab) -> None:
    before = cluster.status(lab.spec)
    after = cluster.up(lab.spec, lab.inventory)
    assert [(s.name, s.sshd, s.dockerd) for s in before] == [(s.name, s.sshd, s.dockerd) for s in after]
    assert all(s.state == "Running" for s in after)
