"""Connect retries: only transient failures, bounded in count and in time."""

from __future__ import annotations

import time

import pytest

from orchestrator.errors import AuthFailed, HostKeyError, HostUnreachable
from orchestrator.transport.connect import with_connect_retries


class Flaky:
    def __init__(self, errors: list[Exception]):
        self.errors = errors
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "connected"


def test_refused_is_retried_until_it_succeeds() -> None:
    attempt = Flaky([HostUnreachable("h", "refused", "x"), HostUnreachable("h", "refused", "x")])
    assert with_connect_retries(attempt, retries=2, budget=5.0) == "connected"
    assert attempt.calls == 3


def test_retries_are_bounded_by_count() -> None:
    attempt = Flaky([HostUnreachable("h", "refused", "x") for _ in range(5)])
    with pytest.raises(HostUnreachable):
        with_connect_retries(attempt, retries=1, budget=5.0)
    assert attempt.calls == 2


@pytest.mark.parametrize(
    "error", [AuthFailed("h", "x"), HostKeyError("h", "x"), HostUnreachable("h", "dns", "x"), ValueError("x")]
)
def test_auth_hostkey_dns_and_bugs_are_never_retried(error: Exception) -> None:
    attempt = Flaky([error])
    with pytest.raises(type(error)):
        with_connect_retries(attempt, retries=3, budget=5.0)
    assert attempt.calls == 1


def test_retries_stop_within_the_time_budget() -> None:
    attempt = Flaky([HostUnreachable("h", "timeout", "x") for _ in range(100)])
    start = time.monotonic()
    with pytest.raises(HostUnreachable):
        with_connect_retries(attempt, retries=100, budget=0.3)
    assert time.monotonic() - start < 0.5
