"""The host probe's parsers, on outputs recorded from real hosts (and a GPU host's nvidia-smi)."""

from __future__ import annotations

import json
import subprocess

from orchestrator.inventory.host import Host
from orchestrator.observe.probe import label_value, parse_gpus, parse_probe, probe_commands
from orchestrator.transport.base import BatchResult, StepResult

SYSTEM = """hostname=lab1
arch=x86_64
kernel=6.1.0-18-amd64
cpus=8
os=Debian GNU/Linux 12 (bookworm)
MemTotal=16314904
MemAvailable=12000000
"""
DOCKER = "docker=24.0.5|/var/lib/docker\ndf=264212084 81378216 /dev/nvme0n1p2\nrotational=0\n"
NVIDIA = """GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-5fa3b2c1-1111-2222-3333-444455556666)
GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-7c0ffee0-1111-2222-3333-444455556666)
"""
INSPECT = {
    "Id": "abc", "Name": "/orc_web-x_httpd",
    "Config": {"Image": "local/busybox:1", "Labels": {"orc.managed": "true", "orc.pod": "web-x",
                                                       "orc.label.app": "web"}},
    "State": {"Status": "running", "ExitCode": 0, "StartedAt": "2026-11-25T18:00:00.123456789Z",
              "FinishedAt": "0001-01-01T00:00:00Z", "Health": {"Status": "healthy"}},
    "RestartCount": 2,
    "NetworkSettings": {"Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32768"}], "81/tcp": None}},
}


def _result(**stdout: str) -> BatchResult:
    names = ["system", "docker", "gpus", "containers", "images"]
    return BatchResult("h", tuple(StepResult(n, 0, stdout.get(n, "")) for n in names))


def test_probe_facts_capacity_and_automatic_labels() -> None:
    host = Host(name="lab1", address="10.0.0.1", labels={"rack": "r1"}, capacity={"memory": "8Gi"})
    f = parse_probe(host, _result(system=SYSTEM, docker=DOCKER, gpus=NVIDIA, containers=json.dumps(INSPECT) + "\n",
                                  images="local/busybox:1\n<none>:<none>\n"))
    assert (f.cpus, f.memory_bytes, f.disk_free_bytes) == (8, 16314904 * 1024, 81378216 * 1024)
    assert f.docker_version == "24.0.5" and f.docker_root == "/var/lib/docker" and f.disk_kind == "ssd"
    # ephemeral storage: the disk's size (pods' requests are subtracted when placing), not its free space
    assert f.capacity == {"cpu": "8", "memory": "8Gi", "ephemeral-storage": str(264212084 * 1024),
                          "nvidia.com/gpu": "2"}
    assert f.labels["kubernetes.io/arch"] == "amd64" and f.labels["rack"] == "r1"
    assert f.labels["orc.io/gpu-count"] == "2" and f.labels["orc.io/gpu-model"] == "NVIDIA-A100-SXM4-40GB"
    assert f.images == frozenset({"local/busybox:1"})
    (c,) = f.containers
    assert (c.name, c.running, c.health, c.restart_count, c.ports) == ("orc_web-x_httpd", True, "healthy", 2,
                                                                       {"80/tcp": 32768})
    assert c.pod_labels == {"app": "web"} and f.pod_names == ["web-x"]
    assert f.status == "Ready"


def test_docker_down_makes_the_host_not_ready_with_the_reason() -> None:
    host = Host(name="h", address="h")
    dk = "docker_error=Cannot connect to the Docker daemon at unix:///var/run/docker.sock\ndf=100 50 /dev/sda1\n"
    f = parse_probe(host, _result(system=SYSTEM, docker=dk))
    assert f.status == "NotReady" and "Cannot connect" in (f.docker_error or "")


def test_gpu_lines_and_label_values() -> None:
    assert [g.uuid for g in parse_gpus(NVIDIA + "garbage\n")] == [
        "GPU-5fa3b2c1-1111-2222-3333-444455556666", "GPU-7c0ffee0-1111-2222-3333-444455556666"]
    assert label_value("Tesla V100 (32GB) ") == "Tesla-V100-32GB"
    assert len(label_value("x" * 100)) == 63


def test_probe_script_runs_in_a_real_shell_and_parses() -> None:
    """The probe's shell is portable: run it here (no docker daemon needed) and parse what it prints."""
    for step in probe_commands():
        cp = subprocess.run(["sh", "-c", step.render()], capture_output=True, text=True, timeout=30)
        if step.name == "system":
            assert "cpus=" in cp.stdout and "MemTotal=" in cp.stdout
        if step.name == "docker":
            assert "df=" in cp.stdout


def test_a_light_probe_reuses_static_facts_but_sees_containers_and_a_dead_docker() -> None:
    from orchestrator.observe.probe import facts_from_dict, facts_to_dict, probe_commands

    host = Host(name="lab1", address="10.0.0.1", labels={"rack": "r1"})
    full = parse_probe(host, _result(system=SYSTEM, docker=DOCKER, gpus=NVIDIA, images="local/busybox:1\n"))
    cached = facts_from_dict(host, facts_to_dict(full))
    assert [c.name for c in probe_commands(full=False)] == ["containers"]
    moved = Host(name="lab1", address="10.0.0.1", labels={"rack": "r2"})  # the inventory changed meanwhile
    light = parse_probe(moved, BatchResult("lab1", (StepResult("containers", 0, json.dumps(INSPECT) + "\n"),)),
                        cached)
    assert light.status == "Ready" and light.cpus == 8 and len(light.gpus) == 2 and light.disk_kind == "ssd"
    assert light.labels["rack"] == "r2" and light.labels["orc.io/gpu-count"] == "2"
    assert [c.name for c in light.containers] == ["orc_web-x_httpd"]
    dead = parse_probe(host, BatchResult("lab1", (StepResult("containers", 3, "", "Cannot connect to the Docker "
                                                                               "daemon\n"),)), cached)
    assert dead.status == "NotReady" and "Cannot connect" in (dead.docker_error or "")
