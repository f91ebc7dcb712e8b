"""The services part of what a pass reads and records: the proxy state step every host's probe carries, and
the endpoint records `orc get endpoints` shows. (Planning them is `plan.services`.)"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from orchestrator.commands.base import Command
from orchestrator.inventory.host import Host
from orchestrator.proxy.endpoints import Endpoint
from orchestrator.proxy.state import probe_step

ENDPOINTS_PREFIX = "_meta/endpoints/"


def probe_steps(host: Host, cluster: str, serving: bool = True) -> list[Command]:
    """What the observe batch of every host also reads: its proxy state (config and hosts-file hashes and
    marks, HAProxy's pid, the addresses on lo, listening ports); on a host without HAProxy to run
    (`serving` False: not a proxy host, or no service) only the hosts file matters, and any config file."""
    return [probe_step(host, cluster, serving)]


def endpoint_records(endpoints: Mapping[str, Sequence[Endpoint]]) -> dict[str, dict[str, Any]]:
    """What `orc get endpoints` reads, per service."""
    return {name: {"endpoints": [{"ip": e.address, "port": e.port, "pod": e.pod, "host": e.host,
                                  "service_port": e.service_port} for e in eps]}
            for name, eps in endpoints.items()}
