"""Turn one host's resolved Ansible vars into a `Host`: connection vars, labels and capacity overrides,
each checked with an error that names the host and the variable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from orchestrator.errors import ConfigError
from orchestrator.inventory.host import Host
from orchestrator.inventory.taints import HostTaint, parse_taints

# Ansible's boolean words (module_utils.parsing.convert_bool), compared lower-cased and stripped.
BOOLEANS_TRUE = frozenset(("y", "yes", "on", "1", "true", "t"))
BOOLEANS_FALSE = frozenset(("n", "no", "off", "0", "false", "f"))

# capacity key (Kubernetes resource name) -> inventory vars that set it, first found wins
CAPACITY_VARS: dict[str, tuple[str, ...]] = {
    "cpu": ("cpu",),
    "memory": ("memory",),
    "ephemeral-storage": ("ephemeral-storage", "ephemeral_storage"),
    "nvidia.com/gpu": ("nvidia.com/gpu", "gpus"),
}


def ansible_boolean(value: Any) -> bool:
    """Ansible's boolean rules: bools as is; 1/0; strings yes/no/on/off/true/false/y/n/t/f/1/0 in any
    case. Anything else raises ValueError (Ansible would quietly take it as false)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in BOOLEANS_TRUE:
            return True
        if word in BOOLEANS_FALSE:
            return False
    raise ValueError(f"{value!r} is not a boolean (use true/false, yes/no, on/off or 1/0)")


class _HostVars:
    def __init__(self, name: str, origin: str, resolved: Mapping[str, Any]):
        self.name = name
        self.origin = origin
        self.vars = resolved

    def fail(self, var: str, msg: str) -> ConfigError:
        return ConfigError(f'inventory host "{self.name}" ({self.origin}): {var}: {msg}')

    def first(self, *names: str) -> tuple[str, Any] | None:
        for n in names:
            if self.vars.get(n) is not None:
                return n, self.vars[n]
        return None

    def text(self, *names: str) -> str | None:
        found = self.first(*names)
        if found is None:
            return None
        var, value = found
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.fail(var, f"must be a string, got {type(value).__name__} {value!r}")
        return str(value)

    def port(self) -> int | None:
        found = self.first("ansible_port", "ansible_ssh_port")
        if found is None:
            return None
        var, value = found
        try:
            if isinstance(value, bool):
                raise ValueError
            port = int(value)
        except (TypeError, ValueError):
            raise self.fail(var, f"must be a port number, got {value!r}") from None
        if not 0 < port < 65536:
            raise self.fail(var, f"port {port} is out of range 1-65535")
        return port

    def become(self) -> bool:
        found = self.first("ansible_become")
        if found is None:
            return False
        var, value = found
        try:
            return ansible_boolean(value)
        except ValueError as e:
            raise self.fail(var, str(e)) from None

    def labels(self) -> dict[str, str]:
        value = self.vars.get("labels")
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(
                "labels", f"must be a mapping of key: value, got {type(value).__name__} {value!r}"
            )
        out: dict[str, str] = {}
        for k, v in value.items():
            if not isinstance(k, str) or not k:
                raise self.fail("labels", f"key {k!r} must be a non-empty string")
            if not isinstance(v, str):
                raise self.fail(
                    f"labels.{k}", f"value must be a string, got {type(v).__name__} {v!r}; quote it"
                )
            out[k] = v
        return out

    def taints(self) -> tuple[HostTaint, ...]:
        taints, errors = parse_taints(self.vars.get("taints"))
        if errors:
            raise ConfigError("\n".join(f'inventory host "{self.name}" ({self.origin}): taints{e if e.startswith("[") else ": " + e}'
                                        for e in errors))
        return taints

    def cordoned(self) -> bool:
        found = self.first("orc_cordoned")
        if found is None:
            return False
        var, value = found
        try:
            return ansible_boolean(value)
        except ValueError as e:
            raise self.fail(var, str(e)) from None

    def capacity(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, names in CAPACITY_VARS.items():
            found = self.first(*names)
            if found is None:
                continue
            var, value = found
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise self.fail(var, f"must be a quantity such as 4, 500m, 16Gi; got {value!r}")
            out[key] = str(value)
        return out


def make_host(name: str, resolved: Mapping[str, Any], groups: tuple[str, ...], origin: str) -> Host:
    """A Host from its resolved vars. `groups` is Ansible's `group_names` (sorted, without `all`)."""
    hv = _HostVars(name, origin, resolved)
    key_file = hv.text("ansible_ssh_private_key_file", "ansible_private_key_file")
    known_hosts = hv.text("orc_known_hosts_file", "ansible_ssh_known_hosts_file")
    return Host(
        name=name,
        address=hv.text("ansible_host", "ansible_ssh_host") or name,
        port=hv.port(),
        user=hv.text("ansible_user", "ansible_ssh_user"),
        key_file=os.path.expanduser(key_file) if key_file else None,
        become=hv.become(),
        known_hosts_file=os.path.expanduser(known_hosts) if known_hosts else None,
        groups=groups,
        labels=hv.labels(),
        capacity=hv.capacity(),
        taints=hv.taints(),
        cordoned=hv.cordoned(),
        vars=dict(resolved),
    )
