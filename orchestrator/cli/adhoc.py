"""`orc run`'s pure parts: the remote step for a user's shell text, and each host's result printed in the
shape of Ansible's ad-hoc output (the `minimal` callback that `ansible PATTERN -m shell -a CMD` uses):

    lab1 | CHANGED | rc=0 >>
    5.15.0-91-generic
    lab2 | FAILED | rc=1 >>
    ls: /nope: No such file or directorynon-zero return code
    lab3 | FAILED! => {"changed": false, "msg": "..."}        (no exit status: e.g. the command timed out)
    lab4 | UNREACHABLE! => {
        "changed": false,
        "msg": "...",
        "unreachable": true
    }

stdout and stderr lose one trailing newline each and are joined as Ansible joins them. Exit status as
Ansible's: 4 when a host was unreachable, else 2 when a command failed, else 0."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from orchestrator.commands.base import Command, cmd

EXIT_FAILED_HOSTS = 2  # ansible's RUN_FAILED_HOSTS
EXIT_UNREACHABLE_HOSTS = 4  # ansible's RUN_UNREACHABLE_HOSTS
STEP = "run"


def shell_text(args: Sequence[str]) -> str:
    """The shell text the user gave: after `--`, one argument or several joined by spaces (as the
    words of `ansible -a 'uname -r'`)."""
    return " ".join(args)


def shell_step(text: str) -> Command:
    """`sh -c TEXT`, as Ansible's shell module runs it: the text is ONE argv element, quoted when rendered,
    so the remote `sh -c` interprets it and nothing of ours does."""
    return cmd(STEP, "sh", "-c", text)


@dataclass(frozen=True)
class HostOutcome:
    host: str
    rc: int | None = None  # None: the command did not run to an exit status (see `message`)
    stdout: str = ""
    stderr: str = ""
    message: str = ""  # why there is no exit status
    unreachable: bool = False

    @property
    def status(self) -> str:
        if self.unreachable:
            return "UNREACHABLE"
        return "CHANGED" if self.rc == 0 else "FAILED"


def _strip(text: str) -> str:
    return text[:-1] if text.endswith("\n") else text


def render(o: HostOutcome) -> str:
    """One host's block, without the final newline."""
    if o.unreachable:
        body = json.dumps({"changed": False, "msg": o.message, "unreachable": True}, indent=4, sort_keys=True)
        return f"{o.host} | UNREACHABLE! => {body}"
    if o.rc is None:
        body = json.dumps({"changed": False, "msg": o.message}, indent=4, sort_keys=True)
        return f"{o.host} | FAILED! => {body}"
    text = _strip(o.stdout) + _strip(o.stderr) + ("" if o.rc == 0 else "non-zero return code")
    return f"{o.host} | {o.status} | rc={o.rc} >>\n{text}"


def exit_status(outcomes: Iterable[HostOutcome]) -> int:
    seen = {o.status for o in outcomes}
    if "UNREACHABLE" in seen:
        return EXIT_UNREACHABLE_HOSTS
    return EXIT_FAILED_HOSTS if "FAILED" in seen else 0
