"""Inventory values checked when the inventory loads, each error naming the file, the host and the
variable, every error of every host at once (see loader._resolve):

    host name       Ansible inventory names as they are used: letters, digits, '.', '-', '_', ':' (IPv6),
                    at most 253, not starting with '-' or '.'; never whitespace or a control character
    ansible_host    a DNS host name (RFC 1123 labels, '_' allowed) or an IPv4/IPv6 address; never empty
    ansible_user    a POSIX user name: [A-Za-z0-9._][A-Za-z0-9._-]* (at most 32, an optional final '$')
    cpu, memory,    Kubernetes quantities (`2`, `500m`, `16Gi`), not negative; GPUs a whole number
    ephemeral_storage, gpus
    labels          Kubernetes label keys and values; keys under kubernetes.io/, k8s.io/ (and their
                    subdomains) and orc. are the probe's (kubernetes.io/hostname, orc.io/gpu-count, ...)

A value that passes here can stand in a config file (HAProxy, the pods' hosts file) as one word and in
an SSH connection as what it says."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any

from orchestrator.labels import validate_label_key, validate_label_value
from orchestrator.resources import QuantityError, parse_quantity

HOST_NAME_MAX = 253
_HOST_NAME_RE = re.compile(r"[A-Za-z0-9_:\[][A-Za-z0-9_.:\[\]%-]*")
_DNS_LABEL_RE = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
_USER_RE = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._-]{0,31}\$?")
RESERVED_LABEL_DOMAINS = ("kubernetes.io", "k8s.io")
RESERVED_LABEL_PREFIX = "orc."

# capacity var -> whole units only
CAPACITY_WHOLE = {"gpus": True, "nvidia.com/gpu": True}


def shown(value: Any) -> str:
    """A value in an error: quoted with every control character escaped, so it never spans lines."""
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:76] + '..."'


def host_name_errors(name: str) -> list[str]:
    if not name:
        return ["must not be empty"]
    if len(name) > HOST_NAME_MAX:
        return [f"must be no more than {HOST_NAME_MAX} characters"]
    if not _HOST_NAME_RE.fullmatch(name):
        return ["must be a host name, an IP address or an inventory name of letters, digits, '.', '-', '_' "
                "and ':' (no whitespace, control characters or punctuation), not starting with '-' or '.'"]
    return []


def is_address(value: str) -> bool:
    """A DNS host name (RFC 1123, '_' allowed) or an IPv4 / IPv6 address."""
    try:
        ipaddress.ip_address(value[1:-1] if value.startswith("[") and value.endswith("]") else value)
        return True
    except ValueError:
        pass
    name = value[:-1] if value.endswith(".") else value
    return 0 < len(name) <= HOST_NAME_MAX and all(_DNS_LABEL_RE.fullmatch(p) for p in name.split("."))


def address_errors(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, bool) or not isinstance(value, str | int):
        return [f"must be a string (a host name or an IP address), got {type(value).__name__} {shown(value)}"]
    text = str(value)
    if not text.strip():
        return ["is empty: give the host's name or IP address, or remove the variable to connect to the "
                "inventory name"]
    if not is_address(text):
        return ["must be a host name (letters, digits, '-', '_' in dot-separated labels) or an IPv4/IPv6 "
                f"address, got {shown(text)}"]
    return []


def user_errors(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, str) or not _USER_RE.fullmatch(value) or value in (".", ".."):
        return ["must be a POSIX user name: letters, digits, '.', '_' and '-' (at most 32, not starting with "
                f"'-'), got {shown(value)}"]
    return []


def capacity_errors(var: str, value: Any) -> list[str]:
    if value is None:
        return []
    try:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise QuantityError("not a quantity")
        amount = parse_quantity(value)
    except QuantityError:
        return [f"must be a quantity such as 4, 500m, 16Gi (not negative), got {shown(value)}"]
    if CAPACITY_WHOLE.get(var) and amount != amount.to_integral_value():
        return [f"must be a whole number of devices, got {shown(value)}"]
    return []


def reserved_label_key(key: str) -> bool:
    """Keys the probe sets (kubernetes.io/hostname, orc.io/gpu-count, ...): an inventory may not."""
    prefix = key.split("/", 1)[0] if "/" in key else ""
    if key.startswith(RESERVED_LABEL_PREFIX):
        return True
    return any(prefix == d or prefix.endswith("." + d) for d in RESERVED_LABEL_DOMAINS)


def label_errors(labels: Any) -> list[tuple[str, str]]:
    """(var, message) for every problem of a `labels` mapping."""
    if labels is None:
        return []
    if not isinstance(labels, Mapping):
        return [("labels", f"must be a mapping of key: value, got {type(labels).__name__} {shown(labels)}")]
    out: list[tuple[str, str]] = []
    for k, v in labels.items():
        if not isinstance(k, str) or not k:
            out.append(("labels", f"key {shown(k)} must be a non-empty string"))
            continue
        var = f"labels.{shown(k)[1:-1]}"
        out += [(var, f"key {shown(k)} {m}") for m in validate_label_key(k)]
        if reserved_label_key(k):
            out.append((var, f"key {shown(k)} is reserved for the labels orc probes (kubernetes.io/, k8s.io/, "
                        "orc.): choose a key of your own"))
        if not isinstance(v, str):
            out.append((var, f"value must be a string, got {type(v).__name__} {shown(v)}; quote it"))
            continue
        out += [(var, f"value {shown(v)} {m}") for m in validate_label_value(v)]
    return out


def host_errors(name: str, resolved: Mapping[str, Any], capacity_vars: Mapping[str, tuple[str, ...]]) -> list[
        tuple[str, str]]:
    """(var, message) for every problem of one host: its name and the vars above."""
    out = [("host name", m) for m in host_name_errors(name)]
    for var in ("ansible_host", "ansible_ssh_host"):
        if var in resolved:
            out += [(var, m) for m in address_errors(resolved[var])]
            break
    for var in ("ansible_user", "ansible_ssh_user"):
        if resolved.get(var) is not None:
            out += [(var, m) for m in user_errors(resolved[var])]
            break
    for names in capacity_vars.values():
        given = next((n for n in names if resolved.get(n) is not None), None)
        if given is not None:
            out += [(given, m) for m in capacity_errors(given, resolved[given])]
    out += label_errors(resolved.get("labels"))
    return out
