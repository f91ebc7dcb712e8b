"""What a proxy host has now, learnt by ONE step of the host's probe batch (a command plus a pure parser,
as the other facts): the live config's hash and its mark (the cluster that wrote it, and the node ports it
binds), whether HAProxy runs (the pid in the pidfile is alive and is haproxy), the addresses on `lo` with
their labels (this cluster's service addresses carry its own label), the TCP ports something listens on,
and the pods' hosts file's hash and mark.

Two clusters on one host must not share a config, an address or a node port: what another cluster (or
another program) holds is seen here, and the plan refuses to take it (plan/services.py)."""

from __future__ import annotations

import hashlib
import shlex
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from orchestrator.commands.base import Command, sh
from orchestrator.inventory.host import Host
from orchestrator.proxy.discovery import hosts_file_path
from orchestrator.proxy.hostvars import HAProxyHost
from orchestrator.transport.base import StepResult

STEP_NAME = "proxy-state"
MARK = "# orc cluster="  # the first line of every config and hosts file we write


def lo_label(cluster: str) -> str:
    """The address label of the cluster's service addresses on lo: `lo:orc-` and 8 hex digits of the
    cluster's name (15 characters, the most a label may have), so a cluster drops only its own."""
    return "lo:orc-" + hashlib.sha256(cluster.encode()).hexdigest()[:8]


def mark_line(cluster: str, node_ports: Iterable[int] = (), services: Iterable[str] = ()) -> str:
    """`# orc cluster=NAME node-ports=30080,30081 services=web,api`: whose file it is, and (for a config) the
    node ports it binds, so the probe tells our listeners from another program's, and the services it
    serves, so a pass never drops a service it was not told to (a lost store)."""
    ports = ",".join(str(p) for p in sorted(set(node_ports)))
    names = ",".join(sorted(set(services)))
    return (f"{MARK}{cluster}" + (f" node-ports={ports}" if ports else "") + (f" services={names}" if names else "")
            + "\n")


@dataclass(frozen=True)
class ProxyState:
    config_hash: str | None = None  # sha256 of the live config; None when there is none
    pid: int | None = None  # the running master's pid; None when HAProxy does not run
    addresses: frozenset[str] = frozenset()  # this cluster's service addresses on lo
    hosts_hash: str | None = None  # sha256 of the hosts file; None when there is none
    error: str | None = None  # the probe step failed: everything above is unknown (treated as absent)
    # The cluster the live config's mark names ("" for a config orc did not write; None: no config) and the
    # node ports it lists; the same for the hosts file.
    config_owner: str | None = None
    owned_ports: frozenset[int] = frozenset()
    served: frozenset[str] = frozenset()  # the services the live config's mark lists
    hosts_owner: str | None = None
    others: Mapping[str, str] = field(default_factory=dict)  # addresses on lo that are not ours -> label
    listening: frozenset[int] = frozenset()  # TCP ports something listens on (any address)

    @property
    def running(self) -> bool:
        return self.pid is not None


