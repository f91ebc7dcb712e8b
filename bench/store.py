"""The stores side by side: SQLite and etcd (a real etcd started here on 127.0.0.1 unless --etcd names one):
per-operation latency of writes, compare-and-swap writes, a transaction of 50 puts, reads, a list, and how
soon a watcher in another process sees a write. Each figure is the median of RUNS runs (min-max after it);
inside the timer is only the store call.

    .venv/bin/python bench/store.py [--n 200] [--runs 5] [--etcd 127.0.0.1:2379]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orchestrator.store import Put, Store, open_store  # noqa: E402

POD = {"spec": {"containers": [{"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]}}


def _runs(runs: int, n: int, fn: Callable[[], object]) -> list[float]:
    """Milliseconds per operation, one figure per run of `n` operations."""
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000 / n)
    return out


def _show(label: str, ms: list[float]) -> None:
    print(f"  {label:<30} {statistics.median(ms):8.2f} ms  ({min(ms):.2f}-{max(ms):.2f})")


def _watch_child(url: str, n: int, out) -> None:  # type: ignore[no-untyped-def]
    store = open_store(url)
    start = store.revision() + 1
    out.put(start)
    lags = []
    for ev in store.watch("lat/", start_revision=start, timeout=60):
        lags.append((time.time() - ev.record.value["t"]) * 1000)
        if len(lags) == n:
            break
    out.put(lags)


def bench(url: str, n: int, runs: int) -> None:
    store: Store = open_store(url)
    print(store.where)
    _show("put (unconditional)", _runs(runs, n, lambda: [store.put(f"pod/p{i}", POD) for i in range(n)]))
    recs = store.list("pod/")

    def cas() -> None:
        nonlocal recs
        recs = [store.put(r.key, POD, expect_revision=r.revision) for r in recs]

    _show("put (compare-and-swap)", _runs(runs, n, cas))
    batches = max(1, n // 50)
    _show("txn of 50 puts (per txn)", _runs(runs, batches, lambda: [
        store.txn([Put(f"rc/r{j}", POD) for j in range(50)]) for _ in range(batches)]))
    _show("get", _runs(runs, n, lambda: [store.get(f"pod/p{i}") for i in range(n)]))
    _show(f"list pod/ ({n} keys)", _runs(runs, 1, lambda: store.list("pod/")))
    _show("history of a key", _runs(runs, n, lambda: [store.history(f"pod/p{i}") for i in range(n)]))
    ctx = multiprocessing.get_context("fork")
    lags: list[float] = []
    for _ in range(runs):
        out = ctx.Queue()
        child = ctx.Process(target=_watch_child, args=(url, 20, out))
        child.start()
        out.get(timeout=10)
        time.sleep(0.3)  # the child's watch is open (a watch from the past would replay instead)
        for i in range(20):
            store.put(f"lat/k{i % 5}", {"t": time.time()})
            time.sleep(0.01)
        run = out.get(timeout=60)
        child.join(5)
        lags.append(statistics.median(run))
    _show("watch lag, other process", lags)
    store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--etcd", help="endpoints of an etcd to use (default: start one here)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        bench(f"sqlite:{Path(d) / 'state.db'}", args.n, args.runs)
        if args.etcd:
            bench(f"etcd://{args.etcd}/bench/{uuid.uuid4().hex[:8]}/", args.n, args.runs)
        else:
            from tests.etcd_server import etcd_cluster

            with etcd_cluster(Path(d) / "etcd") as cluster:
                bench(cluster.url(f"bench/{uuid.uuid4().hex[:8]}"), args.n, args.runs)


if __name__ == "__main__":
    main()
