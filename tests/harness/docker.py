"""The state of one simulated docker host: containers, images, volumes, files and processes, as the
harness's step interpreters (`steps.py`) change them and as `docker inspect` / `docker ps` would show them.

Nothing here knows about pods: containers carry labels, and the pod is what the engine reads back from them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ZERO_TIME = "0001-01-01T00:00:00Z"


def iso(t: float) -> str:
    """Unix seconds as docker prints them (RFC 3339, nanoseconds, Z)."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def human_duration(seconds: float) -> str:
    """docker's units.HumanDuration, as `docker ps` prints uptimes."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def label_matches(labels: dict[str, str], filter_: str) -> bool:
    """docker's `--filter label=KEY` / `label=KEY=VALUE`; any other filter is not simulated."""
    kind, _, cond = filter_.partition("=")
    if kind != "label":
        raise AssertionError(f"docker filter {filter_!r} is not simulated (tests/harness/docker.py)")
    key, has_value, value = cond.partition("=")
    return key in labels and (not has_value or labels[key] == value)


@dataclass
class Health:
    """A container's HEALTHCHECK as `--health-*` gave it; `passing` is what the check would answer now."""

    cmd: str
    interval: float = 10.0
    retries: int = 3
    start_period: float = 0.0
    passing: bool = True


@dataclass
class Container:
    id: str
    name: str
    image: str
    labels: dict[str, str]
    created: float
    restart_policy: str = "no"
    network: str = "bridge"
    hostname: str = ""
    command: tuple[str, ...] = ()
    entrypoint: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    mounts: tuple[str, ...] = ()  # -v / --volume values
    publish: tuple[str, ...] = ()  # -p values as given
    ports: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # "80/tcp" -> [(host ip, host port)]
    ip: str = ""
    gpus: str = ""
    health: Health | None = None
    state: str = "created"  # created, running, exited
    exit_code: int = 0
    started: float | None = None
    finished: float | None = None
    restart_count: int = 0
    stop_grace: int | None = None  # the -t of the last `docker stop` (None: killed)

    @property
    def running(self) -> bool:
        return self.state == "running"

    def health_status(self, now: float) -> str | None:
        """docker's Health.Status: starting until the first check ran, then healthy or unhealthy."""
        if self.health is None or not self.running or self.started is None:
            return None
        if now < self.started + self.health.start_period + self.health.interval:
            return "starting"
        return "healthy" if self.health.passing else "unhealthy"

    def ps_status(self, now: float) -> str:
        """`docker ps`'s STATUS text, with docker's coarse durations (units.HumanDuration)."""
        if self.state == "running" and self.started is not None:
            health = {"healthy": " (healthy)", "unhealthy": " (unhealthy)", "starting": " (health: starting)"}
            return f"Up {human_duration(now - self.started)}{health.get(self.health_status(now) or '', '')}"
        if self.state == "exited" and self.finished is not None:
            return f"Exited ({self.exit_code}) {human_duration(now - self.finished)} ago"
        return {"created": "Created", "dead": "Dead"}.get(self.state, self.state.capitalize())

    def inspect(self, now: float) -> dict[str, Any]:
        """`docker inspect --format '{{json .}}'` of this container (the fields a parser may read)."""
        status = self.health_status(now)
        state: dict[str, Any] = {
            "Status": self.state,
            "Running": self.running,
            "ExitCode": self.exit_code,
            "StartedAt": iso(self.started) if self.started is not None else ZERO_TIME,
            "FinishedAt": iso(self.finished) if self.finished is not None else ZERO_TIME,
        }
        if status is not None:
            # a startupProbe that fails says so in the check's output (commands/pod.py _health)
            log = ([{"Output": "orc: startup probe failed\n"}]
                   if status == "unhealthy" and self.labels.get("orc.startup") == "true" else [])
            state["Health"] = {"Status": status, "FailingStreak": 0, "Log": log}
        own_net = not self.network.startswith("container:")
        ports = ({p: [{"HostIp": ip, "HostPort": str(hp)} for ip, hp in binds] for p, binds in self.ports.items()}
                 if own_net and self.running else {})
        return {
            "Id": self.id,
            "Created": iso(self.created),
            "Name": "/" + self.name,
            "RestartCount": self.restart_count,
            "State": state,
            "Config": {"Image": self.image, "Labels": dict(self.labels), "Hostname": self.hostname,
                       "Env": [f"{k}={v}" for k, v in self.env.items()]},
            "HostConfig": {"RestartPolicy": {"Name": self.restart_policy}, "NetworkMode": self.network},
            "NetworkSettings": {
                "IPAddress": self.ip if own_net and self.running else "",
                "Ports": ports,
                "Networks": {"bridge": {"IPAddress": self.ip}} if own_net and self.running and self.ip else {},
            },
        }


