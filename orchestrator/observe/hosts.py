"""Probe every host in parallel, one round trip each. An unreachable host becomes a HostFacts that says
why; it costs at most the connect timeout and never delays the others."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

from orchestrator.commands.base import Command
from orchestrator.errors import HostUnreachable, TransportError
from orchestrator.inventory.host import Host
from orchestrator.observe.facts import HostFacts
from orchestrator.observe.probe import parse_probe, probe_commands, unreachable
from orchestrator.transport.base import Transport
from orchestrator.transport.parallel import run_parallel

Extra = Callable[[Host], list[Command]]


def probe_host(transport: Transport, host: Host, extra: Extra | None = None,
               cached: HostFacts | None = None) -> HostFacts:
    """The probe batch, plus steps other layers want read in the same round trip (`extra(host)`, e.g. the
    proxy's state); their results land in `HostFacts.extra` by step name. With `cached` facts of an
    earlier full probe, only what changes between passes is asked (a light probe)."""
    more = extra(host) if extra else []
    try:
        result = transport.run_batch(host, [*probe_commands(full=cached is None), *more])
    except HostUnreachable as e:
        return unreachable(host, e.reason, e.message)
    except TransportError as e:
        return unreachable(host, "error", e.message)
    facts = parse_probe(host, result, cached)
    if more:
        facts = dataclasses.replace(facts, extra={c.name: result[c.name] for c in more})
    return facts


def probe_all(transport: Transport, hosts: Sequence[Host], max_workers: int = 32,
              extra: Extra | None = None, cached: Mapping[str, HostFacts] | None = None) -> list[HostFacts]:
    cached = cached or {}
    results = run_parallel(hosts, lambda h: probe_host(transport, h, extra, cached.get(h.name)),
                           max_workers=max_workers)
    out = []
    for h in hosts:
        r = results[h.name]
        out.append(r if isinstance(r, HostFacts) else unreachable(h, "error", f"probe failed: {r!r}"))
    return out
