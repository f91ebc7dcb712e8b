"""What wakes --watch, and which hosts a pass may leave unasked."""

from __future__ import annotations

import threading
import time

from orchestrator.inventory.host import Host
from orchestrator.transport.fake import SILENCE, FakeTransport
from orchestrator.watch import BEAT, READY, Triggers, follow_docker_events


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


def test_a_stream_that_goes_silent_wakes_the_loop_and_its_host_is_probed_again() -> None:
    fake = FakeTransport()  # beats, then nothing: the host lost power or its network (no FIN, no RST)
    fake.set_stream("a", "docker events", [READY, BEAT, BEAT, SILENCE])
    t = Triggers()
    follow_docker_events(fake, [Host(name="a", address="a")], t, retry=60)
    reasons = t.wait(5, debounce=0.2)
    assert reasons == ["a: event stream silent (no heartbeat for 3.5s)"]  # the beats themselves wake nothing
    assert "a" not in t.quiet_hosts()  # not streaming any more: the next pass asks it
    assert abs(t.last_heard()["a"] - time.time()) < 5  # its last beat
    t.stop()


def test_the_event_stream_beats_and_its_beat_ends_with_it() -> None:
    """The heartbeat is part of the command the hosts run: it must stop when the stream's process goes
    (else a dead `docker events` would look alive), which the script checks with `kill -0 $$`."""
    from orchestrator.watch import BEAT_SECONDS, DOCKER_EVENTS
    from orchestrator.watch import SILENCE as QUIET

    text = DOCKER_EVENTS.render()
    assert f"while sleep {BEAT_SECONDS}; do kill -0 $$ 2>/dev/null && echo {BEAT} || exit 0; done" in text
    assert QUIET >= 3 * BEAT_SECONDS


def test_streaming_hosts_are_those_whose_stream_is_up() -> None:
    t = Triggers()
    t.streaming("a", True)
    t.streaming("b", True)
    t.streaming("b", False)
    assert t.streaming_hosts() == {"a"}
    fake = FakeTransport()
    fake.set_unreachable("c", "refused")
    follow_docker_events(fake, [Host(name="c", address="c")], t, retry=60)
    assert t.wait(5, debounce=0.2) == ["c: event stream broken (refused)"]
    assert t.streaming_hosts() == {"a"}
    t.stop()
