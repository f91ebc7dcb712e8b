"""Resource names as kubectl spells them (pods/pod/po, rc, rs, deploy, svc, ...) and how they map to store
keys: each kind its own prefix, so `rc/web`, `rs/web` and `deploy/web` are three objects.

resolve("po")              -> RESOURCES["pods"]
object_ref("rc/web")       -> (RESOURCES["replicationcontrollers"], "web")
object_ref("deploy/web")   -> (RESOURCES["deployments"], "web");  RESOURCES["deployments"].key("web") -> "deploy/web"
display_name("Deployment") -> "deployment.apps"      (as in `deployment.apps/web created`)
plural_name("Service")     -> "services"             (as in `services "web" not found`)
"""

from __future__ import annotations

from dataclasses import dataclass

import click


@dataclass(frozen=True)
class Resource:
    """A resource type the CLI knows. `prefix` is the store kind ("pod", "rc", "rs", "deploy", "svc"): each
    kind its own; empty for the resources that are not desired objects (endpoints and nodes, read from
    bookkeeping and the snapshot)."""

    plural: str
    singular: str
    aliases: tuple[str, ...]
    kind: str  # the manifest kind this resource shows (Pod, ReplicationController, ...)
    prefix: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return (self.plural, self.singular, *self.aliases)

    @property
    def stored(self) -> bool:
        return bool(self.prefix)

    def key(self, name: str) -> str:
        """The store key of the object `name` of this resource ("rc/web")."""
        if not self.stored:
            raise click.UsageError(f"{self.plural} are observed, not desired objects: they have no store key")
        return f"{self.prefix}/{name}"


_LIST = [
    Resource("pods", "pod", ("po",), "Pod", "pod"),
    Resource("replicationcontrollers", "replicationcontroller", ("rc",), "ReplicationController", "rc"),
    Resource("replicasets", "replicaset", ("rs",), "ReplicaSet", "rs"),
    Resource("deployments", "deployment", ("deploy",), "Deployment", "deploy"),
    Resource("services", "service", ("svc",), "Service", "svc"),
    Resource("poddisruptionbudgets", "poddisruptionbudget", ("pdb",), "PodDisruptionBudget", "pdb"),
    Resource("configmaps", "configmap", ("cm",), "ConfigMap", "cm"),
    Resource("secrets", "secret", (), "Secret", "secret"),
    Resource("endpoints", "endpoint", ("ep",), "Endpoints"),
    Resource("nodes", "node", ("no", "hosts", "host"), "Node"),
    Resource("events", "event", ("ev",), "Event"),
]
RESOURCES: dict[str, Resource] = {r.plural: r for r in _LIST}
_BY_NAME: dict[str, Resource] = {n: r for r in _LIST for n in r.names}
_BY_KIND: dict[str, Resource] = {r.kind: r for r in _LIST}

ALL = ("pods", "replicationcontrollers", "replicasets", "deployments", "services")
"""What `orc get all` shows (as kubectl's `all`: no endpoints, no nodes)."""

WORKLOAD_KINDS = ("ReplicationController", "ReplicaSet", "Deployment")
WORKLOADS = ("replicationcontrollers", "replicasets", "deployments")
"""The resources that keep replicas of a pod template (each kind its own store prefix: rc, rs, deploy)."""

_DISPLAY = {
    "Pod": "pod",
    "ReplicationController": "replicationcontroller",
    "ReplicaSet": "replicaset.apps",
    "Deployment": "deployment.apps",
    "Service": "service",
    "PodDisruptionBudget": "poddisruptionbudget.policy",
    "Endpoints": "endpoints",
    "Node": "node",
    "Event": "event",
}
_PLURAL = {
    "Pod": "pods",
    "ReplicationController": "replicationcontrollers",
    "ReplicaSet": "replicasets.apps",
    "Deployment": "deployments.apps",
    "Service": "services",
    "PodDisruptionBudget": "poddisruptionbudgets.policy",
    "Endpoints": "endpoints",
    "Node": "nodes",
    "Event": "events",
}
_KIND_OF_PREFIX = {r.prefix: r.kind for r in _LIST if r.stored}


def known_names() -> list[str]:
    """Every accepted spelling, for completion and error messages."""
    return sorted(_BY_NAME)


def resolve(word: str) -> Resource:
    """A resource by any of its kubectl names (case-insensitive); a usage error naming the known ones."""
    found = (_BY_NAME.get(word.lower()) or _BY_NAME.get(word.lower().removesuffix(".apps"))  # deployment.apps
             or _BY_NAME.get(word.lower().removesuffix(".policy")))
    if found is None:
        import difflib

        close = difflib.get_close_matches(word.lower(), [*_BY_NAME, "all"], n=1, cutoff=0.6)
        raise click.UsageError(
            f'the server doesn\'t have a resource type "{word}"'
            + (f' (did you mean "{close[0]}"?)' if close else "") + ": use one of "
            + ", ".join(r.plural + " (" + ", ".join(r.names[1:]) + ")" for r in _LIST)
            + ", or all"
        )
    return found


def resolve_many(text: str) -> list[Resource]:
    """`rc,svc` -> two resources; `all` -> pods, every workload kind, services."""
    out: list[Resource] = []
    for word in text.split(","):
        for r in [RESOURCES[n] for n in ALL] if word.lower() == "all" else [resolve(word)]:
            if r not in out:
                out.append(r)
    return out


def of_kind(kind: str) -> Resource:
    """The resource that shows a manifest kind: "Deployment" -> deployments (store prefix deploy)."""
    return _BY_KIND[kind]


def object_ref(text: str) -> tuple[Resource, str]:
    """`rc/web` -> (replicationcontrollers, "web")."""
    kind, sep, name = text.partition("/")
    if not sep or not kind or not name or "/" in name:
        raise click.UsageError(f"{text!r} is not of the form KIND/NAME (e.g. rc/web, pod/web-1, svc/web)")
    return resolve(kind), name


def display_name(kind: str) -> str:
    """The name kubectl prints before `/NAME` for a manifest kind: replicationcontroller, deployment.apps."""
    return _DISPLAY.get(kind, kind.lower())


def plural_name(kind: str) -> str:
    """The name kubectl uses in messages such as `replicationcontrollers "web" not found`."""
    return _PLURAL.get(kind, kind.lower() + "s")


def kind_of_key(key: str, value: dict[str, object] | None = None) -> str:
    """The manifest kind of a stored object: its `kind` field, else what its prefix stores."""
    if value and isinstance(value.get("kind"), str):
        return str(value["kind"])
    return _KIND_OF_PREFIX.get(key.partition("/")[0], key.partition("/")[0])
