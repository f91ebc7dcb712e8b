"""Who may act: the controller that holds the store's reconcile lock (a lease, see store/base.py).

A pass takes it at once or waits for it (`--wait-lock S`); a `--watch` controller that finds it held stands
by, retrying every `poll` seconds, and takes over when the holder releases it or its lease lapses (a
stalled or partitioned leader after `lease_ttl`, one that died on this machine at once). A leader that lost
its lease steps down and stands by again; the hosts refuse whatever it still sends (act/fence.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from orchestrator.errors import LockHeldError


def take_lock(store: Any, name: str, ttl: float, wait: float | None,
              stopped: Callable[[], bool] = lambda: False,
              on_wait: Callable[[LockHeldError], None] | None = None,
              poll: float | None = None, sleep: Callable[[float], None] = time.sleep) -> Any:
    """The lock `name`, acquired. While another holds it: retry every `poll` seconds (default a quarter of
    the ttl, at most 0.5 s) for `wait` seconds (None: until `stopped()`), calling `on_wait` with the first
    refusal; then raise the last LockHeldError. Returns None if `stopped()` became true first."""
    step = poll if poll is not None else min(0.5, ttl / 4)
    deadline = None if wait is None else time.monotonic() + wait
    told = False
    while True:
        lock = store.lock(name, ttl=ttl)
        try:
            return lock.acquire()
        except LockHeldError as e:
            if deadline is not None and time.monotonic() + step > deadline:
                raise
            if not told and on_wait is not None:
                on_wait(e)
                told = True
        if stopped():
            return None
        sleep(step)
        if stopped():
            return None
