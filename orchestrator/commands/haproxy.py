"""Deploying HAProxy on one host, as commands (pure; tested by exact strings).

Nothing when the host already has this config, these service addresses and this hosts file, and HAProxy
runs. Otherwise, in the host's one round trip:

  proxy-hosts   the pods' hosts file, rewritten IN PLACE (containers bind-mount it: a rename would leave
                them reading the old inode)
  proxy         add the service addresses to lo (bind addresses must exist before HAProxy (re)loads);
                the config from stdin to a temp file beside the live one; `haproxy -c -f TEMP` (on failure
                the live config is untouched, HAProxy's message goes to stderr, exit 1); atomic rename;
                reload (or start, when HAProxy does not run); then drop the addresses no longer wanted.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Iterable, Sequence

from orchestrator.commands.base import Command, sh
from orchestrator.inventory.host import Host
from orchestrator.proxy.discovery import hosts_file_path
from orchestrator.proxy.hostvars import HAProxyHost
from orchestrator.proxy.state import ProxyState, digest, lo_label, running_test

q = shlex.quote


def _add_addresses(ips: Iterable[str], label: str) -> list[str]:
    return [
        f"ip addr replace {q(ip + '/32')} dev lo label {q(label)} || "
        f"{{ echo {q(f'cannot add service address {ip} to lo')} >&2; exit 1; }}"
        for ip in sorted(ips)
    ]


def _remove_addresses(ips: Iterable[str], label: str) -> list[str]:
    return [f"ip addr del {q(ip + '/32')} dev lo label {q(label)} || rc=1" for ip in sorted(ips)]


def _argv(words: Sequence[str]) -> str:
    return shlex.join(words)


def reload_command(hp: HAProxyHost) -> str:
    """Run where `$pid` holds the running master's pid."""
    return _argv(hp.reload) if hp.reload is not None else 'kill -USR2 "$pid"'


def start_command(hp: HAProxyHost) -> str:
    if hp.start is not None:
        return _argv(hp.start)
    return _argv(["haproxy", "-W", "-D", "-f", hp.config, "-p", hp.pidfile])


def _config_lines(hp: HAProxyHost) -> list[str]:
    cfg = q(hp.config)
    tmp_pattern = q(posixpath.join(posixpath.dirname(hp.config) or "/", ".orc-haproxy.XXXXXX"))
    return [
        f"tmp=$(mktemp {tmp_pattern}) || exit 1",
        'cat > "$tmp" || { rm -f "$tmp"; exit 1; }',
        f'if ! out=$({_argv(hp.check)} "$tmp" 2>&1); then',
        "  printf '%s\\n' \"$out\" >&2",
        f"  echo {q(f'haproxy rejected the new config; the live {hp.config} was left untouched')} >&2",
        '  rm -f "$tmp"; exit 1',
        "fi",
        f'chmod 0644 "$tmp" && mv -f "$tmp" {cfg} || {{ rm -f "$tmp"; exit 1; }}',
    ]


def _run_lines(hp: HAProxyHost, reload: bool) -> list[str]:
    """Reload a running HAProxy (when the config changed) or start it."""
    lines = [f"if {running_test(hp.pidfile)}; then"]
    lines.append(f"  {reload_command(hp)} || exit 1; echo reloaded" if reload else "  :")
    lines += ["else", f"  {start_command(hp)} </dev/null >/dev/null || exit 1; echo started", "fi"]
    return lines


def deploy_steps(
    host: Host, config_text: str, state: ProxyState, wanted_ips: set[str], hosts_file: str | None = None, *,
    cluster: str,
) -> list[Command]:
    """The steps that bring the host's HAProxy (and, given `hosts_file`, its hosts file) to what is wanted
    for `cluster` (whose label its service addresses carry on lo); none when it has it all already."""
    hp = HAProxyHost.of(host)
    label = lo_label(cluster)
    steps: list[Command] = []
    if hosts_file is not None and digest(hosts_file) != state.hosts_hash:
        steps.append(hosts_file_step(hosts_file_path(host, cluster), hosts_file))
    add = set(wanted_ips) - state.addresses
    drop = state.addresses - set(wanted_ips)
    config_changed = digest(config_text) != state.config_hash
    if not (add or drop or config_changed or not state.running):
        return steps
    dirs = sorted({posixpath.dirname(p) for p in (hp.config, hp.pidfile, hp.socket)} - {"", "/"})
    lines = ["rc=0", *_add_addresses(add, label)]
    if dirs:
        lines.append(f"mkdir -p {' '.join(q(d) for d in dirs)} || exit 1")
    if config_changed and state.config_owner == "":  # a config orc did not write: kept once, beside it
        backup = q(hp.config + ".orc-backup")
        lines.append(f"[ -e {backup} ] || cp -p {q(hp.config)} {backup} || exit 1")
    if config_changed:
        lines += _config_lines(hp)
    lines += _run_lines(hp, reload=config_changed)
    lines += _remove_addresses(drop, label)
    lines.append("exit $rc")
    stdin = config_text.encode() if config_changed else None
    steps.append(sh("proxy", "\n".join(lines), stdin=stdin))
    return steps


def hosts_file_step(path: str, text: str) -> Command:
    """Write the hosts file from stdin; an existing file is rewritten in place (same inode)."""
    f = q(path)
    pattern = q(posixpath.join(posixpath.dirname(path) or "/", ".orc-hosts.XXXXXX"))
    script = "\n".join(
        [
            f'mkdir -p "$(dirname {f})" || exit 1',
            f"tmp=$(mktemp {pattern}) || exit 1",
            'cat > "$tmp" || { rm -f "$tmp"; exit 1; }',
            f'if [ -f {f} ]; then cat "$tmp" > {f}; rc=$?; rm -f "$tmp"; exit $rc; fi',
            f'chmod 0644 "$tmp" && mv -f "$tmp" {f}',
        ]
    )
    return sh("proxy-hosts", script, stdin=text.encode())
