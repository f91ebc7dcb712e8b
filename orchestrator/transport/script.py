"""One shell script for a whole batch, and the pure parser of its output.

`build_script(steps)` returns a `BatchScript`: POSIX `sh` text to feed to `sh -s` on the remote side's stdin
(so neither the script nor any step's stdin bytes appear in a process argv). Every step runs in its own
subshell, with stdin from /dev/null unless it has `stdin` bytes (embedded as base64 in a heredoc and decoded
by `base64 -d`). Around each step the script prints markers carrying a random per-batch nonce, on stdout
and on stderr:

    \\n<ORC-nonce-S i>\\n  <step stdout>  \\n<ORC-nonce-E i rc>\\n

A newline always precedes the end marker, so the parser strips exactly that one byte and output that does
not end in a newline round-trips exactly. User output cannot forge a marker without the nonce. A header
marker at the top proves the script started at all (sudo or the login shell may fail before it).

A guard step (`Command.guard`, a batch's fence) runs in the script's own shell, inside `{ ...; } </dev/null`
(the shell reads the script itself from stdin): a descriptor it opens, `GUARD_FD`, stays open for the rest of
the batch, so a lock it takes there covers every later step. Later steps run with that descriptor closed (a
daemon a step starts must not inherit the lock). When a guard fails, the script ends after its end marker:
every later step is reported as not run.

A run of adjacent `Command.concurrent` steps starts every one of them as a background job, its stdout and
stderr into files of a temporary folder, then waits for each in order and prints its markers around what
it wrote, so the parser reads them as if they had run one after the other. A step after the run starts
once all of them ended. With `stop_on_error` steps are never run concurrently.

`parse_output(script, host, stdout, stderr)` turns the raw bytes back into a `BatchResult`. Steps that
never started (stop_on_error after a failure) get `exit_code=None`; a step that started but never finished
(the shell was killed) gets exit code 255 and whatever output it produced.
"""

from __future__ import annotations

import base64
import secrets
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.commands.base import Command
from orchestrator.errors import TransportError
from orchestrator.transport.base import BatchResult, StepResult

LOST_EXIT_CODE = 255  # a step that started but whose end marker never came (the shell died)
GUARD_FD = 9  # the descriptor a guard step keeps open for the whole batch (closed in every other step)
_B64_LINE = 76


class BatchOutputError(TransportError):
    """The batch script did not start on the host (e.g. `sudo -n` refused, no `sh`): no step ran."""


@dataclass(frozen=True)
class BatchScript:
    text: str
    nonce: str
    names: tuple[str, ...]
    stop_on_error: bool

    @property
    def header(self) -> bytes:
        return f"ORC-{self.nonce}-H\n".encode()

    def begin(self, index: int) -> bytes:
        return f"\nORC-{self.nonce}-S {index}\n".encode()

    def end(self, index: int) -> bytes:
        return f"\nORC-{self.nonce}-E {index}".encode()


def time_limit(base: float, steps: Sequence[Command]) -> float:
    """A batch's time limit: the command timeout plus what its steps may legitimately take beyond it (the
    grace periods of graceful stops; see Command.allowance)."""
    return base + sum(s.allowance for s in steps)


def remote_command(become: bool) -> str:
    """The exec command that reads the batch script from the channel's stdin."""
    return "sudo -n sh -s" if become else "sh -s"


def as_host_user(line: str, become: bool) -> str:
    """A one-command exec request's line (already quoted shell text), under `sudo -n` when the host uses
    become (ansible_become): the line is one argument of `sh -c`."""
    return f"sudo -n -- sh -c {shlex.quote(line)}" if become else line


