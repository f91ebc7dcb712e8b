"""Where a host keeps what orc leaves on it: its state folder (host var `orc_state_dir`, default
/var/lib/orc), one subfolder per cluster (`<orc_state_dir>/<cluster>/`: the fencing token and lock, the pods'
hosts file), so two clusters on one host never share a file."""

from __future__ import annotations

import re

from orchestrator.errors import ConfigError
from orchestrator.inventory.host import Host

STATE_DIR_VAR = "orc_state_dir"
DEFAULT_STATE_DIR = "/var/lib/orc"
_CLUSTER = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def state_dir(host: Host) -> str:
    """The host's state folder (`orc_state_dir`), checked: an absolute path without newlines or NUL."""
    value = host.vars.get(STATE_DIR_VAR) or DEFAULT_STATE_DIR
    if not isinstance(value, str) or not value.startswith("/") or any(c in value for c in "\n\r\x00"):
        raise ConfigError(f"host {host.name}: {STATE_DIR_VAR} {value!r} is invalid: use an absolute path "
                          f"(default {DEFAULT_STATE_DIR})")
    return value.rstrip("/") or "/"


def cluster_dir(host: Host, cluster: str) -> str:
    """`<orc_state_dir>/<cluster>` on the host."""
    if not _CLUSTER.match(cluster) or len(cluster) > 63:
        raise ConfigError(f"cluster name {cluster!r} is invalid for a host's state folder")
    return f"{state_dir(host).rstrip('/')}/{cluster}"
