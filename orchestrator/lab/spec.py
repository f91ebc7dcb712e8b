"""The shape of the local lab cluster: names, addresses and paths, derived from a few settings. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

BRIDGE = "orlab0"
SUBNET_PREFIX = "10.99.0"
GATEWAY = f"{SUBNET_PREFIX}.1"
NETNS_PREFIX = "orh"
VETH_PREFIX = "orv"
DATA_ROOT = Path("/var/lib/orc-lab")  # docker data, ssh keys, logs
RUN_ROOT = Path("/run/orc-lab")  # sockets, pid files (short paths: unix sockets are limited to 108 bytes)
BASE_IMAGE = "local/busybox:1"
RACKS = 3


@dataclass(frozen=True)
class LabHost:
    index: int  # 1-based

    @property
    def name(self) -> str:
        return f"lab{self.index}"

    @property
    def netns(self) -> str:
        return f"{NETNS_PREFIX}{self.index}"

    @property
    def veth(self) -> str:
        return f"{VETH_PREFIX}{self.index}"

    @property
    def address(self) -> str:
        return f"{SUBNET_PREFIX}.{10 + self.index}"

    @property
    def rack(self) -> str:
        return f"r{(self.index - 1) % RACKS + 1}"

    @property
    def data_dir(self) -> Path:
        return DATA_ROOT / "hosts" / self.name

    @property
    def run_dir(self) -> Path:
        return RUN_ROOT / self.name

    @property
    def docker_sock(self) -> Path:
        return self.run_dir / "docker.sock"

    @property
    def dockerd_pidfile(self) -> Path:
        return self.run_dir / "dockerd.pid"

    @property
    def sshd_pidfile(self) -> Path:
        return self.run_dir / "sshd.pid"

    @property
    def sshd_config(self) -> Path:
        return self.data_dir / "sshd_config"

    @property
    def host_key(self) -> Path:
        return self.data_dir / "ssh_host_ed25519_key"

    @property
    def home(self) -> Path:
        """An empty home bound over /root for this host's sshd: no ~/.bashrc of the machine's runs per exec."""
        return self.data_dir / "home"

    @property
    def proxy_dir(self) -> Path:
        return self.data_dir / "haproxy"


@dataclass(frozen=True)
class LabSpec:
    hosts: int = 3

    def __post_init__(self) -> None:
        if not 1 <= self.hosts <= 200:
            raise ValueError("--hosts must be between 1 and 200")

    def lab_hosts(self) -> list[LabHost]:
        return [LabHost(i) for i in range(1, self.hosts + 1)]

    @property
    def ssh_dir(self) -> Path:
        return DATA_ROOT / "ssh"

    @property
    def client_key(self) -> Path:
        return self.ssh_dir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.ssh_dir / "known_hosts"


def host_from_name(name: str) -> LabHost:
    if not name.startswith("lab") or not name[3:].isdigit():
        raise ValueError(f"{name!r} is not a lab host name (lab1, lab2, ...)")
    return LabHost(int(name[3:]))
