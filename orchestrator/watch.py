"""What wakes `orc reconcile --watch` before its interval: `docker events` of our containers on any host
(followed over SSH, one stream per host), a stream that breaks or goes silent (a host going away), or a
change of the desired state in the store (`orc apply`, `orc scale` from another process).

Each stream carries a heartbeat (a line every BEAT seconds from the host): a host that loses power or its
network sends no FIN or RST, and TCP would take minutes to give up on it; a stream silent for SILENCE
seconds says within seconds that the host is gone, and the next pass probes it."""

from __future__ import annotations

import shlex
import threading
import time
from collections.abc import Sequence
from typing import Any

from orchestrator.commands.base import Command
from orchestrator.errors import HostUnreachable, StreamSilent
from orchestrator.inventory.host import Host
from orchestrator.observe.facts import MANAGED
from orchestrator.transport.base import Transport

READY = "orc-events-ready"
BEAT = "orc-beat"
BEAT_SECONDS = 1
SILENCE = 3.5  # seconds without a line: three beats missed
# Every change to a container of ours that a pass could care about; the first line says the stream is up.
# The beat comes from a subshell that ends with the stream (`$$` is the shell `exec` turns into docker).
DOCKER_EVENTS = Command(name="docker events", shell=(
    f"echo {READY}; "
    f"(while sleep {BEAT_SECONDS}; do kill -0 $$ 2>/dev/null && echo {BEAT} || exit 0; done) & exec ") + shlex.join((
    "docker", "events", "--filter", f"label={MANAGED}=true", "--filter", "type=container",
    "--filter", "event=create", "--filter", "event=start", "--filter", "event=die", "--filter", "event=destroy",
    "--filter", "event=health_status", "--filter", "event=oom", "--filter", "event=pause",
    "--filter", "event=unpause", "--format", "{{.Action}} {{.Actor.Attributes.name}}")))


class Triggers:
    """What happened since the last pass: reasons to wake, hosts with news (dirty), and hosts whose event
    stream is up (so that silence from them means nothing changed there)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._stop = threading.Event()
        self.reasons: list[str] = []
        self._lock = threading.Lock()
        self._dirty: set[str] = set()
        self._streaming: set[str] = set()
        self._heard: dict[str, float] = {}  # host -> when its stream last said anything (wall clock)

    def fire(self, reason: str, host: str | None = None) -> None:
        with self._lock:
            self.reasons.append(reason)
            if host is not None:
                self._dirty.add(host)
        self._event.set()

    def streaming(self, host: str, up: bool) -> None:
        with self._lock:
            (self._streaming.add if up else self._streaming.discard)(host)
            self._dirty.add(host)  # whatever happened while the stream was being (re)opened is unknown

    def heard(self, host: str) -> None:
        with self._lock:
            self._heard[host] = time.time()

    def last_heard(self) -> dict[str, float]:
        """host -> when its event stream last said anything (a beat, an event): a host that fails has been
        failing since then."""
        with self._lock:
            return dict(self._heard)

    def streaming_hosts(self) -> set[str]:
        """Hosts whose event stream is up. A host found down whose stream (retried every few seconds) is
        not up again has nothing new to say: a pass that probed it would only wait out a connect timeout."""
        with self._lock:
            return set(self._streaming)

    def quiet_hosts(self) -> set[str]:
        """Hosts streaming events with none since the last call; the news is taken (cleared) here."""
        with self._lock:
            quiet = self._streaming - self._dirty
            self._dirty.clear()
            return quiet

    def wait(self, timeout: float, debounce: float = 0.3) -> list[str]:
        """Block until something fires or `timeout` passes; gather what fires within `debounce` after."""
        if self._event.wait(timeout):
            time.sleep(debounce)
        with self._lock:
            reasons, self.reasons = self.reasons, []
            self._event.clear()
        return reasons

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()
        self._event.set()


def follow_docker_events(transport: Transport, hosts: Sequence[Host], triggers: Triggers,
                         retry: float = 2.0) -> list[threading.Thread]:
    def follow(host: Host) -> None:
        while not triggers.stopped:
            try:
                for line in transport.stream(host, DOCKER_EVENTS, idle=SILENCE):
                    if triggers.stopped:
                        return
                    triggers.heard(host.name)
                    if line.strip() == READY:
                        triggers.streaming(host.name, True)
                    elif line.strip() != BEAT:
                        triggers.fire(f"{host.name}: {line.strip()}", host.name)
                triggers.streaming(host.name, False)
                triggers.fire(f"{host.name}: event stream ended", host.name)
            except StreamSilent:
                triggers.streaming(host.name, False)
                triggers.fire(f"{host.name}: event stream silent (no heartbeat for {SILENCE:g}s)", host.name)
            except HostUnreachable as e:  # not even its SSH port answers
                triggers.streaming(host.name, False)
                triggers.fire(f"{host.name}: event stream broken ({e.reason})", host.name)
            except Exception as e:  # noqa: BLE001 - any failure of the stream is news about the host
                triggers.streaming(host.name, False)
                triggers.fire(f"{host.name}: event stream broken ({type(e).__name__})", host.name)
            for _ in range(int(retry * 10)):
                if triggers.stopped:
                    return
                time.sleep(0.1)

    threads = [threading.Thread(target=follow, args=(h,), daemon=True, name=f"events-{h.name}") for h in hosts]
    for t in threads:
        t.start()
    return threads


def follow_store(store: Any, triggers: Triggers) -> threading.Thread:
    """Desired-state changes (anything outside `_meta/`) wake the loop."""
    def follow() -> None:
        start = store.revision() + 1
        while not triggers.stopped:
            try:
                for ev in store.watch("", start_revision=start, timeout=1.0):
                    start = ev.record.revision + 1
                    if not ev.record.key.startswith("_meta/"):
                        triggers.fire(f"store: {ev.type} {ev.record.key}")
            except Exception:  # noqa: BLE001 - compacted or busy: start again from now
                start = store.revision() + 1
                time.sleep(1.0)

    t = threading.Thread(target=follow, daemon=True, name="store-watch")
    t.start()
    return t
