"""The host probe: commands (one batch, one round trip) and pure parsers of their output, in the manner of
pyinfra's facts. `probe_commands()` builds the batch; `parse_probe()` turns the BatchResult into HostFacts."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Sequence
from typing import Any

from orchestrator.commands.base import Command, sh
from orchestrator.inventory.host import Host
from orchestrator.observe.facts import MANAGED, ContainerInfo, Gpu, HostFacts
from orchestrator.transport.base import BatchResult

SYSTEM = sh("system", r"""echo "hostname=$(hostname)"
echo "arch=$(uname -m)"
echo "kernel=$(uname -r)"
echo "cpus=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)"
. /etc/os-release 2>/dev/null && echo "os=$PRETTY_NAME"
sed -n 's/^\(MemTotal\|MemAvailable\): *\([0-9]*\) kB/\1=\2/p' /proc/meminfo
set -- $SSH_CONNECTION; echo "ssh_server=${3:-}"
""")

# Docker's version and root, then the free space and kind (SSD or rotational) of the disk under that root.
DOCKER_DISK = sh("docker", r"""info=$(docker info --format '{{.ServerVersion}}|{{.DockerRootDir}}' 2>&1) && ok=1 || ok=0
if [ $ok = 1 ]; then echo "docker=${info}"; root=${info#*|}; else echo "docker_error=$(echo "$info" | tail -n 1)"; root=/var/lib/docker; fi
[ -d "$root" ] || root=/
echo "df=$(df -Pk "$root" | awk 'NR==2 {print $2" "$4" "$1}')"
src=$(df -P "$root" | awk 'NR==2 {print $1}')
dev=$(basename "$(readlink -f "$src" 2>/dev/null || echo "$src")")
sys=/sys/class/block/$dev
[ -e "$sys/queue/rotational" ] || sys=$(dirname "$(readlink -f "$sys" 2>/dev/null)" 2>/dev/null)
[ -e "$sys/queue/rotational" ] && echo "rotational=$(cat "$sys/queue/rotational")"
exit $((1 - ok))""")

GPUS = sh("gpus", "if command -v nvidia-smi >/dev/null 2>&1; then nvidia-smi -L; fi")

# Exit 3 when docker itself cannot be reached (so a light probe notices a dead daemon); a container removed
# between `ps` and `inspect` is simply not reported.
CONTAINERS = sh("containers", f"""ids=$(docker ps -aq --no-trunc --filter label={MANAGED}=true) || exit 3
[ -z "$ids" ] || docker inspect --format '{{{{json .}}}}' $ids 2>/dev/null
exit 0""")


def containers_step(known: str) -> Command:
    """The light containers step (observe/container_cache.py): the host's time, one `docker ps` of our
    containers (id, status), and `docker inspect` of those whose `id key` is not in `known`
    (`|ID KEY|...`, container_cache.known_keys; "" inspects every one). The key is computed here as
    container_cache.ps_key does, with shell expansions only (no process per container)."""
    return sh("containers", f"""echo "now=$(date +%s)"
rows=$(docker ps -a --no-trunc --filter label={MANAGED}=true --format 'ps {{{{.ID}}}} {{{{.Status}}}}') || exit 3
[ -z "$rows" ] && exit 0
printf '%s\\n' "$rows"
known={shlex.quote(known)}
ids=$(printf '%s\\n' "$rows" | while read -r _ id st; do
case $st in
Up\\ *"("*")") n="Up (${{st##*(}}";;
Up\\ *) n=Up;;
Exited\\ *|Restarting\\ *) n="${{st%%)*}})";;
*) n=$st;;
esac
case "$known" in *"|$id $n|"*) ;; *) echo "$id";; esac
done)
[ -z "$ids" ] || docker inspect --format '{{{{json .}}}}' $ids 2>/dev/null
exit 0""")


def inspect_step(ids: Sequence[str]) -> Command:
    """A follow-up inspect of containers the light step listed but could not vouch for (a restart the
    cache's times do not fit): ids as docker ps printed them."""
    return Command(name="inspect", argv=("docker", "inspect", "--format", "{{json .}}", "--", *ids))


IMAGES = sh("images", "docker images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null")

ARCH_LABEL = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}
_GPU_RE = re.compile(r"^GPU (\d+): (.*?) \(UUID: ([^)]+)\)")


# What a light probe takes from the last full one instead of asking again (they change rarely; the engine
# refreshes them every `facts_ttl` seconds and after it started pods or copied images to a host).
STATIC_FIELDS = ("hostname", "arch", "kernel", "os", "cpus", "memory_bytes", "memory_available_bytes",
                 "disk_total_bytes", "disk_free_bytes", "disk_kind", "gpus", "docker_version", "docker_root",
                 "images", "ssh_server_address")


