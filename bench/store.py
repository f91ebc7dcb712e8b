"""Rough numbers for the SQLite store: write and read throughput, and how soon a watcher in another process
sees a write. Run: .venv/bin/python bench/store.py [N]"""

from __future__ import annotations

import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

from orchestrator.store import Put
from orchestrator.store.sqlite import SQLiteStore


def _timed(label: str, n: int, fn) -> None:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn()
    dt = time.perf_counter() - t0
    print(f"{label:<34} {n:>6} in {dt * 1000:8.1f} ms  ({n / dt:9.0f}/s)")


def _watch_child(db: str, n: int, out) -> None:  # type: ignore[no-untyped-def]
    store = SQLiteStore(db, poll_interval=0.01)
    start = store.revision() + 1
    out.put(start)
    lags = []
    for ev in store.watch("lat/", start_revision=start, timeout=30):
        lags.append(time.time() - ev.record.value["t"])
        if len(lags) == n:
            break
    out.put(lags)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    pod = {"spec": {"containers": [{"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]}}
    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "state.db"
        store = SQLiteStore(db)
        _timed("put (unconditional)", n, lambda: [store.put(f"pod/p{i}", pod) for i in range(n)])
        recs = store.list("pod/")
        _timed(
            "put (compare-and-swap)",
            n,
            lambda: [store.put(r.key, pod, expect_revision=r.revision) for r in recs],
        )
        _timed(
            "txn of 100 puts",
            n,
            lambda: [store.txn([Put(f"rc/r{j}", pod) for j in range(100)]) for _ in range(n // 100)],
        )
        _timed("get", n, lambda: [store.get(f"pod/p{i}") for i in range(n)])
        _timed("list pod/ (whole prefix)", 20, lambda: [store.list("pod/") for _ in range(20)])

        ctx = multiprocessing.get_context("fork")
        out = ctx.Queue()
        child = ctx.Process(target=_watch_child, args=(str(db), 50, out))
        child.start()
        out.get(timeout=10)
        for i in range(50):
            store.put(f"lat/k{i % 5}", {"t": time.time()})
            time.sleep(0.005)
        lags = out.get(timeout=30)
        child.join(5)
        print(
            f"{'watch lag, other process (poll 10ms)':<34} median {statistics.median(lags) * 1000:.1f} ms, "
            f"max {max(lags) * 1000:.1f} ms"
        )


if __name__ == "__main__":
    main()
