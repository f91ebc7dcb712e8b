"""Taking the reconcile lock: at once or not at all, waiting up to some seconds (`--wait-lock`), or standing
by until the holder is gone (`--watch`), on both store backends."""

from __future__ import annotations

import threading
import time

import pytest

from orchestrator.errors import LockHeldError
from orchestrator.leader import take_lock
from tests.store_backends import BACKENDS, Backend, backend_fixture

pytestmark = pytest.mark.timeout(30)

backend = pytest.fixture(params=BACKENDS)(backend_fixture)


def test_a_free_lock_is_taken_at_once_and_a_held_one_refused_without_waiting(backend: Backend) -> None:
    holder = backend.open().lock("reconcile", ttl=5).acquire()
    t0 = time.monotonic()
    with pytest.raises(LockHeldError) as err:
        take_lock(backend.open(), "reconcile", 5, wait=0)
    first = holder.token
    assert time.monotonic() - t0 < 1 and err.value.holder.token == first  # type: ignore[attr-defined]
    holder.release()
    lock = take_lock(backend.open(), "reconcile", 5, wait=0)
    assert lock.held and lock.token > first
    lock.release()


def test_waiting_takes_the_lock_once_the_holder_releases_it(backend: Backend) -> None:
    holder = backend.open().lock("reconcile", ttl=5).acquire()
    told: list[LockHeldError] = []
    timer = threading.Timer(0.8, holder.release)
    timer.start()
    t0 = time.monotonic()
    lock = take_lock(backend.open(), "reconcile", 5, wait=10, on_wait=told.append, poll=0.1)
    waited = time.monotonic() - t0
    assert 0.7 < waited < 3 and len(told) == 1  # told once, not once per retry
    lock.release()


def test_waiting_gives_up_after_its_seconds(backend: Backend) -> None:
    holder = backend.open().lock("reconcile", ttl=5).acquire()
    t0 = time.monotonic()
    with pytest.raises(LockHeldError):
        take_lock(backend.open(), "reconcile", 5, wait=0.6, poll=0.1)
    assert 0.4 < time.monotonic() - t0 < 2
    holder.release()


def test_standing_by_ends_when_stopped(backend: Backend) -> None:
    holder = backend.open().lock("reconcile", ttl=5).acquire()
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    assert take_lock(backend.open(), "reconcile", 5, wait=None, stopped=stop.is_set, poll=0.1) is None
    holder.release()
