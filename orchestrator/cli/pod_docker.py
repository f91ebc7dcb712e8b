"""The docker commands `orc logs` and `orc exec` run on a pod's host, as data: every name and value is an
argv element (quoted once when rendered), with `--` before the container name. Pure.

A pod's containers are `orc_<pod>_<container>`; its infra container `orc_<pod>` (a solo pod's one
container) lists them in spec order in its `orc.containers` label. Docker restarts a container in place
(its restart policy, and the loop's `docker restart` on a failed liveness check) and keeps ONE log for all
its runs, so the previous instance's output is what the log holds up to the end of the run before the
current one: `docker logs --until <State.FinishedAt>` (for a running container that was restarted; else
`<State.StartedAt>`).
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator import docker_labels as L
from orchestrator.commands.base import Command, cmd
from orchestrator.commands.pod import container_name

_ZERO_TIME = "0001-01-01T00:00:00Z"
_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
STATE_FORMAT = "{{.State.Running}} {{.RestartCount}} {{.State.StartedAt}} {{.State.FinishedAt}}"


def containers_query(pod: str, uid: str) -> Command:
    """The pod's app containers, in spec order, then its init containers (for `-c` and `--all-containers`,
    as kubectl), from its sandbox's labels: its infra container's, or a solo pod's one container's (the
    container of this pod instance that lists them); no line when the pod is gone."""
    return cmd(f"containers {pod}", "docker", "ps", "-a", "--filter", f"label={L.POD_UID}={uid}",
               "--filter", f"label={L.CONTAINERS}",
               "--format", f'{{{{.Label "{L.CONTAINERS}"}}}},{{{{.Label "{L.INIT_CONTAINERS}"}}}}')


def parse_containers(stdout: str) -> list[str]:
    return [c for c in stdout.strip().split(",") if c]


def state_query(pod: str, container: str) -> Command:
    return cmd(f"state {pod}/{container}", "docker", "inspect", "-f", STATE_FORMAT, "--",
               container_name(pod, container))


@dataclass(frozen=True)
class Previous:
    until: str | None  # RFC 3339: the current run's start; None when there was no earlier run


def parse_previous(stdout: str) -> Previous:
    """From `STATE_FORMAT`'s output: whether an earlier run exists, and where its output ends. An earlier
    run exists when the container finished before it last started (a `docker restart`, or its restart
    policy): its output ends at FinishedAt; or docker restarted it (RestartCount > 0) and the current run
    has ended too: the previous one ended before the current one started."""
    parts = stdout.split()
    if len(parts) != 4 or not all(_RFC3339.match(t) for t in parts[2:]):
        raise ValueError(f"unexpected docker inspect output {stdout.strip()!r}")
    _running, restarts, started, finished = parts
    restarted = restarts.isdigit() and int(restarts) > 0
    finished_before = finished != _ZERO_TIME and _key(finished) <= _key(started)
    # the run before a restart ended at FinishedAt; the new run may log before docker records its StartedAt
    if finished_before:
        return Previous(until=finished)
    return Previous(until=started if restarted else None)


def _key(ts: str) -> tuple[str, str]:
    """RFC 3339 in UTC as docker prints it, comparable: (seconds part, fraction padded)."""
    body = ts.rstrip("Z")
    whole, _, frac = body.partition(".")
    return whole, frac.ljust(9, "0")


@dataclass(frozen=True)
class LogOptions:
    follow: bool = False
    tail: int | None = None  # None or negative: every line
    since: float | None = None  # seconds
    timestamps: bool = False


def logs_command(pod: str, container: str, opts: LogOptions, until: str | None = None) -> Command:
    """`docker logs` of one container, its stderr on stdout (both streams are the container's log)."""
    argv = ["docker", "logs"]
    if opts.follow:
        argv.append("--follow")
    if opts.tail is not None and opts.tail >= 0:
        argv += ["--tail", str(opts.tail)]
    if opts.since is not None:
        argv += ["--since", f"{max(math.ceil(opts.since), 1)}s"]
    if until is not None:
        argv += ["--until", until]
    if opts.timestamps:
        argv.append("--timestamps")
    argv += ["--", container_name(pod, container)]
    return Command(name=f"logs {pod}/{container}", shell=shlex.join(argv) + " 2>&1")


def exec_argv(pod: str, container: str, command: Sequence[str], *, stdin: bool, tty: bool) -> list[str]:
    """`docker exec [-i] [-t] -- orc_<pod>_<container> CMD...`."""
    flags = (["-i"] if stdin else []) + (["-t"] if tty else [])
    return ["docker", "exec", *flags, "--", container_name(pod, container), *command]


def remote_line(argv: Sequence[str], *, become: bool) -> str:
    """The exec request's command line: the argv quoted, under `sudo -n` when the host uses become."""
    from orchestrator.transport.script import as_host_user

    return as_host_user(shlex.join(argv), become)
