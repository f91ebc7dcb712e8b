"""Garbage collection in the `orc` process: rare while its modules load, then only over what the work makes.

Loading the engine creates ~80,000 objects the collector tracks (pydantic's models and schemas, ~140
dataclasses, paramiko), and nearly all of them live as long as the process. Python's default thresholds
collect the youngest generation every 700 new objects, and sometimes all of them at once: ~120 collections
and 50-60 ms of CPU in a 20-host no-op `orc reconcile`, about a fifth of what it spends beyond the floor
process of `bench/reconcile.py` (measured with `gc.callbacks`).

- `defer` (first thing in `main.run`, the real process only): collect every `STARTUP_THRESHOLD` new objects
  instead of every 700, so module loading runs with at most a collection or two, and memory stays bounded
  even in a command that never settles.
- `settle` (once a command's modules are loaded, before its work): `gc.freeze()` moves every object alive
  into the permanent generation, which no collection scans again, and the usual thresholds come back for the
  work itself. The cyclic garbage that loading left (a few MB, from pydantic's schema building) stays too:
  collecting it first would cost what this saves.

The state is the interpreter's own: `settle` acts only where `defer` raised the threshold, so tests that
call `main()` in one long pytest process keep Python's defaults.
"""

from __future__ import annotations

import gc

STARTUP_THRESHOLD = 100_000
_DEFAULTS = gc.get_threshold()  # as Python set them, read before `defer` changes them


def defer() -> None:
    """Collect rarely while the command's modules load (see the module's docstring)."""
    gc.set_threshold(STARTUP_THRESHOLD, *_DEFAULTS[1:])


def settle() -> None:
    """The modules are loaded: keep them out of every later collection and collect as usual from here."""
    if gc.get_threshold()[0] != STARTUP_THRESHOLD:
        return  # not deferred (a test's `main()`), or settled already
    gc.freeze()
    gc.set_threshold(*_DEFAULTS)
