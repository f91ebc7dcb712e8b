"""Requests dropped while a service's pods churn: steady HTTP load through a service while its RC is scaled
up and down (each step one `orc scale` and one `orc reconcile`, which re-renders and hitlessly reloads
HAProxy on every proxy host), then requests sent, failed, and p50/p99 latency.

Run from a project whose services are deployed (e.g. the repository root on the lab, after
`orc apply -f examples/ && orc reconcile`):

    .venv/bin/python bench/proxy_churn.py --url http://10.99.0.11:30080/ --rc web --sizes 5,1,3,1,3

The load runs in this process (the lab's bridge makes every host's node port reachable from here).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Load:
    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def worker(self, url: str, stop: threading.Event, timeout: float) -> None:
        while not stop.is_set():
            start = time.perf_counter()
            try:
                with urllib.request.urlopen(url, timeout=timeout) as r:
                    r.read()
                ok, why = True, ""
            except Exception as e:  # noqa: BLE001 - every failure counts, whatever it is
                ok, why = False, type(e).__name__ + ": " + str(e)[:60]
            took = time.perf_counter() - start
            with self.lock:
                if ok:
                    self.latencies.append(took)
                else:
                    self.failures[why] += 1


def orc_command() -> list[str]:
    exe = Path(sys.executable).parent / "orc"
    return [str(exe)] if exe.exists() else [shutil.which("orc") or "orc"]


def step(args: list[str]) -> tuple[int, float]:
    start = time.perf_counter()
    done = subprocess.run([*orc_command(), *args], capture_output=True, text=True)
    if done.returncode not in (0, 4):
        print(
            f"  orc {' '.join(args)}: exit {done.returncode}: {done.stderr.strip()[-300:]}", file=sys.stderr
        )
    return done.returncode, time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="http://10.99.0.11:30080/", help="a service's node port or cluster IP")
    p.add_argument("--rc", default="web", help="the ReplicationController behind the service")
    p.add_argument("--sizes", default="5,1,3,1,3", help="replica counts to scale through, in order")
    p.add_argument("--hold", type=float, default=3.0, help="seconds of load after each pass")
    p.add_argument("--clients", type=int, default=4, help="concurrent clients")
    p.add_argument("--timeout", type=float, default=5.0, help="per-request timeout (seconds)")
    a = p.parse_args()

    load, stop = Load(), threading.Event()
    threads = [
        threading.Thread(target=load.worker, args=(a.url, stop, a.timeout), daemon=True)
        for _ in range(a.clients)
    ]
    for t in threads:
        t.start()
    time.sleep(a.hold)
    try:
        for n in (int(x) for x in a.sizes.split(",") if x.strip()):
            rc_scale, _ = step(["scale", f"rc/{a.rc}", "--replicas", str(n)])
            rc_pass, took = step(["reconcile"])
            with load.lock:
                sent, failed = len(load.latencies) + sum(load.failures.values()), sum(load.failures.values())
            print(
                f"scale {a.rc} to {n}: reconcile exit {rc_pass} in {took:.2f}s; so far {sent} sent, {failed} failed"
            )
            time.sleep(a.hold)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=a.timeout + 1)
    ok = sorted(load.latencies)
    failed = sum(load.failures.values())
    print(
        f"requests sent: {len(ok) + failed}  failed: {failed}  "
        f"p50: {percentile(ok, 50) * 1000:.1f} ms  p99: {percentile(ok, 99) * 1000:.1f} ms"
    )
    for why, count in load.failures.most_common(5):
        print(f"  {count} x {why}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
