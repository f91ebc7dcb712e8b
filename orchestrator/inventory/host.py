"""The host model every layer shares: where a host is and how to reach it, from the inventory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Host:
    """One inventory host, with Ansible's connection vars resolved (ssh_config is merged in the transport).

    `vars` holds every resolved variable (Ansible precedence applied), including ours:
    `labels` (dict), capacity overrides (`cpu`, `memory`, `ephemeral-storage`, `nvidia.com/gpu` or `gpus`),
    `taints` (Kubernetes `key=value:Effect` strings), `orc_cordoned`,
    proxy settings (`haproxy_config`, `haproxy_check`, `haproxy_reload`, ...).
    """

    name: str  # inventory hostname
    address: str  # ansible_host, else name
    port: int | None = None  # ansible_port (None: ssh_config / 22)
    user: str | None = None  # ansible_user (None: ssh_config / local user)
    key_file: str | None = None  # ansible_ssh_private_key_file
    become: bool = False  # ansible_become: run remote commands with sudo -n
    known_hosts_file: str | None = None  # orc_known_hosts_file / ansible_ssh_known_hosts_file
    groups: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    capacity: dict[str, str] = field(default_factory=dict)
    taints: tuple[tuple[str, str, str], ...] = ()  # `taints:` var, (key, value, effect) each
    cordoned: bool = False  # `orc_cordoned:` var: no new pods are placed here
    vars: dict[str, Any] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash(self.name)
