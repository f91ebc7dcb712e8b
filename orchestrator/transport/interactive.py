"""An interactive remote command on one session channel, as `ssh -t host cmd` runs it: optionally a
pseudo-terminal of the local terminal's size (resized when a byte arrives on `winch_fd`), local stdin
forwarded as it is typed (EOF passed on), the remote stdout and stderr written to the local ones as they
arrive, binary-safe; returns the remote exit status.

One thread, one `select` over the channel, stdin and the wake-up pipe: window changes are applied from this
loop (never from a signal handler, which could interrupt paramiko while it holds its send lock). The local
terminal's mode is the caller's business (cli/terminal.py)."""

from __future__ import annotations

import os
import select
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from orchestrator.transport.paramiko_lib import paramiko  # isort: skip  (without invoke)

_CHUNK = 32768
_POLL = 0.5
LOST = 255  # no exit status: the connection or channel went away (as ssh(1) exits)


@dataclass(frozen=True)
class PtyRequest:
    term: str
    cols: int
    rows: int


def run_interactive(
    chan: paramiko.Channel,
    command: str,
    *,
    stdin_fd: int | None,
    stdout_fd: int,
    stderr_fd: int,
    pty: PtyRequest | None = None,
    winch_fd: int | None = None,
    size: Callable[[], tuple[int, int]] | None = None,
) -> int:
    """Run `command` (already quoted shell text) on `chan`, a fresh session channel. `stdin_fd` None: the
    remote side gets EOF at once. `size()` gives (cols, rows) after a byte on `winch_fd`."""
    if pty is not None:
        chan.get_pty(term=pty.term, width=pty.cols, height=pty.rows)
    chan.exec_command(command)
    if stdin_fd is None:
        chan.shutdown_write()
    inputs: list[Any] = [chan]
    if stdin_fd is not None:
        inputs.append(stdin_fd)
    if winch_fd is not None:
        inputs.append(winch_fd)
    while not (chan.exit_status_ready() or chan.closed):
        # after the remote EOF the channel stays readable: wait on the rest (and poll for the exit status)
        waiting = [i for i in inputs if i is not chan] if chan.eof_received else inputs
        ready, _, _ = select.select(waiting, [], [], _POLL if not chan.eof_received else 0.05)
        if winch_fd is not None and winch_fd in ready:
            os.read(winch_fd, 512)
            if size is not None and pty is not None:
                cols, rows = size()
                chan.resize_pty(width=cols, height=rows)
        _drain(chan, stdout_fd, stderr_fd)
        if stdin_fd is not None and stdin_fd in ready:
            data = os.read(stdin_fd, _CHUNK)
            if data:
                try:
                    chan.sendall(data)
                except (OSError, EOFError, paramiko.SSHException):
                    inputs.remove(stdin_fd)
            else:  # EOF: the remote side sees it too (a pty has no EOF of its own: ^D is a byte)
                inputs.remove(stdin_fd)
                chan.shutdown_write()
    _drain(chan, stdout_fd, stderr_fd)  # packets come in order: what was sent before the status is here
    status = chan.recv_exit_status() if chan.exit_status_ready() else -1
    return LOST if status < 0 else status


def _drain(chan: paramiko.Channel, stdout_fd: int, stderr_fd: int) -> None:
    while chan.recv_ready():
        _write_all(stdout_fd, chan.recv(_CHUNK))
    while chan.recv_stderr_ready():
        _write_all(stderr_fd, chan.recv_stderr(_CHUNK))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
