"""Fan work out over hosts in a bounded thread pool; one host's failure or slowness never delays the
others beyond the pool's bound, and failures come back as values (as Fabric's GroupResult)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from orchestrator.inventory.host import Host

T = TypeVar("T")

DEFAULT_MAX_WORKERS = 32


def run_parallel(
    hosts: Sequence[Host], fn: Callable[[Host], T], *, max_workers: int = DEFAULT_MAX_WORKERS
) -> dict[str, T | Exception]:
    """Call `fn(host)` for every host concurrently (at most `max_workers` at once; pass
    `settings.ssh.max_parallel`). Returns {host name: result or the exception it raised}, in `hosts` order."""
    if not hosts:
        return {}
    if max_workers < 1:
        raise ValueError(f"max_workers must be >= 1, got {max_workers} (ssh.max_parallel in orc.yaml)")
    results: dict[str, T | Exception] = {}
    with ThreadPoolExecutor(max_workers=min(max_workers, len(hosts)), thread_name_prefix="orc-host") as pool:
        futures = [(h.name, pool.submit(fn, h)) for h in hosts]
        for name, future in futures:
            try:
                results[name] = future.result()
            except Exception as e:  # noqa: BLE001 - a failure is a value here, per host
                results[name] = e
    return results
