"""What a host's HAProxy config is rendered from, as one digest (pure; no Jinja2 here): the host (its name,
address and vars: `HAProxyHost` reads them), the cluster, every service it serves with that service's
address and endpoints, and the templates (each file's path, size and mtime). Same digest, same config: a
pass re-renders a host only when its digest differs from the one kept in the book (Book.proxy_renders) or
the host no longer has the config that digest rendered to, so a no-op pass at 500 hosts renders nothing.

Bump RENDER_VERSION when the rendering code changes what the same inputs render to."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from orchestrator.inventory.host import Host
from orchestrator.model.objects import Service
from orchestrator.proxy.addresses import ServiceAddress
from orchestrator.proxy.endpoints import Endpoint

RENDER_VERSION = "1"
PACKAGED_TEMPLATES = Path(__file__).parent / "templates"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def templates_digest(templates_dir: Path | None) -> str:
    """Every file the template loader could read (the project's folder, then the packaged one): path, size,
    mtime. A template edited, added or removed changes it."""
    seen = []
    for root in (templates_dir, PACKAGED_TEMPLATES):
        if root is None or not Path(root).is_dir():
            continue
        for d, dirs, files in os.walk(root):
            dirs.sort()
            for f in sorted(files):
                p = os.path.join(d, f)
                try:
                    st = os.stat(p)
                except OSError:
                    continue
                seen.append(f"{p}\0{st.st_size}\0{st.st_mtime_ns}")
    return _sha("\n".join([RENDER_VERSION, *seen]))


def service_digest(svc: Service, addr: ServiceAddress | None, eps: Sequence[Endpoint]) -> str:
    """One service as every proxy renders it: its manifest, address and endpoints (once per pass, shared by
    every host that serves it)."""
    body = svc.manifest_json()
    where = repr((addr.cluster_ip, sorted(addr.node_ports.items()))) if addr is not None else "-"
    return _sha("\n".join([body, where, *(repr(e) for e in eps)]))


def host_digest(host: Host, cluster: str, services: Iterable[tuple[str, str]], templates: str) -> str:
    """The digest of one host's render: `services` (name, service_digest) of those it serves."""
    return _sha("\n".join([RENDER_VERSION, cluster, templates, repr(host), *(f"{n}\0{d}" for n, d in sorted(services))]))
