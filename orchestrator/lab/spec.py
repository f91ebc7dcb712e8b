"""The shape of the local lab cluster: names, addresses and paths, derived from a few settings. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATA_ROOT = Path("/var/lib/orc-lab")  # docker data, ssh keys, logs
RUN_ROOT = Path("/run/orc-lab")  # sockets, pid files (short paths: unix sockets are limited to 108 bytes)
BASE_IMAGE = "local/busybox:1"
RACKS = 3


@dataclass(frozen=True)
class LabHost:
    lab: str  # the lab's name: "lab" (the default), "tlab" for the test suite's own
    subnet: int  # third octet of 10.99.X.0/24
    index: int  # 1-based

    @property
    def name(self) -> str:
        return f"{self.lab}{self.index}"

    @property
    def netns(self) -> str:
        return f"or{self.lab}{self.index}"

    @property
    def veth(self) -> str:
        return f"or{self.lab}v{self.index}"

    @property
    def address(self) -> str:
        return f"10.99.{self.subnet}.{10 + self.index}"

    @property
    def rack(self) -> str:
        return f"r{(self.index - 1) % RACKS + 1}"

    @property
    def data_dir(self) -> Path:
        return DATA_ROOT / self.lab / "hosts" / self.name

    @property
    def run_dir(self) -> Path:
        return RUN_ROOT / self.lab / self.name

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

    @property
    def state_dir(self) -> Path:
        """The host's `orc_state_dir` (fencing tokens and the host lock): per host, as they share one disk."""
        return self.data_dir / "state"


@dataclass(frozen=True)
class LabSpec:
    """A lab on this machine. Several may coexist (the test suite builds its own, named "tlab", beside a
    user's "lab") as long as names and subnets differ."""

    hosts: int = 3
    name: str = "lab"
    subnet: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.hosts <= 200:
            raise ValueError("--hosts must be between 1 and 200")
        if not (self.name.isalpha() and self.name.islower() and 1 <= len(self.name) <= 6):
            raise ValueError("a lab name is 1-6 lower-case letters")
        if not 0 <= self.subnet <= 254:
            raise ValueError("subnet must be 0-254 (10.99.X.0/24)")

    def lab_hosts(self) -> list[LabHost]:
        return [self.host(i) for i in range(1, self.hosts + 1)]

    def host(self, index: int) -> LabHost:
        return LabHost(self.name, self.subnet, index)

    def host_named(self, name: str) -> LabHost:
        rest = name[len(self.name):]
        if not name.startswith(self.name) or not rest.isdigit():
            raise ValueError(f"{name!r} is not a host of lab {self.name!r} ({self.name}1, {self.name}2, ...)")
        return self.host(int(rest))

    @property
    def bridge(self) -> str:
        return f"or{self.name}0"

    @property
    def gateway(self) -> str:
        return f"10.99.{self.subnet}.1"

    @property
    def netns_prefix(self) -> str:
        return f"or{self.name}"

    @property
    def data_dir(self) -> Path:
        return DATA_ROOT / self.name

    @property
    def run_dir(self) -> Path:
        return RUN_ROOT / self.name

    @property
    def ssh_dir(self) -> Path:
        return self.data_dir / "ssh"

    @property
    def client_key(self) -> Path:
        return self.ssh_dir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.ssh_dir / "known_hosts"
