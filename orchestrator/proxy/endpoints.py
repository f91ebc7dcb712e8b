"""Endpoints: for each service port, the ready pods its selector picks, as the host address and published
host port of the target container port. Recomputed each pass from the snapshot (pure).

Pods are taken as observed (`observe.snapshot.ObservedPod`, whose infra container carries the labels of
`proxy.pod_labels`) or as read back from the stored snapshot (`StoredPod`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from orchestrator.model.objects import Service, ServicePort
from orchestrator.proxy.pod_labels import (
    HTTP_CHECK_LABEL,
    PORT_NAMES_LABEL,
    parse_http_check,
    parse_port_names,
)


class PodView(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def uid(self) -> str: ...
    @property
    def host(self) -> str: ...
    @property
    def labels(self) -> dict[str, str]: ...
    @property
    def ready(self) -> bool: ...
    @property
    def ports(self) -> dict[str, int]: ...


class HostView(Protocol):
    @property
    def address(self) -> str: ...
    @property
    def reachable(self) -> bool: ...


@dataclass(frozen=True)
class StoredPod:
    """A pod as the stored snapshot (`_meta/snapshot`) has it; `port_names`/`http_check` are the raw
    infra labels (see proxy.pod_labels), empty when the snapshot does not carry them."""

    name: str
    uid: str = ""
    host: str = ""
    ready: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    port_names: str = ""
    http_check: str = ""

    @classmethod
    def from_dict(cls, entry: Mapping[str, Any]) -> StoredPod:
        return cls(
            name=str(entry.get("name") or ""),
            uid=str(entry.get("uid") or ""),
            host=str(entry.get("host") or ""),
            ready=bool(entry.get("ready")),
            labels={str(k): str(v) for k, v in (entry.get("labels") or {}).items()},
            ports={str(k): int(v) for k, v in (entry.get("ports") or {}).items()},
            port_names=str(entry.get("port_names") or ""),
            http_check=str(entry.get("http_check") or ""),
        )


@dataclass(frozen=True)
class Endpoint:
    """One backend server of one service port."""

    service: str
    port_name: str | None  # the service port's name (None for a single unnamed port)
    service_port: int
    pod: str
    uid: str
    host: str
    address: str  # the pod's host address
    port: int  # the published host port of the target container port
    server: str  # HAProxy server name: the pod name, unique within the service port
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    check_path: str | None = None  # the pod's httpGet readiness path when it probes this port

    @property
    def target(self) -> str:
        return f"{self.address}:{self.port}"


def _infra_label(pod: PodView, key: str) -> str:
    infra = getattr(pod, "infra", None)
    if infra is not None:
        return str(infra.labels.get(key, ""))
    return str(getattr(pod, {PORT_NAMES_LABEL: "port_names", HTTP_CHECK_LABEL: "http_check"}[key], ""))


def container_port(pod: PodView, sp: ServicePort) -> str | None:
    """The pod's container port ("80/tcp") a service port targets; None when a named target is unknown."""
    target = sp.target
    proto = (sp.protocol or "TCP").lower()
    if isinstance(target, int):
        return f"{target}/{proto}"
    return parse_port_names(_infra_label(pod, PORT_NAMES_LABEL)).get(target)


def _reachable(h: HostView) -> bool:
    return bool(getattr(h, "reachable", True))


def service_endpoints(svc: Service, pods: Sequence[PodView], hosts: Mapping[str, HostView]) -> list[Endpoint]:
    selector = svc.selector
    if selector is None:
        return []
    chosen = sorted(
        (p for p in pods if p.ready and selector.matches(p.labels)),
        key=lambda p: (p.name, p.uid),
    )
    out: list[Endpoint] = []
    for sp in svc.spec.ports:
        used: set[str] = set()
        for pod in chosen:
            h = hosts.get(pod.host)
            address = (getattr(h, "bind_address", "") or h.address) if h is not None else ""
            if h is None or not _reachable(h) or not address:
                continue
            cport = container_port(pod, sp)
            host_port = pod.ports.get(cport) if cport else None
            if host_port is None:
                continue
            check = parse_http_check(_infra_label(pod, HTTP_CHECK_LABEL))
            path = check[1] if check is not None and cport == f"{check[0]}/tcp" else None
            server = pod.name if pod.name not in used else f"{pod.name}-{pod.uid[:8]}"
            used.add(server)
            out.append(
                Endpoint(
                    service=svc.name,
                    port_name=sp.name,
                    service_port=sp.port,
                    pod=pod.name,
                    uid=pod.uid,
                    host=pod.host,
                    address=address,
                    port=int(host_port),
                    server=server,
                    labels=dict(pod.labels),
                    check_path=path,
                )
            )
    return out


def endpoints(
    services: Mapping[str, Service], pods: Sequence[PodView], hosts: Mapping[str, HostView]
) -> dict[str, list[Endpoint]]:
    """Service name -> its endpoints, ordered by service port (as declared), then pod name. A service
    without a selector has none; pods not ready, on unreachable hosts, or not publishing the target port
    are left out."""
    return {svc.name: service_endpoints(svc, pods, hosts) for svc in services.values()}


def for_port(eps: Sequence[Endpoint], port: int) -> list[Endpoint]:
    """The endpoints of one service port."""
    return [e for e in eps if e.service_port == port]
