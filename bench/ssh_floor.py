"""The SSH floor: how long a bare parallel exec sweep over every host takes (one `true` per host, one exec
channel each), first on fresh connections, then on reused ones. Every other remote phase costs at least this.

Run:    .venv/bin/python bench/ssh_floor.py -i inventory/lab.yaml [-n 5] [--config orc.yaml]
Reuse:  from bench.ssh_floor import floor; figures = floor(hosts)   (or load bench/ssh_floor.py by path)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from orchestrator.commands.base import cmd
from orchestrator.config import SSHSettings, load_project
from orchestrator.inventory.host import Host
from orchestrator.transport.parallel import run_parallel
from orchestrator.transport.ssh import SSHTransport


@dataclass
class Floor:
    hosts: int
    fresh: list[float] = field(default_factory=list)  # seconds per sweep, new connections each time
    reused: list[float] = field(default_factory=list)  # seconds per sweep over pooled connections
    failures: dict[str, str] = field(default_factory=dict)  # host -> error of the last sweep that failed it

    @property
    def fresh_median(self) -> float:
        return statistics.median(self.fresh) if self.fresh else float("nan")

    @property
    def reused_median(self) -> float:
        return statistics.median(self.reused) if self.reused else float("nan")

    def report(self) -> str:
        lines = [f"hosts: {self.hosts}   runs: {len(self.fresh)}"]
        for label, values in (("fresh connections", self.fresh), ("reused connections", self.reused)):
            if values:
                lines.append(
                    f"{label:<20} median {statistics.median(values) * 1000:8.1f} ms"
                    f"   min {min(values) * 1000:8.1f} ms   max {max(values) * 1000:8.1f} ms"
                )
        for host, error in sorted(self.failures.items()):
            lines.append(f"FAILED {host}: {error}")
        return "\n".join(lines)


def sweep(
    transport: SSHTransport, hosts: Sequence[Host], max_workers: int, failures: dict[str, str],
    command: str = "true",
) -> float:
    """One exec of `command` on every host at once (`true`: the bare round trip; `docker ps -q`: the least
    any tool asks a host to learn what runs), its wall time."""
    start = time.perf_counter()
    results = run_parallel(
        hosts, lambda h: transport.run_batch(h, [cmd("floor", *command.split())]), max_workers=max_workers
    )
    elapsed = time.perf_counter() - start
    for name, result in results.items():
        if isinstance(result, Exception):
            failures[name] = str(result)
        elif not result.ok:
            failures[name] = f"`{command}` exited {result.steps[0].exit_code}: {result.steps[0].stderr.strip()}"
    return elapsed


def floor(
    hosts: Sequence[Host],
    settings: SSHSettings | None = None,
    *,
    runs: int = 5,
    known_hosts_files: list[str] | None = None,
    ssh_config_path: str | None = None,
) -> Floor:
    """Time `runs` sweeps on fresh connections and `runs` on one warmed pool; medians in `Floor`."""
    settings = settings or SSHSettings()
    result = Floor(hosts=len(hosts))

    def transport() -> SSHTransport:
        return SSHTransport(settings, known_hosts_files=known_hosts_files, ssh_config_path=ssh_config_path)

    for _ in range(runs):
        t = transport()
        try:
            result.fresh.append(sweep(t, hosts, settings.max_parallel, result.failures))
        finally:
            t.close()
    t = transport()
    try:
        sweep(t, hosts, settings.max_parallel, result.failures)  # warm the pool
        for _ in range(runs):
            result.reused.append(sweep(t, hosts, settings.max_parallel, result.failures))
    finally:
        t.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-i", "--inventory", help="inventory file or folder (default: orc.yaml's)")
    parser.add_argument("-n", "--runs", type=int, default=5, help="sweeps per mode (default 5)")
    parser.add_argument("--config", help="orc.yaml (default: found from the working directory)")
    args = parser.parse_args(argv)

    from orchestrator.inventory.loader import load_inventory

    project = load_project(args.config)
    ssh = project.settings.ssh
    if ssh.known_hosts:
        ssh = ssh.model_copy(update={"known_hosts": str(project.path(ssh.known_hosts))})
    inventory = load_inventory(args.inventory or project.inventory_path)
    hosts = inventory.hosts()
    if not hosts:
        print("the inventory has no hosts", file=sys.stderr)
        return 1
    figures = floor(hosts, ssh, runs=args.runs)
    print(figures.report())
    return 1 if figures.failures else 0


if __name__ == "__main__":
    sys.exit(main())
