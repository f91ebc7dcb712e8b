"""Leaving the `orc` process once its command has finished, without tearing the interpreter down.

A cron pass spends about a fifth of its wall time after its last action: CPython's finalization frees every
module and object one by one (pydantic's schemas, paramiko's ciphers, the snapshot), which nobody needs
when the process ends anyway (measured: ~95 ms of a 5-host no-op `orc reconcile`, `bench/reconcile.py`).
`exit_now` keeps everything finalization does that anyone can observe, in the same order, and skips only
that teardown:

1. threads: if a non-daemon thread other than this one is alive, it leaves the normal way
   (`sys.exit`), which waits for it, as Python always does;
2. `atexit` handlers run (logging's flush, `weakref.finalize` callbacks such as temporary folders,
   paramiko's transports), in the usual last-registered-first order;
3. stdout and stderr are flushed (a closed pipe is the reader's choice, not an error of ours);
4. `os._exit` with the command's code.

Files our commands open are closed by them (`with` or `finally`); sqlite commits are durable when they
return; nothing relies on a `__del__` at exit.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn


def exit_code(e: SystemExit) -> int:
    """The status `sys.exit(arg)` gives: an int as is, None 0, anything else printed to stderr and 1."""
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code
    print(e.code, file=sys.stderr)
    return 1


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a reader that went away (`orc get | head`), a stream closed already
            pass


def exit_now(code: int) -> NoReturn:
    """End the process with `code`: as Python's own exit would, minus freeing every object (above)."""
    _flush()
    others = [t for t in threading.enumerate() if t is not threading.current_thread() and not t.daemon]
    if any(t.is_alive() for t in others):
        sys.exit(code)  # Python waits for them; so do we
    atexit._run_exitfuncs()
    _flush()
    os._exit(code)