@dataclass
class DockerHost:
    """One host: its docker (alive or not), what runs in it, and the files and processes the proxy steps
    touch. `fail_runs` makes the next `docker run`s of an image fail as a pull or start failure would."""

    name: str
    clock: Callable[[], float]
    cpus: int = 4
    memory: int = 8 << 30
    disk_total: int = 100 << 30
    disk_free: int = 50 << 30
    gpus: tuple[tuple[str, str], ...] = ()  # (model, uuid)
    docker_version: str = "27.0.3"
    docker_alive: bool = True
    containers: dict[str, Container] = field(default_factory=dict)  # name -> container
    images: set[str] = field(default_factory=set)  # "repo:tag"
    volumes: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> labels
    files: dict[str, bytes] = field(default_factory=dict)
    procs: dict[int, str] = field(default_factory=dict)  # pid -> comm
    addresses: dict[str, str] = field(default_factory=dict)  # lo addresses -> their label
    fail_runs: dict[str, list[str]] = field(default_factory=dict)  # image -> messages of the next failures
    haproxy_reloads: int = 0
    haproxy_rejects: str | None = None  # `haproxy -c` fails with this message
    haproxy_loaded: bytes | None = None  # the config HAProxy runs (read at its last start or reload)
    save_fails: str | None = None  # `docker save` on this host fails with this message
    hooks_run: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # preStop hooks: (container, argv)
    _serial: int = 0
    _next_port: int = 32768
    _next_pid: int = 4000

    # -- identities ------------------------------------------------------------------------------------

    def new_id(self, name: str) -> str:
        self._serial += 1
        return hashlib.sha256(f"{self.name}/{name}/{self._serial}".encode()).hexdigest()

    def new_port(self) -> int:
        taken = self.bound_ports()
        while self._next_port in taken:
            self._next_port += 1
        self._next_port += 1
        return self._next_port - 1

    def new_ip(self) -> str:
        used = {c.ip for c in self.containers.values()}
        n = 2
        while f"172.17.0.{n}" in used:
            n += 1
        return f"172.17.0.{n}"

    def new_pid(self) -> int:
        self._next_pid += 1
        return self._next_pid

    def bound_ports(self) -> set[int]:
        return {hp for c in self.containers.values() if c.running for binds in c.ports.values() for _, hp in binds}

    # -- queries ---------------------------------------------------------------------------------------

    def matching(self, filters: list[str], running_only: bool = False) -> list[Container]:
        return [c for c in self.containers.values()
                if all(label_matches(c.labels, f) for f in filters) and (c.running or not running_only)]

    def pod_names(self) -> list[str]:
        """Pod names of the pods' sandboxes here (one per pod instance: an infra container, or a solo pod's
        one container)."""
        return sorted(c.labels.get("orc.pod", "") for c in self.containers.values()
                      if c.labels.get("orc.infra") in ("true", "self"))

    def haproxy_pid(self, pidfile: str) -> int | None:
        text = self.files.get(pidfile, b"").decode().strip()
        pid = int(text) if text.isdigit() else None
        return pid if pid is not None and self.procs.get(pid) == "haproxy" else None
