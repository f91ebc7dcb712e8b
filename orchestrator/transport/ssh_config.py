"""Where and how to connect to a host: the inventory's connection vars merged over `~/.ssh/config`.

As in Ansible, the inventory wins (`ansible_port`, `ansible_user`, `ansible_ssh_private_key_file`), and
ssh_config is looked up by the address ssh would be given (`ansible_host`, else the inventory name), so
its `HostName`, `Port`, `User`, `IdentityFile`, `IdentitiesOnly`, `ProxyJump`, `HostKeyAlias` and
`UserKnownHostsFile` apply. Pure apart from reading the config file in `load_ssh_config`.
"""

from __future__ import annotations

import getpass
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from orchestrator.transport.paramiko_lib import enable_match_exec, paramiko  # isort: skip  (first: without invoke)

from orchestrator.errors import ConfigError
from orchestrator.inventory.host import Host

DEFAULT_SSH_CONFIG = "~/.ssh/config"
_MATCH_EXEC = re.compile(r"^\s*match\b.*\bexec\b", re.IGNORECASE | re.MULTILINE)
DEFAULT_IDENTITIES = ("~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa")


@dataclass(frozen=True)
class Endpoint:
    """One SSH hop, fully resolved."""

    hostname: str  # what to connect to (ssh_config HostName applied)
    port: int
    user: str
    key_files: tuple[str, ...] = ()  # explicit identities, in order (inventory first)
    identities_only: bool = False  # do not fall back to the agent / default keys
    host_key_alias: str | None = None  # the name to look up in known_hosts instead of hostname
    known_hosts_files: tuple[str, ...] = ()  # ssh_config UserKnownHostsFile
    jumps: tuple[Endpoint, ...] = ()  # ProxyJump chain, first hop first

    @property
    def key_name(self) -> str:
        """The name whose key known_hosts must hold."""
        return self.host_key_alias or self.hostname

    @property
    def label(self) -> str:
        return f"{self.user}@{self.hostname}:{self.port}"

    @property
    def pool_key(self) -> tuple[object, ...]:
        return (self.hostname, self.port, self.user, self.key_files, tuple(j.pool_key for j in self.jumps))


def load_ssh_config(path: str | None = None) -> paramiko.SSHConfig:
    """Parse the ssh_config file (default ~/.ssh/config); a missing default file is an empty config."""
    explicit = path is not None
    p = Path(os.path.expanduser(path or DEFAULT_SSH_CONFIG))
    if not p.is_file():
        if explicit:
            raise ConfigError(f"ssh config file {p} not found (ssh.ssh_config in orc.yaml); fix the path")
        return paramiko.SSHConfig()
    try:
        text = p.read_text(errors="replace")
        if _MATCH_EXEC.search(text):
            enable_match_exec()
        return paramiko.SSHConfig.from_text(text)
    except Exception as e:  # paramiko raises a mix of ValueError / ConfigParseError
        raise ConfigError(
            f"ssh config file {p} cannot be parsed: {e}; fix it or point ssh.ssh_config elsewhere"
        ) from e


def resolve(host: Host, config: paramiko.SSHConfig) -> Endpoint:
    """The endpoint for an inventory host: inventory values over ssh_config over defaults."""
    return _resolve(
        config,
        alias=host.address,
        port=host.port,
        user=host.user,
        key_file=host.key_file,
        origin=f'host "{host.name}"',
        depth=0,
    )


def _resolve(
    config: paramiko.SSHConfig,
    *,
    alias: str,
    port: int | None,
    user: str | None,
    key_file: str | None,
    origin: str,
    depth: int,
) -> Endpoint:
    if depth > 8:
        raise ConfigError(f"{origin}: ProxyJump chain is longer than 8 hops (a loop in ~/.ssh/config?)")
    opts = config.lookup(alias)
    cfg_port = opts.get("port")
    try:
        resolved_port = port or (int(cfg_port) if cfg_port else 22)
    except ValueError as e:
        raise ConfigError(f"{origin}: ssh_config Port {cfg_port!r} is not a number") from e
    keys = [key_file] if key_file else []
    keys += [k for k in opts.get("identityfile", []) if k not in keys]
    jumps: tuple[Endpoint, ...] = ()
    proxy_jump = opts.get("proxyjump")
    if proxy_jump and proxy_jump.lower() != "none":
        hops = []
        for spec in proxy_jump.split(","):
            j_alias, j_user, j_port = parse_jump(spec, origin)
            hops.append(
                _resolve(
                    config,
                    alias=j_alias,
                    port=j_port,
                    user=j_user,
                    key_file=None,
                    origin=origin,
                    depth=depth + 1,
                )
            )
        jumps = tuple(hops)
        # a jump host's own ProxyJump comes first: flatten so hops are in connect order
        jumps = tuple(hop for j in jumps for hop in (*j.jumps, replace(j, jumps=())))
    known = opts.get("userknownhostsfile")
    return Endpoint(
        hostname=opts.get("hostname", alias),
        port=resolved_port,
        user=user or opts.get("user") or getpass.getuser(),
        key_files=tuple(os.path.expanduser(k) for k in keys),
        identities_only=str(opts.get("identitiesonly", "no")).lower() == "yes",
        host_key_alias=opts.get("hostkeyalias"),
        known_hosts_files=tuple(os.path.expanduser(f) for f in known.split()) if known else (),
        jumps=jumps,
    )


def parse_jump(spec: str, origin: str = "ProxyJump") -> tuple[str, str | None, int | None]:
    """`[user@]host[:port]` (IPv6 as `[addr]:port`) -> (alias, user, port)."""
    spec = spec.strip()
    if spec.startswith("ssh://"):
        spec = spec[len("ssh://") :]
    user = None
    if "@" in spec:
        user, _, spec = spec.rpartition("@")
    port = None
    if spec.startswith("["):
        addr, _, rest = spec[1:].partition("]")
        if rest.startswith(":"):
            port = rest[1:]
        spec = addr
    elif spec.count(":") == 1:
        spec, _, port = spec.partition(":")
    if not spec:
        raise ConfigError(f"{origin}: ProxyJump entry {spec!r} names no host; use [user@]host[:port]")
    try:
        port_num = int(port) if port else None
    except ValueError as e:
        raise ConfigError(f"{origin}: ProxyJump port {port!r} is not a number") from e
    return spec, user or None, port_num
