"""A recording transport for unit tests of the other layers: no SSH, same contract and counters.

    fake = FakeTransport()
    fake.reply("node1", "docker-ps", stdout="...")            # table: (host, step name) -> result
    fake.reply("*", "uptime", exit_code=1, stderr="boom")     # "*" matches any host
    fake.set_unreachable("node2", "timeout")                   # run_batch raises HostUnreachable
    fake = FakeTransport(responder=lambda host, step: StepResult(step.name, 0, "ok"))
    ...
    fake.batches[0].commands                                   # the rendered shell text of each step

A responder returning None falls back to the table, then to the default reply (exit 0, no output).
Steps are answered in order; `stop_on_error`, and a failed guard step (a batch's fence), skip later steps
exactly as the real script does.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from orchestrator.commands.base import Command
from orchestrator.errors import AuthFailed, HostKeyError, HostUnreachable, StreamSilent
from orchestrator.inventory.host import Host
from orchestrator.transport.base import BatchResult, StepResult, TransportCounters

Responder = Callable[[Host, Command], StepResult | None]
REASONS = ("refused", "timeout", "dns", "network", "auth", "hostkey", "error")
# A stream line that stands for the host going silent (see FakeTransport.stream's `idle`).
SILENCE = "\0silence"


@dataclass(frozen=True)
class RecordedBatch:
    host: str
    steps: tuple[Command, ...]
    stop_on_error: bool = False

    @property
    def commands(self) -> tuple[str, ...]:
        """Each step's rendered shell text (as it would be sent)."""
        return tuple(s.render() for s in self.steps)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.steps)


@dataclass(frozen=True)
class PutFile:
    host: str
    path: str
    data: bytes
    mode: int


class FakeTransport:
    def __init__(
        self,
        responder: Responder | None = None,
        table: dict[tuple[str, str], StepResult] | None = None,
    ):
        self.counters = TransportCounters()
        self.responder = responder
        self.table: dict[tuple[str, str], StepResult] = dict(table or {})
        self.batches: list[RecordedBatch] = []
        self.files: dict[tuple[str, str], PutFile] = {}
        self.streams: dict[tuple[str, str], list[str]] = {}
        self.unreachable: dict[str, HostUnreachable] = {}
        self.closed = False
        self._connected: set[str] = set()
        self._lock = threading.Lock()

    # -- setting up replies -----------------------------------------------------------------------

    def reply(
        self, host: str, step: str, exit_code: int | None = 0, stdout: str = "", stderr: str = ""
    ) -> None:
        """Answer step `step` on `host` ("*": any host) with this result."""
        self.table[(host, step)] = StepResult(step, exit_code, stdout, stderr)

    def set_stream(self, host: str, command: str, lines: Iterable[str]) -> None:
        """What `stream(host, Command(name=command, ...))` yields ("*": any host); SILENCE in `lines`: the
        host goes quiet there (a stream with `idle` raises HostUnreachable; one without ends)."""
        self.streams[(host, command)] = list(lines)

    def set_unreachable(self, host: str, reason: str = "timeout", message: str | None = None) -> None:
        if reason not in REASONS:
            raise ValueError(f"unreachable reason {reason!r} is not one of {', '.join(REASONS)}")
        text = message or f"(fake) host is unreachable: {reason}"
        if reason == "hostkey":
            self.unreachable[host] = HostKeyError(host, text)
        elif reason == "auth":
            self.unreachable[host] = AuthFailed(host, text)
        else:
            self.unreachable[host] = HostUnreachable(host, reason, text)

    def set_reachable(self, host: str) -> None:
        self.unreachable.pop(host, None)

    # -- inspecting what happened -----------------------------------------------------------------

    def batches_for(self, host: str) -> list[RecordedBatch]:
        with self._lock:
            return [b for b in self.batches if b.host == host]

    def commands_for(self, host: str) -> list[str]:
        """Every rendered step sent to `host`, in order, across batches."""
        return [c for b in self.batches_for(host) for c in b.commands]

    # -- the Transport protocol -------------------------------------------------------------------

    def run_batch(
        self,
        host: Host,
        steps: Sequence[Command],
        *,
        stop_on_error: bool = False,
        timeout: float | None = None,
    ) -> BatchResult:
        if not steps:
            return BatchResult(host=host.name, steps=())
        self._reach(host)
        with self._lock:
            self.batches.append(RecordedBatch(host.name, tuple(steps), stop_on_error))
        results: list[StepResult] = []
        failed = False
        for step in steps:
            if failed:
                results.append(StepResult(step.name, None))
                continue
            result = self._answer(host, step)
            results.append(result)
            failed = (stop_on_error or step.guard) and not result.ok
        return BatchResult(host=host.name, steps=tuple(results))

    def put_file(self, host: Host, path: str, data: bytes, mode: int = 0o644) -> None:
        self._reach(host)
        with self._lock:
            self.files[(host.name, path)] = PutFile(host.name, path, data, mode)
            self.counters.files_put += 1

    def stream(self, host: Host, command: Command, idle: float | None = None) -> Iterator[str]:
        self._reach(host)
        lines = self.streams.get((host.name, command.name), self.streams.get(("*", command.name), []))
        for line in list(lines):
            if line is SILENCE:  # the host went quiet: as the SSH transport says it past `idle`
                if idle is None:
                    return
                raise StreamSilent(host.name, f"{command.name}: nothing for {idle:g}s")
            yield line

    def close(self) -> None:
        self.closed = True
        with self._lock:
            self._connected.clear()

    # -- internals --------------------------------------------------------------------------------

    def _reach(self, host: Host) -> None:
        """Raise if the host is marked unreachable; else count a connect (once) and a round trip."""
        error = self.unreachable.get(host.name)
        if error is not None:
            raise error
        with self._lock:
            if host.name not in self._connected:
                self._connected.add(host.name)
                self.counters.connects += 1
            self.counters.exec_channels += 1
            self.counters.per_host_exec[host.name] = self.counters.per_host_exec.get(host.name, 0) + 1

    def _answer(self, host: Host, step: Command) -> StepResult:
        if self.responder is not None:
            result = self.responder(host, step)
            if result is not None:
                return dataclasses.replace(result, name=step.name)
        found = self.table.get((host.name, step.name)) or self.table.get(("*", step.name))
        if found is not None:
            return dataclasses.replace(found, name=step.name)
        return StepResult(step.name, 0)
