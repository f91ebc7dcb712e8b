"""Where and how a host runs HAProxy, from its inventory vars (Debian/systemd defaults), and which hosts run
it at all.

    haproxy_mode      systemd (default: the distribution's service) | master-worker (we start it ourselves)
    haproxy_config    /etc/haproxy/haproxy.cfg
    haproxy_pidfile   /run/haproxy.pid          (the master's pid; how we tell it runs and reload it)
    haproxy_socket    /run/haproxy/admin.sock   (stats socket, `expose-fd listeners` for hitless reloads)
    haproxy_check     haproxy -c -f             (the candidate config's path is appended)
    haproxy_reload    systemd: systemctl reload haproxy | master-worker: kill -USR2 <pid in pidfile>
    haproxy_start     systemd: systemctl start haproxy  | master-worker: haproxy -W -D -f CFG -p PIDFILE

Commands are argv (a string is split as a shell would split words, or a YAML list), never shell text: no
`$(...)`, pipes or redirections."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.config import ProxySettings
from orchestrator.errors import ConfigError
from orchestrator.inventory.host import Host

MODES = ("systemd", "master-worker")


@dataclass(frozen=True)
class HAProxyHost:
    """One host's HAProxy settings. `reload`/`start` None means our master-worker default."""

    mode: str
    config: str
    pidfile: str
    socket: str
    check: tuple[str, ...]
    reload: tuple[str, ...] | None
    start: tuple[str, ...] | None

    @classmethod
    def of(cls, host: Host) -> HAProxyHost:
        v = host.vars
        mode = str(v.get("haproxy_mode") or "systemd")
        if mode not in MODES:
            raise ConfigError(
                f"host {host.name}: haproxy_mode {mode!r} is invalid: use one of {', '.join(MODES)}"
            )
        systemd = mode == "systemd"
        return cls(
            mode=mode,
            config=_path(host, "haproxy_config", "/etc/haproxy/haproxy.cfg"),
            pidfile=_path(host, "haproxy_pidfile", "/run/haproxy.pid"),
            socket=_path(host, "haproxy_socket", "/run/haproxy/admin.sock"),
            check=_argv(host, "haproxy_check", ("haproxy", "-c", "-f")) or ("haproxy", "-c", "-f"),
            reload=_argv(host, "haproxy_reload", ("systemctl", "reload", "haproxy") if systemd else None),
            start=_argv(host, "haproxy_start", ("systemctl", "start", "haproxy") if systemd else None),
        )


def _path(host: Host, var: str, default: str) -> str:
    value = host.vars.get(var) or default
    if not isinstance(value, str) or not value.startswith("/") or "\n" in value:
        raise ConfigError(f"host {host.name}: {var} {value!r} is invalid: use an absolute path")
    return value


def _argv(host: Host, var: str, default: tuple[str, ...] | None) -> tuple[str, ...] | None:
    value = host.vars.get(var)
    if value is None or value == "":
        return default
    if isinstance(value, str):
        try:
            words = shlex.split(value)
        except ValueError as e:
            raise ConfigError(f"host {host.name}: {var} {value!r} is invalid: {e}") from e
    elif isinstance(value, Sequence) and all(isinstance(w, str | int) for w in value):
        words = [str(w) for w in value]
    else:
        raise ConfigError(f"host {host.name}: {var} must be a command (a string or a list of words)")
    if not words:
        raise ConfigError(f"host {host.name}: {var} is empty: give a command or remove the variable")
    return tuple(words)


def proxy_hosts(hosts: Sequence[Host], settings: ProxySettings) -> list[Host]:
    """The hosts that run HAProxy: every host, or those in the inventory group `proxy.group`."""
    if not settings.group:
        return list(hosts)
    return [h for h in hosts if settings.group in h.groups]
