"""Probe every host in parallel, one round trip each. An unreachable host becomes a HostFacts that says
why; it costs at most the connect timeout and never delays the others."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

from orchestrator.commands.base import Command
from orchestrator.errors import HostUnreachable, TransportError
from orchestrator.inventory.host import Host
from orchestrator.observe.container_cache import Cache, known_keys, merge, parse_ps
from orchestrator.observe.facts import HostFacts
from orchestrator.observe.probe import (
    CONTAINERS,
    containers_step,
    inspect_step,
    parse_containers,
    parse_probe,
    probe_commands,
    unreachable,
)
from orchestrator.transport.base import Transport
from orchestrator.transport.parallel import run_parallel

Extra = Callable[[Host], list[Command]]


def probe_host(transport: Transport, host: Host, extra: Extra | None = None,
               cached: HostFacts | None = None, containers: Cache | None = None) -> HostFacts:
    """The probe batch, plus steps other layers want read in the same round trip (`extra(host)`, e.g. the
    proxy's state); their results land in `HostFacts.extra` by step name. With `cached` facts of an
    earlier full probe, only what changes between passes is asked (a light probe).

    With `containers` (the host's cache of inspected containers, observe/container_cache.py), only the
    containers that are new or changed since are inspected, and the new cache is in
    `HostFacts.container_cache`; a full probe inspects every container (the cache is rebuilt). A container
    whose displayed uptime does not fit its cached times costs one more round trip, to inspect it."""
    more = extra(host) if extra else []
    use = containers if cached is not None else {}
    step = CONTAINERS if containers is None else containers_step(known_keys(use or {}))
    try:
        result = transport.run_batch(host, [*probe_commands(full=cached is None, containers=step), *more])
        facts = parse_probe(host, result, cached)
        if containers is not None and result["containers"].exit_code == 0:
            now, rows = parse_ps(result["containers"].stdout)
            merged = merge(rows, facts.containers, use or {}, now)
            if merged.missing:
                late = transport.run_batch(host, [inspect_step(merged.missing)])
                merged = merge(rows, [*facts.containers, *parse_containers(late["inspect"].stdout)], use or {}, now)
            facts = dataclasses.replace(facts, containers=merged.containers, container_cache=merged.cache)
    except HostUnreachable as e:
        return unreachable(host, e.reason, e.message)
    except TransportError as e:
        return unreachable(host, "error", e.message)
    if more:
        facts = dataclasses.replace(facts, extra={c.name: result[c.name] for c in more})
    return facts


def probe_all(transport: Transport, hosts: Sequence[Host], max_workers: int = 32,
              extra: Extra | None = None, cached: Mapping[str, HostFacts] | None = None,
              containers: Mapping[str, Cache] | None = None) -> list[HostFacts]:
    """`containers`: host -> its cache of inspected containers (a host missing from it starts one); None:
    every container is inspected, no cache kept."""
    cached = cached or {}
    results = run_parallel(hosts, lambda h: probe_host(transport, h, extra, cached.get(h.name),
                                                       None if containers is None else containers.get(h.name, {})),
                           max_workers=max_workers)
    out = []
    for h in hosts:
        r = results[h.name]
        out.append(r if isinstance(r, HostFacts) else unreachable(h, "error", f"probe failed: {r!r}"))
    return out
