"""The narrow transport interface: run a batch of commands on a host in one round trip, put a file,
follow a stream. The SSH implementation lives in `ssh.py`, the recording fake in `fake.py`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from orchestrator.commands.base import Command
from orchestrator.inventory.host import Host


@dataclass(frozen=True)
class StepResult:
    name: str
    exit_code: int | None  # None: the step did not run (an earlier step failed with stop_on_error)
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass(frozen=True)
class BatchResult:
    host: str
    steps: tuple[StepResult, ...]
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps)

    def __getitem__(self, name: str) -> StepResult:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)


@dataclass
class TransportCounters:
    connects: int = 0  # SSH connections opened
    exec_channels: int = 0  # exec channels opened (= round trips)
    files_put: int = 0
    per_host_exec: dict[str, int] = field(default_factory=dict)


class Transport(Protocol):
    counters: TransportCounters

    def run_batch(
        self,
        host: Host,
        steps: Sequence[Command],
        *,
        stop_on_error: bool = False,
        timeout: float | None = None,
    ) -> BatchResult:
        """Run every step on `host` in ONE exec channel; return each step's exit code, stdout, stderr.
        Raises HostUnreachable (with .reason) when the host cannot be reached."""
        ...

    def put_file(self, host: Host, path: str, data: bytes, mode: int = 0o644) -> None: ...

    def stream(self, host: Host, command: Command, idle: float | None = None) -> Iterator[str]:
        """Run a long-lived command (docker events, logs -f) and yield its stdout lines. With `idle`, no byte
        for that many seconds raises StreamSilent, a HostUnreachable (a command that says something every
        second or so is a heartbeat: its silence means the host or the path to it is gone, which TCP would
        take minutes to say), and the host's pooled connection is not reused."""
        ...

    def close(self) -> None: ...
