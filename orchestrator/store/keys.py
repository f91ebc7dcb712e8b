"""Builders for store keys, so every module spells the layout (see store/base.py) the same way."""

from __future__ import annotations

import re

from orchestrator.errors import StoreError

META = "_meta/"
HOST_FAILURE = META + "host-failure/"
EVICTED = META + "evicted/"
CLUSTER_IP = META + "cluster-ip/"
NODE_PORT = META + "node-port/"
SNAPSHOT = META + "snapshot"
TOMBSTONE = META + "tombstone/"
CLUSTER = META + "cluster"
MOVED = META + "moved/"
CORDON = META + "cordon/"  # + host: {"at": unix seconds, "drain": bool}, set by `orc cordon` / `orc drain`
CREATED = META + "created/"  # + object key: {"at": unix seconds}, when `orc apply` created it

_KIND = re.compile(r"^[a-z][a-z0-9]{0,31}$")


def object_key(kind: str, name: str) -> str:
    """'pod', 'web-1' -> 'pod/web-1'. `kind` is the short lower-case kind (pod, rc, rs, deploy, svc)."""
    if not _KIND.match(kind):
        raise StoreError(f"object kind {kind!r} is invalid: use a short lower-case kind such as 'pod'")
    if not name or "/" in name:
        raise StoreError(f"{kind} name {name!r} is invalid: must be non-empty and contain no '/'")
    return f"{kind}/{name}"


def kind_prefix(kind: str) -> str:
    """The prefix that lists every object of `kind`: 'pod' -> 'pod/'."""
    return object_key(kind, "x")[:-1]


def split_object_key(key: str) -> tuple[str, str]:
    """'pod/web-1' -> ('pod', 'web-1')."""
    kind, sep, name = key.partition("/")
    if not sep or key.startswith(META):
        raise StoreError(f"store key {key!r} is not an object key of the form <kind>/<name>")
    return kind, name


def host_failure_key(host: str) -> str:
    return HOST_FAILURE + host


def evicted_key(pod: str) -> str:
    return EVICTED + pod


def cluster_ip_key(ip: str) -> str:
    return CLUSTER_IP + ip


def node_port_key(port: int) -> str:
    return NODE_PORT + str(port)


def cordon_key(host: str) -> str:
    return CORDON + host


def tombstone_key(object_key: str) -> str:
    """Where `orc delete` records that `object_key` ("rc/web", "pod/db") was deleted, until its pods are gone:
    the positive decision that lets a pass delete them (pods whose owner is unknown are orphans, kept)."""
    return TOMBSTONE + object_key


def moved_key(old_key: str) -> str:
    """Where the move of an object from an older orc's key is recorded: 'rc/web' -> '_meta/moved/rc/web'."""
    return MOVED + old_key
