"""Probe every host in parallel, one round trip each. An unreachable host becomes a HostFacts that says
why; it costs at most the connect timeout and never delays the others."""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator.errors import HostUnreachable, TransportError
from orchestrator.inventory.host import Host
from orchestrator.observe.facts import HostFacts
from orchestrator.observe.probe import parse_probe, probe_commands, unreachable
from orchestrator.transport.base import Transport
from orchestrator.transport.parallel import run_parallel


def probe_host(transport: Transport, host: Host) -> HostFacts:
    try:
        result = transport.run_batch(host, probe_commands())
    except HostUnreachable as e:
        return unreachable(host, e.reason, e.message)
    except TransportError as e:
        return unreachable(host, "error", e.message)
    return parse_probe(host, result)


def probe_all(transport: Transport, hosts: Sequence[Host], max_workers: int = 32) -> list[HostFacts]:
    results = run_parallel(hosts, lambda h: probe_host(transport, h), max_workers=max_workers)
    out = []
    for h in hosts:
        r = results[h.name]
        out.append(r if isinstance(r, HostFacts) else unreachable(h, "error", f"probe failed: {r!r}"))
    return out
