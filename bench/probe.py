"""Probe time per host on an open connection: the light probe with the container cache (what a no-op pass
runs: one `docker ps`, nothing inspected), the light probe without it (`docker ps` + `docker inspect` of every
container of ours), and the floor of one bare `docker ps` on the same connection, measured interleaved.

It brings up a lab of its own (default "bprobe" on 10.99.43.0/24; never the user's "lab"), starts an RC
with `--pods` pods per host through the real engine, then probes each host alone (one at a time, so the
shared cores do not queue the hosts), `-n` rounds of the three, interleaved. The lab is always torn down.

Run:  sudo .venv/bin/python bench/probe.py [--hosts 3] [--pods 3] [-n 15] [--lab bprobe --subnet 43]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reconcile import _apply, _project  # noqa: E402  (a sibling script, not a package)

from orchestrator.commands.base import cmd
from orchestrator.config import load_project
from orchestrator.engine import CONTAINERS_PREFIX, Engine
from orchestrator.inventory.loader import load_inventory
from orchestrator.lab import cluster
from orchestrator.lab.spec import LabSpec
from orchestrator.observe.hosts import probe_host
from orchestrator.store import open_store
from orchestrator.transport.ssh import SSHTransport


def spread(values: list[float]) -> str:
    return (f"{statistics.median(values) * 1000:.1f} ms ({min(values) * 1000:.1f}-{max(values) * 1000:.1f})"
            if values else "-")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--pods", type=int, default=3, help="pods per host (each an infra + an app container)")
    parser.add_argument("-n", "--runs", type=int, default=15)
    parser.add_argument("--lab", default="bprobe")
    parser.add_argument("--subnet", type=int, default=43)
    args = parser.parse_args(argv)
    spec = LabSpec(hosts=args.hosts, name=args.lab, subnet=args.subnet)
    say = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="orc-bench-probe-") as tmp:
        root = Path(tmp)
        inventory = root / "inventory.yaml"
        try:
            say("lab up")
            cluster.up(spec, inventory, progress=lambda m: say(f"  {m}"))
            _project(root, inventory)
            project = load_project(str(root / "orc.yaml"))
            hosts = load_inventory(project.inventory_path).hosts()
            _apply(project.store_url, root, args.hosts * args.pods)
            store = open_store(project.store_url)
            t = SSHTransport(project.settings.ssh)
            try:
                e = Engine(project, hosts, t, store)
                for _ in range(3):  # converge, then the full probe after it: the cache is made
                    r = e.run_pass()
                    errors += [f"{x.host} {x.step}: {x.error}" for x in r.failed]
                snap = e.observe()
                running = sum(1 for p in snap.pods if p.phase == "Running")
                static = e._cached_facts()
                caches = {rec.key[len(CONTAINERS_PREFIX):]: rec.value for rec in store.list(CONTAINERS_PREFIX)}
                say(f"{running} pods running; probing each host alone, {args.runs} rounds")
                cached: list[float] = []
                uncached: list[float] = []
                floor: list[float] = []
                for _ in range(args.runs):
                    for h in hosts:
                        if h.name not in static or h.name not in caches:
                            errors.append(f"{h.name}: no static facts or container cache to probe with")
                            continue
                        start = time.perf_counter()
                        f = probe_host(t, h, cached=static[h.name], containers=caches[h.name])
                        cached.append(time.perf_counter() - start)
                        if not f.ready or len(f.containers) != 2 * args.pods:
                            errors.append(f"{h.name}: cached probe saw {len(f.containers)} containers")
                        start = time.perf_counter()
                        f = probe_host(t, h, cached=static[h.name])
                        uncached.append(time.perf_counter() - start)
                        start = time.perf_counter()
                        ok = t.run_batch(h, [cmd("ps", "docker", "ps", "-q")]).ok
                        floor.append(time.perf_counter() - start)
                        if not ok:
                            errors.append(f"{h.name}: docker ps failed")
            finally:
                t.close()
                store.close()
        finally:
            say("lab down")
            cluster.down(spec)
    c, u, fl = (statistics.median(x) for x in (cached, uncached, floor)) if floor else (0.0, 0.0, 1.0)
    print(f"{args.hosts} hosts, {args.pods} pods ({2 * args.pods} containers) per host, {args.runs} rounds, "
          "per host on an open connection, median (min-max):")
    print(f"  light probe, container cache: {spread(cached)}  {c / fl:.2f}x the floor")
    print(f"  light probe, inspect every container: {spread(uncached)}  {u / fl:.2f}x the floor")
    print(f"  floor, one `docker ps -q`: {spread(floor)}")
    for err in errors:
        print(f"ERROR {err}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
