"""What a service needs to know about a pod, recorded as labels on the pod's infra container when it is
created, so endpoints are rebuilt from the hosts alone (as the rest of the snapshot is).

    orc.port-names = "http=80/tcp,metrics=9100/tcp"   named container ports (for named targetPorts)
    orc.http-check = "80:/healthz"                     the httpGet readiness probe: container port and path
"""

from __future__ import annotations

import re

from orchestrator.model.pod import PodSpec

PORT_NAMES_LABEL = "orc.port-names"
HTTP_CHECK_LABEL = "orc.http-check"

# A path HAProxy can take verbatim after `option httpchk GET`: printable ASCII, no spaces.
_CHECK_PATH = re.compile(r"^/[!-~]*$")


def infra_labels(spec: PodSpec) -> list[str]:
    """`--label` arguments for the infra container (docker run argv)."""
    names = ",".join(
        f"{p.name}={p.container_port}/{(p.protocol or 'TCP').lower()}"
        for c in spec.containers
        for p in c.ports or []
        if p.name
    )
    out = ["--label", f"{PORT_NAMES_LABEL}={names}"]
    check = http_check(spec)
    if check is not None:
        out += ["--label", f"{HTTP_CHECK_LABEL}={check[0]}:{check[1]}"]
    return out


def http_check(spec: PodSpec) -> tuple[int, str] | None:
    """(container port, path) of the first httpGet readiness probe, its named port resolved; None when no
    container has one (or its path is not one HAProxy can send)."""
    named = {p.name: p.container_port for c in spec.containers for p in c.ports or [] if p.name}
    for c in spec.containers:
        probe = c.readiness_probe
        if probe is None or probe.http_get is None:
            continue
        port = probe.http_get.port
        number = named.get(port) if isinstance(port, str) else port
        path = probe.http_get.path or "/"
        if number is not None and _CHECK_PATH.match(path):
            return number, path
    return None


def parse_port_names(text: str) -> dict[str, str]:
    """'http=80/tcp,dns=53/udp' -> {'http': '80/tcp', 'dns': '53/udp'} (malformed items are skipped)."""
    out: dict[str, str] = {}
    for item in filter(None, (text or "").split(",")):
        name, sep, port = item.partition("=")
        if sep and name and port:
            out[name] = port
    return out


def parse_http_check(text: str) -> tuple[int, str] | None:
    """'80:/healthz' -> (80, '/healthz'); None when absent or malformed."""
    port, sep, path = (text or "").partition(":")
    if not sep or not port.isdigit() or not _CHECK_PATH.match(path):
        return None
    return int(port), path
