"""Where a reconcile pass's lines go. One pass (cron): every line as it is. `--watch`: each line starts with
its time (UTC), and a condition that lasts (a pending pod, an error) is printed when it first appears, again
when it changes, and otherwise only every `REPEAT_EVERY` seconds, so a pod pending for an hour is a dozen
lines, not thousands."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime

import click

REPEAT_EVERY = 300.0
_NUMBERS = re.compile(r"\d+(\.\d+)?")


def condition_key(text: str) -> str:
    """What makes two lines the same condition: the text less its numbers (a countdown, a generated pod name's
    suffix aside, a pod pending for the same reason is the same condition)."""
    return _NUMBERS.sub("#", re.sub(r"\bpod [a-z0-9.-]+-[a-z0-9]{5}\b", "pod #", text))


class Lines:
    def __init__(self, watch: bool = False, every: float = REPEAT_EVERY, clock: Callable[[], float] = time.time):
        self.watch = watch
        self.every = every
        self.clock = clock
        self._printed: dict[str, float] = {}  # condition -> when it was last printed
        self._seen: set[str] = set()  # conditions of this pass

    def echo(self, line: str, err: bool = False) -> None:
        if self.watch:
            line = datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ ") + line
        click.echo(line, err=err)

    def condition(self, line: str, err: bool = True, force: bool = False) -> None:
        """A line that says something lasting: printed at once for one pass; under --watch when new,
        changed, `force`d (-v), or due again."""
        key = condition_key(line)
        self._seen.add(key)
        now = self.clock()
        last = self._printed.get(key)
        if not self.watch or force or last is None or now - last >= self.every:
            self._printed[key] = now
            self.echo(line, err=err)

    def end_pass(self) -> None:
        """Conditions not seen this pass are over: if one comes back, it is printed again."""
        self._printed = {k: t for k, t in self._printed.items() if k in self._seen}
        self._seen = set()
