"""Commands as data: argv lists quoted once, when rendered. Secrets render as [REDACTED] in text
meant for people (str/repr/describe) and are only ever written to the remote side through stdin."""

from __future__ import annotations

import shlex
from dataclasses import dataclass


class Secret(str):
    """A string that never shows itself in logs, errors or reprs."""

    def __repr__(self) -> str:
        return "Secret('[REDACTED]')"

    def redacted(self) -> str:
        return "[REDACTED]"


@dataclass(frozen=True)
class Command:
    """One remote step. `argv` is quoted by `render()`; `shell` is a trusted, already-built shell
    fragment (from our own builders only, never user text); `stdin` bytes are fed to the step.
    `allowance`: seconds the step may legitimately take beyond the transport's command timeout (a graceful
    stop waits for a pod's grace period); a batch's time limit grows by the sum of its steps'.

    A `guard` step (a batch's fence) comes before every other step and runs in the batch's own shell, not
    in a subshell: what it opens (the host lock on fd `GUARD_FD` of `transport/script.py`) lasts for the
    whole batch, and when it fails no later step of the batch runs.

    `concurrent` steps next to one another in a batch run at the same time (background jobs of the batch's
    shell, `transport/script.py`), each still reported on its own and in order; a step that is not
    concurrent runs after every step before it has ended and before any after it starts."""

    name: str
    argv: tuple[str, ...] = ()
    shell: str | None = None
    stdin: bytes | None = None
    allowance: float = 0.0
    guard: bool = False
    concurrent: bool = False

    def __post_init__(self) -> None:
        if bool(self.argv) == (self.shell is not None):
            raise ValueError("Command needs exactly one of argv or shell")
        if self.guard and self.stdin is not None:
            raise ValueError(f"{self.name}: a guard step reads no stdin")
        if self.guard and self.concurrent:
            raise ValueError(f"{self.name}: a guard step runs in the batch's own shell, not concurrently")
        if any(isinstance(a, Secret) for a in self.argv):
            raise ValueError(f"{self.name}: secrets must not be passed in argv; write them through stdin")

    def render(self) -> str:
        """The shell text of this step (user values quoted)."""
        if self.shell is not None:
            return self.shell
        return shlex.join(self.argv)

    def describe(self) -> str:
        return self.render() + (" <stdin>" if self.stdin else "")


def cmd(name: str, *argv: str, stdin: bytes | None = None, allowance: float = 0.0) -> Command:
    return Command(name=name, argv=tuple(argv), stdin=stdin, allowance=allowance)


def sh(name: str, script: str, stdin: bytes | None = None, allowance: float = 0.0) -> Command:
    return Command(name=name, shell=script, stdin=stdin, allowance=allowance)
