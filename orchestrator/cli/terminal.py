"""The local terminal during `orc exec -t`: raw mode (every key, ^C included, goes to the remote pty), restored
on every way out (return, exception, SIGTERM, SIGHUP), and window-size changes turned into bytes on a pipe
that the session loop reads (transport/interactive.py)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import termios
import tty
from collections.abc import Iterator
from types import FrameType


def size(fd: int) -> tuple[int, int]:
    """(columns, rows) of the terminal on `fd`; 80x24 when it has none."""
    try:
        s = os.get_terminal_size(fd)
        return s.columns or 80, s.lines or 24
    except OSError:
        s = shutil.get_terminal_size()
        return s.columns, s.lines


def term() -> str:
    return os.environ.get("TERM") or "xterm"


@contextlib.contextmanager
def raw_mode(fd: int) -> Iterator[None]:
    """The terminal on `fd` in raw mode for the block; its settings restored however the block ends. SIGTERM
    and SIGHUP end the block by SystemExit (143, 129) so the restore runs."""
    saved = termios.tcgetattr(fd)

    def leave(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = {s: signal.signal(s, leave) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        tty.setraw(fd, termios.TCSANOW)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def window_changes() -> Iterator[int]:
    """A readable descriptor that gets a byte on every SIGWINCH, for the block."""
    r, w = os.pipe()
    os.set_blocking(w, False)

    def changed(signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(OSError):  # a full pipe already says "changed"
            os.write(w, b"w")

    previous = signal.signal(signal.SIGWINCH, changed)
    try:
        yield r
    finally:
        signal.signal(signal.SIGWINCH, previous)
        os.close(r)
        os.close(w)
