"""What a proxy host has now, learnt by ONE step of the host's probe batch (a command plus a pure parser,
as the other facts): the live config's hash, whether HAProxy runs (the pid in the pidfile is alive and is
haproxy), the service addresses of ours on `lo`, and the pods' hosts file's hash."""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass

from orchestrator.commands.base import Command, sh
from orchestrator.inventory.host import Host
from orchestrator.proxy.discovery import hosts_file_path
from orchestrator.proxy.hostvars import HAProxyHost
from orchestrator.transport.base import StepResult

STEP_NAME = "proxy-state"
LO_LABEL = "lo:orc"  # the address label that marks service addresses as ours (never touch the others)


@dataclass(frozen=True)
class ProxyState:
    config_hash: str | None = None  # sha256 of the live config; None when there is none
    pid: int | None = None  # the running master's pid; None when HAProxy does not run
    addresses: frozenset[str] = frozenset()  # service addresses of ours on lo
    hosts_hash: str | None = None  # sha256 of the hosts file; None when there is none
    error: str | None = None  # the probe step failed: everything above is unknown (treated as absent)

    @property
    def running(self) -> bool:
        return self.pid is not None


def digest(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def running_test(pidfile: str) -> str:
    """Shell test: true when the pid in `pidfile` is a live haproxy (sets $pid)."""
    return (
        f"pid=$(head -n 1 {shlex.quote(pidfile)} 2>/dev/null); "
        '[ -n "$pid" ] && grep -qx haproxy "/proc/$pid/comm" 2>/dev/null'
    )


def probe_step(host: Host) -> Command:
    hp = HAProxyHost.of(host)
    cfg, hosts = shlex.quote(hp.config), shlex.quote(hosts_file_path(host))
    # Few processes (it runs every pass on every host): shell builtins read the pid, the parser splits the
    # hashes and `ip`'s lines.
    script = "\n".join(
        [
            f"if [ -r {cfg} ]; then printf 'config='; sha256sum < {cfg}; fi",
            f"if [ -r {hosts} ]; then printf 'hosts='; sha256sum < {hosts}; fi",
            f"pid=; comm=; read -r pid < {shlex.quote(hp.pidfile)} 2>/dev/null",
            '[ -n "$pid" ] && read -r comm < "/proc/$pid/comm" 2>/dev/null',
            '[ "$comm" = haproxy ] && echo "pid=$pid"',
            f"ip -4 -o addr show dev lo label {LO_LABEL} 2>/dev/null",
            "exit 0",
        ]
    )
    return sh(STEP_NAME, script)


def parse_state(step: StepResult) -> ProxyState:
    if not step.ok:
        why = step.stderr.strip() or ("did not run" if step.exit_code is None else f"exit {step.exit_code}")
        return ProxyState(error=f"proxy state probe failed: {why}")
    config = hosts = None
    pid = None
    addrs: set[str] = set()
    for line in step.stdout.splitlines():
        words = line.split()
        if "inet" in words[:-1]:  # `ip -o` line: "1: lo    inet 10.233.0.5/32 scope global lo:orc ..."
            addrs.add(words[words.index("inet") + 1].split("/", 1)[0])
            continue
        key, _, value = line.strip().partition("=")
        value = value.split()[0] if value.split() else ""  # sha256sum prints "<hash>  -"
        if key == "config" and value:
            config = value
        elif key == "hosts" and value:
            hosts = value
        elif key == "pid" and value.isdigit():
            pid = int(value)
    return ProxyState(config_hash=config, pid=pid, addresses=frozenset(addrs), hosts_hash=hosts)