def probe_commands(full: bool = True, containers: Command = CONTAINERS) -> list[Command]:
    """Full: every fact. Light: only what changes between passes (the containers of ours). `containers`:
    the step that lists them (CONTAINERS inspects every one; `containers_step` only those not cached)."""
    return [SYSTEM, DOCKER_DISK, GPUS, containers, IMAGES] if full else [containers]


def _kv(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        k, sep, v = line.partition("=")
        if sep:
            out[k.strip()] = v.strip()
    return out


def parse_gpus(text: str) -> tuple[Gpu, ...]:
    gpus = []
    for line in text.splitlines():
        m = _GPU_RE.match(line.strip())
        if m:
            gpus.append(Gpu(int(m.group(1)), m.group(2).strip(), m.group(3).strip()))
    return tuple(gpus)


def parse_containers(text: str) -> tuple[ContainerInfo, ...]:
    """One `docker inspect` JSON object per line. Split on "\\n" only: Go's JSON leaves U+0085 (and other
    characters str.splitlines() breaks on) raw, and a container's env or args may hold one."""
    out = []
    for line in text.split("\n"):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            d = json.loads(line)
        except ValueError:
            continue
        out.append(container_from_inspect(d))
    return tuple(out)


def container_from_inspect(d: dict[str, Any]) -> ContainerInfo:
    state = d.get("State") or {}
    ports: dict[str, int] = {}
    for port, binds in ((d.get("NetworkSettings") or {}).get("Ports") or {}).items():
        for b in binds or []:
            if b.get("HostPort"):
                ports.setdefault(port, int(b["HostPort"]))
    health = (state.get("Health") or {}).get("Status")
    log = (state.get("Health") or {}).get("Log") or []
    last_output = str((log[-1] or {}).get("Output") or "")[-200:] if isinstance(log, list) and log else ""
    net = d.get("NetworkSettings") or {}
    ip = net.get("IPAddress") or next((n.get("IPAddress") for n in (net.get("Networks") or {}).values()
                                       if n and n.get("IPAddress")), "")
    return ContainerInfo(
        id=d.get("Id", ""),
        name=d.get("Name", "").lstrip("/"),
        image=(d.get("Config") or {}).get("Image", ""),
        state=state.get("Status", "unknown"),
        exit_code=int(state.get("ExitCode") or 0),
        started_at=state.get("StartedAt", ""),
        finished_at=state.get("FinishedAt", ""),
        restart_count=int(d.get("RestartCount") or 0),
        health=health,
        labels=dict((d.get("Config") or {}).get("Labels") or {}),
        ports=ports,
        ip=ip or "",
        created_at=d.get("Created", "") or "",
        health_output=last_output,
    )


def label_value(text: str) -> str:
    """Make free text (a GPU model) a valid Kubernetes label value: [A-Za-z0-9._-], <= 63, alnum ends."""
    v = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")[:63]
    return v.rstrip("-._")


def automatic_labels(host: Host, facts: dict[str, Any]) -> dict[str, str]:
    labels = {"kubernetes.io/hostname": host.name, "kubernetes.io/os": "linux"}
    if facts.get("arch"):
        labels["kubernetes.io/arch"] = ARCH_LABEL.get(facts["arch"], label_value(facts["arch"]))
    gpus: tuple[Gpu, ...] = facts.get("gpus", ())
    labels["orc.io/gpu-count"] = str(len(gpus))
    if gpus:
        labels["orc.io/gpu-model"] = label_value(gpus[0].model)
    if facts.get("disk_kind"):
        labels["orc.io/disk"] = facts["disk_kind"]
    return labels


def parse_probe(host: Host, result: BatchResult, cached: HostFacts | None = None) -> HostFacts:
    """A full probe's result, or a light one's completed with the static facts of `cached`."""
    if cached is not None and not any(st.name == "system" for st in result.steps):
        return _parse_light(host, result, cached)
    system = _kv(result["system"].stdout)
    dk = _kv(result["docker"].stdout)
    f: dict[str, Any] = {
        "hostname": system.get("hostname", ""),
        "arch": system.get("arch", ""),
        "kernel": system.get("kernel", ""),
        "os": system.get("os", ""),
        "cpus": int(system.get("cpus") or 0),
        "memory_bytes": int(system.get("MemTotal") or 0) * 1024,
        "memory_available_bytes": int(system.get("MemAvailable") or 0) * 1024,
        "ssh_server_address": system.get("ssh_server", "") if _is_ip(system.get("ssh_server", "")) else "",
    }
    if "docker" in dk:
        version, _, root = dk["docker"].partition("|")
        f["docker_version"], f["docker_root"] = version, root
    else:
        f["docker_error"] = dk.get("docker_error") or result["docker"].stderr.strip() or "docker not available"
    df = dk.get("df", "").split()
    if len(df) >= 2 and df[0].isdigit() and df[1].isdigit():
        f["disk_total_bytes"], f["disk_free_bytes"] = int(df[0]) * 1024, int(df[1]) * 1024
    if dk.get("rotational") in ("0", "1"):
        f["disk_kind"] = "hdd" if dk["rotational"] == "1" else "ssd"
    f["gpus"] = parse_gpus(result["gpus"].stdout)
    f["containers"] = parse_containers(result["containers"].stdout)
    f["images"] = frozenset(x for x in result["images"].stdout.split() if x and not x.startswith("<none>"))
    labels, capacity = _labels_capacity(host, f)
    return HostFacts(name=host.name, address=host.address, reachable=True, labels=labels, capacity=capacity, taints=host.taints,
                     probe_seconds=result.duration, bind_address=bind_address(host, f["ssh_server_address"]), **f)


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def bind_address(host: Host, ssh_server_address: str = "") -> str:
    """Where the host's pods publish their ports (see HostFacts.bind_address)."""
    explicit = host.vars.get("orc_bind_address")
    if explicit:
        return str(explicit) if _is_ip(str(explicit)) else ""
    if _is_ip(host.address):
        return host.address
    return ssh_server_address


def _labels_capacity(host: Host, f: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """Automatic labels beside the inventory's (which win), and capacity: the inventory's overrides, else
    what was probed."""
    labels = {**automatic_labels(host, f), **host.labels}
    capacity: dict[str, Any] = {
        "cpu": host.capacity.get("cpu", str(f["cpus"])),
        "memory": host.capacity.get("memory", str(f["memory_bytes"])),
        # The disk's size, as Kubernetes' node capacity: pods' requests are subtracted from it when placing
        # (free space would count the running pods' use twice).
        "ephemeral-storage": host.capacity.get("ephemeral-storage", str(f.get("disk_total_bytes", 0))),
        "nvidia.com/gpu": host.capacity.get("gpus", host.capacity.get("nvidia.com/gpu", str(len(f["gpus"])))),
    }
    return labels, capacity


def _parse_light(host: Host, result: BatchResult, cached: HostFacts) -> HostFacts:
    step = result["containers"]
    f: dict[str, Any] = {k: getattr(cached, k) for k in STATIC_FIELDS}
    if step.exit_code == 3:
        f["docker_version"] = ""
        f["docker_error"] = step.stderr.strip().splitlines()[-1] if step.stderr.strip() else "docker not available"
    f["containers"] = parse_containers(step.stdout)
    labels, capacity = _labels_capacity(host, f)  # the inventory may have changed since
    return HostFacts(name=host.name, address=host.address, reachable=True, labels=labels, capacity=capacity, taints=host.taints,
                     probe_seconds=result.duration, bind_address=bind_address(host, f["ssh_server_address"]), **f)


def facts_to_dict(f: HostFacts) -> dict[str, Any]:
    """The static facts of a full probe, to keep between passes (see STATIC_FIELDS)."""
    d: dict[str, Any] = {k: getattr(f, k) for k in STATIC_FIELDS}
    d["gpus"] = [{"index": g.index, "model": g.model, "uuid": g.uuid} for g in f.gpus]
    d["images"] = sorted(f.images)
    return d


def facts_from_dict(host: Host, d: dict[str, Any]) -> HostFacts:
    f = {k: d[k] for k in STATIC_FIELDS if k in d}
    f["gpus"] = tuple(Gpu(int(g["index"]), g["model"], g["uuid"]) for g in d.get("gpus", []))
    f["images"] = frozenset(d.get("images", []))
    labels, capacity = _labels_capacity(host, f)
    return HostFacts(name=host.name, address=host.address, reachable=True, labels=labels, capacity=capacity, taints=host.taints,
                     bind_address=bind_address(host, f.get("ssh_server_address", "")), **f)


def unreachable(host: Host, reason: str, error: str) -> HostFacts:
    return HostFacts(name=host.name, address=host.address, reachable=False, reason=reason, error=error,
                     labels={**host.labels}, taints=host.taints)
