"""What wakes --watch, and which hosts a pass may leave unasked."""

from __future__ import annotations

import threading
import time

from orchestrator.inventory.host import Host
from orchestrator.transport.fake import FakeTransport
from orchestrator.watch import READY, Triggers, follow_docker_events


def test_a_host_is_quiet_only_while_its_stream_is_up_and_silent() -> None:
    t = Triggers()
    assert t.quiet_hosts() == set()
    t.streaming("a", True)
    t.streaming("b", True)
    assert t.quiet_hosts() == set()  # just (re)connected: what happened meanwhile is unknown
    assert t.quiet_hosts() == {"a", "b"}
    t.fire("a: die orc_x", "a")
    assert t.quiet_hosts() == {"b"}  # news from a: probe it
    assert t.quiet_hosts() == {"a", "b"}
    t.streaming("b", False)
    assert t.quiet_hosts() == {"a"}  # a broken stream says nothing: b is probed every pass


def test_events_from_a_host_wake_the_loop_and_mark_it() -> None:
    fake = FakeTransport()
    fake.set_stream("a", "docker events", [READY, "die orc_web-1_app", "destroy orc_web-1_app"])
    t = Triggers()
    follow_docker_events(fake, [Host(name="a", address="a")], t, retry=60)
    reasons = t.wait(5, debounce=0.2)
    assert "a: die orc_web-1_app" in reasons
    t.stop()


def test_wait_returns_at_the_timeout_when_nothing_fires() -> None:
    t = Triggers()
    start = time.monotonic()
    assert t.wait(0.2, debounce=0) == []
    assert 0.15 < time.monotonic() - start < 2
    threading.Timer(0.1, t.stop).start()
    t.wait(5)
    assert t.stopped
