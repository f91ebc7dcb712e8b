"""configMap and secret volumes on a host, laid out as the kubelet does (pure; tested by exact strings):

    <dir>/..2026_12_03_17_40_01.123456789/<files>    the files of one version
    <dir>/..data -> ..2026_12_03_17_40_01.123456789   renamed onto a new version in one step (atomic)
    <dir>/<name> -> ..data/<name>                      one link per top-level name: what the pod sees

The folder is bind-mounted read-only at the mount path; a subPath mount binds one file (resolved through
the links when the container starts, so it keeps that version, as in Kubernetes). File contents travel
base64-encoded inside the batch script, which the host reads on stdin: never in an argv."""

from __future__ import annotations

import base64
import shlex

from orchestrator.commands.base import Command, sh
from orchestrator.plan.config_refs import ConfigVolume


def volume_lines(directory: str, volume: ConfigVolume, fail: str) -> list[str]:
    """Shell lines that write a new version of the volume's files under `directory` and switch `..data` to it;
    `fail` is run (with a message) when a step fails."""
    q = shlex.quote
    d = q(directory)
    lines = [f"orc_d={d}; orc_ts=..$(date -u +%Y_%m_%d_%H_%M_%S.%N)",
             f'mkdir -p -m 0755 "$orc_d" && mkdir -m 0755 "$orc_d/$orc_ts" || {fail} {q("volume " + volume.name)}']
    for f in volume.files:
        target = f'"$orc_d/$orc_ts/"{q(f.path)}'
        parent = f.path.rpartition("/")[0]
        mk = f'mkdir -p "$orc_d/$orc_ts/"{q(parent)} && ' if parent else ""
        data = base64.b64encode(f.data).decode()
        write = f"printf '%s' {data} | base64 -d > {target}" if data else f": > {target}"
        lines.append(f"{mk}{write} && chmod {f.mode:04o} {target} || {fail} {q('volume ' + volume.name)}")
    tops = sorted({f.path.split("/")[0] for f in volume.files})
    lines.append(f'ln -s "$orc_ts" "$orc_d/..data_tmp" && mv -Tf "$orc_d/..data_tmp" "$orc_d/..data" '
                 f"|| {fail} {q('volume ' + volume.name)}")
    for top in tops:
        lines.append(f'[ -L "$orc_d/"{q(top)} ] || ln -s ..data/{q(top)} "$orc_d/"{q(top)}')
    # names no longer in the volume, and the older versions, go
    keep = " ".join(q(t) for t in tops) or "''"
    lines.append(f'for orc_p in "$orc_d"/* "$orc_d"/.[!.]* "$orc_d"/..?*; do '
                 '[ -e "$orc_p" ] || [ -L "$orc_p" ] || continue; orc_n=${orc_p##*/}; case "$orc_n" in '
                 '..data|"$orc_ts") ;; ..*) rm -rf -- "$orc_p";; *) orc_keep=; '
                 f'for orc_k in {keep}; do [ "$orc_n" = "$orc_k" ] && orc_keep=1; done; '
                 '[ -n "$orc_keep" ] || rm -rf -- "$orc_p";; esac; done')
    return lines


def update_volume(pod: str, directory: str, volume: ConfigVolume) -> Command:
    """Swap a running pod's volume files for a new version, in place (no restart)."""
    lines = ["orc_vfail() { echo \"$1\" >&2; exit 1; }",
             f'[ -L {shlex.quote(directory)}/..data ] || orc_vfail "volume {volume.name} of pod {pod} is not on this host"',
             *volume_lines(directory, volume, "orc_vfail"), f"echo updated {shlex.quote(pod)} {shlex.quote(volume.name)}"]
    return sh(f"update pod/{pod} volume {volume.name}", "\n".join(lines))