def digest(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


# The state letter of /proc/$pid/stat (its second word is "(haproxy)": no space to split on): Z or X is dead.
NOT_ZOMBIE = 'read -r _ _ st _ < "/proc/$pid/stat" 2>/dev/null && [ "$st" != Z ] && [ "$st" != X ]'


def running_test(pidfile: str) -> str:
    """Shell test: true when the pid in `pidfile` is a live haproxy (sets $pid). A zombie is not live: a
    master that was killed keeps its /proc entry and its name until its parent reaps it (slow or never in
    a container whose init does not reap), and `kill -USR2` "reloads" it without error."""
    return (
        f"pid=$(head -n 1 {shlex.quote(pidfile)} 2>/dev/null); "
        '[ -n "$pid" ] && grep -qx haproxy "/proc/$pid/comm" 2>/dev/null && '
        f"{NOT_ZOMBIE}"
    )


def probe_step(host: Host, cluster: str, serving: bool = True) -> Command:
    """The host's proxy state. Not `serving` (a host outside proxy.group, or a cluster with no service): the
    HAProxy part (its pid, the addresses on lo, the listening ports) is read only where a config file is
    there (ours, to empty, or another cluster's), so such a host runs two shell tests and no process."""
    hp = HAProxyHost.of(host)
    cfg, hosts = shlex.quote(hp.config), shlex.quote(hosts_file_path(host, cluster))
    # Few processes (it runs every pass on every host): shell builtins read the pid and the marks, the
    # parser splits the hashes, `ip`'s lines and the listening sockets (state 0A in /proc/net/tcp*).
    script = "\n".join(
        [
            f"serving={int(serving)}",
            f"if [ -r {cfg} ]; then printf 'config='; sha256sum < {cfg}; "
            f"IFS= read -r mark < {cfg}; printf 'config-mark=%s\\n' \"$mark\"; serving=1; fi",
            f"if [ -r {hosts} ]; then printf 'hosts='; sha256sum < {hosts}; "
            f"IFS= read -r mark < {hosts}; printf 'hosts-mark=%s\\n' \"$mark\"; fi",
            "[ $serving = 1 ] || exit 0",
            f"pid=; comm=; read -r pid < {shlex.quote(hp.pidfile)} 2>/dev/null",
            '[ -n "$pid" ] && read -r comm < "/proc/$pid/comm" 2>/dev/null',
            f'[ "$comm" = haproxy ] && {NOT_ZOMBIE} && echo "pid=$pid"',
            "ip -4 -o addr show dev lo 2>/dev/null",
            "for f in /proc/net/tcp /proc/net/tcp6; do [ -r $f ] || continue",
            '  while read -r _ local _ st _; do [ "$st" = 0A ] && echo "listen=${local##*:}"; done < $f',
            "done",
            "exit 0",
        ]
    )
    return sh(STEP_NAME, script)


def _mark(value: str) -> tuple[str, frozenset[int], frozenset[str]]:
    """A file's first line -> (cluster it names or "", node ports it lists, services it lists)."""
    if not value.startswith(MARK):
        return "", frozenset(), frozenset()
    words = value[len(MARK):].split()
    ports: set[int] = set()
    services: set[str] = set()
    for w in words[1:]:
        if w.startswith("node-ports="):
            ports |= {int(p) for p in w[len("node-ports="):].split(",") if p.isdigit()}
        elif w.startswith("services="):
            services |= {s for s in w[len("services="):].split(",") if s}
    return (words[0] if words else ""), frozenset(ports), frozenset(services)


def parse_state(step: StepResult, cluster: str) -> ProxyState:
    if not step.ok:
        why = step.stderr.strip() or ("did not run" if step.exit_code is None else f"exit {step.exit_code}")
        return ProxyState(error=f"proxy state probe failed: {why}")
    ours = lo_label(cluster)
    config = hosts = None
    config_owner = hosts_owner = None
    owned: frozenset[int] = frozenset()
    served: frozenset[str] = frozenset()
    pid = None
    addrs: set[str] = set()
    others: dict[str, str] = {}
    listening: set[int] = set()
    for line in step.stdout.splitlines():
        words = line.split()
        if "inet" in words[:-1]:  # `ip -o` line: "1: lo    inet 10.233.0.5/32 scope global lo:orc-1a2b3c4d\ ..."
            ip = words[words.index("inet") + 1].split("/", 1)[0]
            label = line.split("\\", 1)[0].split()[-1]
            if label == ours:
                addrs.add(ip)
            else:
                others[ip] = label
            continue
        key, _, value = line.strip().partition("=")
        if key == "config-mark":
            config_owner, owned, served = _mark(value)
            continue
        if key == "hosts-mark":
            hosts_owner, _, _ = _mark(value)
            continue
        value = value.split()[0] if value.split() else ""  # sha256sum prints "<hash>  -"
        if key == "config" and value:
            config = value
        elif key == "hosts" and value:
            hosts = value
        elif key == "pid" and value.isdigit():
            pid = int(value)
        elif key == "listen" and value and all(c in string.hexdigits for c in value):
            listening.add(int(value, 16))
    if config is not None and config_owner is None:
        config_owner = ""
    if hosts is not None and hosts_owner is None:
        hosts_owner = ""
    return ProxyState(config_hash=config, pid=pid, addresses=frozenset(addrs), hosts_hash=hosts,
                      config_owner=config_owner, owned_ports=owned, served=served, hosts_owner=hosts_owner,
                      others=others,
                      listening=frozenset(listening))
