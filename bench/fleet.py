"""Controller cost of a no-op pass at fleet sizes no lab here can hold: the REAL engine (`Engine.run_pass`, as
`orc reconcile` runs it) over the fake transport of the unit tests' harness (tests/harness: simulated docker
hosts answering the probe and act steps as docker would), so what is measured is the controller alone: its
observe parsing, planning, rendering and store bookkeeping, with no network and no remote work.

For each size N: N hosts, one RC of N replicas (one pod a host) and, unless --no-service, one NodePort
service selecting them (so every host runs HAProxy and its config lists N endpoints). It converges, then
times `-n` no-op passes: controller CPU per pass (process time: user + system of this process), median and
spread (min-max), and peak memory (tracemalloc's peak of Python allocations during one more no-op pass, and
the process's ru_maxrss, which includes converging).

Run:  .venv/bin/python bench/fleet.py [--hosts 100 500 1000] [-n 5] [--no-service]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.harness.lab import SimLab  # noqa: E402  (the unit tests' harness: the repo root on the path)


def rc_doc(replicas: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "selector": {"app": "web"},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "app", "image": "nginx:1.25",
                                                           "ports": [{"containerPort": 80}],
                                                           "resources": {"requests": {"cpu": "100m"}}}],
                                           "topologySpreadConstraints": [
                                               {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                                "whenUnsatisfiable": "DoNotSchedule",
                                                "labelSelector": {"matchLabels": {"app": "web"}}}]}}}}


def svc_doc() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"type": "NodePort", "selector": {"app": "web"},
                     "ports": [{"port": 80, "targetPort": 80, "nodePort": 30080}]}}


def measure(n_hosts: int, passes: int, service: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="orc-fleet-") as tmp:
        names = tuple(f"h{i:04d}" for i in range(n_hosts))
        addresses = {n: {"ansible_host": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"} for i, n in enumerate(names)}
        lab = SimLab(Path(tmp), hosts=names, step=1.0, host_vars=addresses)
        try:
            lab.apply(rc_doc(n_hosts), *([svc_doc()] if service else []))
            t = time.perf_counter()
            converge = lab.reconcile_until_quiet(limit=6)
            converge_s = time.perf_counter() - t
            pods = len(lab.pods_of("rc/web"))
            if pods != n_hosts:
                raise SystemExit(f"{n_hosts} hosts: {pods} pods of rc/web after converging, not {n_hosts}")
            lab.reconcile()  # settle once more: the first no-op pass after converging writes its bookkeeping
            cpu: list[float] = []
            for i in range(passes + 1):  # the last one traced (tracemalloc slows it: its time is not counted)
                if i == passes:
                    tracemalloc.start()
                t0 = time.process_time()
                r = lab.reconcile()
                if i < passes:
                    cpu.append(time.process_time() - t0)
                if r.changed or r.errors or lab.errors:
                    raise SystemExit(f"{n_hosts} hosts: a no-op pass acted or failed: {r.plan.actions[:3]} "
                                     f"{r.errors[:3]} {lab.errors[:3]}")
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            return {"hosts": n_hosts, "converge_s": converge_s, "converge_passes": len(converge), "cpu": cpu,
                    "peak_mb": peak / 1e6, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3}
        finally:
            lab.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, nargs="+", default=[100, 500, 1000])
    ap.add_argument("-n", type=int, default=5, help="no-op passes timed per size")
    ap.add_argument("--no-service", action="store_true", help="the RC alone: no NodePort service, no HAProxy")
    a = ap.parse_args()
    print(f"no-op pass, controller CPU (process time), {'no service' if a.no_service else 'one NodePort service'}")
    print(f"{'hosts':>6} {'median s':>9} {'min-max s':>13} {'tracemalloc peak MB':>20} {'ru_maxrss MB':>13} "
          f"{'converge s (passes)':>20}")
    for n in a.hosts:
        m = measure(n, a.n, not a.no_service)
        cpu = m["cpu"]
        print(f"{n:>6} {statistics.median(cpu):>9.3f} {min(cpu):>6.3f}-{max(cpu):<6.3f} {m['peak_mb']:>20.1f} "
              f"{m['maxrss_mb']:>13.0f} {m['converge_s']:>14.1f} ({m['converge_passes']})", flush=True)


if __name__ == "__main__":
    main()
