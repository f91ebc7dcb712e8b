"""run_parallel: bounded fan-out, failures as values, a slow host never delays the others."""

from __future__ import annotations

import threading
import time

import pytest

from orchestrator.errors import HostUnreachable
from orchestrator.inventory.host import Host
from orchestrator.transport.parallel import run_parallel

HOSTS = [Host(name=f"h{i}", address=f"10.0.0.{i}") for i in range(6)]


def test_results_and_exceptions_per_host_in_order() -> None:
    def fn(host: Host) -> str:
        if host.name == "h2":
            raise HostUnreachable(host.name, "refused", "no")
        return host.address

    results = run_parallel(HOSTS, fn)
    assert list(results) == [h.name for h in HOSTS]
    assert isinstance(results["h2"], HostUnreachable)
    assert results["h0"] == "10.0.0.0"


def test_a_slow_host_does_not_delay_the_others() -> None:
    done: dict[str, float] = {}
    start = time.monotonic()

    def fn(host: Host) -> None:
        if host.name == "h0":
            time.sleep(0.5)
        done[host.name] = time.monotonic() - start

    run_parallel(HOSTS, fn, max_workers=8)
    assert max(v for k, v in done.items() if k != "h0") < 0.2
    assert done["h0"] >= 0.5


def test_concurrency_is_bounded_by_max_workers() -> None:
    running = 0
    peak = 0
    lock = threading.Lock()

    def fn(host: Host) -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1

    run_parallel(HOSTS, fn, max_workers=2)
    assert peak == 2


def test_no_hosts_and_bad_worker_count() -> None:
    assert run_parallel([], lambda h: 1) == {}
    with pytest.raises(ValueError, match="max_parallel"):
        run_parallel(HOSTS, lambda h: 1, max_workers=0)