def build_script(
    steps: Sequence[Command], *, stop_on_error: bool = False, nonce: str | None = None
) -> BatchScript:
    nonce = nonce or secrets.token_hex(16)
    m = f"ORC-{nonce}"
    lines = [
        f"# orc batch {nonce}",
        f"printf '%s\\n' '{m}-H'",
        f"printf '%s\\n' '{m}-H' >&2",
    ]
    guarded = False
    group: list[int] = []  # indexes of the run of concurrent steps being built
    for i, step in enumerate(steps):
        if step.guard and any(not s.guard for s in steps[:i]):
            raise ValueError(f"{step.name}: a guard step must come before every other step of its batch")
        if step.concurrent and not stop_on_error:
            close = f" {GUARD_FD}>&-" if guarded else ""
            if not group:
                lines.append("__orc_d=$(mktemp -d) || exit 1")
            group.append(i)
            lines.append("{")
            lines.extend(_step_lines(step, f"{m}-IN-{i}", close))
            lines.append(f'}} >"$__orc_d/{i}.o" 2>"$__orc_d/{i}.e" &')
            lines.append(f"__orc_p{i}=$!")
            if i + 1 < len(steps) and steps[i + 1].concurrent:
                continue
            for j in group:
                lines.append(f'wait "$__orc_p{j}"; __orc_rc=$?')
                lines.append(f"printf '\\n%s\\n' '{m}-S {j}'; cat \"$__orc_d/{j}.o\"")
                lines.append(f"printf '\\n%s\\n' '{m}-S {j}' >&2; cat \"$__orc_d/{j}.e\" >&2")
                lines.append(f"printf '\\n%s %s\\n' '{m}-E {j}' \"$__orc_rc\"")
                lines.append(f"printf '\\n%s\\n' '{m}-E {j}' >&2")
            lines.append('rm -rf "$__orc_d"')
            group = []
            continue
        lines.append(f"printf '\\n%s\\n' '{m}-S {i}'")
        lines.append(f"printf '\\n%s\\n' '{m}-S {i}' >&2")
        if step.guard:
            lines.extend(["{", step.render(), "} </dev/null"])
            guarded = True
        else:
            lines.extend(_step_lines(step, f"{m}-IN-{i}", f" {GUARD_FD}>&-" if guarded else ""))
        lines.append("__orc_rc=$?")
        lines.append(f"printf '\\n%s %s\\n' '{m}-E {i}' \"$__orc_rc\"")
        lines.append(f"printf '\\n%s\\n' '{m}-E {i}' >&2")
        if stop_on_error or step.guard:
            lines.append('[ "$__orc_rc" -eq 0 ] || exit 0')
    lines.append("exit 0")
    return BatchScript(
        text="\n".join(lines) + "\n",
        nonce=nonce,
        names=tuple(s.name for s in steps),
        stop_on_error=stop_on_error,
    )


def _step_lines(step: Command, delimiter: str, close: str = "") -> list[str]:
    body = step.render()
    if step.stdin is None:
        return [f"(\n{body}\n) </dev/null{close}"]
    encoded = base64.b64encode(step.stdin).decode("ascii")
    chunks = [encoded[i : i + _B64_LINE] for i in range(0, len(encoded), _B64_LINE)]
    # `base64 -d` reads the heredoc; the step reads base64's output: the bytes never reach an argv.
    return [f"base64 -d <<'{delimiter}'{close} | (", *chunks, delimiter, body, f"){close}"]


def parse_output(
    script: BatchScript, host: str, stdout: bytes, stderr: bytes, duration: float = 0.0
) -> BatchResult:
    if script.names and script.header not in stdout:
        detail = _tail(stderr) or _tail(stdout) or "no output"
        raise BatchOutputError(
            host,
            f"the batch script did not start ({detail}); if the host uses become (ansible_become), "
            "the user needs passwordless sudo (`sudo -n true` must succeed)",
        )
    results: list[StepResult] = []
    out_pos = err_pos = 0
    lost = False
    for i, name in enumerate(script.names):
        if lost:
            results.append(StepResult(name=name, exit_code=None))
            continue
        out_start = stdout.find(script.begin(i), out_pos)
        if out_start < 0:
            results.append(StepResult(name=name, exit_code=None))
            lost = True
            continue
        out_start += len(script.begin(i))
        out_end = stdout.find(script.end(i) + b" ", out_start)
        err_start = stderr.find(script.begin(i), err_pos)
        err_start = len(stderr) if err_start < 0 else err_start + len(script.begin(i))
        err_end = stderr.find(script.end(i) + b"\n", err_start)
        if out_end < 0:  # started, never finished: the shell died mid-step
            results.append(
                StepResult(name, LOST_EXIT_CODE, _text(stdout[out_start:]), _text(stderr[err_start:]))
            )
            lost = True
            continue
        rc_start = out_end + len(script.end(i)) + 1
        rc_end = stdout.find(b"\n", rc_start)
        rc_end = len(stdout) if rc_end < 0 else rc_end
        rc_text = stdout[rc_start:rc_end]
        exit_code = int(rc_text) if rc_text.isdigit() else LOST_EXIT_CODE
        err_stop = err_end if err_end >= 0 else len(stderr)
        results.append(
            StepResult(name, exit_code, _text(stdout[out_start:out_end]), _text(stderr[err_start:err_stop]))
        )
        out_pos = rc_end
        err_pos = err_stop
    return BatchResult(host=host, steps=tuple(results), duration=duration)


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _tail(data: bytes, limit: int = 500) -> str:
    return _text(data[-limit:]).strip()
